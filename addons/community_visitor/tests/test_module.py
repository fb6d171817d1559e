# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from decimal import Decimal

from trytond import backend
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from ..exceptions import PassError, RedeemError
from ..visitor import hash_token


def create_host(code='JZHY', name="嘉州花园", company=None):
    """A compound with a unit and its owner; return (compound, unit,
    owner)."""
    pool = Pool()
    Party = pool.get('party.party')
    Compound = pool.get('community.compound')
    Building = pool.get('community.building')
    Unit = pool.get('community.unit')
    Residency = pool.get('community.residency')
    compound, = Compound.create([{'company': company.id,
                'code': code, 'name': name}])
    building, = Building.create([{'compound': compound.id,
                'code': '1', 'name': "1栋"}])
    unit, = Unit.create([{'building': building.id, 'code': '1-2-301'}])
    owner, = Party.create([{'name': "王五"}])
    Residency.create([{'unit': unit.id, 'party': owner.id,
                'role': 'owner', 'share': Decimal(100),
                'start_date': dt.date(2020, 1, 1)}])
    return compound, unit, owner


class CommunityVisitorTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_visitor module"
    module = 'community_visitor'

    @with_transaction()
    def test_token_hashed(self):
        "The token has at least 128 bits; only its SHA-256 hash is kept"
        Pass = Pool().get('community.visitor.pass')
        company = create_company()
        with set_company(company):
            compound, unit, owner = create_host(company=company)
            start = dt.datetime(2026, 12, 3, 6, 0)
            pass_, token = Pass.invite({'unit': unit.id, 'host': owner.id,
                    'visitor_name': "李四", 'visitor_phone': '13800000000',
                    'start': start, 'end': start + dt.timedelta(hours=4)})
            self.assertEqual(pass_.state, 'active')
            self.assertEqual(pass_.compound, compound)
            self.assertEqual(pass_.early_minutes, 30)
            self.assertGreaterEqual(len(token), 22)  # 16 bytes base64
            self.assertEqual(pass_.token_hash, hash_token(token))
            self.assertEqual(len(pass_.token_hash), 64)
            self.assertNotIn(token, str(Pass.read([pass_.id],
                        [f for f in Pass._fields
                            if not f.endswith('_local')])))
            # 14:00 in Shanghai is 06:00 UTC
            self.assertEqual(
                (pass_.start_local, pass_.end_local),
                ('2026-12-03 14:00', '2026-12-03 18:00'))

    @with_transaction()
    def test_redeem_reasons(self):
        "Each refusal of the gate gives its own reason"
        Pass = Pool().get('community.visitor.pass')
        company = create_company()
        with set_company(company):
            compound, unit, owner = create_host(company=company)
            other, _, _ = create_host('FHXQ', "凤凰小区", company=company)
            start = dt.datetime(2026, 12, 3, 6, 0)
            end = start + dt.timedelta(hours=4)
            values = {'unit': unit.id, 'host': owner.id,
                'visitor_name': "李四", 'start': start, 'end': end}
            pass_, token = Pass.invite(values)
            minute = dt.timedelta(minutes=1)

            def reason(token, compound, at):
                with self.assertRaises(RedeemError) as cm:
                    Pass.redeem(token, compound, at=at)
                return cm.exception.reason

            self.assertEqual(
                reason(token, compound, start - 31 * minute), 'not_yet')
            self.assertEqual(reason(token, compound, end), 'expired')
            self.assertEqual(
                reason(token, other, start + minute), 'unknown')
            self.assertEqual(
                reason(token + 'x', compound, start + minute), 'unknown')
            # the early allowance: 30 minutes before the start is in
            self.assertEqual(
                Pass.redeem(token, compound.id, at=start - 30 * minute),
                pass_)
            pass_ = Pass(pass_.id)
            self.assertEqual((pass_.uses, pass_.state), (1, 'used'))
            self.assertEqual(
                reason(token, compound, start + minute), 'used')

            twice, token2 = Pass.invite(dict(values, uses_allowed=2))
            Pass.redeem(token2, compound, at=start)
            self.assertEqual(Pass(twice.id).state, 'active')
            Pass.redeem(token2, compound, at=end - minute)
            self.assertEqual(
                (Pass(twice.id).uses, Pass(twice.id).state), (2, 'used'))
            self.assertEqual(reason(token2, compound, start), 'used')

            revoked, token3 = Pass.invite(values)
            Pass.revoke([revoked])
            self.assertEqual(reason(token3, compound, start), 'revoked')

            # the database's clock: a pass of 2026-12-03 is not valid
            # before (the tests run before that day) or has expired
            late, token4 = Pass.invite(values)
            cursor = Transaction().connection.cursor()
            cursor.execute("SELECT statement_timestamp() AT TIME ZONE 'UTC'")
            now, = cursor.fetchone()
            self.assertEqual(reason(token4, compound, None),
                'not_yet' if now < start else 'expired')

    @with_transaction()
    def test_uses_check_constraint(self):
        "The database refuses more entries than the pass allows"
        Pass = Pool().get('community.visitor.pass')
        company = create_company()
        with set_company(company):
            compound, unit, owner = create_host(company=company)
            start = dt.datetime(2026, 12, 3, 6, 0)
            pass_, _ = Pass.invite({'unit': unit.id, 'host': owner.id,
                    'visitor_name': "李四", 'start': start,
                    'end': start + dt.timedelta(hours=4)})
            table = Pass.__table__()
            cursor = Transaction().connection.cursor()
            with self.assertRaises(backend.DatabaseIntegrityError):
                cursor.execute(*table.update([table.uses], [2],
                        where=table.id == pass_.id))

    @with_transaction()
    def test_client_cannot_create_issued(self):
        "A client creates drafts: state, entries used, approver are ignored"
        pool = Pool()
        Pass = pool.get('community.visitor.pass')
        company = create_company()
        with set_company(company):
            compound, unit, owner = create_host(company=company)
            start = dt.datetime(2026, 12, 3, 6, 0)
            with Transaction().set_context(_check_access=True):
                pass_, = Pass.create([{'unit': unit.id, 'host': owner.id,
                            'visitor_name': "李四", 'start': start,
                            'end': start + dt.timedelta(hours=4),
                            'state': 'active', 'uses': 1,
                            'approved_by': 1, 'token_hash': 'x' * 64}])
            self.assertEqual(
                (pass_.state, pass_.uses, pass_.approved_by,
                    pass_.token_hash),
                ('draft', 0, None, None))

    @with_transaction()
    def test_host_must_be_resident(self):
        "Only a resident of the unit can invite"
        pool = Pool()
        Pass = pool.get('community.visitor.pass')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            compound, unit, owner = create_host(company=company)
            stranger, = Party.create([{'name': "路人"}])
            start = dt.datetime(2026, 12, 3, 6, 0)
            with self.assertRaises(PassError):
                Pass.create([{'unit': unit.id, 'host': stranger.id,
                            'visitor_name': "李四", 'start': start,
                            'end': start + dt.timedelta(hours=4)}])

    @with_transaction()
    def test_anonymise_ended(self):
        "Passes ended beyond the retention period lose name, phone, plate"
        Pass = Pool().get('community.visitor.pass')
        company = create_company()
        with set_company(company):
            compound, unit, owner = create_host(company=company)
            now = dt.datetime.utcnow().replace(microsecond=0)
            values = {'unit': unit.id, 'host': owner.id,
                'visitor_name': "李四", 'visitor_phone': '13800000000',
                'plate': '川L12345'}
            old, _ = Pass.invite(dict(values,
                    start=now - dt.timedelta(days=32),
                    end=now - dt.timedelta(days=31)))
            recent, _ = Pass.invite(dict(values,
                    start=now - dt.timedelta(days=3),
                    end=now - dt.timedelta(days=2)))
            for _ in range(2):  # rerunnable
                Pass.anonymise_ended()
                old, recent = Pass.browse([old.id, recent.id])
                self.assertEqual(
                    (old.visitor_name, old.visitor_phone, old.plate,
                        old.anonymised, old.state),
                    ('*', None, None, True, 'expired'))
                self.assertEqual(
                    (recent.visitor_name, recent.visitor_phone,
                        recent.plate, recent.anonymised, recent.state),
                    ("李四", '13800000000', '川L12345', False, 'expired'))


del ModuleTestCase
