# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Low-code automation rules: when an event happens, do actions."""
import datetime as dt
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction

from .alarm import SEVERITIES
from .bridge.adapters import EVENT_KINDS
from .device import FAMILIES
from .exceptions import RuleError

logger = logging.getLogger(__name__)
# the language of what devices write for the staff of the office
REQUEST_LANGUAGE = 'zh_CN'
OPERATORS = {
    '=': lambda a, b: a == b,
    '!=': lambda a, b: a != b,
    '>': lambda a, b: a > b,
    '>=': lambda a, b: a >= b,
    '<': lambda a, b: a < b,
    '<=': lambda a, b: a <= b,
    }


class Rule(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    """When an event of a kind happens (optionally from devices of a
    compound, building, place or family; with a condition on the event's
    value; between given local hours), run the actions."""
    __name__ = 'community.iot.rule'
    name = fields.Char("Name", required=True, translate=True)
    event_kind = fields.Selection(EVENT_KINDS, "Event Kind", required=True)
    compound = fields.Many2One('community.compound', "Compound",
        ondelete='CASCADE')
    building = fields.Many2One('community.building', "Building",
        ondelete='CASCADE',
        domain=[('compound', '=', Eval('compound', -1))],
        states={'invisible': ~Eval('compound')})
    place = fields.Many2One('community.iot.place', "Place",
        ondelete='CASCADE',
        domain=[('compound', '=', Eval('compound', -1))],
        states={'invisible': ~Eval('compound')})
    family = fields.Selection([(None, "")] + FAMILIES, "Family")
    value_operator = fields.Selection([
            (None, ""),
            ('=', "="), ('!=', "≠"), ('>', ">"), ('>=', "≥"),
            ('<', "<"), ('<=', "≤"),
            ], "Value Condition")
    value = fields.Numeric("Value", digits=(16, 6),
        states={
            'required': Bool(Eval('value_operator')),
            'invisible': ~Eval('value_operator'),
            })
    hour_from = fields.Integer("From Hour",
        domain=['OR', ('hour_from', '=', None),
            [('hour_from', '>=', 0), ('hour_from', '<=', 23)]],
        help="Local hour of the compound (0–23) the rule starts to apply.")
    hour_to = fields.Integer("To Hour",
        domain=['OR', ('hour_to', '=', None),
            [('hour_to', '>=', 0), ('hour_to', '<=', 24)]],
        help="Local hour (exclusive) the rule stops applying; may be lower "
        "than From Hour for a night window (e.g. 22 → 6).")
    actions = fields.One2Many('community.iot.rule.action', 'rule',
        "Actions")

    def match(self, event, device=None):
        """Return True when the event satisfies the rule's filters.

        ``device`` defaults to the event's device; hours are evaluated in
        the compound's time zone (default Asia/Shanghai)."""
        device = device or event.device
        if event.kind != self.event_kind:
            return False
        if self.compound and (not device or device.compound != self.compound):
            return False
        if self.building and (not device or device.building != self.building):
            return False
        if self.place and (not device or device.place != self.place):
            return False
        if self.family and (not device or device.family != self.family):
            return False
        if self.value_operator:
            if event.value is None or self.value is None:
                return False
            if not OPERATORS[self.value_operator](
                    Decimal(event.value), self.value):
                return False
        if self.hour_from is not None and self.hour_to is not None:
            tz = 'Asia/Shanghai'
            if device and device.compound and getattr(
                    device.compound, 'timezone', None):
                tz = device.compound.timezone
            time = event.time or dt.datetime.utcnow()
            hour = time.replace(tzinfo=dt.timezone.utc).astimezone(
                ZoneInfo(tz)).hour
            if self.hour_from <= self.hour_to:
                if not (self.hour_from <= hour < self.hour_to):
                    return False
            elif not (hour >= self.hour_from or hour < self.hour_to):
                return False
        return True

    _kinds_cache = Cache('community.iot.rule.listened_kinds', context=False)

    @classmethod
    def listened_kinds(cls):
        "The event kinds some active rule listens to (cached)."
        kinds = cls._kinds_cache.get(None)
        if kinds is None:
            kinds = sorted({r.event_kind for r in cls.search([])})
            cls._kinds_cache.set(None, kinds)
        return set(kinds)

    @classmethod
    def create(cls, vlist):
        rules = super().create(vlist)
        cls._kinds_cache.clear()
        return rules

    @classmethod
    def write(cls, *args):
        super().write(*args)
        cls._kinds_cache.clear()

    @classmethod
    def delete(cls, rules):
        super().delete(rules)
        cls._kinds_cache.clear()

    @classmethod
    def apply(cls, events):
        """Run the actions of every active rule matching the events.

        Returns the number of alarms raised."""
        kinds = {e.kind for e in events}
        rules = cls.search([('event_kind', 'in', list(kinds))])
        if not rules:
            return 0
        raised = 0
        for event in events:
            for rule in rules:
                if rule.match(event):
                    # shared by the actions of the rule for this event
                    state = {}
                    for action in rule.actions:
                        raised += action.execute(event, state) or 0
        return raised


class RuleAction(sequence_ordered(), ModelSQL, ModelView):
    "An action of an automation rule"
    __name__ = 'community.iot.rule.action'
    rule = fields.Many2One('community.iot.rule', "Rule", required=True,
        ondelete='CASCADE')
    type = fields.Selection([
            ('alarm', "Raise Alarm"),
            ('service_request', "Create Service Request"),
            ('command', "Send Command"),
            ('notify', "Notify Group"),
            ('server_action', "Call Server Action"),
            ], "Type", required=True)
    severity = fields.Selection(SEVERITIES, "Severity",
        states={
            'invisible': Eval('type') != 'alarm',
            'required': Eval('type') == 'alarm',
            })
    title = fields.Char("Title", translate=True,
        help="Title of the alarm, service request or notification; "
        "{device} and {place} are replaced.")
    command_device = fields.Many2One('community.iot.device', "Device",
        states={
            'invisible': Eval('type') != 'command',
            'required': Eval('type') == 'command',
            })
    command_action = fields.Selection([
            (None, ""), ('on', "Switch On"), ('off', "Switch Off")],
        "Command", states={
            'invisible': Eval('type') != 'command',
            'required': Eval('type') == 'command',
            })
    group = fields.Many2One('res.group', "Group",
        states={
            'invisible': Eval('type') != 'notify',
            'required': Eval('type') == 'notify',
            })
    server_action = fields.Selection('get_server_actions', "Server Action",
        states={
            'invisible': Eval('type') != 'server_action',
            'required': Eval('type') == 'server_action',
            },
        help="A method 'model|method' called with (action, event); "
        "modules add theirs by extending get_server_actions.")

    @classmethod
    def default_type(cls):
        return 'alarm'

    @classmethod
    def default_severity(cls):
        return 'warning'

    @classmethod
    def get_server_actions(cls):
        "Extension point: (value 'model|method', label) pairs."
        return [
            (None, ""),
            ('community.iot.rule.action|log_event', "Log the event"),
            ]

    @classmethod
    def log_event(cls, action, event):
        "Default server action: log the event (INFO)."
        logger.info("rule %s: event %s %s of %s", action.rule.name,
            event.kind, event.value, event.device and event.device.rec_name)

    def _title(self, event):
        device = event.device
        place = ''
        if device:
            place = ((device.unit and device.unit.rec_name)
                or (device.place and device.place.rec_name)
                or (device.building and device.building.rec_name) or '')
        title = self.title or self.rule.name
        try:
            return title.format(
                device=device.rec_name if device else '', place=place)
        except (KeyError, IndexError, ValueError):
            return title

    def execute(self, event, state=None):
        """Run the action for an event; return the number of alarms raised.

        ``state`` is shared by the actions of one rule for one event: the
        alarm action stores the alarm there, so that a service request is
        created for a new alarm only (not for each repeated event)."""
        if state is None:
            state = {}
        return getattr(self, '_execute_%s' % self.type)(event, state) or 0

    def _execute_alarm(self, event, state):
        Alarm = Pool().get('community.iot.alarm')
        if state.get('alarm'):
            # raised for this event by a service request action before
            return 1 if state.get('new_alarm') else 0
        alarm, new = Alarm.raise_(
            event, self.severity or 'warning', self._title(event),
            rule=self.rule)
        state['alarm'], state['new_alarm'] = alarm, new
        return 1 if new else 0

    def _execute_service_request(self, event, state):
        """Create a repair service request (community_service) for the
        event with its alarm as origin: one request per alarm, so nothing
        for an event repeating while the alarm is open. Without an alarm
        action before it, the action raises the alarm itself. The request
        reads in Chinese, with the event's local time in the compound's
        time zone."""
        pool = Pool()
        device = event.device
        if not device or not device.compound:
            return
        try:
            Request = pool.get('community.service.request')
        except KeyError:
            logger.warning("rule %s: community.service.request is not "
                "installed, no service request created", self.rule.name)
            return
        if not state.get('alarm'):
            Alarm = pool.get('community.iot.alarm')
            state['alarm'], state['new_alarm'] = Alarm.raise_(
                event, self.severity or 'warning', self._title(event),
                rule=self.rule)
        alarm = state['alarm']
        if alarm.service_request:
            return
        compound = device.compound
        time = event.time or dt.datetime.utcnow()
        local = time.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(compound.timezone or 'Asia/Shanghai'))
        with Transaction().set_context(language=REQUEST_LANGUAGE):
            Event = pool.get('community.iot.event')
            kinds = dict(Event.fields_get(['kind'])['kind']['selection'])
            action = self.__class__(self.id)
            title = alarm.name if not action.title else action._title(event)
            description = gettext('community_iot.msg_service_request_event',
                kind=kinds.get(event.kind, event.kind or ''),
                device=device.rec_name,
                time=local.strftime('%Y-%m-%d %H:%M:%S'))
        request, = Request.create([{
                    'compound': compound.id,
                    'unit': device.unit.id if device.unit else None,
                    'kind': 'repair',
                    'channel': 'device',
                    'title': title,
                    'description': description,
                    'urgency': 'high',
                    'origin': str(alarm),
                    }])
        state['service_request'] = request
        alarm.service_request = request
        alarm.save()

    def _execute_command(self, event, state):
        Command = Pool().get('community.iot.command')
        Command.create([{
                    'device': self.command_device.id,
                    'action': self.command_action,
                    'origin': str(self.rule),
                    }])

    def _execute_notify(self, event, state):
        Notification = Pool().get('res.notification')
        Event = Pool().get('community.iot.event')
        device = event.device
        compound = device.compound if device else None
        notifications = []
        for user in self.group.users:
            compounds = {c.id for c in getattr(user, 'compounds', [])}
            if compound and compounds and compound.id not in compounds:
                continue
            notifications.append({
                    'user': user.id,
                    'label': self._title(event)[:100],
                    'description': '%s %s' % (
                        event.kind, device.rec_name if device else ''),
                    'model': Event.__name__,
                    'records': str([event.id]),
                    })
        if notifications:
            Notification.create(notifications)

    def _execute_server_action(self, event, state):
        pool = Pool()
        if not self.server_action:
            raise RuleError(gettext(
                    'community_iot.msg_rule_server_action_missing',
                    rule=self.rule.rec_name))
        model, method = self.server_action.split('|')
        getattr(pool.get(model), method)(self, event)
