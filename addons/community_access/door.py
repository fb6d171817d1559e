# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Doors (门), the decision on every attempt to pass one, and opening a
door remotely."""
import datetime as dt
import json
import logging
from zoneinfo import ZoneInfo

from trytond import config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.modules.community_iot.bridge.adapters import ADAPTERS
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import AccessError, AccessValidationError
from .sync import SyncMixin

logger = logging.getLogger(__name__)
SECTION = 'community_access'

LOCATIONS = [
    ('gate', "Compound Gate"),
    ('building', "Building Entrance"),
    ('entrance', "Unit Entrance"),
    ('garage', "Garage"),
    ]
DIRECTIONS = [
    ('in', "In"),
    ('out', "Out"),
    ('both', "Both"),
    ]
ANTI_PASSBACK = [
    ('none', "None"),
    ('soft', "Soft (allow and flag)"),
    ('hard', "Hard (deny)"),
    ]
#: anti-passback starts afresh every day at this local hour
APB_RESET_HOUR = 4
#: bad PINs at a door before its keypad locks, and for how long
PIN_MAX_TRIES = 5
PIN_LOCK = dt.timedelta(minutes=10)
#: the credential kinds a device event is decided on
DECIDED_KINDS = {'card', 'pin', 'qr', 'face'}
#: what is kept of a PIN typed on a keypad
PIN_MASK = '******'


def late_seconds():
    """An attempt whose device time is more than this many seconds before
    its arrival (``[community_access] late_seconds``, default 120) was
    buffered by an offline device: stored, never decided."""
    return config.getint(SECTION, 'late_seconds', default=120)


def open_seconds():
    """The expiry of an open command (``[community_access] open_seconds``,
    default 10): a door is never opened later than that."""
    return config.getint(SECTION, 'open_seconds', default=10)


def can_open(device):
    "Whether the device's family has an open command."
    adapter = ADAPTERS.get(device.family) if device else None
    return bool(adapter and 'open' in adapter.actions)


class Door(SyncMixin, DeactivableMixin, ModelSQL, ModelView):
    """Door (门): a compound gate, a building or unit entrance or a garage
    door, opened by a controller (an IoT device).

    ``decide`` answers every attempt with a decision record, kept apart
    from the device's raw event and from the command that opens the door.
    """
    __name__ = 'community.access.door'
    name = fields.Char("Name", required=True)
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT')
    device = fields.Many2One('community.iot.device', "Controller",
        ondelete='SET NULL',
        domain=[('compound', '=', Eval('compound', -1))],
        help="The access controller or reader of the door.")
    location = fields.Selection(LOCATIONS, "Location", required=True)
    building = fields.Many2One('community.building', "Building",
        domain=[('compound', '=', Eval('compound', -1))],
        states={
            'invisible': ~Eval('location').in_(['building', 'entrance']),
            'required': Eval('location').in_(['building', 'entrance']),
            })
    entrance = fields.Many2One('community.entrance', "Entrance",
        domain=[
            ('compound', '=', Eval('compound', -1)),
            If(Eval('building'),
                ('building', '=', Eval('building', -1)), ()),
            ],
        states={
            'invisible': Eval('location') != 'entrance',
            'required': Eval('location') == 'entrance',
            })
    device_door = fields.Char("Door on the Controller",
        help="The door's number or name on its controller when the "
        "controller has several doors (Hikvision doorNo).")
    direction = fields.Selection(DIRECTIONS, "Direction", required=True)
    zone = fields.Char("Zone",
        help="The anti-passback zone the door leads into or out of, "
        "e.g. the compound's perimeter.")
    anti_passback = fields.Selection(ANTI_PASSBACK, "Anti-Passback",
        required=True,
        help="A second entry (or exit) in a row into the same zone: "
        "hard denies it, soft lets it pass and flags the decision.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_uniq', Unique(t, t.compound, t.name),
                'community_access.msg_door_name_unique'),
            ]
        cls._order.insert(0, ('compound', 'ASC'))
        cls._order.insert(1, ('name', 'ASC'))
        cls._buttons.update({
                'remote_open': {
                    'invisible': ~Eval('device') | ~Eval('active'),
                    'icon': 'tryton-launch',
                    },
                })

    @staticmethod
    def default_location():
        return 'gate'

    @staticmethod
    def default_direction():
        return 'both'

    @staticmethod
    def default_anti_passback():
        return 'none'

    @fields.depends('entrance', '_parent_entrance.building')
    def on_change_entrance(self):
        if self.entrance:
            self.building = self.entrance.building

    @classmethod
    def validate_fields(cls, doors, field_names):
        super().validate_fields(doors, field_names)
        if field_names & {'anti_passback', 'zone', 'direction'}:
            for door in doors:
                if door.anti_passback != 'none' and (
                        not door.zone or door.direction == 'both'):
                    raise AccessValidationError(gettext(
                            'community_access.msg_door_anti_passback',
                            door=door.rec_name))

    @classmethod
    def decide(cls, door, kind, value, at=None, event=None):
        """Decide on ``value`` of credential ``kind`` presented at ``door``
        at ``at`` (UTC, now by default) and return the saved decision.

        Order: credential (a resident's QR code: its signature, compound
        and age first, see ``Credential.verify_qr``; its age on the
        server's clock: the arrival of ``event``'s message when there is
        one, else ``at``) → its state and
        validity → the rules (door
        group, schedule in the compound's time zone, validity) →
        anti-passback. Arrears are never consulted (民法典 第944条).
        """
        pool = Pool()
        Decision = pool.get('community.access.decision')
        at = at or dt.datetime.utcnow()
        with Transaction().set_user(0), \
                Transaction().set_context(active_test=False):
            door = cls(door.id)
            # a QR code's minute runs on the server's clock: the arrival
            # of the device's message, never the device's own time
            received = at
            if event is not None:
                message = pool.get('community.iot.event')(event.id).message
                if message and message.received:
                    received = message.received
            values = door._decide(kind, value, at, received=received)
        values.update({
                'door': door.id, 'compound': door.compound.id,
                'kind': kind, 'time': at,
                'event': event.id if event else None,
                'direction': door.direction,
                'zone': door.zone if door.anti_passback != 'none' else None,
                })
        with Transaction().set_user(0):
            decision, = Decision.create([values])
        return Decision(decision.id)

    @classmethod
    def attempt_events(cls, events):
        """Decide on the access attempts of device events (kind
        ``access``, from the device adapters: MQTT JSON, Hikvision ISAPI)
        and return the decisions.

        The door is the device's (``device_door`` telling the doors of a
        controller apart). A late event (device time more than
        :func:`late_seconds` before its arrival: buffered while the device
        was offline) is kept with its capture time, flagged stale, and
        never decided: it must not open a door nor count for
        anti-passback. A controller that decided itself (Hikvision,
        ZKTeco) has its verdict kept on the decision (``device_result``):
        a difference shows its lists are behind. An allowed attempt that
        asks online (MQTT JSON)
        gets an open command in the outbox that expires after
        :func:`open_seconds`. A PIN typed on a keypad is kept nowhere: it
        is masked in the event and in the raw message once decided (only
        its keyed hash is ever stored)."""
        pool = Pool()
        Event = pool.get('community.iot.event')
        Command = pool.get('community.iot.command')
        Decision = pool.get('community.access.decision')
        late, decisions, commands, pins, verdicts = [], [], [], [], []
        tolerance = dt.timedelta(seconds=late_seconds())
        with Transaction().set_user(0), \
                Transaction().set_context(active_test=False):
            for event in Event.browse(events):
                try:
                    data = json.loads(event.data or '{}')
                except ValueError:
                    continue
                if data.get('kind') not in DECIDED_KINDS or not event.device:
                    continue
                if data['kind'] == 'pin':
                    pins.append((event, data))
                door = cls._event_door(event.device, data.get('door'))
                if door is None:
                    logger.info("access event %s: no door for device %s "
                        "(door %r)", event.id, event.device.id,
                        data.get('door'))
                    continue
                message = event.message
                received = (message.received if message else None) or (
                    event.time)
                capture = message.device_time if message else None
                if capture is not None and capture < received - tolerance:
                    late.append(event)
                    continue
                at = capture if (capture is not None
                    and capture <= received + tolerance) else received
                decision = cls.decide(door, data['kind'], data.get('value'),
                    at, event=event)
                decisions.append(decision)
                if data.get('device_result') in {'allow', 'deny'}:
                    decision.device_result = data['device_result']
                    verdicts.append(decision)
                if (decision.result == 'allow' and data.get('online')
                        and can_open(door.device)):
                    commands.append((decision, door.device))
            if late:
                Event.write(late, {'stale': True})
            if pins:
                cls._mask_pins(pins)
            if verdicts:
                Decision.save(verdicts)
            if commands:
                expires = dt.datetime.utcnow() + dt.timedelta(
                    seconds=open_seconds())
                created = Command.create([{
                            'device': device.id, 'action': 'open',
                            'expires_at': expires,
                            'origin': str(decision),
                            } for decision, device in commands])
                for (decision, _), command in zip(commands, created):
                    decision.command = command
                Decision.save([d for d, _ in commands])
        return decisions

    @classmethod
    def _mask_pins(cls, pins):
        """Replace the PIN of keypad attempts, (event, its data) pairs, by
        a mask in the events and in their raw messages."""
        pool = Pool()
        Event = pool.get('community.iot.event')
        Message = pool.get('community.iot.message')
        events, messages = [], []
        for event, data in pins:
            event.data = json.dumps(dict(data, value=PIN_MASK),
                ensure_ascii=False)
            events.append(event)
            message = event.message
            if not message or message.payload is None:
                continue
            try:
                payload = json.loads(bytes(message.payload))
            except ValueError:
                continue
            if isinstance(payload, dict) and 'value' in payload:
                payload['value'] = PIN_MASK
                message.payload = json.dumps(payload,
                    ensure_ascii=False).encode('utf-8')
                messages.append(message)
        Event.save(events)
        Message.save(messages)

    @classmethod
    def _event_door(cls, device, name):
        "The active door of ``device`` named ``name`` (or its only one)."
        doors = cls.search([('device', '=', device.id),
                ('active', '=', True)])
        if name is not None:
            named = [d for d in doors
                if d.device_door == name or d.name == name]
            if named:
                return named[0]
            doors = [d for d in doors if not d.device_door]
        return doors[0] if len(doors) == 1 else None

    @classmethod
    @ModelView.button_action('community_access.wizard_door_remote_open')
    def remote_open(cls, doors):
        pass

    @classmethod
    def open_remotely(cls, doors, reason):
        """Open ``doors`` now for the current user, who gives the
        ``reason``: a decision (remote opening, with the reason and the
        user) and an open command that expires after
        :func:`open_seconds` (never executed later). Returns the
        decisions."""
        pool = Pool()
        Decision = pool.get('community.access.decision')
        Command = pool.get('community.iot.command')
        reason = (reason or '').strip()
        if not reason:
            raise AccessError(gettext(
                    'community_access.msg_door_remote_open_reason'))
        user = Transaction().user
        now = dt.datetime.utcnow()
        expires = now + dt.timedelta(seconds=open_seconds())
        for door in doors:
            if not door.active or not can_open(door.device):
                raise AccessError(gettext(
                        'community_access.msg_door_remote_open_device',
                        door=door.rec_name))
        with Transaction().set_user(0):
            decisions = Decision.create([{
                        'door': d.id, 'compound': d.compound.id,
                        'kind': 'remote', 'time': now,
                        'result': 'allow', 'reason': 'remote_open',
                        'note': reason, 'user': user,
                        'direction': d.direction,
                        } for d in doors])
            commands = Command.create([{
                        'device': d.device.id, 'action': 'open',
                        'expires_at': expires,
                        'origin': str(decision),
                        } for d, decision in zip(doors, decisions)])
            for decision, command in zip(decisions, commands):
                decision.command = command
            Decision.save(decisions)
        return decisions

    def _decide(self, kind, value, at, received=None):
        """The decision's result, reason, credential and party of ``value``
        presented at ``at``; a QR code's age is counted at ``received``
        (the server's time of arrival, ``at`` by default)."""
        pool = Pool()
        Credential = pool.get('community.access.credential')
        Rule = pool.get('community.access.rule')
        if not self.active:
            return {'result': 'deny', 'reason': 'door_inactive'}
        if kind == 'pin' and self.pin_locked(at):
            return {'result': 'deny', 'reason': 'pin_locked'}
        if kind == 'qr':
            credential, reason = Credential.verify_qr(
                self.compound, value, received or at)
            if not credential:
                return {'result': 'deny', 'reason': reason}
        else:
            credential = Credential.lookup(self.compound, kind, value)
        if not credential:
            return {'result': 'deny', 'reason':
                'bad_pin' if kind == 'pin' else 'unknown_credential'}
        result = {'credential': credential.id,
            'party': credential.party.id}
        reason = credential.refusal(at)
        if reason:
            return dict(result, result='deny', reason=reason)
        local = self.local_time(at)
        reason = Rule.refusal(credential.party, self, local, at)
        if reason:
            return dict(result, result='deny', reason=reason)
        if self.anti_passback != 'none' and self.passed_back(
                credential.party, at):
            if self.anti_passback == 'hard':
                return dict(result, result='deny', reason='anti_passback')
            return dict(result, result='allow',
                reason='anti_passback_soft')
        return dict(result, result='allow', reason='granted')

    def local_time(self, at):
        "``at`` (naive UTC) as a naive local time of the compound."
        zone = ZoneInfo(self.compound.timezone or 'Asia/Shanghai')
        return at.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(
            tzinfo=None)

    def utc_time(self, local):
        zone = ZoneInfo(self.compound.timezone or 'Asia/Shanghai')
        return local.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(
            tzinfo=None)

    def pin_locked(self, at):
        """The door's keypad is locked when the last PIN_MAX_TRIES PIN
        attempts within PIN_LOCK before ``at`` were all bad."""
        Decision = Pool().get('community.access.decision')
        tries = Decision.search([
                ('door', '=', self.id),
                ('kind', '=', 'pin'),
                ('time', '>', at - PIN_LOCK),
                ('time', '<=', at),
                ('reason', '!=', 'pin_locked'),
                ], order=[('time', 'DESC'), ('id', 'DESC')],
            limit=PIN_MAX_TRIES)
        return (len(tries) == PIN_MAX_TRIES
            and all(d.reason == 'bad_pin' for d in tries))

    def passed_back(self, party, at):
        """The party's last passage in the door's zone since the daily
        reset went the same way as this door."""
        Decision = Pool().get('community.access.decision')
        local = self.local_time(at)
        reset = local.replace(hour=APB_RESET_HOUR, minute=0, second=0,
            microsecond=0)
        if reset > local:
            reset -= dt.timedelta(days=1)
        last = Decision.search([
                ('compound', '=', self.compound.id),
                ('zone', '=', self.zone),
                ('party', '=', party.id),
                ('result', '=', 'allow'),
                ('direction', 'in', ['in', 'out']),
                ('time', '>=', self.utc_time(reset)),
                ('time', '<=', at),
                ], order=[('time', 'DESC'), ('id', 'DESC')], limit=1)
        return bool(last) and last[0].direction == self.direction


class DoorRemoteOpenStart(ModelView):
    "Open the Door Remotely"
    __name__ = 'community.access.door.remote_open.start'
    door = fields.Many2One('community.access.door', "Door", readonly=True)
    reason = fields.Char("Reason", required=True,
        help="Why the door is opened: kept with the opening.")


class DoorRemoteOpen(Wizard):
    "Open the Door Remotely"
    __name__ = 'community.access.door.remote_open'
    start = StateView('community.access.door.remote_open.start',
        'community_access.door_remote_open_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Open", 'open_', 'tryton-launch', default=True),
            ])
    open_ = StateTransition()

    def default_start(self, fields):
        return {'door': self.record.id if self.record else None}

    def transition_open_(self):
        self.model.open_remotely([self.record], self.start.reason)
        return 'end'
