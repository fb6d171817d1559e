# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Meters (表具), readings (抄表) and tiered prices (阶梯价格)."""
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval

from .exceptions import BillingError, BillingValidationError
from .fee import round_money

REASONS = [
    (None, ''),
    ('rollover', "Meter Rolled Over"),
    ('replacement', "Meter Replaced"),
    ]


def compute_consumption(digits, value, reason, start_value, previous):
    """Consumption of a reading ``value`` after the ``previous`` one (None
    for the first reading of a meter), possibly negative.

    ``reason`` 'replacement': value - start_value (a new meter);
    'rollover': the register passed 10^digits; None for the first reading
    of a meter without replacement."""
    if reason == 'replacement':
        return value - (start_value or 0)
    if previous is None:
        return None
    consumption = value - previous
    if consumption < 0 and reason == 'rollover':
        consumption += Decimal(10) ** digits
    return consumption


def tiered_amount(tiers, before, consumption):
    """Charge ``consumption`` after ``before`` units already used in the
    year, on annual tiers [(up_to or None, unit price)] sorted by up_to.

    E.g. tiers [(180, 2.80), (260, 3.90), (None, 6.10)], before 170,
    consumption 20 → 10 × 2.80 + 10 × 3.90 = 67.00. Returns (amount
    rounded half-up to the fen, [(quantity, price)]).
    """
    parts = []
    low = Decimal(0)
    start, end = before, before + consumption
    total = Decimal(0)
    for up_to, price in tiers:
        high = up_to if up_to is not None else max(end, low)
        quantity = max(Decimal(0), min(end, high) - max(start, low))
        if quantity:
            parts.append((quantity, price))
            total += quantity * price
        low = high
    return round_money(total), parts


class FeeTier(ModelSQL, ModelView):
    """Tier of a metered fee item by annual volume (阶梯, e.g. water).

    ``up_to``: upper bound of the tier in units per calendar year (empty
    for the last tier); ``unit_price`` VAT included."""
    __name__ = 'community.fee.tier'
    fee_item = fields.Many2One(
        'community.fee.item', "Fee Item", required=True, ondelete='CASCADE')
    up_to = fields.Numeric("Up To (per Year)", digits=(16, 2))
    unit_price = fields.Numeric(
        "Unit Price", digits=(16, 4), required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('fee_item')
        cls._order[0:0] = [('fee_item', 'ASC'), ('up_to', 'ASC NULLS LAST')]


class Meter(DeactivableMixin, ModelSQL, ModelView):
    """Meter (表具) of a unit, billed by a metered fee item.

    ``digits``: number of integer digits of the register; a reading lower
    than the previous one is a roll-over at 10^digits when so explained.
    """
    __name__ = 'community.meter'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    unit = fields.Many2One('community.unit', "Unit", required=True,
        ondelete='CASCADE', domain=[('compound', '=', Eval('compound', -1))])
    fee_item = fields.Many2One('community.fee.item', "Fee Item",
        required=True, ondelete='RESTRICT',
        domain=[('compound', '=', Eval('compound', -1)),
            ('kind', '=', 'metered')])
    number = fields.Char("Number", required=True)
    digits = fields.Integer("Digits", required=True)
    readings = fields.One2Many(
        'community.meter.reading', 'meter', "Readings")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_uniq', Unique(t, t.compound, t.number),
                'community_billing.msg_meter_number_unique'),
            ]

    @staticmethod
    def default_digits():
        return 5

    def get_rec_name(self, name):
        return '%s (%s)' % (self.number, self.unit.rec_name)


class MeterReading(ModelSQL, ModelView):
    """Meter reading (抄表) on a date.

    ``consumption`` is computed from the previous reading; a lower value
    needs an explicit ``reason``: ``rollover`` (the register passed
    10^digits) or ``replacement`` (a new meter starting at
    ``start_value``). Readings dated in a billed period are charged by the
    next bill run.
    """
    __name__ = 'community.meter.reading'
    meter = fields.Many2One('community.meter', "Meter", required=True,
        ondelete='CASCADE')
    date = fields.Date("Date", required=True)
    value = fields.Numeric("Reading", digits=(16, 2), required=True)
    reason = fields.Selection(REASONS, "Reason")
    start_value = fields.Numeric("New Meter Start", digits=(16, 2),
        states={'invisible': Eval('reason') != 'replacement'})
    consumption = fields.Numeric("Consumption", digits=(16, 2),
        readonly=True)
    note = fields.Char("Note")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('date_uniq', Unique(t, t.meter, t.date),
                'community_billing.msg_meter_reading_date_unique'),
            ]
        cls.__access__.add('meter')
        cls._order[0:0] = [('meter', 'ASC'), ('date', 'DESC')]

    @classmethod
    def create(cls, vlist):
        """Compute and check the consumption before inserting, so that a
        wrong reading writes nothing."""
        Meter = Pool().get('community.meter')
        vlist = [v.copy() for v in vlist]
        last = {}
        for values in sorted(vlist, key=lambda v: (v['meter'], v['date'])):
            meter = Meter(values['meter'])
            previous = last.get(meter.id)
            if previous is None or previous[0] >= values['date']:
                readings = cls.search([
                        ('meter', '=', meter.id),
                        ('date', '<', values['date']),
                        ], order=[('date', 'DESC')], limit=1)
                previous = ((readings[0].date, readings[0].value)
                    if readings else None)
            values['consumption'] = cls.consumption_of(
                meter, values['date'], Decimal(values['value']),
                values.get('reason'), values.get('start_value'),
                previous[1] if previous else None)
            last[meter.id] = (values['date'], values['value'])
        readings = super().create(vlist)
        # A reading inserted before others changes the next consumption.
        later = cls.search([
                ('meter', 'in', list({r.meter.id for r in readings})),
                ('date', '>', min(r.date for r in readings)),
                ('id', 'not in', [r.id for r in readings]),
                ])
        if later:
            cls._compute_consumption(later)
        return readings

    @classmethod
    def consumption_of(cls, meter, date, value, reason, start_value,
            previous):
        """Consumption of a reading given the previous value (or None).

        Raises BillingValidationError naming the meter when the reading
        is lower than the previous one without a reason."""
        consumption = compute_consumption(
            meter.digits, value, reason, start_value, previous)
        if consumption is not None and consumption < 0:
            raise BillingValidationError(gettext(
                    'community_billing.msg_meter_reading_lower',
                    meter=meter.rec_name, date=date, value=value,
                    previous=previous if previous is not None
                    else start_value or 0))
        return consumption

    @classmethod
    def check_modification(cls, mode, readings, values=None,
            external=False):
        """A billed reading (see ``billed_line``) cannot be changed nor
        deleted: BillingError naming the reading and the bill."""
        super().check_modification(
            mode, readings, values=values, external=external)
        if mode == 'delete' or (mode == 'write' and set(values or {}) & {
                    'meter', 'date', 'value', 'reason', 'start_value'}):
            for reading in readings:
                line = reading.billed_line()
                if line:
                    raise BillingError(gettext(
                            'community_billing.msg_meter_reading_billed',
                            reading=reading.rec_name,
                            bill=line.bill.rec_name))

    def get_rec_name(self, name):
        return '%s %s' % (self.meter.number, self.date)

    def billed_line(self):
        """Return the posted bill line that charged this reading's
        consumption or the next reading's (which depends on this value),
        else None."""
        pool = Pool()
        Line = pool.get('community.bill.line')
        following = self.search([
                ('meter', '=', self.meter.id),
                ('date', '>', self.date),
                ], order=[('date', 'ASC')], limit=1)
        for date in [self.date] + [r.date for r in following]:
            lines = Line.search([
                    ('unit', '=', self.meter.unit.id),
                    ('fee_item', '=', self.meter.fee_item.id),
                    ('period_start', '<=', date),
                    ('period_end', '>=', date),
                    ('state', '!=', 'cancelled'),
                    ], limit=1)
            if lines:
                return lines[0]
        return None

    @classmethod
    def write(cls, *args):
        super().write(*args)
        readings = sum(args[0:None:2], [])
        # The next readings' consumption depends on the changed values.
        later = []
        for reading in readings:
            later.extend(cls.search([
                        ('meter', '=', reading.meter.id),
                        ('date', '>', reading.date),
                        ('id', 'not in', [r.id for r in readings]),
                        ], order=[('date', 'ASC')], limit=1))
        cls._compute_consumption(readings + later)

    @classmethod
    def _compute_consumption(cls, readings):
        "Recompute and check the consumption of stored readings."
        for reading in sorted(readings, key=lambda r: r.date):
            previous = cls.search([
                    ('meter', '=', reading.meter.id),
                    ('date', '<', reading.date),
                    ], order=[('date', 'DESC')], limit=1)
            consumption = cls.consumption_of(reading.meter, reading.date,
                reading.value, reading.reason, reading.start_value,
                previous[0].value if previous else None)
            if consumption != reading.consumption:
                super().write([reading], {'consumption': consumption})
