# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The portal's pages in-process (werkzeug's test client): templates,
translations, static files, CSP, and each compound its own portal."""
import datetime as dt
import re
from decimal import Decimal

from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import create_company
from trytond.modules.community_portal.tests.tools import (
    PortalPages, EN, ZH)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'portal-route-test-1'


class PortalRouteTestCase(PortalPages, RouteTestCase):
    "The portal's pages"
    module = 'community_portal'
    password = PASSWORD

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        WebUser = pool.get('web.user')
        Portal = pool.get('community.portal.compound')
        Announcement = pool.get('community.announcement')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        company = create_company()
        jz, bj = Compound.create([
                {'company': company.id, 'code': 'JZHY', 'name': "嘉州花园"},
                {'company': company.id, 'code': 'BJHY', 'name': "滨江花园"}])
        b3, b9 = Building.create([
                {'compound': jz.id, 'code': '3'},
                {'compound': bj.id, 'code': '9'}])
        u1, u2 = Unit.create([
                {'building': b3.id, 'code': '3-2-1201'},
                {'building': b9.id, 'code': '9-1-101'}])
        qian, = Party.create([{'name': "钱多"}])
        Residency.create([{
                    'unit': u.id, 'party': qian.id, 'role': 'owner',
                    'share': Decimal(100),
                    'start_date': dt.date(2020, 1, 1)} for u in [u1, u2]])
        user, = WebUser.create([{'mobile': '13900139006', 'party': qian.id,
                    'password': PASSWORD}])
        Portal.create([{
                    'compound': jz.id, 'portal_name': "嘉州花园业主之家",
                    'primary_colour': '#C0392B', 'notices': "停水检修",
                    'services': [('create', [
                                {'key': 'requests', 'sequence': 1},
                                {'key': 'bills', 'sequence': 2}])],
                    }, {
                    'compound': bj.id, 'portal_name': "滨江花园智慧社区",
                    'primary_colour': '#117A65',
                    'contacts': "滨江物业 0833-2200002",
                    'services': [('create', [
                                {'key': 'announcements', 'sequence': 1}])],
                    }])
        notice, = Announcement.create([{
                    'compound': bj.id, 'title': "电梯年检",
                    'body': "3月20日电梯年检。",
                    'publish_date': dt.datetime(2020, 1, 1)}])
        Announcement.publish([notice])
        staff = ModelData.get_id('community_base', 'group_community_staff')
        User.create([{
                    'name': "嘉州维修", 'login': 'tech_jz',
                    'password': PASSWORD, 'groups': [('add', [staff])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [jz.id])],
                    }, {
                    'name': "滨江客服", 'login': 'desk_bj',
                    'password': PASSWORD, 'groups': [('add', [staff])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [bj.id])],
                    }])

    def test_login_page_languages(self):
        "The login page is in Chinese, or English for an English browser"
        client = self.client()
        zh = client.get(self.url('/login'), headers=ZH)
        self.assertEqual(zh.status_code, 200)
        self.assertIn('业主登录', zh.get_data(as_text=True))
        self.assertIn('注册新账号', zh.get_data(as_text=True))
        self.assertEqual(zh.headers['Content-Language'], 'zh-CN')
        en = client.get(self.url('/login'), headers=EN)
        self.assertIn('Resident login', en.get_data(as_text=True))
        self.assertIn('Create an account', en.get_data(as_text=True))
        # no Accept-Language: Chinese
        self.assertIn('业主登录',
            client.get(self.url('/login')).get_data(as_text=True))

    def test_csp_without_unsafe_inline(self):
        "Pages have a CSP without 'unsafe-inline' and no inline style"
        anonymous, client = self.client(), self.login('13900139006')
        for path in ['/login', '/signup', '/', '/units', '/profile',
                '/requests/new', '/household', '/bills']:
            response = (anonymous if path in {'/login', '/signup'}
                else client).get(self.url(path), headers=ZH)
            self.assertEqual(response.status_code, 200, path)
            csp = response.headers['Content-Security-Policy']
            self.assertNotIn('unsafe-inline', csp)
            self.assertIn("style-src 'self'", csp)
            self.assertIn("frame-ancestors 'none'", csp)
            html = response.get_data(as_text=True)
            self.assertNotIn('<style', html, path)
            self.assertNotIn('style=', html, path)
            self.assertNotIn('<script', html, path)
            self.assertEqual(response.headers['Cache-Control'], 'no-store')

    def test_static_css_cached(self):
        "The style sheet has its hash in its URL and is cached a year"
        client = self.client()
        html = client.get(self.url('/login')).get_data(as_text=True)
        path, digest = re.search(
            r'href="(/[^"]+/static/([0-9a-f]{16})/portal\.css)"',
            html).groups()
        css = client.get(path)
        self.assertEqual(css.status_code, 200)
        self.assertTrue(css.headers['Content-Type'].startswith('text/css'))
        self.assertIn('immutable', css.headers['Cache-Control'])
        self.assertEqual(css.headers['ETag'], '"%s"' % digest)
        self.assertIn('--primary', css.get_data(as_text=True))
        again = client.get(path, headers={'If-None-Match': '"%s"' % digest})
        self.assertEqual(again.status_code, 304)
        self.assertEqual(client.get(path.replace(digest, '0' * 16)
                ).status_code, 404)
        for name in ['tryton.cfg', '.portal.css', '..%2F..%2Ftryton.cfg']:
            self.assertIn(client.get(self.url(
                        '/static/%s/%s' % (digest, name))).status_code,
                {404, 405}, name)

    def test_csrf_required(self):
        "A POST without the CSRF token is refused"
        client = self.client()
        client.get(self.url('/login'))
        response = client.post(self.url('/login'), data={
                'login': '13900139006', 'password': PASSWORD})
        self.assertEqual(response.status_code, 403)

    def test_each_compound_its_portal(self):
        """A resident of two compounds sees each one's name, colour,
        services and notices, and switches between them"""
        client = self.login('13900139006')
        home = client.get(self.url('/'), headers=ZH)
        html = home.get_data(as_text=True)
        self.assertIn('<title>嘉州花园业主之家</title>', html)
        self.assertIn('停水检修', html)
        # its services in its order, home and the inbox (always)
        nav = re.findall(r'data-nav="([a-z_]+)"', html)
        self.assertEqual(nav, ['home', 'requests', 'bills', 'inbox'])
        brand = re.search(r'href="([^"]+/brand/[0-9]+\.css\?v=[0-9a-f]+)"',
            html).group(1)
        css = client.get(brand)
        self.assertIn('--primary:#C0392B', css.get_data(as_text=True))
        self.assertIn('max-age', css.headers['Cache-Control'])
        # switch to the other compound
        refs = dict(re.findall(
                r'name="compound" value="([^"]+)"><button type="submit" '
                r'class="secondary[^"]*">([^<]+)<', html))
        self.assertEqual(sorted(refs.values()), ['嘉州花园', '滨江花园'])
        bj_ref = {v: k for k, v in refs.items()}['滨江花园']
        switched = client.post(self.url('/compound'), data={
                'compound': bj_ref, 'csrf': self.csrf(home)})
        self.assertEqual(switched.status_code, 303)
        html = client.get(self.url('/'), headers=ZH).get_data(as_text=True)
        self.assertIn('<title>滨江花园智慧社区</title>', html)
        self.assertIn('滨江物业 0833-2200002', html)
        self.assertNotIn('停水检修', html)
        self.assertEqual(re.findall(r'data-nav="([a-z_]+)"', html),
            ['home', 'announcements', 'inbox'])
        self.assertIn('9-1-101', html)
        self.assertNotIn('3-2-1201', html)
        brand = re.search(r'href="([^"]+/brand/[0-9]+\.css\?v=[0-9a-f]+)"',
            html).group(1)
        self.assertIn('--primary:#117A65',
            client.get(brand).get_data(as_text=True))
        # a forged or foreign compound reference is 404
        forged = client.post(self.url('/compound'), data={
                'compound': bj_ref.split('.')[0] + '.0000',
                'csrf': self.csrf(home)})
        self.assertEqual(forged.status_code, 404)

    def test_service_not_offered_is_404(self):
        """A page of a service the resident's compound does not offer
        answers 404, as its navigation entry is not shown"""
        client = self.login('13900139006')
        home = client.get(self.url('/'), headers=ZH)
        # 嘉州花园 offers repairs and bills, no notices
        self.assertEqual(client.get(self.url('/bills'),
                headers=ZH).status_code, 200)
        self.assertEqual(client.get(self.url('/requests'),
                headers=ZH).status_code, 200)
        self.assertEqual(client.get(self.url('/announcements'),
                headers=ZH).status_code, 404)
        refs = dict(re.findall(
                r'name="compound" value="([^"]+)"><button type="submit" '
                r'class="secondary[^"]*">([^<]+)<',
                home.get_data(as_text=True)))
        bj_ref = {v: k for k, v in refs.items()}['滨江花园']
        client.post(self.url('/compound'), data={
                'compound': bj_ref, 'csrf': self.csrf(home)})
        # 滨江花园 offers notices only
        for path in ['/bills', '/prepay', '/requests', '/requests/new']:
            self.assertEqual(client.get(self.url(path),
                    headers=ZH).status_code, 404, path)
        self.assertEqual(client.get(self.url('/announcements'),
                headers=ZH).status_code, 200)

    def switch_to(self, client, name):
        "Show the portal of the compound ``name``."
        home = client.get(self.url('/'), headers=ZH)
        refs = dict(re.findall(
                r'name="compound" value="([^"]+)"><button type="submit" '
                r'class="secondary[^"]*">([^<]+)<',
                home.get_data(as_text=True)))
        ref = {v: k for k, v in refs.items()}[name]
        response = client.post(self.url('/compound'), data={
                'compound': ref, 'csrf': self.csrf(home)})
        self.assertEqual(response.status_code, 303)

    def receipts(self):
        "The read receipts of the resident, as (title, party name)."
        with Transaction().start(DB_NAME, 0, readonly=True):
            Receipt = Pool().get('community.announcement.receipt')
            return sorted((r.announcement.title, r.party.name)
                for r in Receipt.search([]))

    def test_announcement_get_writes_nothing(self):
        """Opening a notice (GET) records no read receipt; its button (a
        POST with the CSRF token) records one, once"""
        client = self.login('13900139006')
        self.switch_to(client, '滨江花园')
        listing = client.get(self.url('/announcements'), headers=ZH)
        self.assertEqual(listing.status_code, 200)
        token, = re.findall(r'/announcements/([0-9a-f]{32})"',
            listing.get_data(as_text=True))
        before = self.receipts()
        for _ in range(2):
            page = client.get(self.url('/announcements/' + token),
                headers=ZH)
            self.assertEqual(page.status_code, 200)
        html = page.get_data(as_text=True)
        self.assertIn('电梯年检', html)
        self.assertIn('我已阅读', html)
        self.assertEqual(self.receipts(), before)
        # without the CSRF token: refused, nothing recorded
        forged = client.post(self.url('/announcements/%s/read' % token))
        self.assertEqual(forged.status_code, 403)
        self.assertEqual(self.receipts(), before)
        for _ in range(2):
            read = client.post(self.url('/announcements/%s/read' % token),
                data={'csrf': self.csrf(page)})
            self.assertEqual(read.status_code, 303)
            self.assertTrue(read.headers['Location'].endswith(
                    '/announcements/' + token))
        self.assertEqual(self.receipts(), before + [("电梯年检", "钱多")])
        html = client.get(self.url('/announcements/' + token),
            headers=ZH).get_data(as_text=True)
        self.assertIn('已读于', html)
        self.assertNotIn('我已阅读', html)
        # an unknown notice: 404, nothing recorded
        self.assertEqual(client.post(
                self.url('/announcements/%s/read' % ('0' * 32)),
                data={'csrf': self.csrf(page)}).status_code, 404)
        self.assertEqual(len(self.receipts()), len(before) + 1)

    def test_get_is_read_only(self):
        """A GET runs in a read-only transaction even on a page that
        writes on POST: an expired session cookie sent to the login page
        (GET) logs out without deleting the session (a write), its POST
        does"""
        client = self.login('13900139006')

        def sessions():
            with Transaction().start(DB_NAME, 0, readonly=True):
                Session = Pool().get('web.user.session')
                return Session.search_count([])
        with Transaction().start(DB_NAME, 0) as transaction:
            Session = Pool().get('web.user.session')
            table = Session.__table__()
            cursor = transaction.connection.cursor()
            old = dt.datetime.now() - dt.timedelta(days=40)
            cursor.execute(*table.update(
                    [table.create_date, table.write_date], [old, old]))
            transaction.commit()
        count = sessions()
        self.assertGreater(count, 0)
        for path in ['/login', '/signup']:
            page = client.get(self.url(path), headers=ZH)
            self.assertEqual(page.status_code, 200)
            self.assertIn('csrf', page.get_data(as_text=True))
        self.assertEqual(sessions(), count)
        # the POST of the page may write: the expired session goes
        client.post(self.url('/login'), data={
                'login': '13900139006', 'password': 'wrong-password',
                'csrf': self.csrf(page)})
        self.assertLess(sessions(), count)

    def test_language_precedence(self):
        """The page's language: the account's choice, else the cookie of
        the switch before login, else the browser's, else Chinese"""
        anonymous = self.client()
        page = anonymous.get(self.url('/login'), headers=EN)
        self.assertIn('Resident login', page.get_data(as_text=True))
        # the switch before login: a cookie, over the browser's language
        switched = anonymous.post(self.url('/language'), data={
                'lang': 'zh_CN', 'next': '/login',
                'csrf': self.csrf(page)})
        self.assertEqual(switched.status_code, 303)
        self.assertTrue(switched.headers['Location'].endswith('/login'))
        self.assertIn('Max-Age=', switched.headers['Set-Cookie'])
        self.assertIn('业主登录', anonymous.get(self.url('/login'),
                headers=EN).get_data(as_text=True))
        # an unknown language or a foreign next page
        self.assertEqual(anonymous.post(self.url('/language'), data={
                    'lang': 'fr', 'csrf': self.csrf(page)}).status_code, 400)
        away = anonymous.post(self.url('/language'), data={
                'lang': 'zh_CN', 'next': '//evil.example/x',
                'csrf': self.csrf(page)})
        self.assertTrue(away.headers['Location'].endswith('/portal/'))

        client = self.login('13900139006')
        try:
            # no choice yet: the browser's language, else Chinese
            self.assertIn('>Home<', client.get(self.url('/'),
                    headers=EN).get_data(as_text=True))
            self.assertIn('>首页<', client.get(self.url('/'),
                    ).get_data(as_text=True))
            # the account's choice, over the browser's
            home = client.get(self.url('/'), headers=ZH)
            client.post(self.url('/language'), data={
                    'lang': 'en', 'next': '/', 'csrf': self.csrf(home)})
            with Transaction().start(DB_NAME, 0, readonly=True):
                WebUser = Pool().get('web.user')
                user, = WebUser.search([])
                self.assertEqual(user.portal_language, 'en')
            # over the cookie and the browser: a new session without the
            # cookie, a Chinese browser, and a cookie saying Chinese
            other = self.login('13900139006')
            other.set_cookie('portal_lang', 'zh_CN',
                path='/%s/portal' % DB_NAME)
            html = other.get(self.url('/'), headers=ZH).get_data(as_text=True)
            self.assertIn('>Home<', html)
            self.assertIn('lang="en"', html.split('\n')[1])
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                WebUser = Pool().get('web.user')
                WebUser.write(WebUser.search([]), {'portal_language': None})
                transaction.commit()


    def test_staff_navigation_per_compound(self):
        """The staff of a compound see the entries of the services it
        offers; the pages of the others answer 404"""
        jz = self.staff_login('tech_jz')
        html = jz.get(self.url('/staff/meters'), headers=ZH
            ).get_data(as_text=True)
        self.assertEqual(re.findall(r'data-nav="([a-z_]+)"', html),
            ['staff_queue', 'staff_intake', 'staff_cashier', 'staff_meters',
                'staff_logout'])
        self.assertEqual(jz.get(self.url('/staff/')).status_code, 200)
        self.assertEqual(jz.get(self.url('/staff/cashier')).status_code,
            200)

        # 滨江花园 offers notices only: no work orders, no cashier
        bj = self.staff_login('desk_bj')
        html = bj.get(self.url('/staff/meters'), headers=ZH
            ).get_data(as_text=True)
        self.assertEqual(re.findall(r'data-nav="([a-z_]+)"', html),
            ['staff_meters', 'staff_logout'])
        self.assertNotIn('收银', html)
        self.assertEqual(bj.get(self.url('/staff/cashier')).status_code,
            404)
        self.assertEqual(bj.post(self.url('/staff/cashier'), data={
                    'csrf': self.csrf(bj.get(self.url('/staff/logout-page'))),
                    }).status_code, 404)
        self.assertEqual(bj.get(self.url('/staff/requests/%s' % ('0' * 32))
                ).status_code, 404)
        # the staff home goes to the first entry offered
        home = bj.get(self.url('/staff/'))
        self.assertEqual(home.status_code, 303)
        self.assertTrue(home.headers['Location'].endswith('/staff/meters'))

    def test_staff_intake_by_unit_code(self):
        """A resident calls: the front desk types the unit's code as people
        say it and files the request for its resident, by phone; a unit of
        another compound is not found"""
        jz = self.staff_login('tech_jz')
        page = jz.get(self.url('/staff/requests/new'), headers=ZH)
        self.assertEqual(page.status_code, 200)
        self.assertIn('房屋编号', page.get_data(as_text=True))
        csrf = self.csrf(page)
        response = jz.post(self.url('/staff/requests/new'), data={
                'csrf': csrf, 'unit': '9栋1单元101', 'kind': 'repair',
                'title': "门锁坏了", 'urgency': 'normal'}, headers=ZH)
        self.assertEqual(response.status_code, 400)
        self.assertIn('没有此编号的房屋', response.get_data(as_text=True))
        response = jz.post(self.url('/staff/requests/new'), data={
                'csrf': csrf, 'unit': '3栋2单元1201', 'kind': 'repair',
                'title': "厨房漏水", 'urgency': 'high',
                'phone': '13900139006'})
        self.assertEqual(response.status_code, 303)
        token = response.headers['Location'].rsplit('/', 1)[1]
        with Transaction().start(DB_NAME, 0):
            Request = Pool().get('community.service.request')
            request, = Request.search([('token', '=', token)])
            self.assertEqual(
                (request.unit.code, request.requester.name,
                    request.channel, request.urgency, request.title,
                    request.state),
                ('3-2-1201', "钱多", 'phone', 'high', "厨房漏水", 'new'))

    def test_selection_labels_from_model(self):
        "The request form's types are the model's selection"
        client = self.login('13900139006')
        html = client.get(self.url('/requests/new'), headers=EN
            ).get_data(as_text=True)
        with Transaction().start(DB_NAME, 0):
            Request = Pool().get('community.service.request')
            kinds = Request.fields_get(['kind'])['kind']['selection']
        for value, label in kinds:
            if value:
                self.assertIn('<option value="%s"' % value, html)
                self.assertIn('>%s</option>' % label, html)

    def test_colour_validated(self):
        "The primary colour of a portal must be #RRGGBB"
        with Transaction().start(DB_NAME, 0) as transaction:
            Portal = Pool().get('community.portal.compound')
            portal, = Portal.search([], limit=1)
            portal.primary_colour = 'red;}'
            with self.assertRaises(ValidationError):
                portal.save()
            transaction.rollback()


del RouteTestCase
