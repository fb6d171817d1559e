# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Arrears (欠费): ageing of unpaid bills, late fees and the xlsx export."""
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

from sql import Literal, Null
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Coalesce
from sql.functions import CurrentDate
from sql.operators import Concat

import xlsxwriter

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction

from .fee import round_money

# (label, first day, last day or None); days overdue after the due date
BUCKETS = [
    ('0-30', 0, 30),
    ('31-90', 31, 90),
    ('91-180', 91, 180),
    ('181-365', 181, 365),
    ('>365', 366, None),
    ]
HEADERS = ["小区", "楼栋", "房屋", "缴费人", "账单编号", "计费开始",
    "计费结束", "到期日", "逾期天数", "账龄", "欠费金额"]


def bucket_of(days):
    "Return the ageing bucket label of a number of days overdue (≥ 0)."
    for label, first, last in BUCKETS:
        if days >= first and (last is None or days <= last):
            return label
    return BUCKETS[0][0]


def local_today(timezone):
    "Today's date in the time zone (e.g. 'Asia/Shanghai')."
    return dt.datetime.now(ZoneInfo(timezone)).date()


def late_fee(principal, due_date, as_of, daily_rate, grace_days=0):
    """Late fee (违约金) on an overdue principal.

    Counted on calendar days after ``due_date`` up to ``as_of`` (both local
    dates of the compound), less ``grace_days``; ``daily_rate`` e.g.
    Decimal('0.0005') (0.05 % a day). The fee is rounded half-up to the
    fen and never exceeds the principal (cap). Returns (days, fee).
    """
    days = (as_of - due_date).days - (grace_days or 0)
    if days <= 0 or principal <= 0:
        return 0, Decimal('0.00')
    fee = round_money(principal * daily_rate * days)
    return days, min(fee, round_money(principal))


def arrears_rows(compound_ids, as_of):
    """Yield the unpaid posted bills of the compounds due before ``as_of``.

    Rows: (compound, building, unit code, payer, bill number, period start,
    period end, due date, days overdue, bucket, amount to pay) with the
    amount to pay = total less partial payments. Read in chunks with SQL.
    """
    pool = Pool()
    Bill = pool.get('community.bill')
    Unit = pool.get('community.unit')
    Building = pool.get('community.building')
    Compound = pool.get('community.compound')
    Party = pool.get('party.party')
    MoveLine = pool.get('account.move.line')
    bill = Bill.__table__()
    unit = Unit.__table__()
    building = Building.__table__()
    compound = Compound.__table__()
    party = Party.__table__()
    receivable = MoveLine.__table__()
    payment = MoveLine.__table__()
    paid = payment.select(payment.origin, Sum(payment.credit).as_('paid'),
        where=(payment.reconciliation == Null) & (payment.credit > 0)
        & payment.origin.like('community.bill,%'),
        group_by=[payment.origin])
    from sql.operators import Concat
    from sql.conditionals import Coalesce
    query = (bill
        .join(unit, condition=unit.id == bill.unit)
        .join(building, condition=building.id == unit.building)
        .join(compound, condition=compound.id == bill.compound)
        .join(party, condition=party.id == bill.party)
        .join(receivable, condition=receivable.id == bill.move_line)
        .join(paid, 'LEFT', condition=paid.origin == Concat(
                'community.bill,', bill.id))
        .select(compound.name, building.name, unit.code, party.name,
            bill.number, bill.period_start, bill.period_end, bill.due_date,
            bill.total_amount - Coalesce(paid.paid, 0),
            where=bill.compound.in_(list(compound_ids) or [-1])
            & (bill.state == 'posted')
            & (receivable.reconciliation == Null)
            & (bill.due_date < as_of),
            order_by=[compound.name, building.name, unit.code,
                bill.due_date]))
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    while True:
        rows = cursor.fetchmany(5000)
        if not rows:
            break
        for row in rows:
            amount = row[8]
            if amount <= 0:
                continue
            days = (as_of - row[7]).days
            yield row[:8] + (days, bucket_of(days), amount)


def write_arrears_xlsx(rows, fileobj):
    """Write arrears rows to an xlsx workbook in ``fileobj``.

    xlsxwriter with ``constant_memory`` (rows are flushed as written, so
    200,000 lines use bounded memory); Chinese headers; dates as dates
    and amounts and days as numbers; a second sheet totals the buckets.
    Returns (number of lines, {bucket: total}).
    """
    workbook = xlsxwriter.Workbook(fileobj, {
            'constant_memory': True, 'in_memory': False})
    bold = workbook.add_format({'bold': True})
    money = workbook.add_format({'num_format': '#,##0.00'})
    date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    sheet = workbook.add_worksheet("欠费明细")
    sheet.write_row(0, 0, HEADERS, bold)
    totals = {label: Decimal(0) for label, _, _ in BUCKETS}
    count = 0
    for count, row in enumerate(rows, 1):
        for col, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(count, col,
                    dt.datetime.combine(value, dt.time()), date)
            elif isinstance(value, Decimal):
                sheet.write_number(count, col, float(value), money)
            elif isinstance(value, int):
                sheet.write_number(count, col, value)
            else:
                sheet.write_string(count, col, value or '')
        totals[row[9]] += row[10]
    summary = workbook.add_worksheet("账龄汇总")
    summary.write_row(0, 0, ["账龄", "欠费金额"], bold)
    for i, (label, _, _) in enumerate(BUCKETS, 1):
        summary.write_string(i, 0, label)
        summary.write_number(i, 1, float(totals[label]), money)
    workbook.close()
    return count, totals


class ArrearsReport(Report):
    "Arrears (欠费) of compounds as an xlsx workbook, aged on today."
    __name__ = 'community.arrears.xlsx'

    @classmethod
    def execute(cls, ids, data):
        pool = Pool()
        Compound = pool.get('community.compound')
        ActionReport = pool.get('ir.action.report')
        # execute is replaced: check the report's groups and the read
        # access to the compounds as Report.execute does
        if data.get('action_id'):
            action = ActionReport(data['action_id'])
        else:
            action, = ActionReport.search(
                [('report_name', '=', cls.__name__)], limit=1)
        cls.check_access(action, Compound.__name__, ids)
        compounds = Compound.browse(ids)
        as_of = max((local_today(c.timezone) for c in compounds),
            default=dt.date.today())
        output = io.BytesIO()
        write_arrears_xlsx(arrears_rows(ids, as_of), output)
        return ('xlsx', output.getvalue(), False, "欠费")


class _ArrearsTotalMixin:
    "Outstanding amounts of the posted bills due before today, grouped."
    __slots__ = ()
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True)
    bill_count = fields.Integer("Bills", readonly=True)
    oldest_due_date = fields.Date("Oldest Due Date", readonly=True)
    amount = fields.Numeric("Arrears", digits=(16, 2), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('amount', 'DESC'), ('id', 'ASC')]

    @classmethod
    def _group_columns(cls, bill, unit):
        "Return (id column, [(column, field name)]) of the grouping."
        raise NotImplementedError

    @classmethod
    def table_query(cls):
        pool = Pool()
        Bill = pool.get('community.bill')
        Unit = pool.get('community.unit')
        MoveLine = pool.get('account.move.line')
        bill = Bill.__table__()
        unit = Unit.__table__()
        receivable = MoveLine.__table__()
        payment = MoveLine.__table__()
        paid = payment.select(payment.origin,
            Sum(payment.credit).as_('paid'),
            where=(payment.reconciliation == Null) & (payment.credit > 0)
            & payment.origin.like('community.bill,%'),
            group_by=[payment.origin])
        id_column, columns = cls._group_columns(bill, unit)
        outstanding = bill.total_amount - Coalesce(paid.paid, 0)
        return (bill
            .join(unit, condition=unit.id == bill.unit)
            .join(receivable, condition=receivable.id == bill.move_line)
            .join(paid, 'LEFT', condition=paid.origin == Concat(
                    'community.bill,', bill.id))
            .select(
                id_column.as_('id'),
                *[c.as_(n) for c, n in columns],
                Literal(0).as_('create_uid'),
                Min(bill.create_date).as_('create_date'),
                Literal(None).as_('write_uid'),
                Literal(None).as_('write_date'),
                Count(bill.id).as_('bill_count'),
                Min(bill.due_date).as_('oldest_due_date'),
                Sum(outstanding).as_('amount'),
                where=(bill.state == 'posted')
                & (receivable.reconciliation == Null)
                & (bill.due_date < CurrentDate())
                & (outstanding > 0),
                group_by=[c for c, _ in columns]))


class ArrearsUnit(_ArrearsTotalMixin, ModelSQL, ModelView):
    "Arrears per Unit"
    __name__ = 'community.arrears.unit'
    building = fields.Many2One('community.building', "Building",
        readonly=True)
    unit = fields.Many2One('community.unit', "Unit", readonly=True)

    @classmethod
    def _group_columns(cls, bill, unit):
        return unit.id, [(bill.compound, 'compound'),
            (unit.building, 'building'), (unit.id, 'unit')]


class ArrearsBuilding(_ArrearsTotalMixin, ModelSQL, ModelView):
    "Arrears per Building"
    __name__ = 'community.arrears.building'
    building = fields.Many2One('community.building', "Building",
        readonly=True)

    @classmethod
    def _group_columns(cls, bill, unit):
        return unit.building, [(bill.compound, 'compound'),
            (unit.building, 'building')]


class ArrearsCompound(_ArrearsTotalMixin, ModelSQL, ModelView):
    "Arrears per Compound"
    __name__ = 'community.arrears.compound'

    @classmethod
    def _group_columns(cls, bill, unit):
        return bill.compound, [(bill.compound, 'compound')]
