# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Alarms raised by events (through the rules) and handled by staff."""
import datetime as dt

from sql import Null

from trytond import config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .bridge.adapters import CLEARED_BY, EVENT_KINDS
from .exceptions import AlarmError

SEVERITIES = [
    ('info', "Info"),
    ('warning', "Warning"),
    ('critical', "Critical"),
    ]


class Alarm(Workflow, ModelSQL, ModelView):
    """An alarm: open → acknowledged → resolved.

    Raised by rules on events; ``cleared`` is set when the device reports
    the opposite event (smoke cleared, door closed, back online); staff
    still acknowledge and resolve it, with notes.
    """
    __name__ = 'community.iot.alarm'
    name = fields.Char("Title", required=True,
        states={'readonly': Eval('state') != 'open'})
    severity = fields.Selection(SEVERITIES, "Severity", required=True,
        states={'readonly': Eval('state') == 'resolved'})
    state = fields.Selection([
            ('open', "Open"),
            ('acknowledged', "Acknowledged"),
            ('resolved', "Resolved"),
            ], "State", readonly=True, required=True)
    device = fields.Many2One('community.iot.device', "Device",
        readonly=True, ondelete='SET NULL')
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True, ondelete='CASCADE')
    building = fields.Many2One('community.building', "Building",
        readonly=True, ondelete='SET NULL')
    unit = fields.Many2One('community.unit', "Unit",
        readonly=True, ondelete='SET NULL')
    place = fields.Many2One('community.iot.place', "Place",
        readonly=True, ondelete='SET NULL')
    event = fields.Many2One('community.iot.event', "Event",
        readonly=True, ondelete='SET NULL')
    kind = fields.Selection([(None, "")] + EVENT_KINDS, "Event Kind",
        readonly=True)
    rule = fields.Many2One('community.iot.rule', "Rule", readonly=True,
        ondelete='SET NULL')
    service_request = fields.Many2One('community.service.request',
        "Service Request", readonly=True, ondelete='SET NULL')
    raised = fields.Timestamp("Raised", readonly=True)
    occurrences = fields.Integer("Occurrences", readonly=True,
        help="Events of the same kind from the device while open.")
    cleared = fields.Timestamp("Cleared by Device", readonly=True)
    escalated = fields.Timestamp("Escalated", readonly=True)
    acknowledged_by = fields.Many2One('res.user', "Acknowledged By",
        readonly=True)
    acknowledged_at = fields.Timestamp("Acknowledged", readonly=True)
    acknowledgement_note = fields.Text("Acknowledgement Note",
        states={'readonly': Eval('state') != 'open'})
    resolved_by = fields.Many2One('res.user', "Resolved By", readonly=True)
    resolved_at = fields.Timestamp("Resolved", readonly=True)
    resolution_note = fields.Text("Resolution Note",
        states={'readonly': Eval('state') == 'resolved'})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    where=t.state.in_(['open', 'acknowledged'])),
                Index(t, (t.device, Index.Range())),
                })
        cls._order = [('raised', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'acknowledged'),
            ('open', 'resolved'),
            ('acknowledged', 'resolved'),
            }
        cls._buttons.update({
                'acknowledge': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'resolve': {
                    'invisible': Eval('state') == 'resolved',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_severity(cls):
        return 'warning'

    @classmethod
    def default_occurrences(cls):
        return 1

    @classmethod
    def default_raised(cls):
        return dt.datetime.utcnow()

    @classmethod
    @ModelView.button
    @Workflow.transition('acknowledged')
    def acknowledge(cls, alarms):
        "Staff take the alarm in charge."
        cls.write(alarms, {
                'acknowledged_by': Transaction().user,
                'acknowledged_at': dt.datetime.utcnow(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('resolved')
    def resolve(cls, alarms):
        "Close the alarm; a resolution note is required."
        for alarm in alarms:
            if not alarm.resolution_note:
                raise AlarmError(gettext(
                        'community_iot.msg_alarm_resolution_note',
                        alarm=alarm.rec_name))
        cls.write(alarms, {
                'resolved_by': Transaction().user,
                'resolved_at': dt.datetime.utcnow(),
                })

    @classmethod
    def raise_(cls, event, severity, title, rule=None):
        """Raise an alarm for an event, or count one more occurrence on the
        open alarm of the same device, kind and rule. Returns the alarm and
        whether it is new."""
        device = event.device
        domain = [
            ('state', 'in', ['open', 'acknowledged']),
            ('device', '=', device.id if device else None),
            ('kind', '=', event.kind),
            ('rule', '=', rule.id if rule else None),
            ('cleared', '=', None),
            ]
        existing = cls.search(domain, limit=1)
        if existing:
            alarm, = existing
            alarm.occurrences = (alarm.occurrences or 1) + 1
            alarm.save()
            return alarm, False
        alarm = cls(
            name=title, severity=severity, device=device,
            compound=event.compound, event=event, kind=event.kind,
            rule=rule, raised=event.time or dt.datetime.utcnow())
        if device:
            alarm.building = device.building
            alarm.unit = device.unit
            alarm.place = device.place
        alarm.save()
        return alarm, True

    @classmethod
    def clear(cls, reports):
        """Mark cleared the alarms of devices that reported the clearing
        event; ``reports``: (event kind, device id, UTC time) tuples."""
        clearing = {v: k for k, v in CLEARED_BY.items()}
        to_clear = {}
        for kind, device_id, time in reports:
            if kind in clearing:
                to_clear.setdefault(clearing[kind], {})[device_id] = time
        if not to_clear:
            return
        # one light query finds the candidates (most reports clear nothing)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = None
        for kind, devices in to_clear.items():
            clause = (table.kind == kind) & table.device.in_(list(devices))
            where = clause if where is None else where | clause
        cursor.execute(*table.select(table.id, table.kind, table.device,
                where=table.state.in_(['open', 'acknowledged'])
                & (table.cleared == Null) & where))
        candidates = cursor.fetchall()
        if not candidates:
            return
        alarms = cls.browse([i for i, _, _ in candidates])
        for alarm, (_, kind, device_id) in zip(alarms, candidates):
            alarm.cleared = to_clear[kind][device_id]
        cls.save(alarms)

    @classmethod
    def escalate(cls, minutes=None):
        """Escalate alarms still open (not acknowledged) after
        ``[community_iot] escalate_minutes`` (default 15): severity one
        level up, escalation time set, the compound's managers notified.
        Returns the escalated alarms."""
        pool = Pool()
        Notification = pool.get('res.notification')
        ModelData = pool.get('ir.model.data')
        Group = pool.get('res.group')
        if minutes is None:
            minutes = config.getint(
                'community_iot', 'escalate_minutes', default=15)
        threshold = dt.datetime.utcnow() - dt.timedelta(minutes=minutes)
        alarms = cls.search([
                ('state', '=', 'open'),
                ('escalated', '=', None),
                ('raised', '<', threshold),
                ])
        up = {'info': 'warning', 'warning': 'critical',
            'critical': 'critical'}
        now = dt.datetime.utcnow()
        for alarm in alarms:
            alarm.severity = up[alarm.severity]
            alarm.escalated = now
        cls.save(alarms)
        group = Group(ModelData.get_id(
                'community_base', 'group_community_manager'))
        notifications = []
        for alarm in alarms:
            for user in group.users:
                compounds = {c.id for c in user.compounds}
                if alarm.compound and compounds and (
                        alarm.compound.id not in compounds):
                    continue
                notifications.append({
                        'user': user.id,
                        'label': gettext('community_iot.msg_alarm_escalated',
                            alarm=alarm.name),
                        'description': alarm.rec_name,
                        'model': cls.__name__,
                        'records': str([alarm.id]),
                        })
        if notifications:
            Notification.create(notifications)
        return alarms
