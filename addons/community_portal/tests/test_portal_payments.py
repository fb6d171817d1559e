# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Portal payment confirmations in-process (werkzeug test client): the
sandbox exists only when enabled, its key is random per installation and
refused confirmations are logged. The HTTP tests of a running server are
in tests/test_portal_payments_security.py."""
import hashlib
import hmac
import json
import re
from decimal import Decimal

from trytond import config
from trytond.model.exceptions import AccessError
from trytond.modules.community_portal.payment_provider import (
    configured_provider_name)
from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .test_portal import setup_unit

LOGGER = 'trytond.modules.community_portal.portal.bills'


def notification(token, amount, key):
    body = json.dumps({'out_trade_no': token, 'amount': amount,
            'transaction_id': 'SANDBOX-' + token[:12].upper()},
        sort_keys=True).encode()
    return body, {'X-Sandbox-Signature': hmac.new(
            key.encode(), body, hashlib.sha256).hexdigest()}


class PortalPaymentRouteTestCase(RouteTestCase):
    "Portal payment confirmations"
    module = 'community_portal'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Payment = pool.get('community.portal.payment')
        company = create_company()
        compound, unit, owner, _ = setup_unit(company)
        cls.tokens = {}
        for provider in ['sandbox', 'wechat']:
            # one create each: the default token is computed once a call
            payment, = Payment.create([{
                        'compound': compound.id, 'unit': unit.id,
                        'party': owner.id, 'kind': 'prepayment',
                        'amount': Decimal('50.00'), 'provider': provider}])
            cls.tokens[provider] = payment.token

    def setUp(self):
        super().setUp()
        if not config.has_section('community_portal'):
            config.add_section('community_portal')
        # absent options restored as their defaults
        saved = {
            'sandbox': config.get('community_portal', 'sandbox',
                default='False'),
            'provider': config.get('community_portal', 'provider',
                default=''),
            }
        self.addCleanup(self.restore_config, saved)

    @staticmethod
    def restore_config(saved):
        for option, value in saved.items():
            config.set('community_portal', option, value)

    def set_sandbox(self, enabled):
        config.set('community_portal', 'sandbox', str(enabled))

    def sandbox_key(self):
        with Transaction().start(DB_NAME, 0):
            Configuration = Pool().get('community.portal.configuration')
            return Configuration.get_sandbox_secret()

    def state(self, token):
        with Transaction().start(DB_NAME, 0):
            Payment = Pool().get('community.portal.payment')
            payment, = Payment.search([('token', '=', token)])
            return payment.state

    def post(self, provider, body, headers):
        return self.client().post(
            '/%s/portal/payment/callback/%s' % (DB_NAME, provider),
            data=body, headers=headers)

    def test_sandbox_key_random_and_stored(self):
        "The sandbox key is 256 random bits, stored, read by no group"
        key = self.sandbox_key()
        self.assertRegex(key, r'^[0-9a-f]{64}$')
        self.assertEqual(self.sandbox_key(), key)
        with Transaction().start(DB_NAME, 1, context={'_check_access': True}):
            Configuration = Pool().get('community.portal.configuration')
            with self.assertRaises(AccessError):
                Configuration.read([Configuration.get_singleton().id],
                    ['sandbox_secret'])

    def test_provider_from_configuration(self):
        "New payments use the configured provider; none without sandbox"
        self.set_sandbox(False)
        self.assertIsNone(configured_provider_name())
        config.set('community_portal', 'provider', 'sandbox')
        self.assertIsNone(configured_provider_name())
        config.set('community_portal', 'provider', 'unknown')
        self.assertIsNone(configured_provider_name())
        self.set_sandbox(True)
        config.set('community_portal', 'provider', '')
        self.assertEqual(configured_provider_name(), 'sandbox')

    def test_sandbox_routes_404_when_disabled(self):
        "With the sandbox disabled its wallet and callback are 404"
        self.set_sandbox(False)
        token = self.tokens['sandbox']
        body, headers = notification(token, '50.00', self.sandbox_key())
        with self.assertLogs(LOGGER, 'WARNING'):
            response = self.post('sandbox', body, headers)
        self.assertEqual(response.status_code, 404)
        response = self.client().get(
            '/%s/portal/sandbox/%s' % (DB_NAME, token))
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.state(token), 'pending')

    def test_forged_confirmation_refused_and_logged(self):
        "A confirmation with a guessed key is refused and logged"
        self.set_sandbox(True)
        token = self.tokens['sandbox']
        for key in ['sandbox-' + DB_NAME, '']:
            body, headers = notification(token, '50.00', key)
            with self.assertLogs(LOGGER, 'WARNING') as logs:
                response = self.post('sandbox', body, headers)
            self.assertEqual(response.status_code, 400)
            self.assertEqual(response.text, 'FAIL')
            self.assertTrue(any(re.search(
                            'refused sandbox payment callback.*bad signature',
                            line) for line in logs.output), logs.output)
        self.assertEqual(self.state(token), 'pending')

    def test_confirmation_of_another_provider_refused(self):
        "A well-signed sandbox confirmation of a WeChat payment is refused"
        self.set_sandbox(True)
        token = self.tokens['wechat']
        body, headers = notification(token, '50.00', self.sandbox_key())
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            response = self.post('sandbox', body, headers)
        self.assertEqual(response.status_code, 400)
        self.assertTrue(any("belongs to provider 'wechat'" in line
                for line in logs.output), logs.output)
        self.assertEqual(self.state(token), 'pending')
        # and there is no such provider to post to
        with self.assertLogs(LOGGER, 'WARNING'):
            self.assertEqual(
                self.post('wechat', body, headers).status_code, 404)
        self.assertEqual(self.state(token), 'pending')

    def test_malformed_notification_refused(self):
        "A well-signed notification with a NaN amount is refused (400)"
        self.set_sandbox(True)
        token = self.tokens['sandbox']
        for amount in ['NaN', 'sNaN', 'Infinity', 'abc', '-50.00']:
            body, headers = notification(token, amount, self.sandbox_key())
            with self.assertLogs(LOGGER, 'WARNING'):
                response = self.post('sandbox', body, headers)
            self.assertEqual(response.status_code, 400, amount)
        self.assertEqual(self.state(token), 'pending')


del RouteTestCase
