# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Each compound its own portal (专属小程序): name, logo, colour, the
services it offers in its order, notices and contact numbers, configured
by the staff in the back office without code."""
import hashlib
import io
import re

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields, sequence_ordered
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction

from .portal import i18n, nav

COLOUR = re.compile(r'#[0-9a-fA-F]{6}')
LOGO_MAX_SIZE = 512 * 1024


class PortalCompound(ModelSQL, ModelView):
    "Portal of a Compound"
    __name__ = 'community.portal.compound'
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='CASCADE')
    portal_name = fields.Char("Portal Name",
        help="The title of the portal's home page; the compound's name "
        "when empty.")
    logo = fields.Binary("Logo",
        help="A PNG or JPEG picture shown in the portal's header.")
    primary_colour = fields.Char("Primary Colour", size=7,
        help="The colour of the portal's header and buttons, e.g. #1F6FEB.")
    services = fields.One2Many('community.portal.compound.service',
        'portal', "Services",
        help="The services the portal offers, in their order; every "
        "service when empty.")
    notices = fields.Text("Home-Page Notices",
        help="One notice a line, shown on the home page.")
    contacts = fields.Text("Contact Numbers",
        help="One contact a line, e.g. 物业服务中心 0833-1234567.")
    # what the pages need of a compound's portal, by compound id: read
    # once, not on every request (cleared on any change)
    _settings_cache = Cache('community.portal.compound.settings',
        context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('compound_unique', Unique(t, t.compound),
                'community_portal.msg_portal_compound_unique'),
            ]

    @staticmethod
    def default_primary_colour():
        return '#1F6FEB'

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        for record in records:
            if (record.primary_colour
                    and not COLOUR.fullmatch(record.primary_colour)):
                raise ValidationError(gettext(
                        'community_portal.msg_portal_compound_colour',
                        colour=record.primary_colour))
            if record.logo and not _is_picture(record.logo):
                raise ValidationError(gettext(
                        'community_portal.msg_portal_compound_logo'))

    def get_rec_name(self, name):
        return self.portal_name or self.compound.rec_name

    @classmethod
    def get_settings(cls, compound):
        "The portal of ``compound`` as Settings, or None (cached)."
        values = cls._settings_cache.get(compound.id, -1)
        if values == -1:
            with Transaction().set_user(0), \
                    Transaction().set_context(_check_access=False):
                found = cls.search([('compound', '=', compound.id)],
                    limit=1)
                values = Settings.values(found[0]) if found else None
            cls._settings_cache.set(compound.id, values)
        return Settings(values) if values is not None else None

    @classmethod
    def create(cls, vlist):
        cls._settings_cache.clear()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        cls._settings_cache.clear()
        super().write(*args)

    @classmethod
    def delete(cls, records):
        cls._settings_cache.clear()
        super().delete(records)


class Settings:
    "What a page needs of a compound's portal."

    def __init__(self, values):
        self.__dict__.update(values)

    @staticmethod
    def values(record):
        "The values of Settings of ``record`` (cached by compound)."
        return {
            'id': record.id,
            'portal_name': record.portal_name or record.compound.name,
            'logo': bool(record.logo),
            'primary_colour': record.primary_colour,
            'notices': record.notices or '',
            'contacts': record.contacts or '',
            'nav_keys': ([s.key for s in record.services]
                if record.services else None),
            'brand_version': hashlib.sha256(repr((
                        record.primary_colour,
                        hashlib.sha256(record.logo or b'').hexdigest(),
                        )).encode()).hexdigest()[:12],
            }


def _is_picture(data):
    if len(data) > LOGO_MAX_SIZE:
        return False
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format in {'PNG', 'JPEG'}
    except (UnidentifiedImageError, OSError, ValueError):
        return False


class PortalCompoundService(sequence_ordered(), ModelSQL, ModelView):
    "Service of a Compound's Portal"
    __name__ = 'community.portal.compound.service'
    portal = fields.Many2One('community.portal.compound', "Portal",
        required=True, ondelete='CASCADE')
    key = fields.Selection('get_keys', "Service", required=True,
        help="A navigation entry of the portal (registered by the modules).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('key_unique', Unique(t, t.portal, t.key),
                'community_portal.msg_portal_compound_service_unique'),
            ]

    @classmethod
    def create(cls, vlist):
        PortalCompound._settings_cache.clear()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        PortalCompound._settings_cache.clear()
        super().write(*args)

    @classmethod
    def delete(cls, records):
        PortalCompound._settings_cache.clear()
        super().delete(records)

    @classmethod
    def get_keys(cls):
        "The residents' navigation entries, labelled in the user's language."
        lang = Transaction().language or i18n.DEFAULT_LANGUAGE
        lang = 'en' if lang.startswith('en') else i18n.DEFAULT_LANGUAGE
        return [(key, i18n.gettext(lang, label))
            for key, label in nav.nav_keys(nav.RESIDENT, Pool())
            if key != 'home']
