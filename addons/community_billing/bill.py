# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Bills (账单) and bill runs (生成账单), posted to the ledger in bulk.

A bill is unit × payer × period with one line per fee item. A bill run
bills every unit of a compound for a period, by batches: each batch
inserts its bills and bill lines with set-based SQL and posts one
``account.move`` with one receivable line per bill (party = payer,
maturity = due date) and the revenue and output VAT aggregated per fee
item. A run bills each unit × fee item only for the days of its period
not yet billed (a mid-month to mid-month run after a calendar month bills
the days after that month), and the database refuses two bill lines not
cancelled of a unit and fee item sharing a day (exclusion constraint on
overlapping date ranges), so re-running, overlapping or concurrent runs
or resuming a crashed run never bill a day twice.
"""
import calendar
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple, Optional

from sql import Cast, Null
from sql.conditionals import Case, Coalesce
from sql.aggregate import Count, Sum
from sql.functions import CurrentTimestamp, ToChar
from sql.operators import Concat

from trytond.i18n import gettext
from trytond.model import (
    Exclude, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.sql.functions import DateRange, Range
from trytond.sql.operators import RangeOverlap
from trytond.transaction import Transaction
from trytond.tools import escape_wildcard
from trytond.wizard import Button, StateAction, StateView, Wizard

from trytond.modules.community_base.display import format_decimal
from trytond.modules.community_base.tools import gc_frozen

from .exceptions import BillingError
from .fee import (
    SCOPE_RANK, describe_segments, prorate, round_money)
from .meter import tiered_amount

STATES = [
    ('posted', "Posted"),
    ('cancelled', "Cancelled"),
    ]
PAYMENT_STATES = [
    (None, ""),
    ('unpaid', "Unpaid"),
    ('partial', "Partly Paid"),
    ('paid', "Paid"),
    ]


class Int4Range(Range):
    "PostgreSQL int4range(lower, upper, bounds)."
    __slots__ = ()
    _function = 'INT4RANGE'


def month_bounds(date):
    "Return the first and last day of the month of date."
    return (date.replace(day=1),
        date.replace(day=calendar.monthrange(date.year, date.month)[1]))


class _Line(NamedTuple):
    "A bill line computed by the bill run, before it is inserted."
    item: object  # community.fee.item
    quantity: Decimal
    unit_price: Decimal
    days: Optional[int]
    description: str
    amount: Decimal
    period_start: dt.date  # the days billed, inclusive
    period_end: dt.date


class _Bill(NamedTuple):
    "A bill computed by the bill run: unit × payer with its lines."
    unit: '_Unit'
    party: int  # party.party id of the payer
    lines: list  # [_Line]


class _ItemLine(NamedTuple):
    "The line of a fee item and who pays it: the payer kind on a day."
    line: _Line
    date: dt.date  # the day whose payer pays
    payer_kind: str  # 'owner' or 'tenant'


class _Residency(NamedTuple):
    "An owner or tenant of a unit, as the bill run reads it."
    party: int
    role: str
    share: Optional[Decimal]
    payer: bool
    start_date: dt.date
    end_date: Optional[dt.date]


class _Metered(NamedTuple):
    "The consumption of a metered fee item of a unit over a gap."
    item: object  # community.fee.item
    first: dt.date
    last: dt.date
    consumption: Decimal  # from first to last day
    before: Decimal  # earlier in that calendar year
    tiers: list  # [(up to, unit price)]


class _Charge(NamedTuple):
    """A charge added to a unit's bill over a gap: an apportionment, or
    a charge of another module (``_load_charges``, same field order)."""
    item: object  # community.fee.item
    first: dt.date
    last: dt.date
    quantity: Decimal  # weight, count …
    amount: Decimal
    description: str


class _Insert(NamedTuple):
    "What the SQL inserts of a batch share."
    cursor: object
    user: int  # res.user id, as create_uid
    now: object  # CURRENT_TIMESTAMP, as create_date


class _Unit:
    "Light-weight unit row used by the bill run."
    __slots__ = ('id', 'code', 'building', 'type', 'handover_date')

    def __init__(self, id, code, building, type, handover_date):
        self.id = id
        self.code = code
        self.building = building
        self.type = type
        self.handover_date = handover_date


class BillRun(Workflow, ModelSQL, ModelView):
    """Bill Run (生成账单): bills one compound for one period.

    ``period_start``/``period_end``: inclusive dates (a month by default;
    quarters or years for prepaid periods). Progress is kept in
    ``unit_done`` of ``unit_total``; a run that stopped half-way resumes
    where it stopped when processed again.
    """
    __name__ = 'community.bill.run'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    period_start = fields.Date("Period Start", required=True,
        states={'readonly': Eval('state') != 'draft'})
    period_end = fields.Date("Period End", required=True,
        domain=[('period_end', '>=', Eval('period_start', None))],
        states={'readonly': Eval('state') != 'draft'})
    due_date = fields.Date("Due Date",
        states={'readonly': Eval('state') != 'draft'},
        help="Leave empty for the end of the period plus the configured "
        "due days.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('running', "Running"),
            ('done', "Done"),
            ], "State", readonly=True, required=True)
    unit_total = fields.Integer("Units", readonly=True)
    unit_done = fields.Integer("Units Done", readonly=True)
    progress = fields.Function(fields.Float("Progress", digits=(1, 4),
            help="Units done of units; stored per committed batch, "
            "reload to follow a running run."), 'get_progress')
    bill_count = fields.Integer("Bills", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    bills = fields.One2Many('community.bill', 'run', "Bills", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[0:0] = [('period_start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'running'),
            ('running', 'done'),
            ('draft', 'done'),
            }
        cls._buttons.update({
                'process': {
                    'invisible': Eval('state') == 'done',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_unit_done():
        return 0

    @staticmethod
    def default_unit_total():
        return 0

    @staticmethod
    def default_bill_count():
        return 0

    @staticmethod
    def default_amount():
        return Decimal(0)

    @classmethod
    def default_period_start(cls):
        return month_bounds(Pool().get('ir.date').today())[0]

    @classmethod
    def default_period_end(cls):
        return month_bounds(Pool().get('ir.date').today())[1]

    def get_rec_name(self, name):
        return '%s %s~%s' % (
            self.compound.rec_name, self.period_start, self.period_end)

    def get_progress(self, name):
        "Fraction of the units done, 0 to 1 (1 for a done run)."
        if self.state == 'done':
            return 1.0
        if not self.unit_total:
            return 0.0
        return (self.unit_done or 0) / self.unit_total

    def get_due_date(self):
        Configuration = Pool().get('community.billing.configuration')
        if self.due_date:
            return self.due_date
        days = Configuration(1).due_days or 0
        return self.period_end + dt.timedelta(days=days)

    @classmethod
    def check_modification(cls, mode, runs, values=None, external=False):
        super().check_modification(
            mode, runs, values=values, external=external)
        if mode == 'delete':
            for run in runs:
                if run.state != 'draft':
                    raise BillingError(gettext(
                            'community_billing.msg_bill_run_delete',
                            run=run.rec_name))

    @classmethod
    @ModelView.button
    def process(cls, runs, commit=False):
        """Bill the units of the runs by batches; idempotent.

        With ``commit``, each batch is committed on its own (used by the
        scheduled action and batch scripts) so that progress is kept when
        the process stops; otherwise all batches are in the caller's
        transaction.
        """
        for run in runs:
            run._check_period()
        cls.write([r for r in runs if r.state == 'draft'], {
                'state': 'running'})
        for run in runs:
            run._process(commit=commit)
        cls.write(runs, {'state': 'done'})
        # Prepayments of the payers settle the new bills, oldest first.
        Payment = Pool().get('community.payment')
        Payment.apply_prepayments()

    @classmethod
    def process_in_batches(cls, runs):
        """Process runs committing each batch (``process`` with
        ``commit``), so that other sessions see ``unit_done`` grow; for
        the queue (``__queue__``): with ``[queue] worker``, a trytond-worker
        runs it, else trytond runs it right after the request that queued
        it has committed. A run that stopped resumes when processed
        again."""
        cls.process(runs, commit=True)

    @classmethod
    def run_due(cls):
        """Bill the current month of every compound on or after the
        configured run day; a compound already billed for the month is
        skipped (bills are idempotent anyway). Each batch is committed."""
        pool = Pool()
        BillRun = pool.get('community.bill.run')
        Compound = pool.get('community.compound')
        Configuration = pool.get('community.billing.configuration')
        Date = pool.get('ir.date')
        config = Configuration(1)
        for compound in Compound.search([]):
            with Transaction().set_context(company=compound.company.id):
                today = Date.today()
            if today.day < (config.run_day or 1):
                continue
            start, end = month_bounds(today)
            runs = BillRun.search([
                    ('compound', '=', compound.id),
                    ('period_start', '=', start),
                    ])
            if any(r.state == 'done' for r in runs):
                continue
            if not runs:
                runs = BillRun.create([{
                            'compound': compound.id,
                            'period_start': start, 'period_end': end}])
            BillRun.process(runs)

    @classmethod
    def create_fiscal_years(cls):
        """Create ahead of time the fiscal year (with its monthly periods)
        of this year and the next of every company that has compounds, so
        that a January bill run never stops on a missing period. Returns
        the fiscal years created."""
        pool = Pool()
        Compound = pool.get('community.compound')
        FiscalYear = pool.get('account.fiscalyear')
        Date = pool.get('ir.date')
        from .account import create_fiscal_year
        created = []
        companies = {c.company for c in Compound.search([])}
        for company in sorted(companies, key=lambda c: c.id):
            with Transaction().set_context(company=company.id):
                today = Date.today()
                for year in [today.year, today.year + 1]:
                    if not FiscalYear.search([
                                ('company', '=', company.id),
                                ('start_date', '<=', dt.date(year, 1, 1)),
                                ('end_date', '>=', dt.date(year, 12, 31)),
                                ]):
                        created.append(create_fiscal_year(company, year))
        return created

    def _check_billed(self):
        "Refuse a run of a period that a done run already billed."
        done = self.search([
                ('compound', '=', self.compound.id),
                ('state', '=', 'done'),
                ('id', '!=', self.id),
                ('period_start', '<=', self.period_end),
                ('period_end', '>=', self.period_start),
                ], limit=1)
        if done:
            raise BillingError(gettext(
                    'community_billing.msg_bill_run_already_billed',
                    compound=self.compound.rec_name,
                    run=done[0].rec_name))

    def _check_period(self):
        pool = Pool()
        Period = pool.get('account.period')
        Configuration = pool.get('community.billing.configuration')
        period = Period.find(
            self.compound.company, date=self.period_start, test_state=False)
        if period.state != 'open':
            raise BillingError(gettext(
                    'community_billing.msg_bill_run_period_closed',
                    run=self.rec_name, period=period.rec_name))
        config = Configuration(1)
        company = self.compound.company.id
        if (not config.get_multivalue('journal', company=company)
                or not config.get_multivalue(
                    'receivable_account', company=company)):
            raise BillingError(gettext(
                    'community_billing.msg_billing_configuration'))

    def _load_units(self):
        pool = Pool()
        Unit = pool.get('community.unit')
        unit = Unit.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*unit.select(
                unit.id, unit.code, unit.building, unit.type,
                unit.handover_date,
                where=(unit.compound == self.compound.id),
                order_by=[unit.code.asc, unit.id.asc]))
        return [_Unit(*r) for r in cursor]

    def _load_areas(self, unit_ids):
        pool = Pool()
        Area = pool.get('community.unit.area')
        area = Area.__table__()
        cursor = Transaction().connection.cursor()
        result = defaultdict(list)
        for sub in _chunks(unit_ids, 10000):
            cursor.execute(*area.select(
                    area.unit, area.effective_date, area.gross_area,
                    where=area.unit.in_(sub)
                    & (area.effective_date <= self.period_end)))
            for unit_id, date, gross in cursor:
                result[unit_id].append((date, Decimal(gross)))
        return result

    def _load_residencies(self, unit_ids):
        """Return {unit id: [``_Residency``]} of the owners and tenants of
        the units during the period."""
        pool = Pool()
        Residency = pool.get('community.residency')
        residency = Residency.__table__()
        cursor = Transaction().connection.cursor()
        result = defaultdict(list)
        for sub in _chunks(unit_ids, 10000):
            cursor.execute(*residency.select(
                    residency.unit, residency.party, residency.role,
                    residency.share, residency.payer, residency.start_date,
                    residency.end_date,
                    where=residency.unit.in_(sub)
                    & residency.role.in_(['owner', 'tenant'])
                    & (residency.start_date <= self.period_end)
                    & ((residency.end_date == Null)
                        | (residency.end_date >= self.period_start))))
            for row in cursor:
                result[row[0]].append(_Residency(*row[1:]))
        return result

    def _load_billed(self):
        """Return {(unit, fee item): [(first day, last day)]} of the bill
        lines not cancelled that overlap the period."""
        pool = Pool()
        Line = pool.get('community.bill.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*line.select(
                line.unit, line.fee_item, line.period_start, line.period_end,
                where=(line.compound == self.compound.id)
                & (line.period_start <= self.period_end)
                & (line.period_end >= self.period_start)
                & (line.state != 'cancelled')))
        billed = defaultdict(list)
        for unit, item, first, last in cursor:
            billed[unit, item].append((first, last))
        return billed

    def _gaps(self, ranges):
        """The parts [(first day, last day)] of the period not covered by
        ``ranges`` (inclusive dates), in order: the days a unit × fee
        item is still to be billed for."""
        return _gaps(self.period_start, self.period_end, ranges)

    @staticmethod
    def _payer(residencies, date, kind):
        """Return the party id who pays on date, or None.

        ``kind``: 'owner' → the active owner with the payer flag, else the
        largest share (lowest party id on a tie); 'tenant' → the active
        tenant with the payer flag, else any tenant, else the owner."""
        def active(r):
            return r.start_date <= date and (
                r.end_date is None or r.end_date >= date)
        if kind == 'tenant':
            tenants = [r for r in residencies if r.role == 'tenant'
                and active(r)]
            if tenants:
                tenants.sort(key=lambda r: (not r.payer, r.party))
                return tenants[0].party
        owners = [r for r in residencies if r.role == 'owner' and active(r)]
        if not owners:
            return None
        owners.sort(key=lambda r: (not r.payer, -(r.share or 0), r.party))
        return owners[0].party

    def _compute(self, units, assignments, prices, areas, residencies,
            billed, metered=None, apportioned=None):
        """Compute the bills of units.

        Returns a list of ``_Bill`` with lines ``_Line``; only
        lines with a non-zero amount and a payer, for the days of the
        period not yet billed (``billed``, see ``_gaps``): a line covers
        one gap, so a unit × fee item is never billed twice for a day.
        ``metered`` and ``apportioned`` are computed per gap already
        (``_load_metered``, ``_load_apportioned``).
        """
        bills = []
        for unit in units:
            by_party = defaultdict(list)
            unit_residencies = residencies.get(unit.id, [])
            self._add_fee_lines(by_party, unit, assignments, prices, areas,
                unit_residencies, billed)
            self._add_metered_lines(by_party, unit_residencies,
                (metered or {}).get(unit.id, []))
            self._add_charge_lines(by_party, unit_residencies,
                (apportioned or {}).get(unit.id, []))
            for party, lines in by_party.items():
                bills.append(_Bill(unit, party, lines))
        return bills

    def _add_fee_lines(self, by_party, unit, assignments, prices, areas,
            residencies, billed):
        """Add to ``by_party`` the lines of the monthly and one-off fee
        items assigned to unit, one per gap not yet billed."""
        for item, item_assignments in assignments:
            item_prices = prices[item.id]
            matching = [a for a in item_assignments if a.matches(unit)]
            if not matching or not item_prices:
                continue
            rank = min(SCOPE_RANK[a.scope] for a in matching)
            matching = [a for a in matching
                if SCOPE_RANK[a.scope] == rank]
            for first, last in _gaps(self.period_start, self.period_end,
                    billed.get((unit.id, item.id))):
                computed = self._item_line(unit, item, matching,
                    item_prices, areas, first, last)
                if computed is None:
                    continue
                party = self._payer(
                    residencies, computed.date, computed.payer_kind)
                if party is not None:
                    by_party[party].append(computed.line)

    def _add_metered_lines(self, by_party, residencies, metered):
        "Add to ``by_party`` the tiered lines of the ``_Metered`` of a unit."
        for item, first, last, consumption, before, tiers in metered:
            if not consumption:
                continue
            amount, parts = tiered_amount(tiers, before, consumption)
            party = self._payer(residencies, last, 'owner')
            if party is None or not amount:
                continue
            description = ' + '.join(
                '%s×%s' % (format_decimal(q), format_decimal(p))
                for q, p in parts)
            by_party[party].append(_Line(item, consumption,
                    round_money(amount / consumption), None,
                    description, amount, first, last))

    def _add_charge_lines(self, by_party, residencies, charges):
        "Add to ``by_party`` the lines of the ``_Charge`` of a unit."
        for item, first, last, weight, amount, description in charges:
            if not amount:
                continue
            party = self._payer(residencies, last, 'owner')
            if party is None:
                continue
            by_party[party].append(_Line(item, weight,
                    (amount / weight).quantize(Decimal('0.0001'))
                    if weight else amount, None, description, amount,
                    first, last))

    @staticmethod
    def _item_line(unit, item, assignments, item_prices, areas, start, end):
        """The line of a monthly or one-off fee item over [start, end].

        ``assignments``: the unit's assignments of the item of the best
        scope. Returns ``_ItemLine`` or None when nothing is due."""
        segments, total = [], Decimal(0)
        first = None
        covered = start - dt.timedelta(days=1)
        payer_kind = None
        for assignment in assignments:
            if item.kind == 'one_off':
                if not (start <= assignment.start_date <= end):
                    continue
                price = _price_at(item_prices, assignment.start_date)
                if price is None:
                    continue
                segments.append((assignment.start_date,
                        assignment.start_date, assignment.quantity,
                        price, None, None))
                total += assignment.quantity * price
                first = first or assignment.start_date
                payer_kind = payer_kind or assignment.payer
                continue
            frm = max(start, assignment.start_date,
                covered + dt.timedelta(days=1))
            if unit.handover_date:
                frm = max(frm, unit.handover_date)
            to = min(end, assignment.end_date or end)
            if frm > to:
                continue
            covered = to
            if item.kind == 'area':
                quantities = areas.get(unit.id, [])
            else:
                quantities = [(frm, assignment.quantity)]
            segs, amount = prorate(frm, to, quantities, item_prices)
            if not segs:
                continue
            segments.extend(segs)
            total += amount
            first = first or segs[0][0]
            payer_kind = payer_kind or assignment.payer
        amount = round_money(total)
        if not segments or not amount:
            return None
        last = segments[-1]
        if item.kind == 'one_off':
            days = None
            description = ' + '.join('%s×%s' % (
                    format_decimal(s[2], strip=False),
                    format_decimal(s[3])) for s in segments)
        else:
            days = sum(s[4] for s in segments)
            description = describe_segments(segments)
        return _ItemLine(_Line(item, last[2], last[3], days, description,
                amount, start, end), first, payer_kind)

    def _load_charges(self, units, billed):
        """Return ({unit id: [``_Charge`` or a tuple of its fields (fee
        item, first day, last day, quantity, amount, description)]}, marks)
        for the charges of other modules to add to the bills of ``units``
        (e.g. the chargeable repairs of community_service);
        ``marks`` is passed to ``_mark_charges`` once the batch is
        billed. ``billed`` holds the (unit id, fee item id) already billed
        in the period."""
        return {}, {}

    def _mark_charges(self, marks):
        "Record that the charges of ``_load_charges`` are on a bill."
        pass

    def _load_apportioned(self, billed):
        """Return {unit id: [``_Charge`` (fee item, first day, last day,
        weight, amount, description)]} from the confirmed apportionments of
        the compound whose period starts in the period on days not yet
        billed for the unit × fee item (``_gaps``), summed per unit, fee
        item and gap."""
        pool = Pool()
        Line = pool.get('community.apportionment.line')
        lines = Line.search([
                ('apportionment.compound', '=', self.compound.id),
                ('apportionment.state', '=', 'confirmed'),
                ('apportionment.period_start', '>=', self.period_start),
                ('apportionment.period_start', '<=', self.period_end),
                ], order=[('apportionment.id', 'ASC'), ('id', 'ASC')])
        totals = {}
        for line in lines:
            record = line.apportionment
            gap = _gap_of(record.period_start, self._gaps(
                    billed.get((line.unit.id, record.fee_item.id))))
            if gap is None:
                continue
            key = (line.unit.id, record.fee_item, gap)
            weight, amount, names = totals.get(
                key, (Decimal(0), Decimal(0), []))
            names.append(
                '%s %s' % (record.name, format_decimal(record.amount)))
            totals[key] = (weight + (line.weight or 0), amount + line.amount,
                names)
        result = defaultdict(list)
        for (unit_id, item, gap), (weight, amount, names) in sorted(
                totals.items(), key=lambda t: (
                    t[0][0], t[0][1].sequence or 0, t[0][1].id, t[0][2])):
            result[unit_id].append(
                _Charge(item, *gap, weight, amount, ' + '.join(names)))
        return result

    def _load_metered(self, billed):
        """Return {unit id: [``_Metered`` (fee item, first day, last day,
        consumption from first to last day, consumption earlier in that
        calendar year, tiers)]} from the meter readings, for each part of
        the period not yet billed for the unit × fee item (``_gaps``)."""
        pool = Pool()
        Reading = pool.get('community.meter.reading')
        Tier = pool.get('community.fee.tier')
        start, end = self.period_start, self.period_end
        year_start = start.replace(month=1, day=1)
        readings = Reading.search([
                ('meter.compound', '=', self.compound.id),
                ('meter.fee_item.kind', '=', 'metered'),
                ('date', '>=', year_start),
                ('date', '<=', end),
                ('consumption', '!=', None),
                ])
        by_meter = defaultdict(list)
        for reading in readings:
            key = (reading.meter.unit.id, reading.meter.fee_item)
            by_meter[key].append((reading.date, reading.consumption))
        tiers = {}
        result = defaultdict(list)
        for (unit_id, item), dated in by_meter.items():
            if item.id not in tiers:
                tiers[item.id] = sorted(
                    [(t.up_to, t.unit_price) for t in Tier.search([
                                ('fee_item', '=', item.id)])],
                    key=lambda t: (t[0] is None, t[0] or 0))
            for first, last in self._gaps(billed.get((unit_id, item.id))):
                year = first.replace(month=1, day=1)
                now = sum((c for d, c in dated if first <= d <= last),
                    Decimal(0))
                before = sum((c for d, c in dated if year <= d < first),
                    Decimal(0))
                result[unit_id].append(
                    _Metered(item, first, last, now, before, tiers[item.id]))
        return result

    def _fee_data(self):
        pool = Pool()
        FeeItem = pool.get('community.fee.item')
        Assignment = pool.get('community.fee.assignment')
        items = FeeItem.search([
                ('compound', '=', self.compound.id),
                ])
        assignments = Assignment.search([
                ('fee_item', 'in', [i.id for i in items]),
                ('start_date', '<=', self.period_end),
                ['OR', ('end_date', '=', None),
                    ('end_date', '>=', self.period_start)],
                ], order=[('start_date', 'ASC'), ('id', 'ASC')])
        by_item = defaultdict(list)
        for assignment in assignments:
            by_item[assignment.fee_item.id].append(assignment)
        grade = self.compound.service_grade
        prices = {i.id: i.price_changes(grade) for i in items}
        return ([(i, by_item[i.id]) for i in items if by_item[i.id]],
            prices)

    def _process(self, commit=False):
        # the bill run creates millions of short-lived objects: the
        # collector leaves the process's long-lived ones alone meanwhile
        with gc_frozen():
            self._process_units(commit=commit)

    def _process_units(self, commit=False):
        pool = Pool()
        Configuration = pool.get('community.billing.configuration')
        transaction = Transaction()
        config = Configuration(1)
        batch_size = config.batch_size or 2000
        units = self._load_units()
        assignments, prices = self._fee_data()
        unit_ids = [u.id for u in units]
        areas = self._load_areas(unit_ids)
        residencies = self._load_residencies(unit_ids)
        billed = self._load_billed()
        metered = self._load_metered(billed)
        apportioned = self._load_apportioned(billed)
        self.__class__.write([self], {
                'unit_total': len(units), 'unit_done': 0})
        if commit:
            # The total is visible before the first batch is done.
            transaction.commit()
        done = 0
        for batch in _chunks(units, batch_size):
            extra, marks = self._load_charges(batch, billed)
            for unit_id, lines in apportioned.items():
                if unit_id in extra:
                    extra[unit_id] = lines + extra[unit_id]
            bills = self._compute(
                batch, assignments, prices, areas, residencies, billed,
                metered, {**apportioned, **extra})
            if bills:
                self._post_batch(bills, config)
            if marks:
                self._mark_charges(marks)
            done += len(batch)
            self._progress(done)
            if commit:
                transaction.commit()

    def _progress(self, done):
        "Record progress and the totals of the run with SQL."
        pool = Pool()
        Bill = pool.get('community.bill')
        run = self.__table__()
        bill = Bill.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*bill.select(
                Count(bill.id), Coalesce(Sum(bill.total_amount), 0),
                where=(bill.run == self.id) & (bill.state == 'posted')))
        count, amount = cursor.fetchone()
        cursor.execute(*run.update(
                [run.unit_done, run.bill_count, run.amount],
                [done, count, amount], where=run.id == self.id))

    def _post_batch(self, bills, config):
        """Insert bills and their lines, and post one move for them."""
        pool = Pool()
        Move = pool.get('account.move')
        compound = self.compound
        receivable = config.get_multivalue(
            'receivable_account', company=compound.company.id)
        due_date = self.get_due_date()
        transaction = Transaction()
        sql = _Insert(transaction.connection.cursor(), transaction.user,
            CurrentTimestamp())
        ids = self._insert_bills(sql, bills, due_date)
        move = self._create_move(self._insert_lines(sql, ids, bills), config)
        self._insert_receivables(sql, move, ids, bills, receivable, due_date)
        Move.validate_move([move])
        Move.post([move])

    def _insert_bills(self, sql, bills, due_date):
        "Insert the bills of the ``_Bill``; return their ids in order."
        Bill = Pool().get('community.bill')
        cursor, user, now = sql
        bill = Bill.__table__()
        compound = self.compound
        # a calendar month is YYYYMM, a period from another day YYYYMMDD
        # (a mid-month run never repeats the month's numbers)
        period_code = self.period_start.strftime(
            '%Y%m' if self.period_start.day == 1 else '%Y%m%d')
        prefix = '%s-%s-' % (compound.code, period_code)
        # numbers taken by earlier runs (e.g. a period billed again after
        # its bills were cancelled): the next suffix
        cursor.execute(*bill.select(bill.number,
                where=(bill.compound == compound.id)
                & bill.number.like(escape_wildcard(prefix) + '%')))
        taken = {n for n, in cursor}
        values = []
        for unit, party, lines in bills:
            number = base = prefix + unit.code
            suffix = 1
            while number in taken:
                suffix += 1
                number = '%s-%s' % (base, suffix)
            taken.add(number)
            total = sum(l.amount for l in lines)
            values.append([user, now, number, self.id, compound.id, unit.id,
                    party, self.period_start, self.period_end, due_date,
                    'posted', total])
        ids = []
        for sub in _chunks(values, 1000):
            cursor.execute(*bill.insert(
                    [bill.create_uid, bill.create_date, bill.number,
                        bill.run, bill.compound, bill.unit, bill.party,
                        bill.period_start, bill.period_end, bill.due_date,
                        bill.state, bill.total_amount],
                    sub, returning=[bill.id]))
            ids.extend(r[0] for r in cursor)
        return ids

    def _insert_lines(self, sql, ids, bills):
        """Insert the lines of the bills of ``ids``; return {fee item:
        total amount} of the lines."""
        Line = Pool().get('community.bill.line')
        cursor, user, now = sql
        line = Line.__table__()
        compound = self.compound
        values = []
        per_item = defaultdict(Decimal)
        for bill_id, (unit, _party, lines) in zip(ids, bills):
            for seq, l in enumerate(lines, 1):
                values.append([user, now, bill_id, seq, compound.id, unit.id,
                        l.item.id, l.period_start, l.period_end,
                        'posted', l.quantity.quantize(Decimal('0.01')),
                        l.unit_price.quantize(Decimal('0.0001')), l.days,
                        l.description, l.amount])
                per_item[l.item] += l.amount
        for sub in _chunks(values, 2000):
            cursor.execute(*line.insert(
                    [line.create_uid, line.create_date, line.bill,
                        line.sequence, line.compound, line.unit,
                        line.fee_item, line.period_start, line.period_end,
                        line.state, line.quantity, line.unit_price,
                        line.days, line.description, line.amount],
                    sub))
        return per_item

    def _create_move(self, per_item, config):
        """Create the move of the batch with the revenue and VAT aggregated
        per fee item (ORM); the receivable lines come by SQL."""
        pool = Pool()
        Move = pool.get('account.move')
        Period = pool.get('account.period')
        compound = self.compound
        journal = config.get_multivalue('journal', company=compound.company.id)
        date = self.period_start
        period = Period.find(compound.company, date=date)
        description = '%s %s' % (
            compound.rec_name, self.period_start.strftime('%Y%m'))
        move_lines = []
        for item in sorted(per_item, key=lambda i: i.id):
            move_lines.extend(
                _revenue_lines(item, per_item[item], description))
        move, = Move.create([{
                    'company': compound.company.id,
                    'journal': journal.id,
                    'period': period.id,
                    'date': date,
                    'origin': str(self),
                    'description': description,
                    'lines': [('create', move_lines)],
                    }])
        return move

    def _insert_receivables(
            self, sql, move, ids, bills, receivable, due_date):
        """Insert one receivable line per bill in move (SQL) and link each
        bill to its line."""
        pool = Pool()
        Bill = pool.get('community.bill')
        MoveLine = pool.get('account.move.line')
        cursor, user, now = sql
        bill = Bill.__table__()
        move_line = MoveLine.__table__()
        values = [[user, now, move.id, receivable.id, party,
                sum(l.amount for l in lines), Decimal(0), due_date, 'valid',
                'community.bill,%s' % bill_id]
            for bill_id, (unit, party, lines) in zip(ids, bills)]
        for sub in _chunks(values, 2000):
            cursor.execute(*move_line.insert(
                    [move_line.create_uid, move_line.create_date,
                        move_line.move, move_line.account, move_line.party,
                        move_line.debit, move_line.credit,
                        move_line.maturity_date, move_line.state,
                        move_line.origin],
                    sub))
        cursor.execute(*bill.update(
                [bill.move, bill.move_line],
                [move.id, move_line.id],
                from_=[move_line],
                where=(move_line.move == move.id)
                & (move_line.origin == Concat('community.bill,', bill.id))
                & (bill.run == self.id) & (bill.move == Null)))

def _gaps(start, end, ranges):
    """The parts [(first day, last day)] of [start, end] not covered by
    ``ranges`` [(first day, last day)] (inclusive dates), in order."""
    if not ranges:
        return [(start, end)]
    day = dt.timedelta(days=1)
    gaps, current = [], start
    for first, last in sorted(ranges):
        if first > current:
            gaps.append((current, min(end, first - day)))
        current = max(current, last + day)
        if current > end:
            break
    if current <= end:
        gaps.append((current, end))
    return gaps


def _gap_of(date, gaps):
    "The gap (first day, last day) of ``gaps`` holding ``date``, or None."
    for first, last in gaps:
        if first <= date <= last:
            return (first, last)
    return None


def _price_at(changes, date):
    price = None
    for effective, value in changes:
        if effective <= date:
            price = value
    return price


def _chunks(values, size):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _revenue_lines(item, total, description, reverse=False):
    """Move line values crediting the revenue (and VAT) of a fee item.

    ``total``: VAT-included amount. The base is total / (1 + rate) rounded
    half-up, the VAT is the remainder, so that base + VAT = total exactly.
    """
    lines = []
    if item.tax and not item.deposit:
        base = round_money(total / (1 + item.tax.rate))
        vat = total - base
    else:
        base, vat = total, Decimal(0)

    def amounts(amount):
        if reverse:
            return {'debit': amount, 'credit': Decimal(0)}
        return {'debit': Decimal(0), 'credit': amount}
    sign = -1 if reverse else 1
    line = dict(account=item.account.id,
        description='%s %s' % (item.name, description), **amounts(base))
    if vat:
        line['tax_lines'] = [('create', [{
                        'amount': sign * base,
                        'type': 'base', 'tax': item.tax.id}])]
    lines.append(line)
    if vat:
        lines.append(dict(account=item.tax.invoice_account.id,
                description='%s %s' % (item.tax.name, description),
                tax_lines=[('create', [{
                                'amount': sign * vat, 'type': 'tax',
                                'tax': item.tax.id}])],
                **amounts(vat)))
    return lines


class Bill(Workflow, ModelSQL, ModelView):
    """Bill (账单): what a payer owes for a unit and a period.

    A receivable notice, not a tax invoice. ``total_amount`` is the sum of
    the printed lines; ``move_line`` is its receivable line in the ledger
    (party = payer, maturity date = due date). Cancelling reverses it.
    """
    __name__ = 'community.bill'
    _rec_name = 'number'
    number = fields.Char("Number", readonly=True)
    run = fields.Many2One(
        'community.bill.run', "Bill Run", readonly=True, ondelete='RESTRICT')
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True,
        ondelete='RESTRICT')
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, readonly=True,
        ondelete='RESTRICT')
    party = fields.Many2One(
        'party.party', "Payer", required=True, readonly=True,
        ondelete='RESTRICT')
    period_start = fields.Date("Period Start", required=True, readonly=True)
    period_end = fields.Date("Period End", required=True, readonly=True)
    due_date = fields.Date("Due Date", required=True, readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    lines = fields.One2Many(
        'community.bill.line', 'bill', "Lines", readonly=True)
    total_amount = fields.Numeric(
        "Total", digits=(16, 2), required=True, readonly=True)
    move = fields.Many2One(
        'account.move', "Move", readonly=True, ondelete='RESTRICT')
    move_line = fields.Many2One(
        'account.move.line', "Receivable Line", readonly=True,
        ondelete='RESTRICT')
    cancel_move = fields.Many2One(
        'account.move', "Cancel Move", readonly=True, ondelete='RESTRICT')
    amount_to_pay = fields.Function(fields.Numeric(
            "Amount to Pay", digits=(16, 2)), 'get_amount_to_pay')
    paid = fields.Function(fields.Boolean("Paid"), 'get_amount_to_pay')
    payment_state = fields.Function(fields.Selection(PAYMENT_STATES,
            "Payment State"), 'get_amount_to_pay',
        searcher='search_payment_state')
    overdue = fields.Function(fields.Boolean("Overdue"),
        'get_amount_to_pay', searcher='search_overdue')
    building = fields.Function(fields.Many2One(
            'community.building', "Building"), 'get_building',
        searcher='search_building')
    period = fields.Function(fields.Char("Period",
            help="The month billed, as 2026-03."), 'get_period',
        searcher='search_period')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.compound, Index.Range()),
                    (t.period_start, Index.Range())),
                Index(t, (t.party, Index.Equality())),
                Index(t, (t.unit, Index.Equality())),
                Index(t, (t.run, Index.Equality())),
                })
        cls._order[0:0] = [('period_start', 'DESC'), ('number', 'ASC')]
        cls._transitions |= {('posted', 'cancelled')}
        cls._buttons.update({
                'cancel': {
                    'invisible': Eval('state') != 'posted',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'posted'

    @classmethod
    def get_amount_to_pay(cls, bills, names):
        """Remaining amount of posted bills: 0 once the receivable line is
        reconciled, else the total less the partial payments (lines of the
        receivable account whose origin is the bill)."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        line = MoveLine.__table__()
        cursor = Transaction().connection.cursor()
        paid = defaultdict(Decimal)
        origins = {str(b): b.id for b in bills if b.move_line}
        for sub in _chunks(list(origins), 1000):
            cursor.execute(*line.select(line.origin,
                    Sum(line.credit - line.debit),
                    where=line.origin.in_(sub) & (line.reconciliation == Null)
                    & (line.credit > 0),
                    group_by=[line.origin]))
            for origin, amount in cursor:
                paid[origins[origin]] += amount
        result = {n: {} for n in names}
        today = Pool().get('ir.date').today()
        for bill in bills:
            if (bill.state == 'cancelled' or not bill.move_line
                    or bill.move_line.reconciliation):
                remaining = Decimal(0)
            else:
                remaining = bill.total_amount - paid[bill.id]
            if 'amount_to_pay' in names:
                result['amount_to_pay'][bill.id] = remaining
            if 'paid' in names:
                result['paid'][bill.id] = remaining <= 0
            if 'payment_state' in names:
                if bill.state == 'cancelled':
                    state = None
                elif remaining <= 0:
                    state = 'paid'
                elif remaining < bill.total_amount:
                    state = 'partial'
                else:
                    state = 'unpaid'
                result['payment_state'][bill.id] = state
            if 'overdue' in names:
                result['overdue'][bill.id] = (
                    remaining > 0 and bill.due_date < today)
        return result

    @classmethod
    def _payment_state_query(cls):
        """SQL of (bill id, payment state) of the posted bills, as
        ``get_amount_to_pay`` computes them."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        bill = cls.__table__()
        receivable = MoveLine.__table__()
        payment = MoveLine.__table__()
        paid = payment.select(payment.origin.as_('origin'),
            Sum(payment.credit - payment.debit).as_('amount'),
            where=payment.origin.like('community.bill,%')
            & (payment.reconciliation == Null) & (payment.credit > 0),
            group_by=[payment.origin])
        remaining = bill.total_amount - Coalesce(paid.amount, 0)
        state = Case(
            (receivable.reconciliation != Null, 'paid'),
            (remaining <= 0, 'paid'),
            (remaining < bill.total_amount, 'partial'),
            else_='unpaid')
        return bill.join(receivable,
            condition=bill.move_line == receivable.id
            ).join(paid, 'LEFT',
            condition=paid.origin == Concat(
                'community.bill,', Cast(bill.id, 'VARCHAR'))
            ).select(bill.id.as_('id'), state.as_('state'),
            bill.due_date.as_('due_date'),
            where=bill.state == 'posted')

    @classmethod
    def search_payment_state(cls, name, clause):
        _, operator, value = clause
        query = cls._payment_state_query()
        Operator = fields.SQL_OPERATORS[operator]
        states = query.select(query.id,
            where=Operator(query.state, value))
        return [('id', 'in', states)]

    @classmethod
    def search_overdue(cls, name, clause):
        _, operator, value = clause
        today = Pool().get('ir.date').today()
        query = cls._payment_state_query()
        overdue = query.select(query.id,
            where=(query.state != 'paid') & (query.due_date < today))
        if (operator == '=') == bool(value):
            return [('id', 'in', overdue)]
        return [('id', 'not in', overdue)]

    def get_building(self, name):
        return self.unit.building.id if self.unit.building else None

    @classmethod
    def search_building(cls, name, clause):
        return [('unit.' + clause[0],) + tuple(clause[1:])]

    def get_period(self, name):
        return self.period_start.strftime('%Y-%m')

    @classmethod
    def search_period(cls, name, clause):
        _, operator, value = clause
        bill = cls.__table__()
        Operator = fields.SQL_OPERATORS[operator]
        query = bill.select(bill.id,
            where=Operator(ToChar(bill.period_start, 'YYYY-MM'), value))
        return [('id', 'in', query)]

    @classmethod
    def check_modification(cls, mode, bills, values=None, external=False):
        super().check_modification(
            mode, bills, values=values, external=external)
        if mode == 'delete':
            for bill in bills:
                raise BillingError(gettext(
                        'community_billing.msg_bill_delete',
                        bill=bill.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, bills):
        """Cancel posted bills: a reversing move per bill, reconciled with
        its receivable line. A paid (partly or fully) bill cannot be
        cancelled."""
        pool = Pool()
        Move = pool.get('account.move')
        MoveLine = pool.get('account.move.line')
        Line = pool.get('community.bill.line')
        Period = pool.get('account.period')
        Date = pool.get('ir.date')
        Configuration = pool.get('community.billing.configuration')
        config = Configuration(1)
        for bill in bills:
            if bill.move_line.reconciliation or (
                    bill.amount_to_pay != bill.total_amount):
                raise BillingError(gettext(
                        'community_billing.msg_bill_cancel_paid',
                        bill=bill.rec_name))
        today = Date.today()
        moves = []
        for bill in bills:
            description = '%s %s' % (bill.number, 'cancel')
            lines = [{
                    'account': bill.move_line.account.id,
                    'party': bill.party.id,
                    'debit': Decimal(0), 'credit': bill.total_amount,
                    'origin': str(bill),
                    'description': description,
                    }]
            for line in bill.lines:
                lines.extend(_revenue_lines(
                        line.fee_item, line.amount, description,
                        reverse=True))
            date = max(today, bill.period_start)
            move = Move(company=bill.compound.company,
                journal=config.get_multivalue(
                    'journal', company=bill.compound.company.id),
                period=Period.find(bill.compound.company, date=date),
                date=date, origin=bill, description=description,
                lines=[MoveLine(**{k: v for k, v in l.items()
                                if k != 'tax_lines'}) for l in lines])
            moves.append(move)
            bill.cancel_move = move
        Move.save(moves)
        Move.post(moves)
        for bill, move in zip(bills, moves):
            receivable = [l for l in move.lines
                if l.account == bill.move_line.account
                and l.party == bill.party]
            MoveLine.reconcile([bill.move_line] + receivable)
        cls.save(bills)
        Line.write([l for b in bills for l in b.lines],
            {'state': 'cancelled'})


class BillLine(ModelSQL, ModelView):
    """Bill Line: one fee item of a bill.

    ``quantity`` (m² or count) × ``unit_price`` × ``days`` / days of the
    month; ``description`` shows every segment when the area or the price
    changed in the period. ``amount`` is rounded half-up to 0.01.
    """
    __name__ = 'community.bill.line'
    bill = fields.Many2One(
        'community.bill', "Bill", required=True, ondelete='CASCADE',
        readonly=True)
    sequence = fields.Integer("Sequence", readonly=True)
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True,
        ondelete='RESTRICT')
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, readonly=True,
        ondelete='RESTRICT')
    fee_item = fields.Many2One(
        'community.fee.item', "Fee Item", required=True, readonly=True,
        ondelete='RESTRICT')
    period_start = fields.Date("Period Start", required=True, readonly=True)
    period_end = fields.Date("Period End", required=True, readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    quantity = fields.Numeric("Quantity", digits=(16, 2), readonly=True)
    unit_price = fields.Numeric("Unit Price", digits=(16, 4), readonly=True)
    days = fields.Integer("Days", readonly=True)
    description = fields.Char("Description", readonly=True)
    amount = fields.Numeric(
        "Amount", digits=(16, 2), required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # No two lines not cancelled of a unit × fee item share a day:
        # the inclusive [period_start, period_end] is the half-open
        # daterange [period_start, period_end + 1) in PostgreSQL, and
        # overlapping ranges are refused by a GiST exclusion constraint.
        # The equalities on unit and fee item are overlaps of one-value
        # ranges: GiST needs no btree_gist extension for them (the
        # PostgreSQL of pgserver ships without it, and trytond silently
        # skips a constraint whose extension is missing).
        cls._sql_constraints += [
            ('unit_fee_days_exclude',
                Exclude(t,
                    (Int4Range(t.unit, t.unit, '[]'), RangeOverlap),
                    (Int4Range(t.fee_item, t.fee_item, '[]'), RangeOverlap),
                    (DateRange(t.period_start, t.period_end, '[]'),
                        RangeOverlap),
                    where=t.state != 'cancelled'),
                'community_billing.msg_bill_line_overlap'),
            ]
        cls._sql_indexes.add(Index(t, (t.bill, Index.Equality())))
        cls._order[0:0] = [('bill', 'ASC'), ('sequence', 'ASC')]
        cls.__access__.add('bill')

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        Bill = pool.get('community.bill')
        transaction = Transaction()
        table_h = cls.__table_handler__(module)
        # Migration from equal period starts to overlapping days
        old = table_h.convert_name(cls._table + '_unit_fee_period_exclude')
        if old in table_h._constraints:
            line, other_ = cls.__table__(), cls.__table__()
            bill = Bill.__table__()
            cursor = transaction.connection.cursor()
            cursor.execute(*line.join(other_, condition=(
                        (line.unit == other_.unit)
                        & (line.fee_item == other_.fee_item)
                        & (line.id < other_.id)
                        & (line.period_start <= other_.period_end)
                        & (other_.period_start <= line.period_end)
                        & (line.state != 'cancelled')
                        & (other_.state != 'cancelled'))
                    ).join(bill, condition=bill.id == line.bill).select(
                    bill.number, limit=20))
            numbers = sorted({n for n, in cursor})
            if numbers:
                raise BillingError(
                    "Bills overlap days already billed (cancel them, then "
                    "update again): %s" % ', '.join(numbers))
            table_h.drop_constraint('unit_fee_period_exclude')
        super().__register__(module)

    @staticmethod
    def default_state():
        return 'posted'


class BillRunStart(ModelView):
    "Bill Run"
    __name__ = 'community.bill.run.create.start'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True)
    period_start = fields.Date("Period Start", required=True)
    period_end = fields.Date("Period End", required=True,
        domain=[If(Eval('period_start'),
                ('period_end', '>=', Eval('period_start', None)), ())])
    due_date = fields.Date("Due Date")

    @classmethod
    def default_period_start(cls):
        return month_bounds(Pool().get('ir.date').today())[0]

    @classmethod
    def default_period_end(cls):
        return month_bounds(Pool().get('ir.date').today())[1]

    @fields.depends('compound')
    def on_change_compound(self):
        "Propose the month after the compound's last billed period."
        BillRun = Pool().get('community.bill.run')
        if not self.compound:
            return
        runs = BillRun.search([
                ('compound', '=', self.compound.id),
                ('state', '=', 'done'),
                ], order=[('period_end', 'DESC')], limit=1)
        if runs:
            self.period_start, self.period_end = month_bounds(
                runs[0].period_end + dt.timedelta(days=1))


class BillRunCreate(Wizard):
    """Create a bill run, hand its processing to the queue
    (``process_in_batches``, each batch committed) and show it at once:
    its progress (units done of units) grows on reload while it runs.
    Without a queue worker, trytond runs the task right after this request
    has committed, before answering."""
    __name__ = 'community.bill.run.create'
    start = StateView('community.bill.run.create.start',
        'community_billing.bill_run_create_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Run", 'run', 'tryton-ok', default=True),
            ])
    run = StateAction('community_billing.act_bill_run_form')

    def do_run(self, action):
        pool = Pool()
        BillRun = pool.get('community.bill.run')
        run, = BillRun.create([{
                    'compound': self.start.compound.id,
                    'period_start': self.start.period_start,
                    'period_end': self.start.period_end,
                    'due_date': self.start.due_date,
                    }])
        # Configuration and period errors are shown now, not in the task.
        run._check_billed()
        run._check_period()
        BillRun.__queue__.process_in_batches([run])
        action['res_id'] = [run.id]
        action['views'].reverse()
        return action, {}


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('community.bill.run|run_due', "Run Due Bill Runs"))
        cls.method.selection.append(
            ('community.bill.run|create_fiscal_years',
                "Create Next Fiscal Years"))
        cls.method.selection.append(
            ('community.payment|apply_prepayments_cron',
                "Apply Prepayments to Due Bills"))
