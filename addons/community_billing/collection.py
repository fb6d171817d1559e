# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""收缴率: the collection rate of the bills, as property companies report it.

For a reporting window (a month, or the range of the report's context):

- 应收 (``due_amount``): the posted bills whose period starts in the window;
- 当期实收 (``collected_amount``): what was paid on those bills up to the
  window's end; 收缴率 = 当期实收 / 应收;
- 往期欠费 (``arrears_amount``): what was left to pay, at the window's
  start, on the bills of earlier periods; 清欠实收 (``arrears_collected``):
  what was paid on them in the window; 清欠率 = 清欠实收 / 往期欠费;
- 综合收缴率 = (当期实收 + 清欠实收) / (应收 + 往期欠费);
- households (户数): the units billed in the window and those whose bills
  of the window are paid in full by its end (户数收缴率), the units owing
  arrears at its start and those that paid some of them in it.

A payment counts on its date (a prepayment when it is applied to a bill);
late fees (违约金) are not part of the bills' amounts and are left out.
Per fee item, a payment of a bill is shared among its lines in proportion
to their amounts (a partial payment may then differ by a fen).
"""
import datetime as dt
import io
from decimal import Decimal

from sql import Cast, Literal, Null, Values
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce, NullIf
from sql.functions import Round, ToChar

import xlsxwriter

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.community_base.compound import (
    CompoundPeriodContextMixin)
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction


AMOUNTS = ['due_amount', 'collected_amount', 'arrears_amount',
    'arrears_collected', 'total_collected']
HOUSEHOLDS = ['due_households', 'paid_households', 'arrears_households',
    'arrears_paid_households']


def month_windows(from_date, to_date):
    "[(first day, last day)] of the months of [from_date, to_date]."
    windows = []
    start = from_date.replace(day=1)
    while start <= to_date:
        end = (start + dt.timedelta(days=32)).replace(day=1)
        windows.append((start, end - dt.timedelta(days=1)))
        start = end
    return windows


def rate(numerator, denominator):
    "numerator / denominator in % rounded half-up to 0.01, None for 0."
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(
        Decimal('0.01'))


class CollectionContext(CompoundPeriodContextMixin, ModelView):
    "Collection Rate Context"
    __name__ = 'community.billing.collection.context'

    @classmethod
    def default_from_date(cls):
        from_date = Transaction().context.get('from_date')
        return from_date or cls._today().replace(month=1, day=1)

    @classmethod
    def default_to_date(cls):
        to_date = Transaction().context.get('to_date')
        if to_date:
            return to_date
        start = cls._today().replace(day=1)
        return ((start + dt.timedelta(days=32)).replace(day=1)
            - dt.timedelta(days=1))


class _CollectionMixin:
    "The figures of a 收缴率 row (see the module's docstring)."
    __slots__ = ()
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True)
    due_amount = fields.Numeric("Amount Due", digits=(16, 2),
        readonly=True, help="The bills of the period (应收).")
    collected_amount = fields.Numeric("Collected", digits=(16, 2),
        readonly=True,
        help="Paid on the bills of the period by its end (当期实收).")
    collection_rate = fields.Numeric("Collection Rate (%)", digits=(16, 2),
        readonly=True)
    arrears_amount = fields.Numeric("Arrears at Start", digits=(16, 2),
        readonly=True,
        help="Left to pay on the bills of earlier periods when the "
        "period starts (往期欠费).")
    arrears_collected = fields.Numeric("Arrears Collected", digits=(16, 2),
        readonly=True,
        help="Paid in the period on the bills of earlier periods (清欠).")
    arrears_rate = fields.Numeric("Arrears Rate (%)", digits=(16, 2),
        readonly=True)
    total_collected = fields.Numeric("Total Collected", digits=(16, 2),
        readonly=True)
    overall_rate = fields.Numeric("Overall Rate (%)", digits=(16, 2),
        readonly=True, help="(Collected + arrears collected) / (amount due "
        "+ arrears at start).")
    due_households = fields.Integer("Households Billed", readonly=True)
    paid_households = fields.Integer("Households Paid", readonly=True,
        help="Units whose bills of the period are paid in full by its end.")
    household_rate = fields.Numeric("Household Rate (%)", digits=(16, 2),
        readonly=True)
    arrears_households = fields.Integer("Households in Arrears",
        readonly=True,
        help="Units owing on bills of earlier periods when it starts.")
    arrears_paid_households = fields.Integer("Households Paying Arrears",
        readonly=True)

    @classmethod
    def _windows(cls, from_date, to_date):
        "[(key, first day, last day)] of the rows' windows."
        return [(0, from_date, to_date)]

    @classmethod
    def _group(cls, window, bill, line, unit):
        """[(column, name)] grouping the facts (besides the compound), the
        first giving the id of the row."""
        raise NotImplementedError

    @classmethod
    def _facts(cls):
        """The facts of the rows: one per window, bill line (of a bill of
        the window, or of an earlier bill with arrears) and the grouping
        columns; and the grouping [(column, name)]."""
        pool = Pool()
        Bill = pool.get('community.bill')
        BillLine = pool.get('community.bill.line')
        Unit = pool.get('community.unit')
        Payment = pool.get('community.payment')
        PaymentLine = pool.get('community.payment.line')
        context = Transaction().context
        from_date = context.get('from_date')
        to_date = context.get('to_date')
        if not from_date or not to_date:
            today = CollectionContext._today()
            from_date = from_date or today.replace(month=1, day=1)
            to_date = to_date or today
        windows = cls._windows(from_date, to_date) or [
            (0, from_date, to_date)]
        window = Values([[Literal(k), Literal(s), Literal(e)]
                for k, s, e in windows])
        w_key, w_start, w_end = (
            window.column1, window.column2, window.column3)
        bill = Bill.__table__()
        line = BillLine.__table__()
        unit = Unit.__table__()
        payment = Payment.__table__()
        payment_line = PaymentLine.__table__()

        # what was paid on each bill before and in each window (late fees
        # apart)
        paid = (window
            .join(payment, condition=payment.date <= w_end)
            .join(payment_line, condition=payment_line.payment == payment.id)
            .select(w_key.as_('key'), payment_line.bill.as_('bill'),
                Sum(Case((payment.date < w_start, payment_line.amount),
                        else_=0)).as_('before'),
                Sum(Case((payment.date >= w_start, payment_line.amount),
                        else_=0)).as_('within'),
                where=(payment.state == 'posted')
                & (payment_line.late_fee == Null),
                group_by=[w_key, payment_line.bill]))
        before = Coalesce(paid.before, 0)
        within = Coalesce(paid.within, 0)
        current = bill.period_start >= w_start
        share = line.amount / NullIf(bill.total_amount, 0)
        open_before = bill.total_amount - before
        where = ((bill.state == 'posted') & (bill.total_amount != 0)
            & (current | (open_before > 0)))
        if context.get('compound'):
            where &= bill.compound == context['compound']
        group = cls._group(window, bill, line, unit)
        facts = (window
            .join(bill, condition=bill.period_start <= w_end)
            .join(line, condition=line.bill == bill.id)
            .join(unit, condition=unit.id == bill.unit)
            .join(paid, 'LEFT', condition=(paid.key == w_key)
                & (paid.bill == bill.id))
            .select(
                bill.compound.as_('compound'),
                *[c.as_(n) for c, n in group],
                bill.unit.as_('unit'),
                bill.create_date.as_('create_date'),
                Case((current, line.amount), else_=0).as_('due'),
                Case((current, share * (before + within)),
                    else_=0).as_('collected'),
                Case((current, Null), else_=share * open_before
                    ).as_('arrears'),
                Case((current, Null), else_=share * within
                    ).as_('arrears_collected'),
                Case((current, bill.unit), else_=Null).as_('due_unit'),
                Case((current & (before + within < bill.total_amount),
                        bill.unit), else_=Null).as_('unpaid_unit'),
                Case((current, Null), else_=bill.unit
                    ).as_('arrears_unit'),
                Case((~current & (within > 0), bill.unit), else_=Null
                    ).as_('arrears_paid_unit'),
                where=where))
        return facts, [n for _, n in group]

    @classmethod
    def table_query(cls):
        facts, names = cls._facts()
        columns = [getattr(facts, n) for n in names]
        grouped = facts.select(
            facts.compound.as_('compound'),
            *[c.as_(n) for c, n in zip(columns, names)],
            Min(facts.create_date).as_('create_date'),
            Round(Sum(facts.due), 2).as_('due_amount'),
            Round(Sum(facts.collected), 2).as_('collected_amount'),
            Round(Coalesce(Sum(facts.arrears), 0), 2).as_('arrears_amount'),
            Round(Coalesce(Sum(facts.arrears_collected), 0), 2
                ).as_('arrears_collected'),
            Count(facts.due_unit, distinct=True).as_('due_households'),
            Count(facts.unpaid_unit, distinct=True).as_('unpaid_households'),
            Count(facts.arrears_unit, distinct=True
                ).as_('arrears_households'),
            Count(facts.arrears_paid_unit, distinct=True
                ).as_('arrears_paid_households'),
            group_by=[facts.compound] + columns)

        def pct(numerator, denominator):
            return Case((denominator != 0,
                    Round(Cast(numerator, 'NUMERIC') * 100
                        / NullIf(denominator, 0), 2)),
                else_=Null)
        total = grouped.collected_amount + grouped.arrears_collected
        paid_households = (grouped.due_households
            - grouped.unpaid_households)
        return grouped.select(
            cls._id_column(grouped).as_('id'),
            Literal(0).as_('create_uid'),
            grouped.create_date,
            Literal(None).as_('write_uid'),
            Literal(None).as_('write_date'),
            grouped.compound,
            *[getattr(grouped, n) for n in names],
            grouped.due_amount,
            grouped.collected_amount,
            pct(grouped.collected_amount, grouped.due_amount
                ).as_('collection_rate'),
            grouped.arrears_amount,
            grouped.arrears_collected,
            pct(grouped.arrears_collected, grouped.arrears_amount
                ).as_('arrears_rate'),
            total.as_('total_collected'),
            pct(total, grouped.due_amount + grouped.arrears_amount
                ).as_('overall_rate'),
            grouped.due_households,
            paid_households.as_('paid_households'),
            pct(paid_households, grouped.due_households
                ).as_('household_rate'),
            grouped.arrears_households,
            grouped.arrears_paid_households,
            *cls._extra_columns(grouped))

    @classmethod
    def _id_column(cls, grouped):
        raise NotImplementedError

    @classmethod
    def _extra_columns(cls, grouped):
        "Columns of the row's own fields computed from the grouping."
        return []


class CollectionMonth(_CollectionMixin, ModelSQL, ModelView):
    "Collection Rate per Month"
    __name__ = 'community.billing.collection.month'
    month = fields.Char("Month", readonly=True)
    date = fields.Date("Date", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'ASC'), ('compound', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _windows(cls, from_date, to_date):
        return [(s.year * 100 + s.month, s, e)
            for s, e in month_windows(from_date, to_date)]

    @classmethod
    def _group(cls, window, bill, line, unit):
        return [(window.column1, 'key'), (window.column2, 'date')]

    @classmethod
    def _extra_columns(cls, grouped):
        return [ToChar(grouped.date, 'YYYY-MM').as_('month')]

    @classmethod
    def _id_column(cls, grouped):
        # a month of a compound: 202601 + compound × 10⁶
        return grouped.key + grouped.compound * 1000000


class CollectionBuilding(_CollectionMixin, ModelSQL, ModelView):
    "Collection Rate per Building"
    __name__ = 'community.billing.collection.building'
    building = fields.Many2One('community.building', "Building",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('compound', 'ASC'), ('building', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def _group(cls, window, bill, line, unit):
        return [(unit.building, 'building')]

    @classmethod
    def _id_column(cls, grouped):
        return grouped.building


class CollectionFeeItem(_CollectionMixin, ModelSQL, ModelView):
    "Collection Rate per Fee Item"
    __name__ = 'community.billing.collection.fee_item'
    fee_item = fields.Many2One('community.fee.item', "Fee Item",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # as the office lists its fee items: by their sequence
        cls._order = [('compound', 'ASC'), ('fee_item.sequence', 'ASC'),
            ('fee_item', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _group(cls, window, bill, line, unit):
        return [(line.fee_item, 'fee_item')]

    @classmethod
    def _id_column(cls, grouped):
        return grouped.fee_item


COLUMNS = [
    ('compound', "小区"),
    ('due_amount', "应收金额"),
    ('collected_amount', "当期实收"),
    ('collection_rate', "收缴率(%)"),
    ('arrears_amount', "往期欠费"),
    ('arrears_collected', "清欠实收"),
    ('arrears_rate', "清欠率(%)"),
    ('total_collected', "实收合计"),
    ('overall_rate', "综合收缴率(%)"),
    ('due_households', "应收户数"),
    ('paid_households', "已缴户数"),
    ('household_rate', "户数收缴率(%)"),
    ('arrears_households', "欠费户数"),
    ('arrears_paid_households', "清欠户数"),
    ]
FIRST_COLUMN = {
    'community.billing.collection.month': ('month', "月份"),
    'community.billing.collection.building': ('building', "楼栋"),
    'community.billing.collection.fee_item': ('fee_item', "收费项目"),
    }


class CollectionReport(Report):
    """收缴率 as an xlsx workbook: the rows of the report (the selected
    ones, else all those the user may see under the report's context)
    and a total row with the rates of the totals."""
    __name__ = 'community.billing.collection.xlsx'

    @classmethod
    def execute(cls, ids, data):
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        model = data.get('model') or 'community.billing.collection.month'
        if model not in FIRST_COLUMN:
            model = 'community.billing.collection.month'
        Model = pool.get(model)
        if data.get('action_id'):
            action = ActionReport(data['action_id'])
        else:
            action, = ActionReport.search([
                    ('report_name', '=', cls.__name__),
                    ('model', '=', model)], limit=1)
        cls.check_access(action, model, ids)
        records = Model.search([('id', 'in', ids)] if ids else [])
        output = io.BytesIO()
        cls.write_xlsx(model, records, output)
        context = Transaction().context
        name = "收缴率"
        if context.get('from_date') and context.get('to_date'):
            name += " %s~%s" % (context['from_date'], context['to_date'])
        return ('xlsx', output.getvalue(), False, name)

    @classmethod
    def write_xlsx(cls, model, records, fileobj):
        "Write the rows and their total to an xlsx workbook in fileobj."
        first, first_label = FIRST_COLUMN[model]
        columns = [COLUMNS[0], (first, first_label)] + COLUMNS[1:]
        workbook = xlsxwriter.Workbook(fileobj, {'in_memory': True})
        bold = workbook.add_format({'bold': True})
        money = workbook.add_format({'num_format': '#,##0.00'})
        bold_money = workbook.add_format(
            {'num_format': '#,##0.00', 'bold': True})
        sheet = workbook.add_worksheet("收缴率")
        sheet.write_row(0, 0, [label for _, label in columns], bold)
        totals = {n: 0 for n in AMOUNTS + HOUSEHOLDS}
        row = 0
        for row, record in enumerate(records, 1):
            for col, (name, _) in enumerate(columns):
                value = getattr(record, name)
                if isinstance(value, ModelSQL):
                    sheet.write_string(row, col, value.rec_name)
                elif isinstance(value, Decimal):
                    sheet.write_number(row, col, float(value), money)
                elif isinstance(value, int):
                    sheet.write_number(row, col, value)
                else:
                    sheet.write_string(row, col, value or '')
                if name in totals:
                    totals[name] += value or 0
        row += 1
        totals['collection_rate'] = rate(
            totals['collected_amount'], totals['due_amount'])
        totals['arrears_rate'] = rate(
            totals['arrears_collected'], totals['arrears_amount'])
        totals['overall_rate'] = rate(totals['total_collected'],
            totals['due_amount'] + totals['arrears_amount'])
        totals['household_rate'] = rate(
            totals['paid_households'], totals['due_households'])
        sheet.write_string(row, 0, "合计", bold)
        for col, (name, _) in enumerate(columns):
            value = totals.get(name)
            if (model == 'community.billing.collection.fee_item'
                    and name in HOUSEHOLDS + ['household_rate']):
                # a household pays several fee items: no total
                continue
            if isinstance(value, Decimal):
                sheet.write_number(row, col, float(value), bold_money)
            elif isinstance(value, int):
                sheet.write_number(row, col, value, bold)
        sheet.set_column(0, len(columns), 12)
        workbook.close()
        return totals
