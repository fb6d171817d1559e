# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""What a unit owes and holds, on its form (待缴, 预存余额), and the
links from a unit to its bills, payments, prepayments and late fees."""
from collections import defaultdict
from decimal import Decimal

from trytond.model import fields
from trytond.pool import Pool, PoolMeta


class Unit(metaclass=PoolMeta):
    __name__ = 'community.unit'
    amount_due = fields.Function(fields.Numeric(
            "Amount Due", digits=(16, 2),
            help="Open amount of the unit's posted bills."),
        'get_billing_amounts')
    prepayment_balance = fields.Function(fields.Numeric(
            "Prepayment Balance", digits=(16, 2),
            help="Prepaid balance of the unit's current owners, tenants "
            "and payers."),
        'get_billing_amounts')

    @classmethod
    def get_billing_amounts(cls, units, names):
        pool = Pool()
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        Residency = pool.get('community.residency')
        result = {n: {u.id: Decimal(0) for u in units} for n in names}
        ids = [u.id for u in units]
        if 'amount_due' in names:
            bills = Bill.search([
                    ('unit', 'in', ids),
                    ('payment_state', 'in', ['unpaid', 'partial']),
                    ])
            for bill in bills:
                result['amount_due'][bill.unit.id] += bill.amount_to_pay
        if 'prepayment_balance' in names:
            parties = defaultdict(set)
            for residency in Residency.search([
                        ('unit', 'in', ids),
                        ('active', '=', True),
                        ['OR',
                            ('role', 'in', ['owner', 'tenant']),
                            ('payer', '=', True),
                            ],
                        ]):
                parties[residency.unit.id].add(residency.party)
            balances = Payment.prepayment_balances(
                list({p for s in parties.values() for p in s}))
            for unit_id, unit_parties in parties.items():
                result['prepayment_balance'][unit_id] = sum(
                    (balances.get(p.id, Decimal(0)) for p in unit_parties),
                    Decimal(0))
        return result
