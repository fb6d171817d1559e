# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Compounds (小区/项目), buildings (楼栋) and entrances (单元)."""
import datetime as dt
import re
from zoneinfo import ZoneInfo

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.modules.company.company import TIMEZONES
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .exceptions import RegisterError
from .unit import natural_order

SERVICE_GRADES = [
    (None, ''),
    ('1', "Grade 1"),
    ('2', "Grade 2"),
    ('3', "Grade 3"),
    ('4', "Grade 4"),
    ('5', "Grade 5"),
    ]
AREA_CODE = re.compile(r'^\d{12}$')
DEFAULT_TIMEZONE = 'Asia/Shanghai'


class CompoundPeriodContextMixin:
    """The context of a report over a compound (empty: every compound the
    user may see) and dates ``[from_date, to_date]``, in the compound's
    calendar (Asia/Shanghai without one). The reports set their default
    dates."""
    __slots__ = ()
    compound = fields.Many2One('community.compound', "Compound",
        help="Leave empty for all the compounds you may see.")
    from_date = fields.Date("From Date", required=True,
        domain=[If(Eval('to_date'),
                ('from_date', '<=', Eval('to_date', None)), ())])
    to_date = fields.Date("To Date", required=True,
        domain=[If(Eval('from_date'),
                ('to_date', '>=', Eval('from_date', None)), ())])

    @classmethod
    def _timezone(cls):
        "The time zone of the context's compound."
        Compound = Pool().get('community.compound')
        compound = Transaction().context.get('compound')
        return Compound(compound).timezone if compound else DEFAULT_TIMEZONE

    @classmethod
    def _today(cls):
        "Today in the calendar of the context's compound."
        return dt.datetime.now(ZoneInfo(cls._timezone())).date()

    @classmethod
    def default_compound(cls):
        return Transaction().context.get('compound')


class Compound(DeactivableMixin, ModelSQL, ModelView):
    """Compound (小区/项目): one managed site of a property company.

    Totals (units, gross floor area, occupancy) are computed from the units
    and their dated areas, never entered by hand.
    """
    __name__ = 'community.compound'
    company = fields.Many2One(
        'company.company', "Company", required=True,
        help="The property management company that manages the compound.")
    name = fields.Char("Name", required=True, translate=False)
    code = fields.Char("Code", required=True,
        help="Short code of the compound, unique within the company.")
    street = fields.Char("Street Address")
    area_code = fields.Char(
        "Area Code", size=12,
        help="12-digit area code of the National Bureau of Statistics, "
        "down to the community (社区居委会).")
    area_name = fields.Char("Area Name",
        help="Name of the community for the area code, e.g. "
        "四川省乐山市市中区张公桥街道嘉州社区.")
    area_code_year = fields.Integer("Area Code Vintage",
        help="Year of the NBS division code list the area code comes from.")
    service_grade = fields.Selection(SERVICE_GRADES, "Service Grade")
    handover_date = fields.Date("Hand-over Date",
        help="Date the property company took over the compound.")
    timezone = fields.Selection(TIMEZONES, "Time Zone", required=True,
        translate=False,
        help="Local calendar of the compound: bill periods, late-fee days "
        "and device times are counted in it.")
    buildings = fields.One2Many(
        'community.building', 'compound', "Buildings")
    unit_count = fields.Function(fields.Integer("Units"), 'get_totals')
    gross_area = fields.Function(
        fields.Numeric("Gross Floor Area", digits=(16, 2)), 'get_totals')
    occupied_count = fields.Function(
        fields.Integer("Occupied Units"), 'get_totals')
    occupancy = fields.Function(
        fields.Float("Occupancy", digits=(1, 4)), 'get_totals')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_uniq', Unique(t, t.company, t.code),
                'community_base.msg_compound_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_timezone():
        return 'Asia/Shanghai'

    @classmethod
    def default_area_code_year(cls):
        return None

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('name', operator, operand, *extra),
            ('code', operator, operand, *extra),
            ]

    @classmethod
    def validate_fields(cls, compounds, field_names):
        super().validate_fields(compounds, field_names)
        if 'area_code' in field_names:
            for compound in compounds:
                if compound.area_code and not AREA_CODE.match(
                        compound.area_code):
                    raise RegisterError(gettext(
                            'community_base.msg_compound_area_code',
                            compound=compound.rec_name,
                            code=compound.area_code))

    @classmethod
    def get_totals(cls, compounds, names):
        """Aggregate units of the compounds in one query per kind.

        Returns {name: {compound_id: value}}; areas are those in force on
        the context date (today by default).
        """
        pool = Pool()
        Unit = pool.get('community.unit')
        Date = pool.get('ir.date')
        ids = [c.id for c in compounds]
        result = {n: {i: None for i in ids} for n in names}
        units = Unit.search([('compound', 'in', ids)])
        date = Transaction().context.get('date') or Date.today()
        counts = {i: 0 for i in ids}
        occupied = {i: 0 for i in ids}
        areas = {i: 0 for i in ids}
        gross = Unit.get_area_at(units, date)
        for unit in units:
            cid = unit.compound.id
            counts[cid] += 1
            if unit.status in {'occupied', 'rented'}:
                occupied[cid] += 1
            areas[cid] += gross.get(unit.id, (0, 0))[0] or 0
        for cid in ids:
            if 'unit_count' in names:
                result['unit_count'][cid] = counts[cid]
            if 'occupied_count' in names:
                result['occupied_count'][cid] = occupied[cid]
            if 'gross_area' in names:
                result['gross_area'][cid] = areas[cid]
            if 'occupancy' in names:
                result['occupancy'][cid] = (
                    occupied[cid] / counts[cid] if counts[cid] else 0.0)
        return result


class Building(sequence_ordered(), ModelSQL, ModelView):
    "Building (楼栋)"
    __name__ = 'community.building'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    code = fields.Char("Code", required=True,
        help="Building number as used in unit codes, e.g. 3.")
    name = fields.Char("Name", help="e.g. 3栋")
    floors = fields.Integer("Floors Above Ground")
    entrances = fields.One2Many('community.entrance', 'building', "Entrances")
    units = fields.One2Many('community.unit', 'building', "Units")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_uniq', Unique(t, t.compound, t.code),
                'community_base.msg_building_code_unique'),
            ]
        cls._order.insert(1, ('code', 'ASC'))

    @classmethod
    def order_code(cls, tables):
        table, _ = tables[None]
        return natural_order(table.code)

    def get_rec_name(self, name):
        return self.name or self.code

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('name', operator, operand, *extra),
            ('code', operator, operand, *extra),
            ]


class Entrance(sequence_ordered(), ModelSQL, ModelView):
    "Entrance (单元): a stairwell section of a building."
    __name__ = 'community.entrance'
    building = fields.Many2One(
        'community.building', "Building", required=True, ondelete='CASCADE')
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True)
    code = fields.Char("Code", required=True, help="e.g. 2 for 2单元")
    name = fields.Char("Name")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_uniq', Unique(t, t.building, t.code),
                'community_base.msg_entrance_code_unique'),
            ]
        cls._order.insert(1, ('code', 'ASC'))

    @classmethod
    def order_code(cls, tables):
        table, _ = tables[None]
        return natural_order(table.code)

    @fields.depends('building', '_parent_building.compound')
    def on_change_building(self):
        self.compound = self.building.compound if self.building else None

    def get_rec_name(self, name):
        return '%s-%s' % (self.building.code, self.name or self.code)

    @classmethod
    def create(cls, vlist):
        Building = Pool().get('community.building')
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('building') and not values.get('compound'):
                values['compound'] = Building(values['building']).compound.id
        return super().create(vlist)
