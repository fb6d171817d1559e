# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Residents are parties: resident ID numbers (GB 11643-1999) and mobiles."""
import datetime as dt
import re

from stdnum.iso7064 import mod_11_2

from trytond.i18n import gettext
from trytond.model import fields
from trytond.modules.party.exceptions import InvalidIdentifierCode
from trytond.pool import PoolMeta

try:
    import phonenumbers
except ImportError:
    phonenumbers = None

# Province-level codes (GB/T 2260) that appear as the first two digits of
# resident ID numbers; 83 is used for residence permits of Taiwan
# residents. Lower levels are not checked: IDs keep the area codes of their
# first registration even after the county was abolished or renumbered.
PROVINCE_CODES = {
    '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34',
    '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52',
    '53', '54', '61', '62', '63', '64', '65', '71', '81', '82', '83', '91',
    }
_RIC = re.compile(r'^(\d{17}[0-9X]|\d{15})$')


def compact_resident_id(number):
    "Return the ID number without spaces, the check character upper case."
    return re.sub(r'[\s\-]', '', number or '').upper()


def check_resident_id(number, today=None):
    """Validate a resident ID number (居民身份证号码) per GB 11643-1999.

    Accepts the 18-character number: 6-digit area code, birth date
    YYYYMMDD, 3-digit sequence and the ISO 7064 MOD 11-2 check character
    (``X`` for 10); and the legacy 15-digit number (area, YYMMDD of the
    1900s, sequence; no check character). The area code is checked only at
    province level so that codes of counties abolished later are accepted
    (python-stdnum rejects them). The birth date must be a real date, not in
    the future (relative to ``today``, default ``datetime.date.today()``).

    Returns the compact number; raises ValueError with a short English
    reason otherwise.
    """
    number = compact_resident_id(number)
    if not _RIC.match(number):
        raise ValueError("must be 18 characters (17 digits and a digit or X) "
            "or 15 digits")
    if number[:2] not in PROVINCE_CODES:
        raise ValueError("unknown province code %s" % number[:2])
    if len(number) == 18:
        date = number[6:14]
    else:
        date = '19' + number[6:12]
    try:
        birth = dt.date(int(date[:4]), int(date[4:6]), int(date[6:8]))
    except ValueError:
        raise ValueError("impossible birth date %s" % date)
    if birth > (today or dt.date.today()) or birth.year < 1850:
        raise ValueError("birth date %s out of range" % birth.isoformat())
    if len(number) == 18 and not mod_11_2.is_valid(number):
        raise ValueError("wrong check character")
    return number


def is_valid_resident_id(number, today=None):
    "Tell whether number is a valid resident ID number (see check)."
    try:
        check_resident_id(number, today=today)
    except ValueError:
        return False
    return True


def mask(value, keep=4, head=None):
    """Mask a sensitive value, keeping its last ``keep`` characters.

    ``head`` leading characters are kept too (default: 4 for long values
    such as ID numbers, 3 for mobiles), e.g. ``5111**********1234`` and
    ``138****5678``. Empty values stay as they are.
    """
    if not value:
        return value
    if head is None:
        head = 4 if len(value) > 11 else 3
    if len(value) <= keep + head:
        return '*' * max(len(value) - keep, 0) + value[-keep:]
    return value[:head] + '*' * (len(value) - keep - head) + value[-keep:]


def compact_mobile(value):
    """Return a Chinese mobile number in E.164 (+8613800138000) or None.

    Parsed with phonenumbers in region CN; None when not a valid mobile.
    """
    if not value or not phonenumbers:
        return None
    try:
        number = phonenumbers.parse(str(value).strip(), 'CN')
    except phonenumbers.NumberParseException:
        return None
    if (not phonenumbers.is_valid_number(number)
            or phonenumbers.number_type(number) not in {
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}):
        return None
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164)


def format_mobile(value):
    "Return an E.164 number in international format (+86 138 0013 8000)."
    if not phonenumbers:
        return value
    return phonenumbers.format_number(phonenumbers.parse(value),
        phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class Identifier(metaclass=PoolMeta):
    __name__ = 'party.identifier'
    code_masked = fields.Function(fields.Char("Code"), 'get_code_masked')

    def get_code_masked(self, name):
        return mask(self.code)

    @fields.depends('type', 'code')
    def on_change_with_code(self):
        if self.type == 'cn_ric':
            return compact_resident_id(self.code) or self.code
        return super().on_change_with_code()

    @fields.depends('type', 'party', 'code')
    def check_code(self):
        if self.type == 'cn_ric':
            try:
                check_resident_id(self.code)
            except ValueError:
                if self.party and self.party.id > 0:
                    party = self.party.rec_name
                else:
                    party = ''
                raise InvalidIdentifierCode(
                    gettext('party.msg_invalid_code',
                        type=self.type_string,
                        code=self.code,
                        party=party))
        else:
            super().check_code()

    @classmethod
    def preprocess_values(cls, mode, values):
        if values.get('type') == 'cn_ric' and values.get('code'):
            values = values.copy()
            values['code'] = compact_resident_id(values['code'])
        return super().preprocess_values(mode, values)


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'
    value_masked = fields.Function(fields.Char("Value"), 'get_value_masked')

    def get_value_masked(self, name):
        if self.type in {'phone', 'mobile', 'fax'}:
            value = (self.value_compact or self.value or '')
            if value.startswith('+86'):
                value = value[3:]
            return mask(value)
        return self.value

    @fields.depends('party')
    def _phone_country_codes(self):
        yield from super()._phone_country_codes()
        yield 'CN'

    @fields.depends(methods=['_phone_country_codes'])
    def _parse_phonenumber(self, value):
        # An international number (+86…) needs no country: skip reading the
        # party's addresses, which costs a query per mechanism in imports.
        if phonenumbers and value and value.strip().startswith('+'):
            try:
                number = phonenumbers.parse(value)
            except phonenumbers.NumberParseException:
                pass
            else:
                if phonenumbers.is_valid_number(number):
                    return number
        return super()._parse_phonenumber(value)


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'
    community_residencies = fields.One2Many(
        'community.residency', 'party', "Residencies", readonly=True,
        help="The units this party owns, rents or lives in.")
