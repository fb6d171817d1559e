# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""How numbers are written for people (bill lines, receipts, exports…).

``str()`` of a Decimal may use exponent notation (``Decimal('310')
.normalize()`` is ``3.1E+2``): every Decimal shown to a person goes through
``format_decimal`` (quantities, prices, readings, shares) or
``format_money`` (amounts in CNY).
"""
from decimal import ROUND_HALF_UP, Decimal


def format_decimal(value, strip=True):
    """Fixed-point text of a Decimal, never in exponent notation.

    ``strip``: without trailing zeros (310.00 → '310', 2.50 → '2.5');
    else with the value's own decimals (89.50 → '89.50'). None → ''."""
    if value is None:
        return ''
    value = Decimal(value)
    if not value:
        value = Decimal(0)
    elif strip:
        value = value.normalize()
    return '{:f}'.format(value)


def format_money(value):
    "Amount in CNY with two decimals, rounded half-up: 310 → '310.00'."
    if value is None:
        return ''
    value = Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)
    return '{:f}'.format(value if value else Decimal('0.00'))
