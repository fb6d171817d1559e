# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Sign-up and password reset by mobile with an SMS code, through the
pages (werkzeug's test client) and the Tencent Cloud SMS emulator: the
code is read from the SMS the emulator received."""
import re

from trytond.config import config
from trytond.modules.community_notification.tests.emulators import (
    APPROVED_SMS, TencentSms, configure)
from trytond.modules.community_portal.tests.tools import (
    PortalPages, ZH)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'portal-signup-test-1'


class PortalSignupTestCase(PortalPages, RouteTestCase):
    "Sign-up and password reset by SMS code"
    module = 'community_portal'
    password = PASSWORD

    @classmethod
    def setUpClass(cls):
        cls.sms = TencentSms(templates=APPROVED_SMS).start()
        cls.saved = (dict(config.items('community_notification'))
            if config.has_section('community_notification') else None)
        configure(cls.sms)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.sms.stop()
        config.remove_section('community_notification')
        if cls.saved is not None:
            config.add_section('community_notification')
            for key, value in cls.saved.items():
                config.set('community_notification', key, value)

    @classmethod
    def setUpDatabase(cls):
        WebUser = Pool().get('web.user')
        WebUser.create([{'mobile': '13900139006', 'password': PASSWORD}])

    def client(self, address='127.0.0.1'):
        "A client from ``address`` (the limits are per client)."
        client = super().client()
        client.address = address
        return client

    def get(self, client, path):
        return client.get(self.url(path), headers=ZH,
            environ_base={'REMOTE_ADDR': client.address})

    def post(self, client, path, page, **data):
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"',
            page.get_data(as_text=True)).group(1)
        return client.post(self.url(path), data=dict(data, csrf=csrf),
            headers=ZH, environ_base={'REMOTE_ADDR': client.address})

    def last_code(self, mobile):
        "The code of the last SMS the emulator received for ``mobile``."
        sent = [s for s in self.sms.sent if s['to'] == '+86' + mobile]
        self.assertEqual(sent[-1]['template'], '2001008')
        return sent[-1]['params'][0]

    def accounts(self, mobile):
        with Transaction().start(DB_NAME, 0):
            WebUser = Pool().get('web.user')
            return WebUser.search([('mobile', '=', mobile)])

    def test_signup_needs_the_code(self):
        "The account exists only once the code sent to the number is in"
        client = self.client('127.0.1.1')
        page = self.get(client, '/signup')
        self.assertIn('获取验证码', page.get_data(as_text=True))
        page = self.post(client, '/signup/code', page, mobile='137 0013 7002')
        html = page.get_data(as_text=True)
        self.assertEqual(page.status_code, 200, html)
        self.assertIn('验证码已通过短信发送至 137****7002', html)
        code = self.last_code('13700137002')
        wrong = '%06d' % ((int(code) + 1) % 10 ** 6)
        refused = self.post(client, '/signup', page, mobile='13700137002',
            code=wrong, password=PASSWORD, password2=PASSWORD)
        self.assertEqual(refused.status_code, 400)
        # (the database of the module tests has no zh_CN messages)
        self.assertIn('The code is wrong (4 tries left)',
            refused.get_data(as_text=True))
        self.assertEqual(self.accounts('13700137002'), [])
        # at once another code is refused
        again = self.post(client, '/signup/code', page, mobile='13700137002')
        self.assertEqual(again.status_code, 400)
        self.assertIn('seconds before asking for another one',
            again.get_data(as_text=True))
        signed = self.post(client, '/signup', page, mobile='13700137002',
            code=code, password=PASSWORD, password2=PASSWORD)
        self.assertEqual(signed.status_code, 303)
        self.assertTrue(signed.headers['Location'].endswith('/bind'))
        self.assertEqual(len(self.accounts('13700137002')), 1)
        self.assertEqual(self.get(client, '/bind').status_code, 200)

    def test_reset_does_not_tell_a_number_has_an_account(self):
        "Reset answers alike with or without an account; the code resets"
        pages = {}
        for mobile, address in [('13900139006', '127.0.1.2'),
                ('13700137003', '127.0.1.3')]:
            client = self.client(address)
            page = self.get(client, '/reset')
            page = self.post(client, '/reset/code', page, mobile=mobile)
            self.assertEqual(page.status_code, 200)
            pages[mobile] = (client, page)
        texts = {m: re.sub('value="[0-9a-f]{32}"', 'CSRF',
                p.get_data(as_text=True)).replace(
                m[:3] + '****' + m[7:], 'MASKED').replace(m, 'NUMBER')
            for m, (_, p) in pages.items()}
        self.assertEqual(texts['13900139006'], texts['13700137003'])
        client, page = pages['13900139006']
        changed = self.post(client, '/reset', page, mobile='13900139006',
            code=self.last_code('13900139006'), password='New-pass-123',
            password2='New-pass-123')
        self.assertEqual(changed.status_code, 200)
        self.assertIn('密码已修改', changed.get_data(as_text=True))
        logged = self.post(client, '/login', changed, login='13900139006',
            password='New-pass-123')
        self.assertEqual(logged.status_code, 303)
