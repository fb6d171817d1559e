# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Doors (门) and the decision on every attempt to pass one."""
import datetime as dt
from zoneinfo import ZoneInfo

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .exceptions import AccessValidationError

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


class Door(DeactivableMixin, ModelSQL, ModelView):
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
