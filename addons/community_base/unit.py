# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Units (房屋) and their dated floor areas."""
import datetime as dt
import re

from sql import Collate
from sql.functions import Function

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import RegisterError


class NaturalKey(Function):
    """SQL ``community_natural_key(text)``: the text with every run of
    digits left-padded with zeros to 12 places, so that codes sort as
    people read them (1-1-101 before 1-1-1001, 2-… before 10-…)."""
    __slots__ = ()
    _function = 'community_natural_key'


NATURAL_KEY_SQL = r"""
CREATE OR REPLACE FUNCTION community_natural_key(value text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(CASE WHEN part[1] ~ '^[0-9]'
            THEN lpad(part[1], 12, '0') ELSE part[1] END, '' ORDER BY n)
    FROM regexp_matches(value, '([0-9]+|[^0-9]+)', 'g')
        WITH ORDINALITY AS parts(part, n)
$$"""
# ICU's numeric collation sorts the same way about 15 times faster than the
# function (45 ms against 600 ms for 20,000 codes); PostgreSQL built
# without ICU (e.g. the pgserver wheels) gets the function.
NATURAL_COLLATION = 'community_natural'
NATURAL_COLLATION_SQL = (
    "CREATE COLLATION IF NOT EXISTS community_natural "
    "(provider = icu, locale = 'und-u-kn-true')")
_has_collation = {}


def create_natural_order():
    "Create the SQL function and, when ICU is there, the collation."
    cursor = Transaction().connection.cursor()
    cursor.execute(NATURAL_KEY_SQL)
    cursor.execute('SAVEPOINT community_natural')
    try:
        cursor.execute(NATURAL_COLLATION_SQL)
    except Exception:
        # FeatureNotSupported: "ICU is not supported in this build"
        cursor.execute('ROLLBACK TO SAVEPOINT community_natural')
    else:
        cursor.execute('RELEASE SAVEPOINT community_natural')
    _has_collation.pop(Transaction().database.name, None)


def natural_order(column):
    """Order expressions sorting ``column`` naturally: by the ICU numeric
    collation when the database has it, else by ``NaturalKey``."""
    if backend.name != 'postgresql':
        return [column]
    name = Transaction().database.name
    if name not in _has_collation:
        cursor = Transaction().connection.cursor()
        cursor.execute(
            "SELECT 1 FROM pg_collation WHERE collname = %s",
            (NATURAL_COLLATION,))
        _has_collation[name] = bool(cursor.fetchone())
    if _has_collation[name]:
        return [Collate(column, NATURAL_COLLATION)]
    return [NaturalKey(column)]

# 1栋2单元301室, 1号楼2单元301, 1幢-2-301号, 1 - 2 - 301: building,
# entrance and room as people say them
_CODE_SEPARATORS = re.compile(
    r'\s*(?:号楼|栋|幢|座|单元|楼|[-－—_/\s])\s*')
_CODE_SUFFIX = re.compile(r'\s*(?:室|号|房)$')
_CODE = re.compile(r'[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*')


def normalise_unit_code(text):
    """The unit code written in ``text`` as codes are stored
    (``1-2-301``), or None when ``text`` is not a code: ``1栋2单元301``,
    ``1号楼2单元301室``, ``1-2-301室`` and ``1 2 301`` give ``1-2-301``."""
    if not isinstance(text, str):
        return None
    code = _CODE_SUFFIX.sub('', text.strip())
    code = _CODE_SEPARATORS.sub('-', code).strip('-')
    if not _CODE.fullmatch(code):
        return None
    return code


def _unlikify(operand):
    "The text of a ``%text%`` pattern, None when it holds other wildcards."
    if not isinstance(operand, str):
        return None
    core = operand
    if core.startswith('%'):
        core = core[1:]
    if core.endswith('%') and not core.endswith('\\%'):
        core = core[:-1]
    if '%' in core or '_' in core:
        return None
    return core


class UnitCompoundMixin:
    """A record of a unit whose compound, the one its record rules use,
    is always its unit's: set on creation and when the record moves to a
    unit of another compound (Tryton's check after the write then refuses
    it to a user not assigned to that compound)."""
    __slots__ = ()

    @classmethod
    def _with_unit_compound(cls, values):
        if values.get('unit'):
            Unit = Pool().get('community.unit')
            values = dict(values, compound=Unit(values['unit']).compound.id)
        return values

    @classmethod
    def create(cls, vlist):
        return super().create([cls._with_unit_compound(v) for v in vlist])

    @classmethod
    def write(cls, *args):
        args = list(args)
        args[1::2] = [cls._with_unit_compound(v) for v in args[1::2]]
        super().write(*args)


UNIT_TYPES = [
    ('residential', "Residential"),
    ('shop', "Shop"),
    ('office', "Office"),
    ('garage', "Garage"),
    ('storage', "Storage"),
    ]


def status_from_roles(status, roles):
    """The status of a unit of ``status`` whose active residencies have
    ``roles``: rented (出租) with a tenant; else kept while under
    decoration; occupied with an owner or a household member; else vacant
    when it was occupied or rented (unsold and vacant stay)."""
    if 'tenant' in roles:
        return 'rented'
    if status == 'decoration':
        return status
    if roles:
        return 'occupied'
    if status in {'occupied', 'rented'}:
        return 'vacant'
    return status


UNIT_STATUSES = [
    ('unsold', "Unsold"),
    ('vacant', "Vacant"),
    ('occupied', "Occupied"),
    ('rented', "Rented"),
    ('decoration', "Under Decoration"),
    ]


class Unit(ModelSQL, ModelView):
    """Unit (房屋): an apartment, shop, office, garage or storage room.

    ``code`` is unique within the compound (building-entrance-room, e.g.
    ``3-2-1201``). Floor areas are in m² with 2 decimals and are dated:
    ``areas`` keeps every value with the date it applies from, and
    ``gross_area``/``usable_area`` show the one in force on the context
    ``date`` (today by default).
    """
    __name__ = 'community.unit'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='RESTRICT')
    building = fields.Many2One(
        'community.building', "Building", required=True, ondelete='RESTRICT',
        domain=[('compound', '=', Eval('compound', -1))])
    entrance = fields.Many2One(
        'community.entrance', "Entrance", ondelete='RESTRICT',
        domain=[('building', '=', Eval('building', -1))])
    code = fields.Char("Code", required=True,
        help="Unique within the compound, e.g. 3-2-1201.")
    room = fields.Char("Room", help="Room number, e.g. 1201.")
    floor = fields.Integer("Floor")
    type = fields.Selection(UNIT_TYPES, "Type", required=True)
    status = fields.Selection(UNIT_STATUSES, "Status", required=True)
    handover_date = fields.Date("Hand-over Date",
        help="Date the unit was handed over to its owner; fees run from it.")
    areas = fields.One2Many('community.unit.area', 'unit', "Floor Areas")
    gross_area = fields.Function(
        fields.Numeric("Gross Floor Area", digits=(16, 2)), 'get_area')
    usable_area = fields.Function(
        fields.Numeric("Usable Area", digits=(16, 2)), 'get_area')
    residencies = fields.One2Many(
        'community.residency', 'unit', "Residencies")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_uniq', Unique(t, t.compound, t.code),
                'community_base.msg_unit_code_unique'),
            ]
        cls._order[0:0] = [('compound', 'ASC'), ('code', 'ASC')]
        cls._buttons.update({
                'register_resident': {
                    'invisible': Eval('id', -1) < 0,
                    'icon': 'tryton-add',
                    'depends': ['id'],
                    },
                })

    @classmethod
    def __register__(cls, module_name):
        if backend.name == 'postgresql':
            create_natural_order()
        super().__register__(module_name)

    @classmethod
    def order_code(cls, tables):
        table, _ = tables[None]
        return natural_order(table.code)

    @staticmethod
    def default_type():
        return 'residential'

    @staticmethod
    def default_status():
        return 'vacant'

    @fields.depends('building', '_parent_building.compound')
    def on_change_building(self):
        if self.building:
            self.compound = self.building.compound

    def get_rec_name(self, name):
        return self.code

    @classmethod
    def search_rec_name(cls, name, clause):
        """Search units by code as people type it: ``1-2-301``,
        ``1栋2单元301``, ``1-2-301室``. When the text is the whole code of
        a unit, only the units of that code match (typing ``1-2-301``
        never offers ``11-2-301`` or ``1-2-3012`` first); otherwise the
        codes containing it."""
        _, operator, operand, *extra = clause
        negative = operator.startswith(('!', 'not '))
        if operator.endswith('like'):
            core = _unlikify(operand)
            code = normalise_unit_code(core) if core else None
            if code:
                with Transaction().set_context(active_test=False):
                    exact = cls.search([('code', 'ilike', code)], limit=1)
                if exact:
                    return [('code', 'not ilike' if negative else 'ilike',
                            code)]
                operand = '%' + code + '%'
        elif operator in {'=', '!='}:
            operand = normalise_unit_code(operand) or operand
        elif operator in {'in', 'not in'} and operand:
            operand = [normalise_unit_code(o) or o for o in operand]
        return [('code', operator, operand, *extra)]

    @classmethod
    @ModelView.button_action('community_base.wizard_register_resident')
    def register_resident(cls, units):
        "Open the short form registering a resident of the unit."

    @classmethod
    def update_status(cls, units, date=None):
        """Set the status of ``units`` from their residencies active on
        ``date`` (default today), see ``status_from_roles``. Returns the
        units whose status changed."""
        Date = Pool().get('ir.date')
        date = date or Date.today()
        changed = {}
        for unit in cls.browse(units):
            roles = {r.role for r in unit.residencies if r.is_active(date)}
            status = status_from_roles(unit.status, roles)
            if status != unit.status:
                changed.setdefault(status, []).append(unit)
        with without_check_access():
            for status, records in changed.items():
                cls.write(records, {'status': status})
        return [u for records in changed.values() for u in records]

    @classmethod
    def update_status_cron(cls):
        """Scheduled action, daily: the status of the units whose
        residencies began or ended yesterday or today (a lease that ends,
        a tenant who moves in on a later date)."""
        pool = Pool()
        Date = pool.get('ir.date')
        Residency = pool.get('community.residency')
        today = Date.today()
        yesterday = today - dt.timedelta(days=1)
        residencies = Residency.search(['OR',
                ('start_date', 'in', [yesterday, today]),
                ('end_date', 'in', [yesterday - dt.timedelta(days=1),
                        yesterday]),
                ])
        return cls.update_status(list({r.unit for r in residencies}), today)

    @classmethod
    def get_area_at(cls, units, date):
        """Return {unit id: (gross, usable)} in force on ``date``.

        Values are Decimal m² or None when the unit had no area then.
        """
        result = {u.id: (None, None) for u in units}
        for unit in units:
            best = None
            for area in unit.areas:
                if area.effective_date <= date and (
                        best is None
                        or area.effective_date > best.effective_date):
                    best = area
            if best:
                result[unit.id] = (best.gross_area, best.usable_area)
        return result

    @classmethod
    def get_area(cls, units, names):
        pool = Pool()
        Date = pool.get('ir.date')
        date = Transaction().context.get('date') or Date.today()
        areas = cls.get_area_at(units, date)
        result = {}
        if 'gross_area' in names:
            result['gross_area'] = {i: a[0] for i, a in areas.items()}
        if 'usable_area' in names:
            result['usable_area'] = {i: a[1] for i, a in areas.items()}
        return result

    def area_periods(self, start, end):
        """Split [start, end] (inclusive dates) by area corrections.

        Returns a list of (from_date, to_date, gross_area, usable_area)
        covering the days on which the unit had an area; days before its
        first area are left out.
        """
        areas = sorted(self.areas, key=lambda a: a.effective_date)
        periods = []
        for i, area in enumerate(areas):
            frm = max(area.effective_date, start)
            to = end
            if i + 1 < len(areas):
                to = min(end, areas[i + 1].effective_date
                    - dt.timedelta(days=1))
            if frm <= to:
                periods.append((frm, to, area.gross_area, area.usable_area))
        return periods

    @classmethod
    def create(cls, vlist):
        Building = Pool().get('community.building')
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('building') and not values.get('compound'):
                values['compound'] = Building(values['building']).compound.id
        return super().create(vlist)

    @classmethod
    def validate_fields(cls, units, field_names):
        super().validate_fields(units, field_names)
        if field_names & {'building', 'entrance', 'compound'}:
            for unit in units:
                if unit.building.compound != unit.compound or (
                        unit.entrance
                        and unit.entrance.building != unit.building):
                    raise RegisterError(gettext(
                            'community_base.msg_unit_place_inconsistent',
                            unit=unit.rec_name))


class UnitArea(ModelSQL, ModelView):
    """Floor area of a unit from a date on (建筑面积/套内面积, m²).

    A correction is a new record with the date it applies from; earlier
    records are kept as history.
    """
    __name__ = 'community.unit.area'
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, ondelete='CASCADE')
    effective_date = fields.Date("Effective Date", required=True)
    gross_area = fields.Numeric(
        "Gross Floor Area", digits=(16, 2), required=True)
    usable_area = fields.Numeric("Usable Area", digits=(16, 2))
    note = fields.Char("Note", help="Reason of the correction.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('date_uniq', Unique(t, t.unit, t.effective_date),
                'community_base.msg_unit_area_date_unique'),
            ]
        cls._order[0:0] = [('unit', 'ASC'), ('effective_date', 'DESC')]
        cls.__access__.add('unit')

    @classmethod
    def validate_fields(cls, areas, field_names):
        super().validate_fields(areas, field_names)
        if field_names & {'gross_area', 'usable_area'}:
            for area in areas:
                if (area.gross_area <= 0 or (area.usable_area is not None
                            and not 0 < area.usable_area <= area.gross_area)):
                    raise RegisterError(gettext(
                            'community_base.msg_unit_area_invalid',
                            unit=area.unit.rec_name))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('community.unit|update_status_cron', "Update Unit Statuses"))
