# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from ..exceptions import ReleaseError, SlipError
from ..goods_slip import hash_token

SHANGHAI = ZoneInfo('Asia/Shanghai')


def create_unit(code='JZHY', name="嘉州花园", company=None):
    """A compound with a unit, its owner and a tenant; return (compound,
    unit, owner, tenant)."""
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
    owner, tenant = Party.create([{'name': "王五"}, {'name': "赵六"}])
    Residency.create([{'unit': unit.id, 'party': owner.id,
                'role': 'owner', 'share': Decimal(100),
                'start_date': dt.date(2020, 1, 1)}, {
                'unit': unit.id, 'party': tenant.id, 'role': 'tenant',
                'start_date': dt.date(2020, 1, 1)}])
    return compound, unit, owner, tenant


def utc(day, hour, minute=0):
    "Naive UTC of a local time in Shanghai."
    return (dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI)
        .astimezone(dt.UTC).replace(tzinfo=None))


class CommunityReleaseTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_release module"
    module = 'community_release'
    extras = ['community_billing', 'community_notification']

    def slip(self, unit, applicant, start=dt.date(2026, 12, 3), days=1,
            items=(("冰箱", 1), ("纸箱", 3))):
        Slip = Pool().get('community.release.goods_slip')
        slip, = Slip.create([{'unit': unit.id, 'applicant': applicant.id,
                    'start': start, 'end': start + dt.timedelta(days=days),
                    'lines': [('create', [{'item': i, 'quantity': q}
                                for i, q in items])]}])
        return slip

    def approved(self, slip):
        "Submit and approve ``slip`` (an owner's); return its token."
        Slip = Pool().get('community.release.goods_slip')
        Slip.submit([slip])
        Slip.approve([slip])
        return Slip.issue_tokens([slip])[slip.id]

    @with_transaction()
    def test_relation_from_residency(self):
        "The relation is the applicant's role in the unit; others refused"
        pool = Pool()
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            compound, unit, owner, tenant = create_unit(company=company)
            self.assertEqual(self.slip(unit, owner).relation, 'owner')
            slip = self.slip(unit, tenant)
            self.assertEqual(
                (slip.relation, slip.compound, slip.state),
                ('tenant', compound, 'draft'))
            stranger, = Party.create([{'name': "路人"}])
            with self.assertRaises(SlipError):
                self.slip(unit, stranger)
            # the tenant's residency starts later: not yet a resident
            with self.assertRaises(SlipError):
                self.slip(unit, tenant, start=dt.date(2019, 12, 31))

    @with_transaction()
    def test_tenant_needs_owner(self):
        "A tenant's slip is approved by an owner first, then the property"
        Slip = Pool().get('community.release.goods_slip')
        company = create_company()
        with set_company(company):
            compound, unit, owner, tenant = create_unit(company=company)
            slip = self.slip(unit, tenant)
            Slip.submit([slip])
            with self.assertRaises(SlipError):
                Slip.approve([slip])
            with self.assertRaises(SlipError):
                Slip.owner_approve([slip], tenant)
            Slip.owner_approve([slip], owner)
            self.assertEqual((slip.state, slip.owner_approved_by),
                ('owner_ok', owner))
            Slip.approve([slip])
            self.assertEqual(slip.state, 'approved')
            # an owner's own slip needs no owner approval
            own = self.slip(unit, owner)
            Slip.submit([own])
            with self.assertRaises(SlipError):
                Slip.owner_approve([own], owner)
            Slip.approve([own])
            self.assertEqual(own.state, 'approved')
            # an empty slip is not submitted
            empty = self.slip(unit, owner, items=())
            with self.assertRaises(SlipError):
                Slip.submit([empty])

    @with_transaction()
    def test_token_hashed(self):
        "The token has 192 bits, only its hash is kept; a new one replaces"
        Slip = Pool().get('community.release.goods_slip')
        company = create_company()
        with set_company(company):
            compound, unit, owner, _ = create_unit(company=company)
            slip = self.slip(unit, owner)
            with self.assertRaises(SlipError):
                Slip.issue_tokens([slip])
            token = self.approved(slip)
            self.assertGreaterEqual(len(token), 32)
            self.assertEqual(slip.token_hash, hash_token(token))
            self.assertNotIn(token, str(Slip.read([slip.id],
                        [f for f in Slip._fields if f != 'arrears'])))
            new = Slip.issue_tokens([slip])[slip.id]
            at = utc(dt.date(2026, 12, 3), 9)
            with self.assertRaises(ReleaseError) as cm:
                Slip.redeem(token, compound, at=at)
            self.assertEqual(cm.exception.reason, 'unknown')
            self.assertEqual(Slip.redeem(new, compound, at=at), slip)

    @with_transaction()
    def test_redeem_reasons(self):
        "Each refusal of the gate gives its own reason, on local days"
        Slip = Pool().get('community.release.goods_slip')
        company = create_company()
        with set_company(company):
            compound, unit, owner, tenant = create_unit(company=company)
            other, _, _, _ = create_unit('FHXQ', "凤凰小区", company=company)
            day = dt.date(2026, 12, 3)
            slip = self.slip(unit, owner, start=day, days=2)
            token = self.approved(slip)

            def reason(token, compound, at):
                with self.assertRaises(ReleaseError) as cm:
                    Slip.redeem(token, compound, at=at)
                return cm.exception.reason

            # 23:59 the day before in Shanghai is 15:59 UTC
            self.assertEqual(reason(token, compound,
                    utc(day - dt.timedelta(days=1), 23, 59)), 'not_yet')
            self.assertEqual(reason(token, compound,
                    utc(day + dt.timedelta(days=2), 0)), 'expired')
            self.assertEqual(reason(token, other, utc(day, 9)), 'unknown')
            self.assertEqual(
                reason(token + 'x', compound, utc(day, 9)), 'unknown')
            # the last minute of the window (local) releases
            self.assertEqual(Slip.release(token, compound.id,
                    {slip.lines[0].id: 1, slip.lines[1].id: 2},
                    at=utc(day + dt.timedelta(days=1), 23, 59)), slip)
            slip = Slip(slip.id)
            self.assertEqual(slip.state, 'released')
            self.assertEqual(
                [(line.item, line.quantity, line.released_quantity)
                    for line in slip.lines],
                [("冰箱", 1, 1), ("纸箱", 3, 2)])
            self.assertEqual(slip.release_date, '2026-12-04 23:59')
            self.assertEqual(reason(token, compound, utc(day, 10)),
                'released')

            waiting = self.slip(unit, tenant, start=day)
            Slip.submit([waiting])
            table = Slip.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update([table.token_hash],
                    [hash_token('waiting-token')],
                    where=table.id == waiting.id))
            self.assertEqual(reason('waiting-token', compound, utc(day, 9)),
                'not_approved')

            # the database's clock, in the compound's calendar: a slip of
            # ten days ahead is not valid yet, one ended yesterday expired
            today = dt.datetime.now(SHANGHAI).date()
            ahead = self.slip(unit, owner, start=today + dt.timedelta(days=10))
            self.assertEqual(reason(self.approved(ahead), compound, None),
                'not_yet')
            ended = self.slip(unit, owner, start=today - dt.timedelta(days=3),
                days=3)
            self.assertEqual(reason(self.approved(ended), compound, None),
                'expired')
            current = self.slip(unit, owner, start=today)
            self.assertEqual(
                Slip.redeem(self.approved(current), compound), current)

    @with_transaction()
    def test_client_cannot_create_approved(self):
        "A client creates drafts: state, relation, approvers are ignored"
        Slip = Pool().get('community.release.goods_slip')
        company = create_company()
        with set_company(company):
            compound, unit, owner, tenant = create_unit(company=company)
            with Transaction().set_context(_check_access=True):
                slip, = Slip.create([{'unit': unit.id,
                            'applicant': tenant.id,
                            'start': dt.date(2026, 12, 3),
                            'end': dt.date(2026, 12, 4),
                            'state': 'approved', 'relation': 'owner',
                            'approved_by': 1, 'token_hash': 'x' * 64}])
            self.assertEqual(
                (slip.state, slip.relation, slip.approved_by,
                    slip.token_hash),
                ('draft', 'tenant', None, None))

    @with_transaction()
    def test_expire(self):
        "Open slips whose window ended in the local calendar expire"
        pool = Pool()
        Slip = pool.get('community.release.goods_slip')
        Residency = pool.get('community.residency')
        company = create_company()
        with set_company(company):
            compound, unit, owner, _ = create_unit(company=company)
            today = dt.datetime.now(SHANGHAI).date()
            Residency.write(Residency.search([]),
                {'start_date': today - dt.timedelta(days=30)})
            old = self.slip(unit, owner, start=today - dt.timedelta(days=2),
                days=2)
            self.approved(old)
            current = self.slip(unit, owner, start=today)
            self.approved(current)
            draft = self.slip(unit, owner,
                start=today - dt.timedelta(days=3))
            for _ in range(2):
                Slip.expire()
                self.assertEqual(
                    [s.state for s in Slip.browse(
                            [old.id, current.id, draft.id])],
                    ['expired', 'approved', 'draft'])

    @with_transaction()
    def test_arrears_warning_never_blocks(self):
        "The unit's arrears are shown on the slip but never block it"
        from trytond.modules.community_billing.tests.tools import (
            bill_month, billing_company, owned_unit)
        pool = Pool()
        Slip = pool.get('community.release.goods_slip')
        Bill = pool.get('community.bill')
        with billing_company() as (company, compound, building, items):
            owner, unit = owned_unit(
                building, '3-1-501', Decimal('100.00'), "周九")
            bill_month(compound, 2026, 3)
            # a unit bought since: no bill
            newcomer, other = owned_unit(
                building, '3-1-502', Decimal('100.00'), "吴十")
            bill, = Bill.search([('unit', '=', unit.id)])
            self.assertTrue(bill.overdue)
            day = dt.date(2026, 12, 3)
            slip = self.slip(unit, owner, start=day)
            self.assertEqual(slip.arrears, bill.amount_to_pay)
            self.assertGreater(slip.arrears, 0)
            token = self.approved(slip)
            self.assertEqual(
                Slip.release(token, compound, at=utc(day, 9)).state,
                'released')
            self.assertIsNone(self.slip(other, newcomer, start=day).arrears)


del ModuleTestCase
