# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Common-area apportionment (公摊) by the largest remainder method."""
from decimal import ROUND_DOWN, Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval

from .exceptions import BillingError

CENT = Decimal('0.01')


def largest_remainder(total, weights):
    """Split ``total`` (Decimal CNY) over ``weights`` to the fen.

    ``weights``: {key: Decimal weight ≥ 0} (gross floor area in m², or 1
    per household). Each part is first rounded down to the fen; the fens
    left are given one by one to the largest remainders (ties: the
    smallest key first), so that the parts add up to ``total`` exactly
    (Hare–Niemeyer / largest remainder method). Returns {key: Decimal}.
    Raises ValueError when the weights are all zero or one is negative.
    """
    total = Decimal(total).quantize(CENT)
    if any(w < 0 for w in weights.values()):
        raise ValueError("negative weight")
    weight_sum = sum(weights.values())
    if not weight_sum:
        raise ValueError("no weight")
    parts, remainders = {}, []
    for key, weight in weights.items():
        exact = total * weight / weight_sum
        part = exact.quantize(CENT, rounding=ROUND_DOWN)
        parts[key] = part
        remainders.append((exact - part, key))
    left = int((total - sum(parts.values())) / CENT)
    remainders.sort(key=lambda r: (-r[0], r[1]))
    for _, key in remainders[:left]:
        parts[key] += CENT
    return parts


class Apportionment(Workflow, ModelSQL, ModelView):
    """Common-Area Apportionment (公摊)

    A cost of a period (e.g. the common electricity bill) split over a set
    of units by gross floor area in force at the end of the period or per
    household, with the largest remainder so that the parts add up to the
    cost exactly. Confirmed, its parts are billed by the bill run of the
    period as lines of the fee item on the units' bills."""
    __name__ = 'community.apportionment'
    _states = {'readonly': Eval('state') != 'draft'}
    compound = fields.Many2One('community.compound', "Compound",
        required=True, states=_states)
    name = fields.Char("Name", required=True, states=_states)
    fee_item = fields.Many2One('community.fee.item', "Fee Item",
        required=True, states=_states,
        domain=[('compound', '=', Eval('compound', -1))],
        help="The fee item of the bill lines (its account and tax); "
        "it should not be assigned to units otherwise.")
    period_start = fields.Date("Period Start", required=True, states=_states)
    period_end = fields.Date("Period End", required=True, states=_states,
        domain=[('period_end', '>=', Eval('period_start'))])
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        states=_states, domain=[('amount', '>', 0)])
    method = fields.Selection([
            ('area', "By Gross Floor Area"),
            ('household', "Per Household"),
            ], "Method", required=True, states=_states)
    building = fields.Many2One('community.building', "Building",
        states=_states,
        domain=[('compound', '=', Eval('compound', -1))],
        help="Only the units of this building; empty for the whole "
        "compound (used when no lines are entered).")
    lines = fields.One2Many('community.apportionment.line', 'apportionment',
        "Lines", states=_states,
        help="The units sharing the cost; filled on confirmation when "
        "empty.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('confirmed', "Confirmed"),
            ], "State", required=True, readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._transitions |= {('draft', 'confirmed')}
        cls._buttons.update({
                'confirm': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_method():
        return 'area'

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if mode in {'write', 'delete'}:
            for record in records:
                if record.state != 'draft' and (mode == 'delete'
                        or set(values or {}) - {'state'}):
                    raise BillingError(gettext(
                            'community_billing.msg_apportionment_confirmed',
                            apportionment=record.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, apportionments):
        pool = Pool()
        Unit = pool.get('community.unit')
        Line = pool.get('community.apportionment.line')
        lines = []
        for record in apportionments:
            units = [l.unit for l in record.lines]
            if not units:
                domain = [('compound', '=', record.compound.id)]
                if record.building:
                    domain.append(('building', '=', record.building.id))
                units = Unit.search(domain, order=[('code', 'ASC')])
            if record.method == 'area':
                areas = Unit.get_area_at(units, record.period_end)
                weights = {u.id: (areas.get(u.id) or (None,))[0]
                    or Decimal(0) for u in units}
            else:
                weights = {u.id: Decimal(1) for u in units}
            try:
                parts = largest_remainder(record.amount, weights)
            except ValueError:
                raise BillingError(gettext(
                        'community_billing.msg_apportionment_no_weight',
                        apportionment=record.rec_name))
            Line.delete(list(record.lines))
            for unit in units:
                lines.append(Line(apportionment=record, unit=unit,
                        weight=weights[unit.id], amount=parts[unit.id]))
        Line.save(lines)


class ApportionmentLine(ModelSQL, ModelView):
    "Common-Area Apportionment Line"
    __name__ = 'community.apportionment.line'
    apportionment = fields.Many2One('community.apportionment',
        "Apportionment", required=True, ondelete='CASCADE')
    unit = fields.Many2One('community.unit', "Unit", required=True,
        ondelete='RESTRICT')
    weight = fields.Numeric("Weight", digits=(16, 2), readonly=True,
        help="Gross floor area (m²) or 1 per household.")
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('unit_unique', Unique(t, t.apportionment, t.unit),
                'community_billing.msg_apportionment_unit_unique'),
            ]
