# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A goods release slip scanned at several gates at once is released
exactly once (four threads, four PostgreSQL connections, the database's
clock).

Its own test file: runtests.py runs it in its own process and database,
and the committed data of the test goes with the database at the end."""
import datetime as dt
import threading
import unittest
from zoneinfo import ZoneInfo

from trytond import backend
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
from trytond.transaction import Transaction

from .test_module import create_unit

GATES = 4


class RedeemConcurrencyTestCase(unittest.TestCase):
    "Concurrent releases of one goods slip"

    @classmethod
    def setUpClass(cls):
        activate_module('community_release')

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def test_slip_released_once_at_four_gates(self):
        """Four gates release the same slip at the same moment: one
        releases, the others are told it was released already."""
        with Transaction().start(DB_NAME, 0) as transaction:
            Slip = Pool().get('community.release.goods_slip')
            company = create_company()
            with set_company(company):
                compound, unit, owner, _ = create_unit(company=company)
                today = dt.datetime.now(ZoneInfo('Asia/Shanghai')).date()
                slip, = Slip.create([{'unit': unit.id,
                            'applicant': owner.id, 'start': today,
                            'end': today + dt.timedelta(days=1),
                            'lines': [('create', [{
                                            'item': "冰箱", 'quantity': 1}])],
                            }])
                Slip.submit([slip])
                Slip.approve([slip])
                token = Slip.issue_tokens([slip])[slip.id]
            slip_id, compound_id = slip.id, compound.id
            transaction.commit()

        barrier = threading.Barrier(GATES, timeout=60)
        results = []
        lock = threading.Lock()

        def gate():
            with Transaction().start(DB_NAME, 0) as transaction:
                Slip = Pool().get('community.release.goods_slip')
                # every connection is open and has read before any release
                Slip.search([('id', '=', slip_id)])
                barrier.wait()
                try:
                    released, reason = Slip.try_redeem(token, compound_id)
                    transaction.commit()
                    result = 'ok' if released else reason
                except backend.DatabaseOperationalError:
                    # the concurrent update won: trytond retries the call
                    transaction.rollback()
                    result = 'retry'
            with lock:
                results.append(result)

        threads = [threading.Thread(target=gate) for _ in range(GATES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual(len(results), GATES)
        self.assertEqual(results.count('ok'), 1, results)
        self.assertEqual(
            set(results) - {'ok'} <= {'released', 'retry'}, True, results)

        with Transaction().start(DB_NAME, 0) as transaction:
            Slip = Pool().get('community.release.goods_slip')
            self.assertEqual(Slip(slip_id).state, 'released')
            # a retried gate is told the goods were released
            self.assertEqual(
                Slip.try_redeem(token, compound_id), (None, 'released'))
