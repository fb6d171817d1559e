# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Credential sync to devices (凭证下发): controllers decide offline from
their own lists, so each device is sent the credentials it must hold
through the command outbox, one queue row per (device, credential) with
its own state (services-security.md §1 rule 6)."""
import datetime as dt
import hashlib
import json
from collections import defaultdict
from zoneinfo import ZoneInfo

from trytond import config
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.community_iot.bridge.adapters import ADAPTERS
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

SECTION = 'community_access'
#: the credential kinds a controller holds in its own list
SYNCED_KINDS = ('card', 'face')
#: what a device is sent of a person: never an ID or phone number (PIPL)
PAYLOAD_KEYS = ('person', 'kind', 'name', 'valid_from', 'valid_to')
STATES = [
    ('pending', "Pending"),
    ('sent', "Sent"),
    ('acknowledged', "Acknowledged"),
    ('failed', "Failed"),
    ]


def backoff(attempts):
    """The delay before the next attempt after ``attempts`` attempts:
    ``sync_backoff`` seconds (default 60) doubled at each attempt, capped
    at ``sync_backoff_max`` (default 3600)."""
    base = config.getint(SECTION, 'sync_backoff', default=60)
    cap = config.getint(SECTION, 'sync_backoff_max', default=3600)
    return dt.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def can_sync(device):
    """Whether the device holds a list of persons (``access_list``) and
    its family has the commands to send it."""
    adapter = ADAPTERS.get(device.family) if device else None
    return bool(adapter and 'person_upsert' in adapter.actions
        and device.access_list)


def payload_hash(operation, payload):
    return hashlib.sha256(json.dumps([operation, payload],
            sort_keys=True, ensure_ascii=False).encode('utf-8')).hexdigest()


class Sync(ModelSQL, ModelView):
    """Credential Sync (凭证下发): a credential on a device.

    One row per (device, credential): the operation to apply (add or
    update, delete), the hash of what was sent (an unchanged credential
    is not sent again), the state (pending → sent on the broker's
    acknowledgement → acknowledged by the device, or failed with the
    device's error), the attempts and the next one (exponential backoff,
    capped). A device offline is not sent anything: its rows wait with a
    growing delay and are sent at once when it comes back online.
    """
    __name__ = 'community.access.sync'
    compound = fields.Many2One('community.compound', "Compound",
        required=True, readonly=True, ondelete='CASCADE')
    device = fields.Many2One('community.iot.device', "Device",
        required=True, readonly=True, ondelete='CASCADE')
    credential = fields.Many2One('community.access.credential',
        "Credential", required=True, readonly=True, ondelete='CASCADE')
    party = fields.Function(fields.Many2One('party.party', "Person"),
        'get_party', searcher='search_party')
    kind = fields.Function(fields.Selection('get_kinds', "Kind"),
        'get_kind')
    operation = fields.Selection([
            ('upsert', "Add or Update"),
            ('delete', "Delete"),
            ], "Operation", required=True, readonly=True)
    payload = fields.Text("Payload", readonly=True,
        help="What the device is sent: the opaque person id, the display "
        "name and the validity; never an ID or phone number.")
    payload_hash = fields.Char("Payload Hash", readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    attempts = fields.Integer("Attempts", readonly=True)
    next_attempt = fields.DateTime("Next Attempt", readonly=True,
        help="Sent again if not acknowledged by then.")
    last_sent = fields.DateTime("Last Sent", readonly=True)
    acknowledged = fields.DateTime("Acknowledged", readonly=True)
    last_error = fields.Char("Last Error", readonly=True,
        help="The device's error, or why it was not sent.")
    command = fields.Many2One('community.iot.command', "Command",
        readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('device_credential_uniq', Unique(t, t.device, t.credential),
                'community_access.msg_sync_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.next_attempt, Index.Range()),
                    where=t.state.in_(['pending', 'sent', 'failed'])),
                Index(t, (t.command, Index.Equality())),
                })
        cls._order = [('next_attempt', 'ASC NULLS LAST'), ('id', 'DESC')]
        cls._buttons.update({
                'retry': {
                    'invisible': ~Eval('state').in_(['pending', 'failed']),
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'pending'

    @staticmethod
    def default_attempts():
        return 0

    def get_party(self, name):
        return self.credential.party.id

    @classmethod
    def search_party(cls, name, clause):
        return [('credential.party' + clause[0][len(name):],)
            + tuple(clause[1:])]

    @classmethod
    def get_kinds(cls):
        Credential = Pool().get('community.access.credential')
        return Credential.fields_get(['kind'])['kind']['selection']

    def get_kind(self, name):
        return self.credential.kind

    def get_rec_name(self, name):
        return '%s @ %s' % (self.credential.rec_name, self.device.rec_name)

    @classmethod
    def payload_of(cls, credential, operation):
        """What ``credential`` is on a device: its opaque person id (a
        card's UID, a face's random id), kind, and for an upsert the
        person's display name and the validity (ISO 8601 in the
        compound's time zone). Never an ID or phone number (PIPL)."""
        data = {'person': credential.identifier, 'kind': credential.kind}
        if operation == 'upsert':
            zone = ZoneInfo(credential.compound.timezone or 'Asia/Shanghai')

            def local(value):
                if not value:
                    return None
                return value.replace(tzinfo=dt.timezone.utc).astimezone(
                    zone).replace(microsecond=0).isoformat()
            data.update({
                    'name': credential.party.name,
                    'valid_from': local(credential.valid_from),
                    'valid_to': local(credential.valid_to),
                    })
        assert set(data) <= set(PAYLOAD_KEYS)
        return data

    @classmethod
    def wanted(cls, compounds, now=None):
        """{(device id, credential id): credential} of what the devices of
        ``compounds`` must hold: the active cards and faces (the face's
        consent given: withdrawing it revokes them) of the persons whose
        active rules, not ended, give them a door of the device.

        Complexity: per compound, one search each for its doors, door
        groups, rules and credentials, one search per residents' rule
        (its residents); then O(rules × persons + credentials × devices)
        in memory: a compound's small scale (hundreds of doors, thousands
        of residents)."""
        pool = Pool()
        Door = pool.get('community.access.door')
        Rule = pool.get('community.access.rule')
        Credential = pool.get('community.access.credential')
        Date = pool.get('ir.date')
        now = now or dt.datetime.utcnow()
        today = Date.today()
        compound_ids = [c.id for c in compounds]
        doors = [d for d in Door.search([
                    ('compound', 'in', compound_ids),
                    ('active', '=', True),
                    ('device', '!=', None),
                    ]) if can_sync(d.device) and d.device.active]
        if not doors:
            return {}
        door_devices = {d.id: d.device.id for d in doors}
        rules = Rule.search([
                ('compound', 'in', compound_ids),
                ('active', '=', True),
                ('door_group.active', '=', True),
                ('door_group.doors', 'in', list(door_devices)),
                ['OR', ('valid_to', '=', None), ('valid_to', '>', now)],
                ])
        devices_of = defaultdict(set)  # party id -> device ids
        for rule in rules:
            devices = {door_devices[d.id] for d in rule.door_group.doors
                if d.id in door_devices}
            for party_id in rule.parties(today):
                devices_of[party_id] |= devices
        if not devices_of:
            return {}
        credentials = Credential.search([
                ('compound', 'in', compound_ids),
                ('state', '=', 'active'),
                ('kind', 'in', list(SYNCED_KINDS)),
                ('identifier', '!=', None),
                ('party', 'in', list(devices_of)),
                ['OR', ('valid_to', '=', None), ('valid_to', '>', now)],
                ])
        wanted = {}
        for credential in credentials:
            if credential.kind == 'face' and (
                    not credential.face_consent
                    or credential.face_consent.state != 'given'):
                continue
            for device_id in devices_of[credential.party.id]:
                wanted[(device_id, credential.id)] = credential
        return wanted

    @classmethod
    def refresh(cls, compounds, send=True):
        """Bring the queue of ``compounds`` up to date: a row to add or
        update for each credential a device must hold and does not hold
        as it is (its payload hash), a row to delete for each one it holds
        and must no longer (revoked, expired, suspended, its consent
        withdrawn, its rule or door gone); unchanged ones are left alone.
        Then send what is due. Returns the rows changed."""
        pool = Pool()
        Credential = pool.get('community.access.credential')
        Command = pool.get('community.iot.command')
        compounds = list(compounds)
        if not compounds:
            return []
        now = dt.datetime.utcnow()
        with Transaction().set_user(0), Transaction().set_context(
                _check_access=False, active_test=False):
            wanted = cls.wanted(compounds, now)
            rows = cls.search([
                    ('compound', 'in', [c.id for c in compounds]),
                    ])
            existing = {(r.device.id, r.credential.id): r for r in rows}
            changed, to_create, superseded = [], [], []

            def reset(row, operation, payload, digest):
                if row.command and row.command.state in {'pending', 'sent'}:
                    superseded.append(row.command)
                row.operation = operation
                row.payload = json.dumps(payload, ensure_ascii=False,
                    sort_keys=True)
                row.payload_hash = digest
                row.state = 'pending'
                row.attempts = 0
                row.next_attempt = now
                row.last_error = None
                row.acknowledged = None
                row.command = None
                changed.append(row)

            for key, credential in wanted.items():
                payload = cls.payload_of(credential, 'upsert')
                digest = payload_hash('upsert', payload)
                row = existing.get(key)
                if row is None:
                    to_create.append({
                            'compound': credential.compound.id,
                            'device': key[0], 'credential': key[1],
                            'operation': 'upsert',
                            'payload': json.dumps(payload,
                                ensure_ascii=False, sort_keys=True),
                            'payload_hash': digest,
                            'state': 'pending', 'attempts': 0,
                            'next_attempt': now,
                            })
                elif row.payload_hash != digest:
                    reset(row, 'upsert', payload, digest)
            for key, row in existing.items():
                if key in wanted or row.operation == 'delete':
                    continue
                credential = Credential(key[1])
                payload = cls.payload_of(credential, 'delete')
                reset(row, 'delete', payload,
                    payload_hash('delete', payload))
            cls.save(changed)
            if superseded:
                Command.write(superseded, {'state': 'failed',
                        'error': 'superseded'})
            created = cls.create(to_create) if to_create else []
            rows = changed + created
            if send and rows:
                cls.send(rows)
        return rows

    @classmethod
    def refresh_all(cls):
        """Refresh the queues of every compound with doors (scheduled
        action: residencies, rules and validities change with time)."""
        pool = Pool()
        Door = pool.get('community.access.door')
        Compound = pool.get('community.compound')
        with Transaction().set_context(active_test=False):
            compound_ids = {d.compound.id for d in Door.search([
                        ('device', '!=', None)])}
        return cls.refresh(Compound.browse(sorted(compound_ids)))

    @classmethod
    def send(cls, rows, now=None):
        """Send ``rows`` through the command outbox: a device offline is
        sent nothing, its rows wait for the next attempt (growing delay)
        or for it to come back online; the others get a command each
        (the row pending until the broker took it, then sent). Each
        attempt counts and the next one is due after the backoff if no
        acknowledgement came."""
        pool = Pool()
        Command = pool.get('community.iot.command')
        now = now or dt.datetime.utcnow()
        queued, waiting = [], []
        for row in rows:
            row.attempts = (row.attempts or 0) + 1
            row.next_attempt = now + backoff(row.attempts)
            if row.device.availability == 'offline' or not row.device.active:
                row.last_error = 'device offline'
                waiting.append(row)
            else:
                queued.append(row)
        with Transaction().set_user(0):
            commands = Command.create([{
                        'device': r.device.id,
                        'action': 'person_' + r.operation,
                        'data': r.payload,
                        'origin': str(r),
                        } for r in queued])
            for row, command in zip(queued, commands):
                row.command = command
                row.state = 'pending'
                row.last_sent = now
            cls.save(queued + waiting)
        return queued

    @classmethod
    def send_due(cls):
        """Scheduled action: rows not acknowledged by their next attempt
        fail (not acknowledged), and the pending and failed rows due are
        sent again."""
        pool = Pool()
        Command = pool.get('community.iot.command')
        now = dt.datetime.utcnow()
        overdue = cls.search([
                ('state', 'in', ['pending', 'sent']),
                ('command', '!=', None),
                ('next_attempt', '<=', now),
                ])
        stale = [r.command for r in overdue
            if r.command.state in {'pending', 'sent'}]
        for row in overdue:
            row.state = 'failed'
            row.last_error = 'not acknowledged'
            row.command = None
        cls.save(overdue)
        if stale:
            Command.write(stale, {'state': 'failed',
                    'error': 'not acknowledged in time'})
        due = cls.search([
                ('state', 'in', ['pending', 'failed']),
                ('command', '=', None),
                ('next_attempt', '<=', now),
                ], order=[('next_attempt', 'ASC'), ('id', 'ASC')])
        return cls.send(due, now) if due else []

    @classmethod
    def devices_online(cls, devices):
        """Devices back online catch up: their pending and failed rows not
        waiting for an answer are sent at once."""
        rows = cls.search([
                ('device', 'in', [d.id for d in devices]),
                ('state', 'in', ['pending', 'failed']),
                ('command', '=', None),
                ])
        return cls.send(rows) if rows else []

    @classmethod
    @ModelView.button
    def retry(cls, rows):
        "Staff send the rows again now."
        rows = [r for r in rows if r.state in {'pending', 'failed'}]
        with Transaction().set_user(0), Transaction().set_context(
                _check_access=False):
            rows = cls.browse([r.id for r in rows])
            for row in rows:
                row.command = None
            cls.send(rows)

    @classmethod
    def command_changed(cls, commands):
        """The outbox's commands of rows changed state: sent when the broker
        took them, acknowledged when the device answered ok, failed with
        the device's error (or not confirmed, expired); the next attempt
        of a failed row after the backoff."""
        now = dt.datetime.utcnow()
        states = {c.id: c for c in commands}
        with Transaction().set_user(0), Transaction().set_context(
                _check_access=False):
            rows = cls.search([('command', 'in', list(states))])
            for row in rows:
                command = states[row.command.id]
                if command.state == 'sent' and row.state == 'pending':
                    row.state = 'sent'
                elif command.state == 'confirmed':
                    row.state = 'acknowledged'
                    row.acknowledged = now
                    row.last_error = None
                    row.next_attempt = None
                elif command.state in {'failed', 'expired'}:
                    row.state = 'failed'
                    row.last_error = command.error
                    row.next_attempt = now + backoff(row.attempts or 1)
                    row.command = None
            cls.save(rows)


def refresh_for(records):
    """Refresh the device sync of the compounds of ``records`` (doors,
    door groups, rules, credentials) after they changed."""
    if not records or Transaction().context.get('_skip_access_sync'):
        return
    pool = Pool()
    Sync = pool.get('community.access.sync')
    Compound = pool.get('community.compound')
    compound_ids = {r.compound.id for r in records if r.compound}
    if compound_ids:
        Sync.refresh(Compound.browse(sorted(compound_ids)))


class SyncMixin:
    "The device sync refreshed after creations and writes."
    __slots__ = ()

    @classmethod
    def _sync_relevant(cls, records):
        return records

    @classmethod
    def create(cls, vlist):
        records = super().create(vlist)
        refresh_for(cls._sync_relevant(records))
        return records

    @classmethod
    def write(cls, *args):
        super().write(*args)
        ids = {r.id for records in args[0:None:2] for r in records}
        refresh_for(cls._sync_relevant(cls.browse(sorted(ids))))
