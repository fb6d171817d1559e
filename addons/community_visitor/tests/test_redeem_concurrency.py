# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A single-use pass scanned at several gates at once lets exactly one
visitor in (four threads, four PostgreSQL connections, the database's
clock).

Its own test file: runtests.py runs it in its own process and database,
and the committed data of the test goes with the database at the end."""
import datetime as dt
import threading
import unittest

from trytond import backend
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
from trytond.transaction import Transaction

from .test_module import create_host

GATES = 4


class RedeemConcurrencyTestCase(unittest.TestCase):
    "Concurrent redeems of one visitor pass"

    @classmethod
    def setUpClass(cls):
        activate_module('community_visitor')

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def test_single_use_pass_at_four_gates(self):
        """Four gates redeem the same single-use pass at the same moment:
        one opens, the others refuse; uses never exceeds 1."""
        with Transaction().start(DB_NAME, 0) as transaction:
            Pass = Pool().get('community.visitor.pass')
            company = create_company()
            with set_company(company):
                compound, unit, owner = create_host(company=company)
                cursor = transaction.connection.cursor()
                cursor.execute(
                    "SELECT statement_timestamp() AT TIME ZONE 'UTC'")
                now, = cursor.fetchone()
                pass_, token = Pass.invite({'unit': unit.id,
                        'host': owner.id, 'visitor_name': "李四",
                        'start': now - dt.timedelta(hours=1),
                        'end': now + dt.timedelta(hours=1)})
            pass_id, compound_id = pass_.id, compound.id
            transaction.commit()

        barrier = threading.Barrier(GATES, timeout=60)
        results = []
        lock = threading.Lock()

        def gate():
            with Transaction().start(DB_NAME, 0) as transaction:
                Pass = Pool().get('community.visitor.pass')
                # every connection is open and has read before any redeems
                Pass.search([('id', '=', pass_id)])
                barrier.wait()
                try:
                    redeemed, reason = Pass.try_redeem(token, compound_id)
                    transaction.commit()
                    result = 'ok' if redeemed else reason
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
            set(results) - {'ok'} <= {'used', 'retry'}, True, results)

        with Transaction().start(DB_NAME, 0) as transaction:
            Pass = Pool().get('community.visitor.pass')
            pass_ = Pass(pass_id)
            self.assertEqual((pass_.uses, pass_.state), (1, 'used'))
            # a retried gate is told the pass is used
            self.assertEqual(
                Pass.try_redeem(token, compound_id), (None, 'used'))
