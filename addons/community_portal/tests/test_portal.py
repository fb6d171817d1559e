# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Portal accounts, binding codes, masks, the sandbox payment provider and
service-request charges."""
import datetime as dt
import json
import unittest
import unittest.mock
from decimal import Decimal
from unittest.mock import patch

from trytond.exceptions import UserError
from trytond.modules.community_portal.payment_provider import SandboxProvider
from trytond.modules.community_portal.models import (
    mask_email, mask_identifier, mask_mobile, normalize_mobile)
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction


class PortalHelpersTestCase(unittest.TestCase):
    "Mobile numbers and masks"

    def test_normalize_mobile(self):
        "Chinese mobile numbers are normalised to 11 digits"
        self.assertEqual(normalize_mobile('138 0013 8000'), '13800138000')
        self.assertEqual(normalize_mobile('+86 138-0013-8000'), '13800138000')
        for wrong in ['12345', '0833-2123456', '+1 650 253 0000']:
            with self.assertRaises(ValueError):
                normalize_mobile(wrong)

    def test_masks(self):
        "ID, phone numbers and emails are masked"
        self.assertEqual(mask_mobile('13800138000'), '138****8000')
        self.assertEqual(
            mask_identifier('11010519491231002X'), '1101**********002X')
        self.assertEqual(mask_email('wangfang@example.com'),
            'w***@example.com')
        self.assertEqual(mask_mobile(None), '')


class SandboxProviderTestCase(unittest.TestCase):
    "The sandbox provider signs and verifies its notifications"

    def test_round_trip(self):
        "A notification verifies; a tampered one does not"
        provider = SandboxProvider('key-1')
        payment = type('P', (), {
                'token': 'a' * 32, 'amount': Decimal('120.00')})()
        body, headers = provider.notification(payment)
        self.assertEqual(provider.verify(body, headers),
            ('a' * 32, Decimal('120.00'), 'SANDBOX-AAAAAAAAAAAA'))
        forged = json.loads(body)
        forged['amount'] = '0.01'
        with self.assertRaises(ValueError):
            provider.verify(json.dumps(forged).encode(), headers)
        # another installation has another key
        with self.assertRaises(ValueError):
            SandboxProvider('key-2').verify(body, headers)
        self.assertEqual(provider.qr_text(payment, 'http://h/db1/portal'),
            'http://h/db1/portal/sandbox/' + 'a' * 32)


def setup_unit(company):
    pool = Pool()
    Compound = pool.get('community.compound')
    Building = pool.get('community.building')
    Unit = pool.get('community.unit')
    Party = pool.get('party.party')
    compound, = Compound.create([{
                'company': company.id, 'code': 'JZHY', 'name': "嘉州花园"}])
    building, = Building.create([{'compound': compound.id, 'code': '3'}])
    unit, = Unit.create([{'building': building.id, 'code': '3-2-1201'}])
    owner, other = Party.create([{'name': "王芳"}, {'name': "周敏"}])
    pool.get('community.residency').create([{
                'unit': unit.id, 'party': owner.id, 'role': 'owner',
                'share': Decimal(100), 'start_date': dt.date(2020, 1, 1)}])
    return compound, unit, owner, other


class PortalTestCase(unittest.TestCase):
    "Binding codes, accounts and payments"

    @classmethod
    def setUpClass(cls):
        activate_module('community_portal')

    @with_transaction()
    def test_binding_code_single_use(self):
        "A binding code binds one account once, before it expires"
        pool = Pool()
        WebUser = pool.get('web.user')
        Code = pool.get('community.portal.binding_code')
        company = create_company()
        with set_company(company):
            compound, unit, owner, other = setup_unit(company)
            code, = Code.create([{'unit': unit.id, 'party': owner.id}])
            self.assertEqual(len(code.code), 8)
            self.assertEqual(code.compound, compound)
            self.assertEqual(code.state, 'valid')
            first, second = WebUser.create([
                    {'mobile': '138 0013 8001'}, {'email': 'B@Example.com'}])
            self.assertEqual(first.mobile, '13800138001')
            self.assertIsNone(first.party)
            Code.redeem(' %s ' % code.code.lower(), first)
            self.assertEqual(first.party, owner)
            self.assertEqual(code.state, 'used')
            self.assertEqual(code.used_by, first)
            with self.assertRaises(UserError):
                Code.redeem(code.code, second)
            self.assertIsNone(second.party)
            expired, = Code.create([{'unit': unit.id, 'party': owner.id,
                        'expires_at': dt.datetime.now()
                        - dt.timedelta(minutes=1)}])
            self.assertEqual(expired.state, 'expired')
            with self.assertRaises(UserError):
                Code.redeem(expired.code, second)
            # an account bound to a party cannot take another party's code
            pool.get('community.residency').create([{
                        'unit': unit.id, 'party': other.id,
                        'role': 'member', 'start_date': dt.date(2020, 1, 1),
                        }])
            other_code, = Code.create([{'unit': unit.id, 'party': other.id}])
            with self.assertRaises(UserError):
                Code.redeem(other_code.code, first)
            with self.assertRaises(UserError):
                WebUser.create([{'mobile': '12345'}])

    @with_transaction()
    def test_binding_code_names_a_resident_of_its_unit(self):
        "A binding code names only a resident of its own unit"
        pool = Pool()
        Code = pool.get('community.portal.binding_code')
        Residency = pool.get('community.residency')
        company = create_company()
        with set_company(company):
            compound, unit, owner, other = setup_unit(company)
            with self.assertRaises(UserError) as cm:
                Code.create([{'unit': unit.id, 'party': other.id}])
            self.assertIn('3-2-1201', cm.exception.message)
            code, = Code.create([{'unit': unit.id, 'party': owner.id}])
            with self.assertRaises(UserError):
                Code.write([code], {'party': other.id})
            # a former resident (residency ended) gets no code either
            gone, = Residency.create([{
                        'unit': unit.id, 'party': other.id,
                        'role': 'tenant', 'start_date': dt.date(2020, 1, 1),
                        'end_date': dt.date(2021, 1, 1)}])
            with self.assertRaises(UserError):
                Code.create([{'unit': unit.id, 'party': other.id}])
            Residency.write([gone], {'end_date': None})
            Code.write([code], {'party': other.id})
            self.assertEqual(code.party, other)

    @with_transaction()
    def test_authenticate_unknown_login_takes_a_hash(self):
        "An unknown login verifies a password hash too (same timing)"
        pool = Pool()
        WebUser = pool.get('web.user')
        user, = WebUser.create([
                {'mobile': '13800138012', 'password': 'secret-123'}])
        verified = []
        check = WebUser.check_password

        def spy(password, hash_):
            verified.append(hash_)
            return check(password, hash_)
        with patch.object(WebUser, 'check_password', spy):
            self.assertIsNone(WebUser.authenticate('13800138099', 'x' * 8))
            self.assertIsNone(WebUser.authenticate('nobody@example.com',
                    'x' * 8))
            self.assertEqual(
                WebUser.authenticate('13800138012', 'secret-123'), user)
        self.assertEqual(len(verified), 3)
        self.assertTrue(all(h.startswith('$argon2') for h in verified))

    @with_transaction()
    def test_authenticate_by_mobile(self):
        "Accounts log in with their mobile number or their email"
        pool = Pool()
        WebUser = pool.get('web.user')
        user, mailer = WebUser.create([
                {'mobile': '13800138002', 'password': 'secret-123'},
                {'email': 'li@example.com', 'mobile': '13800138003',
                    'password': 'secret-456'}])
        self.assertEqual(
            WebUser.authenticate('138 0013 8002', 'secret-123'), user)
        self.assertIsNone(WebUser.authenticate('13800138002', 'wrong'))
        self.assertEqual(
            WebUser.authenticate('13800138003', 'secret-456'), mailer)
        self.assertEqual(
            WebUser.authenticate('LI@example.com', 'secret-456'), mailer)

    @with_transaction()
    def test_payment_confirmation(self):
        "A provider's confirmation marks the payment paid once, in the ledger"
        from trytond.modules.community_billing.account import (
            create_fiscal_year, create_property_chart)
        pool = Pool()
        Payment = pool.get('community.portal.payment')
        company = create_company()
        with set_company(company):
            create_property_chart(company)
            create_fiscal_year(company, dt.date.today().year)
            compound, unit, owner, _ = setup_unit(company)
            payment, = Payment.create([{
                        'compound': compound.id, 'unit': unit.id,
                        'party': owner.id, 'kind': 'prepayment',
                        'amount': Decimal('300.00'), 'provider': 'sandbox'}])
            self.assertEqual(payment.state, 'pending')
            self.assertEqual(len(payment.token), 32)
            with self.assertRaises(UserError):
                Payment.confirm(payment, Decimal('3.00'), 'X1')
            Payment.confirm(payment, Decimal('300.00'), 'X1')
            self.assertEqual(payment.state, 'paid')
            self.assertEqual(payment.provider_reference, 'X1')
            receipt = payment.receipt_token
            self.assertTrue(receipt)
            # posted as a counter payment kept as prepayment, with receipt
            counter = payment.settlement
            self.assertEqual(counter.state, 'posted')
            self.assertEqual(counter.method, 'wechat')
            self.assertEqual(counter.reference, 'X1')
            self.assertEqual(counter.prepayment_amount, Decimal('300.00'))
            self.assertTrue(counter.receipt_number)
            Payment.confirm(payment, Decimal('300.00'), 'X2')
            self.assertEqual(payment.receipt_token, receipt)
            self.assertEqual(payment.provider_reference, 'X1')
            self.assertEqual(payment.settlement, counter)

    # the portal's payments are dated the compound's local today: late
    # fees due up to that day are charged when they are posted
    @unittest.mock.patch(
        'trytond.modules.community_payment.payment.local_today',
        lambda tz: dt.date(2026, 6, 10))
    @with_transaction()
    def test_payment_bill_and_late_fees(self):
        "The portal pays a bill with its late fees, or all a unit owes"
        from trytond.modules.community_billing.tests.tools import (
            bill_month, create_unit, setup_billing)
        pool = Pool()
        Party = pool.get('party.party')
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        Term = pool.get('community.late_fee.term')
        Residency = pool.get('community.residency')
        Payment = pool.get('community.portal.payment')
        Counter = pool.get('community.payment')
        company = create_company()
        with set_company(company):
            compound, building, items = setup_billing(company)
            Term.create([{'compound': compound.id,
                        'account': items['chart']['revenue_other'].id}])
            owner, tenant = Party.create([{'name': "吴九"}, {'name': "郑十"}])
            unit = create_unit(building, '9-9-902', Decimal('100.00'),
                [(owner, 100)])
            Residency.create([{'unit': unit.id, 'party': tenant.id,
                        'role': 'tenant', 'start_date': dt.date(2026, 1, 1)}])
            for month in (4, 5):
                bill_month(compound, 2026, month)
            april, may = Bill.search([('unit', '=', unit.id)],
                order=[('period_start', 'ASC')])
            # 260.00 × 0.05 % a day: April's bill 41 days (1 May to
            # 10 June) = 5.33, May's 10 days = 1.30
            fees = LateFee.charge(compound, dt.date(2026, 6, 10))
            self.assertEqual(sorted((f.bill.id, f.amount) for f in fees), [
                    (april.id, Decimal('5.33')),
                    (may.id, Decimal('1.30'))])

            def summary(values):
                return [(i['bill'], bool(i.get('late_fee')), i['amount'])
                    for i in values]
            # the tenant pays only bills addressed to them: none here
            self.assertEqual(Payment.payable_items(unit, tenant), [])
            self.assertEqual(summary(Payment.payable_items(unit, owner)), [
                    (april.id, False, Decimal('260.00')),
                    (april.id, True, Decimal('5.33')),
                    (may.id, False, Decimal('260.00')),
                    (may.id, True, Decimal('1.30'))])

            def start(kind, values, bill=None):
                payment, = Payment.create([{
                            'compound': compound.id, 'unit': unit.id,
                            'party': owner.id, 'kind': kind,
                            'bill': str(bill) if bill else None,
                            'amount': sum(i['amount'] for i in values),
                            'provider': 'sandbox',
                            'lines': [('create', [{
                                            'bill': i['bill'],
                                            'late_fee': i.get('late_fee'),
                                            'amount': i['amount']}
                                        for i in values])]}])
                return payment

            # April and its late fee
            first = start('bill', Payment.payable_items(
                    unit, owner, bill=april), april)
            self.assertEqual(first.amount, Decimal('265.33'))
            Payment.confirm(first, Decimal('265.33'), 'WX1')
            counter = first.settlement
            self.assertEqual(sorted((x.bill.id, bool(x.late_fee), x.amount)
                    for x in counter.lines), [
                    (april.id, False, Decimal('260.00')),
                    (april.id, True, Decimal('5.33'))])
            self.assertEqual(counter.prepayment_amount, Decimal(0))
            self.assertIsNotNone(Bill(april.id).move_line.reconciliation)
            april_fee, = LateFee.search([('bill', '=', april.id)])
            self.assertIsNotNone(april_fee.move_line.reconciliation)

            # all the rest; the cashier takes May's bill meanwhile: the
            # late fee is settled, the 260.00 kept as prepayment
            rest = start('all', Payment.payable_items(unit, owner))
            self.assertEqual(rest.amount, Decimal('261.30'))
            cash, = Counter.create([{
                        'compound': compound.id, 'unit': unit.id,
                        'party': owner.id, 'method': 'cash',
                        'date': dt.date(2026, 6, 10),
                        'amount': Decimal('260.00'),
                        'lines': [('create', [{'bill': may.id}])]}])
            Counter.post([cash])
            Payment.confirm(rest, Decimal('261.30'), 'WX2')
            self.assertEqual(rest.state, 'paid')
            self.assertEqual([(bool(x.late_fee), x.amount)
                    for x in rest.settlement.lines], [(True, Decimal('1.30'))])
            self.assertEqual(rest.settlement.prepayment_amount,
                Decimal('260.00'))
            self.assertEqual(Payment.payable_items(unit, owner), [])
            self.assertEqual(Counter.prepayment_balances([owner])
                .get(owner.id), Decimal('260.00'))

    @with_transaction()
    def test_portal_late_fee_local_day(self):
        """A portal payment is dated the compound's local day and charges
        the late fees due up to that day"""
        pool = Pool()
        Party = pool.get('party.party')
        BillRun = pool.get('community.bill.run')
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        Term = pool.get('community.late_fee.term')
        PortalPayment = pool.get('community.portal.payment')
        from trytond.modules.community_billing.arrears import local_today
        from trytond.modules.community_billing.bill import month_bounds
        from trytond.modules.community_billing.fee import round_money
        from trytond.modules.community_billing.tests.tools import (
            create_unit, setup_billing)
        company = create_company()
        with set_company(company):
            compound, building, items = setup_billing(company)
            Term.create([{'compound': compound.id,
                        'account': items['chart']['revenue_other'].id}])
            owner, = Party.create([{'name': '冯五'}])
            unit = create_unit(building, '6-1-101', Decimal('100.00'),
                [(owner, 100)])
            today = local_today(compound.timezone)
            start, end = month_bounds(today)
            # due yesterday (local): today is its first overdue day
            run, = BillRun.create([{'compound': compound.id,
                        'period_start': start, 'period_end': end,
                        'due_date': today - dt.timedelta(days=1)}])
            BillRun.process([run])
            bill, = Bill.search([('unit', '=', unit.id)])
            amount = bill.total_amount
            payment, = PortalPayment.create([{
                        'compound': compound.id, 'unit': unit.id,
                        'party': owner.id, 'kind': 'bill',
                        'bill': str(bill), 'amount': amount,
                        'provider': 'sandbox',
                        'lines': [('create', [{'bill': bill.id,
                                        'amount': amount}])]}])
            PortalPayment.confirm(payment, amount, 'WX-LOCAL')
            counter = payment.settlement
            self.assertEqual(counter.date, today)
            fee, = LateFee.search([('bill', '=', bill.id)])
            self.assertEqual((fee.date, fee.days, fee.amount_to_pay),
                (today, 1, round_money(amount * Decimal('0.0005'))))

    @with_transaction()
    def test_pending_charges(self):
        "Chargeable done repairs wait for the next bill once"
        pool = Pool()
        Request = pool.get('community.service.request')
        company = create_company()
        with set_company(company):
            compound, unit, owner, _ = setup_unit(company)
            paid, free = Request.create([{
                        'unit': unit.id, 'title': "换水龙头",
                        'chargeable': True,
                        'charge_amount': Decimal('45.00'),
                        'resolution': "已更换"}, {
                        'unit': unit.id, 'title': "楼道灯",
                        'resolution': "已修"}])
            self.assertEqual(paid.compound, compound)
            Request.write([paid, free], {'assigned_to': 1})
            Request.dispatch([paid, free])
            Request.start([paid, free])
            self.assertEqual(Request.pending_charges([unit]), [])
            Request.do([paid, free])
            self.assertEqual(Request.pending_charges([unit]), [paid])
            Request.mark_charged([paid], origin='community.bill.line,1')
            self.assertEqual(Request.pending_charges([unit]), [])
            self.assertEqual(paid.charge_origin, 'community.bill.line,1')
