# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A resident pays from the portal through community_payment: WeChat Pay
Native and Alipay precreate against the providers' emulators (the real
SDKs), the status the QR page polls, the receipt it turns into, and
nobody else's payment in sight."""
import datetime as dt
import json
import re
import urllib.request
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from werkzeug.test import Client
from werkzeug.wrappers import Response

from trytond.modules.community_payment.tests.emulators import (
    AlipayEmulator, WeChatPayEmulator)
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.community_portal.tests.tools import (
    PortalPages, EN, ZH)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase, _DBTestCase
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import NumProxyFix, app

PASSWORD = 'portal-pay-test-1'
ANDROID = {'User-Agent': 'Mozilla/5.0 (Linux; Android 14; Pixel 8) '
    'AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36'}


class PortalOnlinePaymentTestCase(PortalPages, RouteTestCase):
    "Portal payments through WeChat Pay and Alipay"
    module = 'community_portal'
    password = PASSWORD

    @classmethod
    def setUpClass(cls):
        cls.wechat = WeChatPayEmulator()
        cls.alipay = AlipayEmulator()
        # RouteTestCase's, in a transaction started again with the table
        # locks the chart's creation asks for
        _DBTestCase.setUpClass.__func__(cls)
        extras = {}
        while True:
            try:
                with Transaction().start(DB_NAME, 1, **extras):
                    cls.setUpDatabase()
                break
            except TransactionError as error:
                error.fix(extras)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.wechat.stop()
        cls.alipay.stop()

    @classmethod
    def setUpDatabase(cls):
        from trytond.modules.community_billing.tests.tools import (
            bill_month, create_unit, setup_billing)
        pool = Pool()
        Party = pool.get('party.party')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        WebUser = pool.get('web.user')
        Merchant = pool.get('community.payment.merchant')
        Bill = pool.get('community.bill')
        company = create_company()
        with set_company(company):
            compound, building, _ = setup_billing(company)
            owner, neighbour, counter, phone, scanner = Party.create([
                    {'name': "王芳"}, {'name': "周敏"}, {'name': "吴刚"},
                    {'name': "陈静"}, {'name': "李强"}])
            # each test that pays a bill pays its own resident's: the
            # database is shared by the tests of the class, a bill paid
            # by one is no longer open for the next
            unit = create_unit(building, '3-2-1201', Decimal('100.00'),
                [(owner, 100)])
            # paid by Alipay precreate
            create_unit(building, '3-2-1202', Decimal('100.00'),
                [(neighbour, 100)])
            # paid at the staff cashier
            create_unit(building, '3-2-1203', Decimal('100.00'),
                [(counter, 100)])
            # WeChat Pay on a phone's browser (H5 orders, never paid)
            create_unit(building, '3-2-1204', Decimal('100.00'),
                [(phone, 100)])
            # paid by WeChat Pay Native
            create_unit(building, '3-2-1205', Decimal('100.00'),
                [(scanner, 100)])
            User.create([{
                        'name': "嘉州收银", 'login': 'cashier_jz',
                        'password': PASSWORD,
                        'groups': [('add', [ModelData.get_id(
                                        'community_base',
                                        'group_community_staff')])],
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'compounds': [('add', [compound.id])],
                        }])
            today = dt.date.today()
            bill_month(compound, today.year, today.month)
            bill, = Bill.search([('unit', '=', unit.id)])
            cls.bill_amount = bill.amount_to_pay
            WebUser.create([
                    {'mobile': '13900139101', 'party': owner.id,
                        'password': PASSWORD},
                    {'mobile': '13900139102', 'party': neighbour.id,
                        'password': PASSWORD},
                    {'mobile': '13900139104', 'party': phone.id,
                        'password': PASSWORD},
                    {'mobile': '13900139105', 'party': scanner.id,
                        'password': PASSWORD}])
            wechat, alipay = cls.wechat, cls.alipay
            # WeChat Pay: the compound's own account; Alipay: the
            # company's, for every compound
            Merchant.create([{
                        'name': "嘉州花园 微信支付", 'provider': 'wechat',
                        'company': company.id, 'compound': compound.id,
                        'gateway_url': wechat.gateway_url,
                        'app_id': wechat.appid, 'mch_id': wechat.mchid,
                        'serial_no': wechat.serial_no,
                        'public_key_id': wechat.public_key_id,
                        'provider_public_key': wechat.platform_public_key,
                        'private_key': wechat.merchant_private_key,
                        'apiv3_key': wechat.apiv3_key,
                        'notify_url': 'https://wy.example.com/n/1',
                        }, {
                        'name': "物业公司 支付宝", 'provider': 'alipay',
                        'company': company.id,
                        'gateway_url': alipay.gateway_url,
                        'app_id': alipay.app_id,
                        'provider_public_key': alipay.alipay_public_key,
                        'private_key': alipay.app_private_key,
                        'notify_url': 'https://wy.example.com/n/2',
                        }])
            cls.merchants = {m.provider: m.id for m in Merchant.search([])}

    def bill_page(self, client):
        bills = client.get(self.url('/bills'), headers=ZH)
        ref = re.search(r'/bills/([0-9]+\.[0-9a-f]+)"',
            bills.get_data(as_text=True)).group(1)
        return ref, client.get(self.url('/bills/%s' % ref), headers=ZH)

    def pay(self, client, method, headers=None, address=None):
        """Pay the resident's bill by ``method`` (from the phone's
        ``address``, as a WSGI server gives it); the payment page's path."""
        ref, page = self.bill_page(client)
        response = client.post(self.url('/bills/%s/pay' % ref), data={
                'csrf': self.csrf(page), 'method': method}, headers=headers,
            environ_base={'REMOTE_ADDR': address} if address else None)
        self.assertEqual(response.status_code, 303,
            response.get_data(as_text=True))
        path = response.location.split('/portal', 1)[1]
        # a paid bill goes back to its page: another test paid it
        self.assertRegex(path, r'^/payments/[0-9a-f]{32}$',
            "the bill is not open")
        return path

    def status(self, client, path):
        response = client.get(self.url(path + '/status'), headers=ZH)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers['Content-Type'].startswith(
                'application/json'))
        self.assertEqual(response.headers['Cache-Control'], 'no-store')
        return json.loads(response.get_data(as_text=True))

    def online(self, path):
        "(reference, state, settlement) of the order behind a payment page."
        with Transaction().start(DB_NAME, 0):
            Payment = Pool().get('community.portal.payment')
            payment, = Payment.search([
                    ('token', '=', path.rsplit('/', 1)[1])])
            online = payment.online
            return (online.reference, online.state,
                online.settlement.receipt_number
                if online.settlement else None)

    def notify(self, provider, headers, body):
        return self.client().post('/%s/community_payment/notify/%s' % (
                DB_NAME, self.merchants[provider]), data=body,
            headers=headers)


    def test_staff_cashier_wechat_native(self):
        """The staff cashier shows a unit's bill as a WeChat Pay Native QR
        (community_payment's order, as the portal's); the page turns into
        the receipt once notified"""
        staff = self.staff_login('cashier_jz')
        page = staff.get(self.url('/staff/cashier?unit=3-2-1203'),
            headers=ZH)
        html = page.get_data(as_text=True)
        self.assertEqual(re.findall(r'name="method" value="(\w+)"', html),
            ['wechat', 'alipay'])
        self.assertIn('微信支付收款码', html)
        ref = re.search(r'name="bill" value="([0-9]+\.[0-9a-f]+)"',
            html).group(1)
        response = staff.post(self.url('/staff/cashier'), data={
                'csrf': self.csrf(page), 'bill': ref, 'method': 'wechat'})
        self.assertEqual(response.status_code, 303)
        path = response.location.split('/portal', 1)[1]
        self.assertRegex(path, r'^/staff/cashier/payments/[0-9a-f]{32}$')
        html = staff.get(self.url(path), headers=ZH).get_data(as_text=True)
        self.assertIn('<svg', html)
        self.assertIn('data-status="%s/status"' % self.url(path), html)
        self.assertRegex(html, r'<script src="[^"]+/payment\.js">')
        reference, state, _ = self.online(path)
        self.assertEqual(state, 'pending')
        order = self.wechat.orders[reference]
        self.assertEqual(order['total'], int(self.bill_amount * 100))
        self.assertEqual(self.status(staff, path), {'state': 'pending'})
        # neither a resident nor a stranger sees it
        resident = self.login('13900139101')
        self.assertIn(resident.get(self.url(path)).status_code, {302, 303})
        self.assertEqual(self.client().get(
                self.url('/staff/cashier/payments/%s/status' % ('0' * 32))
                ).status_code, 303)

        self.wechat.pay(reference)
        headers, body = self.wechat.notification(reference)
        self.assertEqual(self.notify('wechat', headers, body).status_code,
            204)
        _, state, number = self.online(path)
        self.assertEqual(state, 'paid')
        status = self.status(staff, path)
        self.assertEqual(status['state'], 'paid')
        self.assertEqual(status['receipt_number'], number)
        self.assertIn(number, status['receipt'])
        self.assertIn('吴刚', status['receipt'])
        self.assertIn(order['transaction_id'], status['receipt'])
        page = staff.get(self.url(path), headers=ZH).get_data(as_text=True)
        self.assertIn(number, page)
        self.assertIn('返回收银台', page)
        # the bill is paid: no more payment codes for it
        html = staff.get(self.url('/staff/cashier?unit=3-2-1203'),
            headers=ZH).get_data(as_text=True)
        self.assertNotIn('name="bill"', html)

    def test_methods_offered(self):
        "The bill offers WeChat Pay and Alipay, the merchant accounts'"
        client = self.login('13900139101')
        _, page = self.bill_page(client)
        html = page.get_data(as_text=True)
        self.assertEqual(re.findall(r'name="method" value="(\w+)"', html),
            ['wechat', 'alipay'])
        self.assertIn('微信支付 · 立即缴费 ¥%s' % self.bill_amount, html)
        self.assertIn('支付宝 · 立即缴费', html)

    def test_wechat_native_turns_into_receipt(self):
        "WeChat Native: QR of the code_url, then the receipt once notified"
        client = self.login('13900139105')
        path = self.pay(client, 'wechat')
        page = client.get(self.url(path), headers=ZH)
        html = page.get_data(as_text=True)
        self.assertEqual(page.status_code, 200)
        self.assertIn('<svg', html)
        self.assertIn('微信支付', html)
        self.assertIn('/payments/%s/status' % path.rsplit('/', 1)[1], html)
        self.assertRegex(html, r'<script src="[^"]+/payment\.js">')
        # weixin:// is only scanned by WeChat: no link to open it
        self.assertNotIn('id="open-wallet"', html)
        reference, state, _ = self.online(path)
        self.assertEqual(state, 'pending')
        order = self.wechat.orders[reference]
        self.assertEqual(order['total'], int(self.bill_amount * 100))
        self.assertEqual(self.status(client, path), {'state': 'pending'})

        self.wechat.pay(reference)
        headers, body = self.wechat.notification(reference)
        self.assertEqual(self.notify('wechat', headers, body).status_code,
            204)
        _, state, number = self.online(path)
        self.assertEqual(state, 'paid')
        self.assertTrue(number)
        status = self.status(client, path)
        self.assertEqual(status['state'], 'paid')
        self.assertEqual(status['receipt_number'], number)
        receipt = status['receipt']
        self.assertIn('id="receipt"', receipt)
        self.assertIn('电子收据', receipt)
        self.assertIn(number, receipt)
        self.assertIn('支付成功 ¥%s' % self.bill_amount, receipt)
        self.assertIn('微信支付', receipt)
        self.assertIn(order['transaction_id'], receipt)
        self.assertRegex(receipt, r'账单 [^<]+</td><td class="r">¥%s'
            % re.escape(str(self.bill_amount)))
        # the same notification again: booked once, the same receipt
        self.assertEqual(self.notify('wechat', headers, body).status_code,
            204)
        self.assertEqual(self.status(client, path)['receipt_number'], number)
        # the page, loaded again, is the receipt; the bill is paid
        page = client.get(self.url(path), headers=ZH).get_data(as_text=True)
        self.assertIn(number, page)
        _, bill = self.bill_page(client)
        self.assertIn('已缴清', bill.get_data(as_text=True))

    def test_alipay_precreate(self):
        "Alipay precreate: a QR the phone may also open; paid when notified"
        client = self.login('13900139102')
        path = self.pay(client, 'alipay')
        html = client.get(self.url(path), headers=EN).get_data(as_text=True)
        reference, _, _ = self.online(path)
        qr = self.alipay.orders[reference]
        self.assertIn('Alipay', html)
        self.assertRegex(html,
            r'id="open-wallet" href="https://qr\.alipay\.com/')
        self.alipay.pay(reference)
        headers, body = self.alipay.notification(reference)
        response = self.notify('alipay', headers, body)
        self.assertEqual(response.get_data(as_text=True), 'success')
        status = self.status(client, path)
        self.assertEqual(status['state'], 'paid')
        self.assertIn('支付宝', status['receipt'])
        self.assertIn(qr['trade_no'], status['receipt'])

    def test_alipay_wap_on_a_phone(self):
        "Alipay in a phone's browser: wap pay, back to the payment page"
        client = self.login('13900139101')
        iphone = {'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 '
            'like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148'}
        path = self.pay(client, 'alipay', headers=iphone)
        html = client.get(self.url(path), headers=ZH).get_data(as_text=True)
        self.assertNotIn('<svg', html)
        link = re.search(r'id="open-wallet" href="([^"]+)"', html).group(1)
        link = link.replace('&amp;', '&')
        self.assertTrue(link.startswith(self.alipay.gateway_url + '?'))
        query = dict(parse_qsl(urlsplit(link).query))
        self.assertEqual(query['method'], 'alipay.trade.wap.pay')
        self.assertTrue(query['return_url'].endswith(path))
        with urllib.request.urlopen(link, timeout=30) as page:
            self.assertIn('支付宝收银台', page.read().decode())
        reference, _, _ = self.online(path)
        self.assertEqual(self.alipay.orders[reference]['trade_status'],
            'WAIT_BUYER_PAY')

    def h5_link(self, html):
        "The link of a WeChat Pay H5 page: (h5_url, its query)."
        self.assertNotIn('<svg', html)
        self.assertIn('打开微信支付', html)
        self.assertIn('将打开微信完成支付', html)
        link = re.search(r'id="open-wallet" href="([^"]+)"', html).group(1)
        link = link.replace('&amp;', '&')
        self.assertTrue(link.startswith(
                'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?'),
            link)
        return link, dict(parse_qsl(urlsplit(link).query))

    def test_wechat_h5_on_a_phone(self):
        """WeChat Pay in a phone's browser outside WeChat: H5 for the
        phone's address, its link back to the payment page"""
        client = self.login('13900139104')
        path = self.pay(client, 'wechat', headers=ANDROID,
            address='203.0.113.7')
        html = client.get(self.url(path), headers=ZH).get_data(as_text=True)
        link, query = self.h5_link(html)
        self.assertEqual(query['redirect_url'],
            'http://localhost%s' % self.url(path))
        # URL-encoded, as WeChat Pay asks
        self.assertIn('&redirect_url=http%3A%2F%2Flocalhost%2F', link)
        reference, state, _ = self.online(path)
        self.assertEqual(state, 'pending')
        order = self.wechat.orders[reference]
        self.assertEqual(order['trade_type'], 'MWEB')
        self.assertEqual(order['client_ip'], '203.0.113.7')
        self.assertEqual(order['prepay_id'], query['prepay_id'])
        self.assertEqual(order['total'], int(self.bill_amount * 100))
        self.assertEqual(self.status(client, path), {'state': 'pending'})

    def test_wechat_h5_behind_proxy(self):
        """Behind the reverse proxy (trytond's ``[web] num_proxies = 1``):
        H5 for the phone's address the proxy forwards, back to the public
        HTTPS page"""
        # what trytond.wsgi does with num_proxies = 1
        client = Client(NumProxyFix(app, 1), Response)
        self.login('13900139104', client)
        proxy = dict(ANDROID, **{
                # a forged address first, the proxy's peer last
                'X-Forwarded-For': '10.9.9.9, 198.51.100.23',
                'X-Forwarded-Proto': 'https',
                'X-Forwarded-Host': 'wy.example.com'})
        path = self.pay(client, 'wechat', headers=proxy, address='127.0.0.1')
        html = client.get(self.url(path), headers=dict(proxy, **ZH),
            environ_base={'REMOTE_ADDR': '127.0.0.1'}).get_data(as_text=True)
        _, query = self.h5_link(html)
        self.assertEqual(query['redirect_url'],
            'https://wy.example.com%s' % self.url(path))
        reference, _, _ = self.online(path)
        self.assertEqual(self.wechat.orders[reference]['client_ip'],
            '198.51.100.23')

    def test_wechat_on_a_phone_without_address(self):
        """A phone's browser whose address is not known (no REMOTE_ADDR):
        the QR code, not a failure"""
        client = self.login('13900139104')
        path = self.pay(client, 'wechat', headers=ANDROID)
        html = client.get(self.url(path), headers=ZH).get_data(as_text=True)
        self.assertIn('<svg', html)
        self.assertNotIn('id="open-wallet"', html)
        self.assertNotIn('打开微信支付', html)
        reference, _, _ = self.online(path)
        self.assertEqual(self.wechat.orders[reference]['trade_type'],
            'NATIVE')

    def test_wechat_h5_refused_gives_the_qr(self):
        """WeChat Pay refuses H5 (the merchant has not the product): the
        phone gets the QR code of a Native order, not an error"""
        client = self.login('13900139104')
        self.wechat.h5_enabled = False
        try:
            path = self.pay(client, 'wechat', headers=ANDROID,
                address='203.0.113.7')
        finally:
            self.wechat.h5_enabled = True
        html = client.get(self.url(path), headers=ZH).get_data(as_text=True)
        self.assertIn('<svg', html)
        self.assertNotIn('id="open-wallet"', html)
        reference, state, _ = self.online(path)
        self.assertEqual(state, 'pending')
        self.assertEqual(self.wechat.orders[reference]['trade_type'],
            'NATIVE')
        self.assertEqual(self.wechat.orders[reference]['total'],
            int(self.bill_amount * 100))

    def test_only_own_payments(self):
        "Another resident's payment, its status and receipt are not found"
        owner = self.login('13900139101')
        path = self.pay(owner, 'wechat')
        neighbour = self.login('13900139102')
        for suffix in ['', '/status']:
            self.assertEqual(neighbour.get(
                    self.url(path + suffix)).status_code, 404)
            self.assertEqual(self.client().get(
                    self.url(path + suffix)).status_code, 303)

    def test_unknown_method_refused(self):
        "A method the compound does not offer is refused, nothing opened"
        client = self.login('13900139101')
        ref, page = self.bill_page(client)
        orders = len(self.wechat.orders)
        response = client.post(self.url('/bills/%s/pay' % ref), data={
                'csrf': self.csrf(page), 'method': 'sandbox'})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(len(self.wechat.orders), orders)


del RouteTestCase
