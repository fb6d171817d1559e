# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Refunds never exceed what was paid, also when two are approved at
once in two transactions (two threads, two PostgreSQL connections).

Its own test file: runtests.py runs it in its own process and database,
and the committed data of the test goes with the database at the end."""
import threading
import unittest
from decimal import Decimal

from trytond import backend
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.currency.tests import create_currency
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
from trytond.transaction import Transaction

from ..exceptions import PaymentError


def _paid_payment(amount):
    """Commit an Alipay online payment of ``amount`` marked paid, and two
    draft refunds of 60 % of it each; return their ids."""
    pool = Pool()
    Compound = pool.get('community.compound')
    Building = pool.get('community.building')
    Unit = pool.get('community.unit')
    Party = pool.get('party.party')
    Merchant = pool.get('community.payment.merchant')
    Payment = pool.get('community.payment.online')
    Refund = pool.get('community.payment.online.refund')
    company = create_company(currency=create_currency('CNY'))
    with set_company(company):
        compound = Compound(name="并发小区", code='BF', company=company,
            service_grade='2')
        compound.save()
        building = Building(compound=compound, code='1', name="1栋")
        building.save()
        unit = Unit(building=building, code='1-101')
        unit.save()
        party = Party(name="赵六")
        party.save()
        merchant = Merchant(name="支付宝", company=company,
            provider='alipay', app_id='2021000000000009',
            provider_public_key='-', notify_url='https://example.com/n')
        merchant.save()
        payment = Payment(compound=compound, unit=unit, party=party,
            merchant=merchant, provider='alipay', description="预存",
            amount=amount, state='paid', transaction_id='2026')
        payment.save()
        refunds = Refund.create([{
                    'payment': payment.id, 'reason': "重复支付",
                    'amount': amount * Decimal('0.6')} for _ in range(2)])
    return company.id, payment.id, [r.id for r in refunds]


class RefundConcurrencyTestCase(unittest.TestCase):
    "Concurrent refunds of one online payment"

    @classmethod
    def setUpClass(cls):
        activate_module('community_payment')

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def test_refund_concurrent_approvals(self):
        """Two refunds of 60.00 of a 100.00 payment approved at once in two
        transactions: one passes, the other fails; never 120.00."""
        with Transaction().start(DB_NAME, 0) as transaction:
            company, payment_id, refund_ids = _paid_payment(Decimal('100'))
            transaction.commit()

        barrier = threading.Barrier(2, timeout=60)
        results, seen = {}, {}

        def approve(refund_id):
            with Transaction().start(DB_NAME, 0,
                    context={'company': company}) as transaction:
                pool = Pool()
                Refund = pool.get('community.payment.online.refund')
                refund = Refund(refund_id)
                # both snapshots are taken before either approves
                seen[refund_id] = refund.payment.refunded_amount
                barrier.wait()
                try:
                    Refund.approve([refund])
                    transaction.commit()
                    results[refund_id] = 'approved'
                except (PaymentError,
                        backend.DatabaseOperationalError) as exception:
                    transaction.rollback()
                    results[refund_id] = type(exception).__name__

        threads = [threading.Thread(target=approve, args=(i,))
            for i in refund_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual(sorted(seen.values()), [Decimal(0)] * 2)
        self.assertEqual(list(results.values()).count('approved'), 1)

        with Transaction().start(DB_NAME, 0,
                context={'company': company}) as transaction:
            pool = Pool()
            Payment = pool.get('community.payment.online')
            Refund = pool.get('community.payment.online.refund')
            payment = Payment(payment_id)
            self.assertEqual(payment.refunded_amount, Decimal('60.00'))
            self.assertEqual(
                sorted(r.state for r in Refund.browse(refund_ids)),
                ['approved', 'draft'])
            # the loser approved again (trytond retries a request that
            # failed to serialize): refused, with the amount left
            loser, = [r for r in Refund.browse(refund_ids)
                if r.state == 'draft']
            with self.assertRaises(PaymentError) as cm:
                Refund.approve([loser])
            self.assertIn('40.00', cm.exception.message)
            # the last guard: the database refuses more than was paid
            table = Payment.__table__()
            cursor = transaction.connection.cursor()
            with self.assertRaises(backend.DatabaseIntegrityError):
                cursor.execute(*table.update(
                        [table.refunded_amount], [Decimal('100.01')],
                        where=table.id == payment_id))
            transaction.rollback()

