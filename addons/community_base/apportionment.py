# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Common-area apportionment (公摊) by the largest remainder method."""
from decimal import ROUND_DOWN, Decimal

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
