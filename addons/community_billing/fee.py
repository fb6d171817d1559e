# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Fee items (收费项目), dated prices (计费规则) and fee assignments."""
import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import DeactivableMixin, ModelSQL, ModelView, Unique, fields
from trytond.pyson import Eval, If

from trytond.modules.community_base.compound import SERVICE_GRADES
from trytond.modules.community_base.display import format_decimal
from trytond.modules.community_base.unit import UNIT_TYPES

from .exceptions import BillingValidationError

CENT = Decimal('0.01')

KINDS = [
    ('area', "Per m² of Gross Area per Month"),
    ('fixed', "Fixed Monthly"),
    ('one_off', "One-off"),
    ('metered', "Metered (Tiered by Annual Volume)"),
    ]
SCOPES = [
    ('compound', "Compound"),
    ('building', "Building"),
    ('unit_type', "Unit Type"),
    ('unit', "Unit"),
    ]
SCOPE_RANK = {'unit': 0, 'building': 1, 'unit_type': 2, 'compound': 3}
PAYERS = [
    ('owner', "Owner"),
    ('tenant', "Tenant"),
    ]


def round_money(amount):
    "Round a Decimal amount half-up to 0.01 (CNY fen)."
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def month_slices(start, end):
    """Split [start, end] (inclusive) at calendar month boundaries.

    Returns [(from, to, days_in_month)], days_in_month being the number of
    days of that calendar month (28-31): part months are prorated by the
    month's own number of days.
    """
    result = []
    current = start
    while current <= end:
        dim = calendar.monthrange(current.year, current.month)[1]
        month_end = current.replace(day=dim)
        to = min(end, month_end)
        result.append((current, to, dim))
        current = to + dt.timedelta(days=1)
    return result


def split_dated(start, end, changes):
    """Split [start, end] by dated values.

    ``changes``: [(effective_date, value)] in any order. Returns
    [(from, to, value)] for the days covered by a value (days before the
    first effective date are left out).
    """
    changes = sorted(changes, key=lambda c: c[0])
    result = []
    for i, (date, value) in enumerate(changes):
        frm = max(date, start)
        to = end
        if i + 1 < len(changes):
            to = min(end, changes[i + 1][0] - dt.timedelta(days=1))
        if frm <= to:
            result.append((frm, to, value))
    return result


def prorate(start, end, quantities, prices):
    """Charge of a monthly fee over [start, end] prorated by day.

    ``quantities`` and ``prices``: [(effective_date, Decimal)] dated
    quantity (m² or count) and monthly unit price. Each day costs
    quantity × price / days of its calendar month. Returns
    (segments, exact total) with segments
    [(from, to, quantity, price, days, days_in_month)]; round the total
    with ``round_money`` once, so that a line never drifts by a fen per
    segment.
    """
    segments = []
    total = Decimal(0)
    for q_from, q_to, quantity in split_dated(start, end, quantities):
        for p_from, p_to, price in split_dated(q_from, q_to, prices):
            for m_from, m_to, dim in month_slices(p_from, p_to):
                days = (m_to - m_from).days + 1
                segments.append((m_from, m_to, quantity, price, days, dim))
                total += quantity * price * days / dim
    return segments, total


def merge_segments(segments):
    """Merge consecutive segments that have the same quantity and price
    and cover whole months, for a readable line description."""
    merged = []
    for seg in segments:
        if merged:
            last = merged[-1]
            if (last[2] == seg[2] and last[3] == seg[3]
                    and last[4] == last[5] and seg[4] == seg[5]
                    and last[1] + dt.timedelta(days=1) == seg[0]):
                merged[-1] = (last[0], seg[1], last[2], last[3],
                    last[4] + seg[4], last[5] + seg[5])
                continue
        merged.append(seg)
    return merged


def describe_segments(segments):
    """Human text of segments: quantity×price×days/days of month, e.g.
    '89.50×2.5×15/31 + 91.20×2.5×16/31'."""
    return ' + '.join('%s×%s×%s/%s' % (
            format_decimal(quantity, strip=False), format_decimal(price),
            days, dim)
        for _, _, quantity, price, days, dim in merge_segments(segments))


class FeeItem(DeactivableMixin, ModelSQL, ModelView):
    """Fee Item (收费项目) of a compound.

    ``kind``: ``area`` (monthly price per m² of gross floor area),
    ``fixed`` (monthly amount per quantity, e.g. per parking space),
    ``one_off`` (charged once in the period of the assignment start, e.g.
    a decoration deposit or management fee). Prices are VAT included; the
    revenue goes to ``account`` and the VAT of ``tax`` to the tax account.
    A ``deposit`` is a refundable liability: no VAT, ``account`` is a
    liability account.
    """
    __name__ = 'community.fee.item'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    code = fields.Char("Code", required=True)
    name = fields.Char("Name", required=True, translate=True)
    kind = fields.Selection(KINDS, "Kind", required=True)
    account = fields.Many2One(
        'account.account', "Account", required=True, ondelete='RESTRICT',
        help="Revenue account (or liability account for a deposit).")
    tax = fields.Many2One('account.tax', "Tax", ondelete='RESTRICT',
        states={'invisible': Eval('deposit', False)},
        help="Output VAT included in the prices.")
    deposit = fields.Boolean("Deposit",
        help="A refundable deposit (liability), without VAT.")
    sequence = fields.Integer("Sequence")
    prices = fields.One2Many('community.fee.price', 'fee_item', "Prices")
    assignments = fields.One2Many(
        'community.fee.assignment', 'fee_item', "Assignments")
    tiers = fields.One2Many('community.fee.tier', 'fee_item', "Tiers",
        states={'invisible': Eval('kind') != 'metered'})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_uniq', Unique(t, t.compound, t.code),
                'community_billing.msg_fee_item_code_unique'),
            ]
        cls._order[0:0] = [('compound', 'ASC'), ('sequence', 'ASC'),
            ('code', 'ASC')]

    @staticmethod
    def default_kind():
        return 'area'

    def get_rec_name(self, name):
        return '%s %s' % (self.code, self.name)

    @classmethod
    def validate_fields(cls, items, field_names):
        super().validate_fields(items, field_names)
        if field_names & {'deposit', 'tax'}:
            for item in items:
                if item.deposit and item.tax:
                    raise BillingValidationError(gettext(
                            'community_billing.msg_fee_item_deposit_tax',
                            item=item.rec_name))

    def price_changes(self, grade):
        """Return [(effective_date, unit price)] for the service grade
        ``grade``: prices without grade apply to every grade, a price of
        the grade wins on the same date."""
        by_date = {}
        for price in sorted(self.prices,
                key=lambda p: (p.effective_date, p.service_grade or '')):
            if price.service_grade and price.service_grade != grade:
                continue
            if price.service_grade or price.effective_date not in by_date:
                by_date[price.effective_date] = price.unit_price
        return sorted(by_date.items())


class FeePrice(ModelSQL, ModelView):
    """Price of a fee item from a date on (VAT included, CNY).

    For ``area`` fee items, per m² per month; ``fixed``: per quantity per
    month; ``one_off``: per quantity. ``service_grade`` restricts the price
    to compounds of that grade (物业服务等级); empty applies to all.
    """
    __name__ = 'community.fee.price'
    fee_item = fields.Many2One(
        'community.fee.item', "Fee Item", required=True, ondelete='CASCADE')
    effective_date = fields.Date("Effective Date", required=True)
    service_grade = fields.Selection(SERVICE_GRADES, "Service Grade")
    unit_price = fields.Numeric(
        "Unit Price", digits=(16, 4), required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('date_uniq',
                Unique(t, t.fee_item, t.service_grade, t.effective_date),
                'community_billing.msg_fee_price_date_unique'),
            ]
        cls._order[0:0] = [('fee_item', 'ASC'), ('effective_date', 'DESC')]
        cls.__access__.add('fee_item')

    @classmethod
    def validate_fields(cls, prices, field_names):
        super().validate_fields(prices, field_names)
        if 'unit_price' in field_names:
            for price in prices:
                if price.unit_price < 0:
                    raise BillingValidationError(gettext(
                            'community_billing.msg_fee_price_negative',
                            item=price.fee_item.rec_name))


class FeeAssignment(ModelSQL, ModelView):
    """Fee Assignment: which units pay a fee item, from when, and who pays.

    ``scope`` selects the units: the whole compound, a building, a unit
    type, or a single unit; for a unit, the most specific assignment of a
    fee item wins (unit > building > unit type > compound). ``quantity``
    multiplies fixed and one-off prices (e.g. 2 parking spaces). ``payer``:
    the owner (with the payer flag, else the largest share) or the tenant
    (falls back to the owner when there is none).
    """
    __name__ = 'community.fee.assignment'
    fee_item = fields.Many2One(
        'community.fee.item', "Fee Item", required=True, ondelete='CASCADE')
    compound = fields.Function(fields.Many2One(
            'community.compound', "Compound"), 'on_change_with_compound',
        searcher='search_compound')
    scope = fields.Selection(SCOPES, "Scope", required=True)
    building = fields.Many2One('community.building', "Building",
        ondelete='CASCADE',
        domain=[('compound', '=', Eval('compound', -1))],
        states={
            'invisible': Eval('scope') != 'building',
            'required': Eval('scope') == 'building',
            })
    unit_type = fields.Selection([(None, '')] + UNIT_TYPES, "Unit Type",
        states={
            'invisible': Eval('scope') != 'unit_type',
            'required': Eval('scope') == 'unit_type',
            })
    unit = fields.Many2One('community.unit', "Unit", ondelete='CASCADE',
        domain=[('compound', '=', Eval('compound', -1))],
        states={
            'invisible': Eval('scope') != 'unit',
            'required': Eval('scope') == 'unit',
            })
    quantity = fields.Numeric("Quantity", digits=(16, 2), required=True)
    start_date = fields.Date("Start Date", required=True)
    end_date = fields.Date("End Date",
        domain=[If(Eval('end_date'),
                ('end_date', '>=', Eval('start_date', None)), ())])
    payer = fields.Selection(PAYERS, "Payer", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('fee_item')
        cls._order[0:0] = [('fee_item', 'ASC'), ('start_date', 'ASC')]

    @staticmethod
    def default_scope():
        return 'compound'

    @staticmethod
    def default_quantity():
        return Decimal(1)

    @staticmethod
    def default_payer():
        return 'owner'

    @fields.depends('fee_item', '_parent_fee_item.compound')
    def on_change_with_compound(self, name=None):
        return self.fee_item.compound if self.fee_item else None

    @classmethod
    def search_compound(cls, name, clause):
        return [('fee_item.compound',) + tuple(clause[1:])]

    def matches(self, unit):
        """Tell whether the assignment selects the unit.

        ``unit``: an object with ``id``, ``building`` (id) and ``type``."""
        if self.scope == 'compound':
            return True
        if self.scope == 'building':
            return self.building.id == unit.building
        if self.scope == 'unit_type':
            return self.unit_type == unit.type
        return self.unit.id == unit.id

    @classmethod
    def validate_fields(cls, assignments, field_names):
        super().validate_fields(assignments, field_names)
        if field_names & {'quantity'}:
            for assignment in assignments:
                if assignment.quantity <= 0:
                    raise BillingValidationError(gettext(
                            'community_billing.msg_fee_assignment_quantity',
                            item=assignment.fee_item.rec_name))
