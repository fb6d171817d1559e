# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The command outbox: the ERP switches devices through the bridge."""
import datetime as dt
import json
from collections import defaultdict

from trytond import config
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

CHANNEL = 'community_iot_command'


class Command(Workflow, ModelSQL, ModelView):
    """A command to a device: pending → sent → confirmed, or failed.

    A command with an expiry (``expires_at``, e.g. a door opened remotely:
    a few seconds) is never published after it: the bridge marks it
    expired instead, the device receives the expiry with the command and
    a reply arriving after it is recorded (the message) without
    confirming it.

    The bridge learns of new pending commands through PostgreSQL
    ``NOTIFY community_iot_command`` (sent on commit), publishes them at
    QoS 1 and marks them sent only when the broker acknowledged them
    (PUBACK). A command is confirmed when the device reports the requested
    state (or a Shelly RPC reply with the command id). Stale sent commands
    are retried up to ``max_retries`` times, then failed (scheduled
    action).
    """
    __name__ = 'community.iot.command'
    device = fields.Many2One('community.iot.device', "Device",
        required=True, ondelete='CASCADE',
        states={'readonly': Eval('state') != 'pending'})
    compound = fields.Function(fields.Many2One(
            'community.compound', "Compound"), 'on_change_with_compound',
        searcher='search_compound')
    action = fields.Selection([
            ('on', "Switch On"),
            ('off', "Switch Off"),
            ('open', "Open"),
            ('person_upsert', "Add or Update a Person"),
            ('person_delete', "Delete a Person"),
            ], "Action", required=True,
        states={'readonly': Eval('state') != 'pending'})
    state = fields.Selection([
            ('pending', "Pending"),
            ('sent', "Sent"),
            ('confirmed', "Confirmed"),
            ('failed', "Failed"),
            ('expired', "Expired"),
            ], "State", readonly=True, required=True)
    expires_at = fields.Timestamp("Expires", readonly=True,
        help="Never published after this time (UTC in the database); "
        "empty: no expiry.")
    data = fields.Text("Data", readonly=True,
        help="The command's parameters (JSON) for the actions that carry "
        "some, e.g. the person sent to an access controller.")
    topic = fields.Char("Topic", readonly=True)
    payload = fields.Text("Payload", readonly=True)
    retries = fields.Integer("Retries", readonly=True)
    max_retries = fields.Integer("Max Retries", required=True)
    sent_at = fields.Timestamp("Sent", readonly=True)
    confirmed_at = fields.Timestamp("Confirmed", readonly=True)
    error = fields.Char("Error", readonly=True)
    origin = fields.Reference("Origin", selection='get_origin',
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.state, Index.Equality()),
                where=t.state.in_(['pending', 'sent'])))
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('pending', 'sent'), ('sent', 'confirmed'),
            ('sent', 'pending'), ('pending', 'failed'), ('sent', 'failed'),
            ('failed', 'pending'),
            ('pending', 'expired'), ('sent', 'expired'),
            }
        cls._buttons.update({
                'retry': {
                    'invisible': Eval('state') != 'failed',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(['pending', 'sent']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_retries(cls):
        return 0

    @classmethod
    def default_max_retries(cls):
        return 3

    @classmethod
    def get_origin(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        models = ['community.iot.rule', 'community.iot.alarm']
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in models]

    @fields.depends('device', '_parent_device.compound')
    def on_change_with_compound(self, name=None):
        return (self.device.compound.id
            if self.device and self.device.compound else None)

    @classmethod
    def search_compound(cls, name, clause):
        return [('device.' + clause[0],) + tuple(clause[1:])]

    @staticmethod
    def notify_bridge():
        "Wake the bridge's outbox listener (delivered at commit)."
        transaction = Transaction()
        if transaction.database.has_channel():
            cursor = transaction.connection.cursor()
            cursor.execute('NOTIFY %s' % CHANNEL)

    @classmethod
    def create(cls, vlist):
        commands = super().create(vlist)
        cls.notify_bridge()
        return commands

    @classmethod
    @ModelView.button
    @Workflow.transition('pending')
    def retry(cls, commands):
        cls.write(commands, {'retries': 0, 'error': None})
        cls.notify_bridge()

    @classmethod
    @ModelView.button
    @Workflow.transition('failed')
    def cancel(cls, commands):
        cls.write(commands, {'error': 'cancelled'})
        cls.notify_origins(commands)

    @property
    def data_dict(self):
        "The command's parameters, a dict (empty without)."
        try:
            data = json.loads(self.data or '{}')
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @classmethod
    def notify_origins(cls, commands):
        """Tell the origins of ``commands``, whose state changed (sent,
        confirmed, failed, expired), by the ``command_changed(commands)``
        classmethod of the origin's model when it has one (e.g. the
        credential sync of access control)."""
        pool = Pool()
        by_model = defaultdict(list)
        for command in commands:
            origin = command.origin
            if origin is not None and origin.id is not None and origin.id >= 0:
                by_model[origin.__name__].append(command)
        for name, changed in by_model.items():
            Model = pool.get(name)
            if hasattr(Model, 'command_changed'):
                Model.command_changed(changed)

    def expired(self, now=None):
        "Whether the command has an expiry and it is past."
        now = now or dt.datetime.utcnow()
        return bool(self.expires_at and self.expires_at <= now)

    @classmethod
    def expire_due(cls, exclude=()):
        """Mark expired the pending commands whose expiry is past (the
        bridge before it publishes, and the scheduled action) but those
        ``exclude`` (published in time, waiting for the broker's
        acknowledgement); return them."""
        now = dt.datetime.utcnow()
        commands = cls.search([
                ('state', '=', 'pending'),
                ('expires_at', '!=', None),
                ('expires_at', '<=', now),
                ('id', 'not in', list(exclude)),
                ])
        if commands:
            cls.write(commands, {'state': 'expired',
                    'error': 'expired before it was sent'})
            cls.notify_origins(commands)
        return commands

    @classmethod
    def mark_sent(cls, ids, topics=None):
        """Mark commands sent (the broker acknowledged the publication).

        ``topics``: {id: (topic, payload)} as published."""
        topics = topics or {}
        now = dt.datetime.utcnow()
        commands = [c for c in cls.browse(ids) if c.state == 'pending']
        for command in commands:
            command.state = 'sent'
            command.sent_at = now
            if command.id in topics:
                command.topic, command.payload = topics[command.id]
            # the device may have answered before this transaction
            if command._reported_by_device():
                command.state = 'confirmed'
                command.confirmed_at = now
        cls.save(commands)
        cls.notify_origins(commands)
        return commands

    def _reported_by_device(self):
        "Whether the device reported the requested state since creation."
        device = self.device
        if (not device.last_seen or not self.create_date
                or device.last_seen < self.create_date):
            return False
        state = device.state_dict
        levels = state.get('_levels', {})
        wanted = self.action == 'on'
        switch_keys = [k for k in levels
            if k == 'state' or k.startswith('POWER') or k.endswith('.output')]
        if str(self.id) == str(state.get('rpc_ok')):
            return True
        return bool(switch_keys) and all(
            levels[k] == wanted for k in switch_keys)

    @classmethod
    def confirm_by_events(cls, events, replies=None, reported=None,
            failures=None):
        """Confirm sent commands whose device reported the requested switch
        state, or replied (Shelly RPC, access controllers) with the
        command id; fail those the device refused with its error.

        ``replies``: {device id: [command ids]}, ``reported``: {device id:
        'on'/'off'} (switch state reported, changed or not),
        ``failures``: {device id: {command id: the device's error}}."""
        replies = replies or {}
        failures = failures or {}
        wanted = dict(reported or {})
        for event in events:
            if event.kind in ('switch_on', 'switch_off') and event.device:
                wanted[event.device.id] = (
                    'on' if event.kind == 'switch_on' else 'off')
        device_ids = set(wanted) | set(replies) | set(failures)
        if not device_ids:
            return []
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=table.state == 'sent', limit=1))
        if not cursor.fetchone():
            return []
        now = dt.datetime.utcnow()
        commands = cls.search([
                ('state', '=', 'sent'),
                ('device', 'in', list(device_ids)),
                ])
        confirmed, late, failed = [], [], []
        for command in commands:
            error = failures.get(command.device.id, {}).get(str(command.id))
            if error is not None:
                command.state = 'failed'
                command.error = (error or 'failed')[:250]
                failed.append(command)
                continue
            if (wanted.get(command.device.id) == command.action
                    or str(command.id) in replies.get(command.device.id, [])):
                if command.expired(now):
                    # recorded (the message), never confirmed
                    command.state = 'expired'
                    command.error = 'reply after expiry'
                    late.append(command)
                    continue
                command.state = 'confirmed'
                command.confirmed_at = now
                confirmed.append(command)
        cls.save(confirmed + late + failed)
        cls.notify_origins(confirmed + late + failed)
        return confirmed

    @classmethod
    def retry_stale(cls, timeout=None):
        """Sent commands not confirmed within ``[community_iot]
        command_timeout`` seconds (default 60) go back to pending (retries
        + 1) or fail once ``max_retries`` is reached."""
        if timeout is None:
            timeout = config.getint(
                'community_iot', 'command_timeout', default=60)
        threshold = dt.datetime.utcnow() - dt.timedelta(seconds=timeout)
        commands = cls.search([
                ('state', '=', 'sent'),
                ('sent_at', '<', threshold),
                ])
        retry, fail, expired = [], [], []
        now = dt.datetime.utcnow()
        for command in commands:
            if command.expired(now):
                expired.append(command)
            elif command.retries >= command.max_retries:
                fail.append(command)
            else:
                retry.append(command)
        if retry:
            for command in retry:
                command.state = 'pending'
                command.retries += 1
            cls.save(retry)
            cls.notify_bridge()
        if fail:
            for command in fail:
                command.state = 'failed'
                command.error = 'not confirmed'
            cls.save(fail)
        if expired:
            cls.write(expired, {'state': 'expired',
                    'error': 'not confirmed before its expiry'})
        cls.notify_origins(fail + expired)
        cls.expire_due()
        return retry, fail
