# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from decimal import Decimal

from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.community_payment.providers import (
    AlipayProvider, WeChatPayProvider)
from trytond.modules.community_payment.tests.emulators import (
    CST, AlipayEmulator, WeChatPayEmulator)
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CommunityPaymentTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_payment module"
    module = 'community_payment'

    def test_wechat_statement(self):
        "A WeChat Pay trade bill is read; a truncated one is refused"
        emulator = WeChatPayEmulator()
        try:
            emulator.orders['a' * 32] = {'out_trade_no': 'a' * 32,
                'total': 10000, 'description': '物业费, 3月',
                'trade_state': 'NOTPAY', 'transaction_id': None,
                'notify_url': '', 'refunded': 0}
            order = emulator.pay('a' * 32)
            bill = emulator.bill(dt.datetime.now(CST).date())
        finally:
            emulator.stop()
        row, = WeChatPayProvider.parse_statement(bill)
        self.assertEqual((row.kind, row.transaction_id, row.reference,
                row.amount, row.fee), ('payment', order['transaction_id'],
                'a' * 32, Decimal('100.00'), Decimal('0.60')))
        lines = bill.decode('utf-8').split('\r\n')
        with self.assertRaises(ValueError):
            WeChatPayProvider.parse_statement(
                '\r\n'.join(lines[:1] + lines[2:]).encode('utf-8'))
        with self.assertRaises(ValueError):
            WeChatPayProvider.parse_statement(b'not a bill')

    def test_alipay_statement(self):
        "An Alipay bill zip (GBK, GBK names) is read"
        emulator = AlipayEmulator()
        try:
            number = emulator.foreign_trade('12.34')
            bill = emulator.bill(dt.datetime.now(CST).date())
        finally:
            emulator.stop()
        row, = AlipayProvider.parse_statement(bill)
        self.assertEqual((row.kind, row.reference, row.amount, row.fee),
            ('payment', number, Decimal('12.34'), Decimal('0.07')))
        self.assertEqual(row.transaction_id,
            emulator.orders[number]['trade_no'])


del ModuleTestCase
