# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The phone channels of the providers through the real SDKs against the
emulators: WeChat Pay JSAPI (prepay_id and the parameters signed for
WeixinJSBridge) and H5, Alipay wap pay; each then paid and notified as a
QR payment is. No database: the merchant account and the payment are
plain objects with the attributes the providers read."""
import datetime as dt
import types
import unittest
import urllib.parse
import urllib.request
from decimal import Decimal

from trytond.modules.community_payment.providers import (
    AlipayProvider, ProviderFailure, WeChatPayProvider)

from .emulators import AlipayEmulator, WeChatPayEmulator


class Merchant(types.SimpleNamespace):
    def get_secret(self, name):
        return self.secrets.get(name)


def payment(amount='120.00', reference=None):
    return types.SimpleNamespace(description="嘉州花园 3-2-1201",
        reference=reference or 'a' * 32, amount=Decimal(amount),
        expire_at=dt.datetime.utcnow() + dt.timedelta(minutes=30))


class WeChatChannelsTestCase(unittest.TestCase):
    "WeChat Pay JSAPI and H5"

    @classmethod
    def setUpClass(cls):
        cls.emulator = emulator = WeChatPayEmulator()
        cls.merchant = Merchant(provider='wechat', app_id=emulator.appid,
            mch_id=emulator.mchid, serial_no=emulator.serial_no,
            public_key_id=emulator.public_key_id,
            provider_public_key=emulator.platform_public_key,
            gateway_url=emulator.gateway_url,
            notify_url='https://wy.example.com/db/notify/1',
            secrets={'private_key': emulator.merchant_private_key,
                'apiv3_key': emulator.apiv3_key})

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    def test_jsapi(self):
        "JSAPI: a prepay_id for the openid, parameters WeChat accepts"
        provider = WeChatPayProvider(self.merchant)
        order = payment(reference='b' * 32)
        prepay_id = provider.create_jsapi(order, 'oUpF8uMuAJO_M2pxb1Q9zN')
        self.assertTrue(prepay_id.startswith('wx'))
        opened = self.emulator.orders['b' * 32]
        self.assertEqual((opened['trade_type'], opened['openid'],
                opened['total']), ('JSAPI', 'oUpF8uMuAJO_M2pxb1Q9zN', 12000))
        parameters = provider.jsapi_parameters(prepay_id)
        self.assertEqual(sorted(parameters), ['appId', 'nonceStr',
                'package', 'paySign', 'signType', 'timeStamp'])
        self.assertEqual(parameters['package'], 'prepay_id=' + prepay_id)
        self.assertEqual(parameters['appId'], self.emulator.appid)
        self.assertIs(self.emulator.jsapi_order(parameters), opened)
        forged = dict(parameters, package='prepay_id=wx0')
        self.assertIsNone(self.emulator.jsapi_order(forged))
        # paid in WeChat: the notification says so, verified and decrypted
        self.emulator.pay('b' * 32)
        headers, body = self.emulator.notification('b' * 32)
        notice = provider.parse(headers, body)
        self.assertEqual((notice.state, notice.amount, notice.reference),
            ('paid', Decimal('120.00'), 'b' * 32))

    def test_jsapi_needs_openid(self):
        "Without the payer's openid the order is refused"
        provider = WeChatPayProvider(self.merchant)
        with self.assertRaises(ProviderFailure):
            provider.create_jsapi(payment(reference='c' * 32), '')

    def test_h5(self):
        "H5: the h5_url the mobile browser opens, for the payer's IP"
        provider = WeChatPayProvider(self.merchant)
        url = provider.create_h5(payment('35.50', 'd' * 32), '203.0.113.7')
        self.assertTrue(url.startswith(
                'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?'))
        opened = self.emulator.orders['d' * 32]
        self.assertEqual((opened['trade_type'], opened['client_ip'],
                opened['total']), ('MWEB', '203.0.113.7', 3550))
        self.emulator.pay('d' * 32)
        self.assertEqual(provider.query(payment('35.50', 'd' * 32)).state,
            'paid')


class AlipayWapTestCase(unittest.TestCase):
    "Alipay wap pay"

    @classmethod
    def setUpClass(cls):
        cls.emulator = emulator = AlipayEmulator()
        cls.merchant = Merchant(provider='alipay', app_id=emulator.app_id,
            provider_public_key=emulator.alipay_public_key,
            gateway_url=emulator.gateway_url,
            notify_url='https://wy.example.com/db/notify/2',
            secrets={'private_key': emulator.app_private_key})

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()

    def test_wap(self):
        "The signed wap URL opens Alipay's cashier; paid, then notified"
        provider = AlipayProvider(self.merchant)
        url = provider.create_wap(payment('88.00', 'e' * 32),
            return_url='https://wy.example.com/db/portal/payments/x')
        self.assertTrue(url.startswith(self.emulator.gateway_url + '?'))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
                    url).query))
        self.assertEqual(query['method'], 'alipay.trade.wap.pay')
        self.assertEqual(query['notify_url'],
            'https://wy.example.com/db/notify/2')
        with urllib.request.urlopen(url, timeout=30) as page:
            self.assertIn('支付宝收银台', page.read().decode())
        order = self.emulator.orders['e' * 32]
        self.assertEqual((order['product_code'], order['total_amount'],
                order['trade_status']),
            ('QUICK_WAP_PAY', '88.00', 'WAIT_BUYER_PAY'))
        # a tampered amount: the signature no longer matches
        tampered = url.replace('88.00', '0.01')
        with urllib.request.urlopen(tampered, timeout=30) as page:
            self.assertIn('isv.invalid-signature', page.read().decode())
        self.emulator.pay('e' * 32)
        headers, body = self.emulator.notification('e' * 32)
        notice = provider.parse(headers, body)
        self.assertEqual((notice.state, notice.amount),
            ('paid', Decimal('88.00')))
