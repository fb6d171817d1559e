# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Vehicles (车辆) with licence plates per GA 36-2018, parking spaces
(车位)."""
import re

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval, If

from .exceptions import PlateError, RegisterError

# GA 36-2018: the province character (省级行政区简称) ...
PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼'
# ... the letter of the issuing authority, then the serial; the letters I
# and O are never used (they read as 1 and 0).
_L = 'A-HJ-NP-Z'
_PLATE = re.compile(
    r'^[%(p)s][%(l)s](?:'
    r'(?P<regular>[%(l)s0-9]{5})'
    r'|(?P<special>[%(l)s0-9]{4}[挂学警港澳领试超])'
    r'|(?P<small_ne>[DF][%(l)s0-9][0-9]{4})'
    r'|(?P<large_ne>[0-9]{5}[DF])'
    r')$' % {'p': PROVINCES, 'l': _L})
_SEPARATORS = re.compile(r'[\s·•.\-_]+')

PLATE_COLOURS = [
    (None, ''),
    ('blue', "Blue"),
    ('yellow', "Yellow"),
    ('green', "Green (new energy, small)"),
    ('yellow_green', "Yellow-green (new energy, large)"),
    ('white', "White"),
    ('black', "Black"),
    ]


def normalise_plate(plate):
    """Return the plate in upper case without spaces or separators.

    ``' 川l·12345 '`` → ``'川L12345'``; None stays None.
    """
    if plate is None:
        return None
    return _SEPARATORS.sub('', plate).upper()


def plate_kind(plate):
    """Return the kind of a normalised plate per GA 36-2018 or None.

    Kinds: ``'regular'`` (7 characters), ``'special'`` (4 + 挂/学/警/港/澳/
    领/试/超), ``'small_ne'`` (8 characters, new energy small: D/F, a letter
    or digit, 4 digits) and ``'large_ne'`` (8 characters, new energy large:
    5 digits then D/F). None when the plate is not valid.
    """
    if not plate:
        return None
    match = _PLATE.match(plate)
    if not match:
        return None
    return match.lastgroup


def is_valid_plate(plate):
    "Tell whether a (normalised or not) plate is valid per GA 36-2018."
    return plate_kind(normalise_plate(plate)) is not None


def default_plate_colour(plate):
    "Return the plate colour implied by the plate, or None."
    kind = plate_kind(normalise_plate(plate))
    return {
        'small_ne': 'green',
        'large_ne': 'yellow_green',
        }.get(kind)


class Vehicle(ModelSQL, ModelView):
    """Vehicle (车辆) of a resident, known by its licence plate.

    The plate is stored normalised (upper case, no spaces) and validated per
    GA 36-2018 including 8-character new-energy plates. ``colour`` is the
    plate colour of GA 36 (blue, yellow, green …).
    """
    __name__ = 'community.vehicle'
    _rec_name = 'plate'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    plate = fields.Char("Plate", required=True,
        help="Licence plate per GA 36-2018, e.g. 川L12345 or 川LD12345.")
    colour = fields.Selection(PLATE_COLOURS, "Plate Colour")
    owner = fields.Many2One('party.party', "Owner", ondelete='RESTRICT')
    units = fields.Many2Many(
        'community.vehicle-community.unit', 'vehicle', 'unit', "Units",
        domain=[('compound', '=', Eval('compound', -1))])
    description = fields.Char("Description", help="Brand, model, colour.")
    active = fields.Boolean("Active")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('plate_uniq', Unique(t, t.compound, t.plate),
                'community_base.msg_vehicle_plate_unique'),
            ]
        cls._order.insert(0, ('plate', 'ASC'))

    @staticmethod
    def default_active():
        return True

    @fields.depends('plate', 'colour')
    def on_change_plate(self):
        self.plate = normalise_plate(self.plate)
        colour = default_plate_colour(self.plate)
        if colour:
            self.colour = colour
        elif not self.colour and self.plate:
            self.colour = 'blue'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('plate'):
            values['plate'] = normalise_plate(values['plate'])
        if mode == 'create' and not values.get('colour') and values.get(
                'plate'):
            values['colour'] = (
                default_plate_colour(values['plate']) or 'blue')
        return values

    @classmethod
    def validate_fields(cls, vehicles, field_names):
        super().validate_fields(vehicles, field_names)
        if 'plate' in field_names:
            for vehicle in vehicles:
                if not plate_kind(vehicle.plate):
                    raise PlateError(gettext(
                            'community_base.msg_vehicle_plate_invalid',
                            plate=vehicle.plate))


class VehicleUnit(ModelSQL):
    "Vehicle - Unit"
    __name__ = 'community.vehicle-community.unit'
    vehicle = fields.Many2One(
        'community.vehicle', "Vehicle", required=True, ondelete='CASCADE')
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, ondelete='CASCADE')


class Unit(metaclass=PoolMeta):
    __name__ = 'community.unit'
    vehicles = fields.Many2Many(
        'community.vehicle-community.unit', 'unit', 'vehicle', "Vehicles",
        domain=[('compound', '=', Eval('compound', -1))])


PARKING_KINDS = [
    ('owned', "Owned"),
    ('leased', "Leased"),
    ('public', "Public"),
    ('temporary', "Temporary"),
    ]


class ParkingSpace(ModelSQL, ModelView):
    """Parking space (车位) of a compound.

    Owned (产权) and leased (租赁) spaces have a party: the owner or the
    lessee; public and temporary spaces have none.
    """
    __name__ = 'community.parking.space'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    code = fields.Char("Code", required=True,
        help="Unique within the compound, e.g. B1-023.")
    kind = fields.Selection(PARKING_KINDS, "Kind", required=True)
    party = fields.Many2One('party.party', "Owner or Lessee",
        ondelete='RESTRICT',
        states={
            'invisible': ~Eval('kind').in_(['owned', 'leased']),
            'required': Eval('kind').in_(['owned', 'leased']),
            })
    unit = fields.Many2One('community.unit', "Unit", ondelete='SET NULL',
        domain=[('compound', '=', Eval('compound', -1))],
        help="The unit the space belongs to, if any.")
    vehicle = fields.Many2One('community.vehicle', "Vehicle",
        ondelete='SET NULL',
        domain=[
            ('compound', '=', Eval('compound', -1)),
            If(Eval('party'), ('owner', '=', Eval('party', -1)), ()),
            ])
    area = fields.Numeric("Area (m²)", digits=(16, 2))
    active = fields.Boolean("Active")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_uniq', Unique(t, t.compound, t.code),
                'community_base.msg_parking_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @staticmethod
    def default_kind():
        return 'public'

    @staticmethod
    def default_active():
        return True

    def get_rec_name(self, name):
        return self.code

    @classmethod
    def validate_fields(cls, spaces, field_names):
        super().validate_fields(spaces, field_names)
        if field_names & {'kind', 'party'}:
            for space in spaces:
                if space.kind in {'public', 'temporary'} and space.party:
                    raise RegisterError(gettext(
                            'community_base.msg_parking_no_party',
                            space=space.rec_name))
