# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""With community_billing: the arrears of the slip's unit, shown to the
guard as a warning only (民法典 第944条: arrears never stop a release)."""
from decimal import Decimal

from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access


class GoodsSlip(metaclass=PoolMeta):
    __name__ = 'community.release.goods_slip'

    @classmethod
    def get_arrears(cls, slips, name):
        """What the unit of each slip owes on its overdue posted bills
        (None when nothing)."""
        Bill = Pool().get('community.bill')
        result = {s.id: None for s in slips}
        units = {s.unit.id for s in slips}
        if not units:
            return result
        with without_check_access():
            bills = Bill.search([
                    ('unit', 'in', list(units)),
                    ('state', '=', 'posted'),
                    ('overdue', '=', True),
                    ])
            owed = {}
            for bill in bills:
                owed[bill.unit.id] = (owed.get(bill.unit.id, Decimal(0))
                    + (bill.amount_to_pay or Decimal(0)))
        for slip in slips:
            amount = owed.get(slip.unit.id)
            result[slip.id] = amount if amount and amount > 0 else None
        return result
