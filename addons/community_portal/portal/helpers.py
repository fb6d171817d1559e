# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""How the pages show values: money, dates in the compound's time zone,
QR codes, masked numbers. One implementation each, used by every page
(they are the templates' filters and globals, see web.py)."""
import datetime as dt
import io
import re
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from markupsafe import Markup

from ..models import mask_email, mask_identifier, mask_mobile  # noqa: F401

DEFAULT_TIMEZONE = 'Asia/Shanghai'
CENT = Decimal('0.01')
# a plain number as typed in a form: digits, one decimal mark
PLAIN_NUMBER = re.compile(r'([0-9]{1,12})(?:[.,]([0-9]{1,6}))?')


def money(amount):
    "¥ and the amount with two decimals: ¥1234.50 (never 1.2E+3)."
    value = Decimal(amount or 0).quantize(CENT, rounding=ROUND_HALF_UP)
    return '¥%s' % format(value, 'f')


def decimal2(value):
    "A number with its two decimals, e.g. a meter reading 100.00."
    return format(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP),
        'f')


def localtime(value, compound=None):
    "A UTC timestamp in the compound's time zone: 2026-03-16 09:30."
    if not value:
        return ''
    tz = (getattr(compound, 'timezone', None) or DEFAULT_TIMEZONE)
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(tz))
        return value.strftime('%Y-%m-%d %H:%M')
    return value.isoformat()


def qr_svg(text):
    """An inline SVG (Markup) of the QR code of ``text`` (no style
    attribute: the pages' CSP has no 'unsafe-inline'). The qrcode library
    directly: trytond.tools.qrcode needs webcolors, not installed."""
    image = qrcode.make(
        text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode('utf-8')
    if svg.startswith('<?xml'):
        svg = svg[svg.index('?>') + 2:]
    return Markup(svg.strip())


def stars(value):
    return '★' * int(value or 0)


def parse_decimal(text):
    """Return the Decimal of a plain non-negative number typed in a form
    (``12``, ``12.5``, ``12,50``), else None: signs, exponents, ``NaN``,
    ``Infinity``, more than 12 integer or 6 decimal digits, anything else.
    """
    match = PLAIN_NUMBER.fullmatch((text or '').strip())
    if not match:
        return None
    integer, decimals = match.groups()
    return Decimal(integer + ('.' + decimals if decimals else ''))
