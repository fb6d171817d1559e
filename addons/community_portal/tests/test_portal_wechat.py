# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""WeChat login (网页授权) through the pages (werkzeug's test client) and
the emulated official account (wechatpy's WeChatOAuth against it): a
resident binds WeChat through the callback, is then told by WeChat while
an unbound one gets an SMS, logs in by WeChat, unbinds."""
import datetime as dt
from urllib.parse import parse_qs, urlsplit

from trytond.config import config
from trytond.modules.community_notification.tests.emulators import (
    APPROVED_SMS, WECHAT_TEMPLATES, TencentSms, WeChat, configure)
from trytond.modules.community_notification.tests.tools import (
    in_transaction)
from trytond.modules.company.tests import create_company
from trytond.modules.community_portal.tests.tools import (
    PortalPages, create_residents, ZH)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'portal-wechat-test-1'


def notify_bill(compound_id):
    "Tell 李雷 and 韩梅梅 of a bill (template bill_issued)."
    pool = Pool()
    Party = pool.get('party.party')
    Notification = pool.get('community.notification')
    parties = Party.search([('name', 'in', ["李雷", "韩梅梅"])])
    Notification.notify('bill_issued', [(p, compound_id, {
                    'unit': '3-1-101', 'amount': '235.00',
                    'due_date': '2026-12-31', 'number': 'B-1'})
            for p in parties])


class PortalWeChatTestCase(PortalPages, RouteTestCase):
    "WeChat login and binding"
    module = 'community_portal'
    password = PASSWORD

    @classmethod
    def setUpClass(cls):
        cls.sms = TencentSms(templates=APPROVED_SMS).start()
        cls.wechat = WeChat(templates=WECHAT_TEMPLATES).start()
        cls.saved = (dict(config.items('community_notification'))
            if config.has_section('community_notification') else None)
        configure(cls.sms, cls.wechat)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.sms.stop()
        cls.wechat.stop()
        config.remove_section('community_notification')
        if cls.saved is not None:
            config.add_section('community_notification')
            for key, value in cls.saved.items():
                config.set('community_notification', key, value)

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        company = create_company()
        jz, = Compound.create([{'company': company.id, 'code': 'JZHY',
                    'name': "嘉州花园", 'quiet_start': dt.time(0, 0),
                    'quiet_end': dt.time(0, 0)}])
        cls.compound_id = jz.id
        b3, = Building.create([{'compound': jz.id, 'code': '3'}])
        create_residents(b3, [('3-1-101', "李雷", '13800138001'),
                ('3-1-102', "韩梅梅", '13900139002')], PASSWORD)

    def login(self, mobile):
        client = self.client()
        page = client.get(self.url('/login'), headers=ZH)
        self.assertIn('微信登录', page.get_data(as_text=True))
        response = client.post(self.url('/login'), data={
                'login': mobile, 'password': PASSWORD,
                'csrf': self.csrf(page)})
        self.assertEqual(response.status_code, 303)
        return client

    def through_wechat(self, client, openid):
        """/wechat/login, WeChat's authorisation as ``openid`` (emulated),
        back to the callback; return the callback's answer."""
        start = client.get(self.url('/wechat/login'))
        self.assertEqual(start.status_code, 303)
        location = start.headers['Location']
        self.assertTrue(location.startswith(
                'https://open.weixin.qq.com/connect/oauth2/authorize?'),
            location)
        query = parse_qs(urlsplit(location).query)
        self.assertEqual(query['appid'], ['wxtest'])
        self.assertEqual(query['scope'], ['snsapi_base'])
        back = urlsplit(query['redirect_uri'][0])
        self.assertEqual(back.path, self.url('/wechat/callback'))
        code = self.wechat.authorize(openid)
        return client.get('%s?code=%s&state=%s' % (
                back.path, code, query['state'][0]), headers=ZH)

    def openid(self, mobile):
        with Transaction().start(DB_NAME, 0):
            WebUser = Pool().get('web.user')
            user, = WebUser.search([('mobile', '=', mobile)])
            return user.wechat_openid

    def test_bind_login_and_messages_by_wechat(self):
        """Bound through the callback, 李雷 gets WeChat messages, logs in by
        WeChat and unbinds; unbound 韩梅梅 gets an SMS"""
        client = self.login('13800138001')
        profile = client.get(self.url('/profile'), headers=ZH)
        self.assertIn('绑定微信', profile.get_data(as_text=True))
        bound = self.through_wechat(client, 'oWX-li-portal')
        self.assertEqual(bound.status_code, 303)
        self.assertTrue(bound.headers['Location'].endswith('/profile'))
        self.assertEqual(self.openid('13800138001'), 'oWX-li-portal')
        self.assertIn('已绑定', client.get(self.url('/profile'),
                headers=ZH).get_data(as_text=True))

        in_transaction(DB_NAME, notify_bill, self.compound_id)
        self.assertEqual([(m['to'], m['template'])
                for m in self.wechat.sent],
            [('oWX-li-portal', 'BILL_ISSUED_TPL')])
        self.assertEqual([(m['to'], m['template']) for m in self.sms.sent],
            [('+8613900139002', '2001001')])

        # next time WeChat logs 李雷 in
        visitor = self.client()
        logged = self.through_wechat(visitor, 'oWX-li-portal')
        self.assertEqual(logged.status_code, 303)
        self.assertTrue(logged.headers['Location'].endswith('/portal/'))
        self.assertEqual(visitor.get(self.url('/profile')).status_code, 200)

        # a WeChat user bound to nobody is not logged in
        stranger = self.through_wechat(self.client(), 'oWX-nobody')
        self.assertEqual(stranger.status_code, 400)
        self.assertIn('该微信未绑定账号', stranger.get_data(as_text=True))

        # 李雷 unbinds on the profile page
        page = client.get(self.url('/profile'), headers=ZH)
        unbound = client.post(self.url('/wechat/unbind'), data={
                'csrf': self.csrf(page)})
        self.assertEqual(unbound.status_code, 303)
        self.assertIsNone(self.openid('13800138001'))

    def test_callback_needs_its_state(self):
        "A callback without the state of the browser's login is refused"
        client = self.login('13900139002')
        code = self.wechat.authorize('oWX-attacker')
        forged = client.get(self.url(
                '/wechat/callback?code=%s&state=guessed' % code))
        self.assertEqual(forged.status_code, 403)
        self.assertIsNone(self.openid('13900139002'))
