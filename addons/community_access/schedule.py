# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Weekly schedules (时间表) with holiday overrides.

Every range is half-open ``[start, end)`` in the compound's local time;
an end of 00:00 means midnight at the end of the day.
"""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields)
from trytond.pyson import Eval

from .exceptions import AccessValidationError

try:
    import chinese_calendar
except ImportError:
    chinese_calendar = None

WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ('holiday', "Statutory Holiday"),
    ]


def _in_range(start, end, time):
    "``time`` in ``[start, end)``; an end of 00:00 is the day's end."
    if start is None:
        return False
    if end is None or end == dt.time(0):
        return start <= time
    return start <= time < end


class Schedule(DeactivableMixin, ModelSQL, ModelView):
    """Schedule (时间表): when a rule opens its doors.

    A date with exceptions follows them alone (closed if none has times);
    with "statutory holidays", China's public holidays (chinese-calendar)
    follow the "Statutory Holiday" ranges and the adjusted working days
    (调休上班) Monday's; every other day its weekday's ranges.
    """
    __name__ = 'community.access.schedule'
    name = fields.Char("Name", required=True)
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT')
    ranges = fields.One2Many('community.access.schedule.range',
        'schedule', "Weekly Ranges")
    exceptions = fields.One2Many('community.access.schedule.exception',
        'schedule', "Holiday Overrides")
    statutory_holidays = fields.Boolean("Statutory Holidays",
        help="Follow China's public holidays and adjusted working days "
        "(调休) of the chinese-calendar library.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @staticmethod
    def default_statutory_holidays():
        return False

    def day_kind(self, date):
        "The weekday key whose ranges apply on ``date``."
        if self.statutory_holidays and chinese_calendar:
            try:
                on_holiday, name = chinese_calendar.get_holiday_detail(date)
            except NotImplementedError:
                on_holiday, name = None, None
            if on_holiday and name:
                return 'holiday'
            if on_holiday is False and date.weekday() >= 5:
                return '0'
        return str(date.weekday())

    def allows(self, local):
        "Whether the schedule is open at the naive local datetime."
        date, time = local.date(), local.time()
        exceptions = [e for e in self.exceptions if e.date == date]
        if exceptions:
            return any(_in_range(e.start_time, e.end_time, time)
                for e in exceptions)
        kind = self.day_kind(date)
        return any(_in_range(r.start_time, r.end_time, time)
            for r in self.ranges if r.weekday == kind)


class ScheduleRange(ModelSQL, ModelView):
    "Schedule Range: ``[start, end)`` on a weekday"
    __name__ = 'community.access.schedule.range'
    schedule = fields.Many2One('community.access.schedule', "Schedule",
        required=True, ondelete='CASCADE')
    weekday = fields.Selection(WEEKDAYS, "Weekday", required=True,
        sort=False)
    start_time = fields.Time("Start", required=True, format='%H:%M')
    end_time = fields.Time("End", format='%H:%M',
        help="Excluded; empty or 00:00 for the end of the day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[0:0] = [('weekday', 'ASC'), ('start_time', 'ASC')]

    @classmethod
    def validate_fields(cls, ranges, field_names):
        super().validate_fields(ranges, field_names)
        if field_names & {'start_time', 'end_time'}:
            for range_ in ranges:
                _check_range(range_)


class ScheduleException(ModelSQL, ModelView):
    """Holiday Override: the day's ranges on a date, or closed when no
    time is given."""
    __name__ = 'community.access.schedule.exception'
    schedule = fields.Many2One('community.access.schedule', "Schedule",
        required=True, ondelete='CASCADE')
    date = fields.Date("Date", required=True)
    name = fields.Char("Name", help="e.g. 国庆节")
    start_time = fields.Time("Start", format='%H:%M',
        states={'required': Eval('end_time', None) != None})  # noqa: E711
    end_time = fields.Time("End", format='%H:%M',
        help="Excluded; empty or 00:00 for the end of the day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[0:0] = [('date', 'ASC'), ('start_time', 'ASC')]

    @classmethod
    def validate_fields(cls, exceptions, field_names):
        super().validate_fields(exceptions, field_names)
        if field_names & {'start_time', 'end_time'}:
            for exception in exceptions:
                _check_range(exception)


def _check_range(record):
    if (record.start_time and record.end_time
            and record.end_time != dt.time(0)
            and record.end_time <= record.start_time):
        raise AccessValidationError(gettext(
                'community_access.msg_schedule_range',
                start=record.start_time.strftime('%H:%M'),
                end=record.end_time.strftime('%H:%M')))
