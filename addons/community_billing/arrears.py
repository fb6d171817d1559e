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
from sql.conditionals import Case, Coalesce
from sql.operators import Concat

import xlsxwriter

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateReport, StateView, Wizard

from .fee import round_money

# (label, first day, last day or None); days overdue after the due date
BUCKETS = [
    ('0-30', 0, 30),
    ('31-90', 31, 90),
    ('91-180', 91, 180),
    ('181-365', 181, 365),
    ('>365', 366, None),
    ]
BUCKET_FIELDS = ['amount_0_30', 'amount_31_90', 'amount_91_180',
    'amount_181_365', 'amount_over_365']
HEADERS = ["小区", "楼栋", "房屋", "缴费人", "手机", "账单编号", "计费开始",
    "计费结束", "到期日", "逾期天数", "账龄", "欠费金额", "违约金", "合计"]
# positions in a row of arrears_rows
BUCKET, AMOUNT, LATE_FEE, TOTAL = 10, 11, 12, 13


def bucket_of(days):
    "Return the ageing bucket label of a number of days overdue (≥ 0)."
    for label, first, last in BUCKETS:
        if days >= first and (last is None or days <= last):
            return label
    return BUCKETS[0][0]


def local_today(timezone):
    "Today's date in the time zone (e.g. 'Asia/Shanghai')."
    return dt.datetime.now(ZoneInfo(timezone)).date()


def local_today_column(compound):
    """SQL: today's date in the time zone of each row of the table
    ``compound`` (community.compound), the compound's calendar day
    whatever the database's time zone."""
    cursor = Transaction().connection.cursor()
    cursor.execute(*compound.select(compound.timezone, distinct=True))
    timezones = sorted(tz for tz, in cursor if tz)
    default = local_today('Asia/Shanghai')
    if not timezones:
        # no compound yet: a CASE needs at least one WHEN
        return Literal(default)
    return Case(*[(compound.timezone == tz, local_today(tz))
            for tz in timezones],
        else_=default)


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


def arrears_rows(compound_ids, as_of, phones=None):
    """Yield the arrears of the compounds on ``as_of``: their posted bills
    due before it with something left to pay on the bill or its late
    fees (违约金).

    Rows: (compound, building, unit code, payer, payer's mobile, bill
    number, period start, period end, due date, days overdue, bucket,
    amount to pay, late fees to pay, total) with the amount to pay = total
    less partial payments, the late fees charged less their payments and
    waivers. Sorted by compound, then building and unit in natural order
    (2栋 before 10栋, 1-1-101 before 1-1-1001), then due date. Read in
    chunks with SQL. ``phones(party ids)`` returns {party id: mobile} as
    the export may show them (masked or not); no mobiles without it.
    """
    pool = Pool()
    Bill = pool.get('community.bill')
    Unit = pool.get('community.unit')
    Building = pool.get('community.building')
    Compound = pool.get('community.compound')
    Party = pool.get('party.party')
    LateFee = pool.get('community.late_fee')
    MoveLine = pool.get('account.move.line')
    from trytond.modules.community_base.unit import natural_order
    bill = Bill.__table__()
    unit = Unit.__table__()
    building = Building.__table__()
    compound = Compound.__table__()
    party = Party.__table__()
    receivable = MoveLine.__table__()
    payment = MoveLine.__table__()
    fee = LateFee.__table__()
    fee_receivable = MoveLine.__table__()
    fee_payment = MoveLine.__table__()
    paid = payment.select(payment.origin, Sum(payment.credit).as_('paid'),
        where=(payment.reconciliation == Null) & (payment.credit > 0)
        & payment.origin.like('community.bill,%'),
        group_by=[payment.origin])
    # what is left to pay of the late fees, per bill (as LateFee's
    # amount_to_pay: the receivable credits whose origin is the fee)
    fee_paid = fee_payment.select(fee_payment.origin,
        Sum(fee_payment.credit - fee_payment.debit).as_('paid'),
        where=(fee_payment.reconciliation == Null)
        & (fee_payment.credit > 0) & (fee_payment.party != Null)
        & fee_payment.origin.like('community.late_fee,%'),
        group_by=[fee_payment.origin])
    fees = (fee
        .join(fee_receivable, condition=fee_receivable.id == fee.move_line)
        .join(fee_paid, 'LEFT', condition=fee_paid.origin == Concat(
                'community.late_fee,', fee.id))
        .select(fee.bill.as_('bill'),
            Sum(fee.amount - Coalesce(fee_paid.paid, 0)).as_('open'),
            where=(fee_receivable.reconciliation == Null)
            & fee.compound.in_(list(compound_ids) or [-1]),
            group_by=[fee.bill]))
    amount = Case((receivable.reconciliation != Null, 0),
        else_=bill.total_amount - Coalesce(paid.paid, 0))
    late_fees = Coalesce(fees.open, 0)
    query = (bill
        .join(unit, condition=unit.id == bill.unit)
        .join(building, condition=building.id == unit.building)
        .join(compound, condition=compound.id == bill.compound)
        .join(party, condition=party.id == bill.party)
        .join(receivable, condition=receivable.id == bill.move_line)
        .join(paid, 'LEFT', condition=paid.origin == Concat(
                'community.bill,', bill.id))
        .join(fees, 'LEFT', condition=fees.bill == bill.id)
        .select(compound.name, building.name, unit.code, party.name,
            party.id, bill.number, bill.period_start, bill.period_end,
            bill.due_date, amount, late_fees,
            where=bill.compound.in_(list(compound_ids) or [-1])
            & (bill.state == 'posted')
            & ((receivable.reconciliation == Null) | (late_fees > 0))
            & (bill.due_date < as_of),
            order_by=[compound.name, *natural_order(building.code),
                *natural_order(unit.code), bill.due_date, bill.id]))
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    while True:
        rows = cursor.fetchmany(5000)
        if not rows:
            break
        mobiles = phones({r[4] for r in rows}) if phones else {}
        for row in rows:
            amount, late_fees = row[9], row[10]
            if amount < 0:
                amount = Decimal(0)
            if amount <= 0 and late_fees <= 0:
                continue
            days = (as_of - row[8]).days
            yield (row[:4] + (mobiles.get(row[4], ''),) + row[5:9]
                + (days, bucket_of(days), amount, late_fees,
                    amount + late_fees))


def payer_mobiles(party_ids, clear):
    """{party id: mobile} of the parties (their latest mobile, else
    phone), as 13800138000, masked (138****8000) unless ``clear``."""
    pool = Pool()
    Mechanism = pool.get('party.contact_mechanism')
    from trytond.modules.community_base.party import compact_mobile, mask
    mobiles = {}
    with without_check_access():
        mechanisms = Mechanism.search([
                ('party', 'in', sorted(party_ids)),
                ('type', 'in', ['mobile', 'phone']),
                ], order=[('id', 'DESC')])
        for mechanism in sorted(mechanisms,
                key=lambda m: m.type != 'mobile'):
            value = (compact_mobile(mechanism.value_compact
                    or mechanism.value) or mechanism.value_compact
                or mechanism.value or '').replace('+86', '')
            mobiles.setdefault(mechanism.party.id, value)
    if not clear:
        mobiles = {k: mask(v) for k, v in mobiles.items()}
    return mobiles


def write_arrears_xlsx(rows, fileobj):
    """Write arrears rows to an xlsx workbook in ``fileobj``.

    xlsxwriter with ``constant_memory`` (rows are flushed as written, so
    200,000 lines use bounded memory); Chinese headers; dates as dates
    and amounts and days as numbers; a total row (合计) under the lines;
    a second sheet totals the buckets. Returns (number of lines,
    {bucket: amount total}).
    """
    workbook = xlsxwriter.Workbook(fileobj, {
            'constant_memory': True, 'in_memory': False})
    bold = workbook.add_format({'bold': True})
    money = workbook.add_format({'num_format': '#,##0.00'})
    bold_money = workbook.add_format({'num_format': '#,##0.00',
            'bold': True})
    date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    sheet = workbook.add_worksheet("欠费明细")
    sheet.write_row(0, 0, HEADERS, bold)
    totals = {label: Decimal(0) for label, _, _ in BUCKETS}
    fee_totals = {label: Decimal(0) for label, _, _ in BUCKETS}
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
        totals[row[BUCKET]] += row[AMOUNT]
        fee_totals[row[BUCKET]] += row[LATE_FEE]
    amount, fees = sum(totals.values()), sum(fee_totals.values())
    sheet.write_string(count + 1, 0, "合计", bold)
    sheet.write_number(count + 1, AMOUNT, float(amount), bold_money)
    sheet.write_number(count + 1, LATE_FEE, float(fees), bold_money)
    sheet.write_number(count + 1, TOTAL, float(amount + fees), bold_money)
    summary = workbook.add_worksheet("账龄汇总")
    summary.write_row(0, 0, ["账龄", "欠费金额", "违约金", "合计"], bold)
    for i, (label, _, _) in enumerate(BUCKETS, 1):
        summary.write_string(i, 0, label)
        summary.write_number(i, 1, float(totals[label]), money)
        summary.write_number(i, 2, float(fee_totals[label]), money)
        summary.write_number(i, 3,
            float(totals[label] + fee_totals[label]), money)
    i = len(BUCKETS) + 1
    summary.write_string(i, 0, "合计", bold)
    summary.write_number(i, 1, float(amount), bold_money)
    summary.write_number(i, 2, float(fees), bold_money)
    summary.write_number(i, 3, float(amount + fees), bold_money)
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
        clear = cls.clear_phones()
        exported = set()

        def phones(party_ids):
            exported.update(party_ids)
            return payer_mobiles(party_ids, clear)
        output = io.BytesIO()
        write_arrears_xlsx(arrears_rows(ids, as_of, phones), output)
        if clear and Transaction().check_access and exported:
            from trytond.modules.community_base.reveal import log_lookups
            log_lookups([('community.arrears.xlsx', ', '.join(
                            c.rec_name for c in compounds))],
                kind='export', parties=sorted(exported))
        return ('xlsx', output.getvalue(), False, "欠费")

    @classmethod
    def clear_phones(cls):
        """Tell whether the export may show the payers' mobiles in clear:
        server-side calls may; a user only as a member of the reveal
        group (each party exported in clear is logged); others get them
        masked, as on screen."""
        from trytond.modules.community_base.reveal import in_reveal_group
        if not Transaction().check_access:
            return True
        return in_reveal_group()


class ArrearsExportStart(ModelView):
    "Export Arrears"
    __name__ = 'community.arrears.export.start'
    compounds = fields.Many2Many('community.compound', None, None,
        "Compounds", required=True)

    @classmethod
    def default_compounds(cls):
        Compound = Pool().get('community.compound')
        compound = Transaction().context.get('compound')
        if compound:
            return [compound]
        compounds = Compound.search([], limit=2)
        return [c.id for c in compounds] if len(compounds) == 1 else []


class ArrearsExport(Wizard):
    """Export Arrears (欠费导出): the arrears of compounds as an xlsx
    workbook (``ArrearsReport``), from the menu 收费 › 报表."""
    __name__ = 'community.arrears.export'
    start = StateView('community.arrears.export.start',
        'community_billing.arrears_export_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Export", 'export', 'tryton-launch', default=True),
            ])
    export = StateReport('community.arrears.xlsx')

    def default_start(self, fields):
        if (self.model and self.model.__name__ == 'community.compound'
                and self.records):
            return {'compounds': [r.id for r in self.records]}
        return {}

    def do_export(self, action):
        ids = [c.id for c in self.start.compounds]
        return action, {'id': ids[0], 'ids': ids,
            'model': 'community.compound'}


class _ArrearsTotalMixin:
    "Outstanding amounts of the posted bills due before today, grouped."
    __slots__ = ()
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True)
    bill_count = fields.Integer("Bills", readonly=True)
    oldest_due_date = fields.Date("Oldest Due Date", readonly=True)
    amount = fields.Numeric("Arrears", digits=(16, 2), readonly=True)
    # ageing (账龄): days overdue after the due date, as in BUCKETS
    amount_0_30 = fields.Numeric("0-30 Days", digits=(16, 2),
        readonly=True)
    amount_31_90 = fields.Numeric("31-90 Days", digits=(16, 2),
        readonly=True)
    amount_91_180 = fields.Numeric("91-180 Days", digits=(16, 2),
        readonly=True)
    amount_181_365 = fields.Numeric("181-365 Days", digits=(16, 2),
        readonly=True)
    amount_over_365 = fields.Numeric("Over 365 Days", digits=(16, 2),
        readonly=True)

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
        Compound = pool.get('community.compound')
        MoveLine = pool.get('account.move.line')
        bill = Bill.__table__()
        unit = Unit.__table__()
        compound = Compound.__table__()
        receivable = MoveLine.__table__()
        payment = MoveLine.__table__()
        paid = payment.select(payment.origin,
            Sum(payment.credit).as_('paid'),
            where=(payment.reconciliation == Null) & (payment.credit > 0)
            & payment.origin.like('community.bill,%'),
            group_by=[payment.origin])
        id_column, columns = cls._group_columns(bill, unit)
        outstanding = bill.total_amount - Coalesce(paid.paid, 0)
        # the ageing counts the compound's calendar days (Asia/Shanghai),
        # not the database's
        today = local_today_column(compound)
        days = today - bill.due_date
        buckets = []
        for (_, first, last), name in zip(BUCKETS, BUCKET_FIELDS):
            condition = days >= first
            if last is not None:
                condition &= days <= last
            buckets.append(
                Sum(Case((condition, outstanding), else_=0)).as_(name))
        return (bill
            .join(unit, condition=unit.id == bill.unit)
            .join(compound, condition=compound.id == bill.compound)
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
                *buckets,
                where=(bill.state == 'posted')
                & (receivable.reconciliation == Null)
                & (bill.due_date < today)
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
