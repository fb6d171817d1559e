# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Service level (SLA) of the service requests, and the overdue list.

A request's response is its first step after filing (assigned, else
started, else done); it is on time when it comes by the category's
response time, late when it came after, or has not come and the time has
passed. The same for the completion (done) and the completion time. Times
are read in UTC in the database; the report's dates are the compound's
local days (Asia/Shanghai by default).
"""
import datetime as dt
from zoneinfo import ZoneInfo

from sql import Cast, Literal, Null
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Case, Coalesce, NullIf
from sql.functions import Extract, Round

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.community_base.compound import (
    CompoundPeriodContextMixin)
from trytond.pool import Pool
from trytond.transaction import Transaction

from .service import KINDS, STATES, _now

HOUR = dt.timedelta(hours=1)


def _utc(date, timezone):
    "The UTC time (naive) of the start of the local day ``date``."
    start = dt.datetime.combine(date, dt.time(), ZoneInfo(timezone))
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


class SLAContext(CompoundPeriodContextMixin, ModelView):
    "Service Level Context"
    __name__ = 'community.service.sla.context'

    @classmethod
    def default_from_date(cls):
        return (Transaction().context.get('from_date')
            or cls._today().replace(day=1))

    @classmethod
    def default_to_date(cls):
        return Transaction().context.get('to_date') or cls._today()

    @classmethod
    def window(cls):
        "(UTC start, UTC end) of the context's dates (end excluded)."
        context = Transaction().context
        today = cls._today()
        from_date = context.get('from_date') or today.replace(day=1)
        to_date = context.get('to_date') or today
        timezone = cls._timezone()
        return (_utc(from_date, timezone),
            _utc(to_date + dt.timedelta(days=1), timezone))


def _times(request, category):
    "SQL expressions of the dues and steps of a request."
    response_due = request.filed_at + category.response_hours * Literal(HOUR)
    completion_due = (request.filed_at
        + category.completion_hours * Literal(HOUR))
    responded = Coalesce(
        request.assigned_at, request.started_at, request.done_at)
    return response_due, completion_due, responded


def _hours(interval):
    return Cast(Extract('EPOCH', interval), 'NUMERIC') / 3600


class ServiceLevel(ModelSQL, ModelView):
    "Service Level per Category"
    __name__ = 'community.service.sla'
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True)
    category = fields.Many2One('community.service.category', "Category",
        readonly=True)
    request_count = fields.Integer("Requests", readonly=True)
    done_count = fields.Integer("Done", readonly=True)
    open_count = fields.Integer("Open", readonly=True)
    response_on_time = fields.Integer("Responded on Time", readonly=True)
    response_late = fields.Integer("Responded Late", readonly=True,
        help="Responded after the response time, or not yet and past it.")
    response_rate = fields.Numeric("On-Time Response (%)", digits=(16, 2),
        readonly=True)
    completion_on_time = fields.Integer("Completed on Time",
        readonly=True)
    completion_late = fields.Integer("Completed Late", readonly=True,
        help="Done after the completion time, or not yet and past it.")
    completion_rate = fields.Numeric("On-Time Completion (%)",
        digits=(16, 2), readonly=True)
    overdue_count = fields.Integer("Overdue Now", readonly=True,
        help="Open requests past a due time.")
    response_hours = fields.Numeric("Average Response (h)",
        digits=(16, 1), readonly=True)
    completion_hours = fields.Numeric("Average Completion (h)",
        digits=(16, 1), readonly=True)
    rating = fields.Numeric("Average Satisfaction", digits=(16, 2),
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('compound', 'ASC'), ('category', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Request = pool.get('community.service.request')
        Category = pool.get('community.service.category')
        request = Request.__table__()
        category = Category.__table__()
        start, end = SLAContext.window()
        now = Literal(_now())
        response_due, completion_due, responded = _times(request, category)
        open_ = request.state.in_(['new', 'assigned', 'in_progress'])
        has_response = category.response_hours != Null
        has_completion = category.completion_hours != Null
        response_on_time = has_response & (responded != Null) & (
            responded <= response_due)
        response_late = has_response & (
            (responded > response_due)
            | ((responded == Null) & open_ & (now > response_due)))
        completion_on_time = has_completion & (request.done_at != Null) & (
            request.done_at <= completion_due)
        completion_late = has_completion & (
            (request.done_at > completion_due)
            | ((request.done_at == Null) & open_ & (now > completion_due)))
        overdue = open_ & (
            ((request.state == 'new') & has_response
                & (now > response_due))
            | (has_completion & (now > completion_due)))

        def count(condition):
            return Sum(Case((condition, 1), else_=0))

        def pct(on_time, late):
            return Round(Cast(count(on_time), 'NUMERIC') * 100
                / NullIf(count(on_time) + count(late), 0), 2)
        where = ((request.filed_at >= start) & (request.filed_at < end)
            & (request.state != 'cancelled'))
        compound = Transaction().context.get('compound')
        if compound:
            where &= request.compound == compound
        return (request
            .join(category, condition=category.id == request.category)
            .select(
                (request.compound * 100000 + category.id).as_('id'),
                Literal(0).as_('create_uid'),
                Min(request.create_date).as_('create_date'),
                Literal(None).as_('write_uid'),
                Literal(None).as_('write_date'),
                request.compound.as_('compound'),
                category.id.as_('category'),
                Count(request.id).as_('request_count'),
                count(request.done_at != Null).as_('done_count'),
                count(open_).as_('open_count'),
                count(response_on_time).as_('response_on_time'),
                count(response_late).as_('response_late'),
                pct(response_on_time, response_late).as_('response_rate'),
                count(completion_on_time).as_('completion_on_time'),
                count(completion_late).as_('completion_late'),
                pct(completion_on_time, completion_late
                    ).as_('completion_rate'),
                count(overdue).as_('overdue_count'),
                Round(Avg(_hours(responded - request.filed_at)), 1
                    ).as_('response_hours'),
                Round(Avg(_hours(request.done_at - request.filed_at)), 1
                    ).as_('completion_hours'),
                Round(Avg(Cast(NullIf(request.rating, ''), 'INTEGER')), 2
                    ).as_('rating'),
                where=where,
                group_by=[request.compound, category.id]))


class OverdueRequest(ModelSQL, ModelView):
    "Overdue Service Request"
    __name__ = 'community.service.request.overdue'
    request = fields.Many2One('community.service.request', "Request",
        readonly=True)
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True)
    unit = fields.Many2One('community.unit', "Unit", readonly=True)
    category = fields.Many2One('community.service.category', "Category",
        readonly=True)
    kind = fields.Selection(KINDS, "Kind", readonly=True)
    title = fields.Char("Title", readonly=True)
    state = fields.Selection(STATES, "State", readonly=True)
    assigned_to = fields.Many2One('res.user', "Technician", readonly=True)
    filed_at = fields.Timestamp("Filed at", readonly=True)
    due_at = fields.Timestamp("Due", readonly=True,
        help="The response time while the request is new, else the "
        "completion time.")
    hours_overdue = fields.Numeric("Hours Overdue", digits=(16, 1),
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('hours_overdue', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Request = pool.get('community.service.request')
        Category = pool.get('community.service.category')
        request = Request.__table__()
        category = Category.__table__()
        now = Literal(_now())
        response_due, completion_due, _ = _times(request, category)
        # the earliest due time that has passed
        due = Case(
            ((request.state == 'new') & (category.response_hours != Null)
                & (now > response_due)
                & ((category.completion_hours == Null)
                    | (response_due <= completion_due)), response_due),
            else_=completion_due)
        overdue = request.state.in_(['new', 'assigned', 'in_progress']) & (
            ((request.state == 'new') & (category.response_hours != Null)
                & (now > response_due))
            | ((category.completion_hours != Null)
                & (now > completion_due)))
        where = overdue
        compound = Transaction().context.get('compound')
        if compound:
            where &= request.compound == compound
        return (request
            .join(category, condition=category.id == request.category)
            .select(
                request.id.as_('id'),
                Literal(0).as_('create_uid'),
                request.create_date.as_('create_date'),
                Literal(None).as_('write_uid'),
                Literal(None).as_('write_date'),
                request.id.as_('request'),
                request.compound.as_('compound'),
                request.unit.as_('unit'),
                request.category.as_('category'),
                request.kind.as_('kind'),
                request.title.as_('title'),
                request.state.as_('state'),
                request.assigned_to.as_('assigned_to'),
                request.filed_at.as_('filed_at'),
                due.as_('due_at'),
                Round(_hours(now - due), 1).as_('hours_overdue'),
                where=where))
