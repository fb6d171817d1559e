# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The portal's visitor pages in-process (werkzeug's test client): a
resident invites a visitor and gets the link and QR code once; the
visitor's page of the link; another resident sees nothing of it."""
import datetime as dt
import re
import unittest
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from trytond.modules.community_portal.portal import i18n
from trytond.modules.community_portal.tests.tools import (
    ZH, PortalPages, create_residents)
from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from ..visitor import hash_token

PASSWORD = 'visitor-route-test-1'
MODULE = __import__('pathlib').Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo('Asia/Shanghai')


class VisitorCatalogueTestCase(unittest.TestCase):
    "The texts of the visitor pages are translated"

    def test_zh_cn_catalogue_complete(self):
        "Every text of the templates and routes has a zh_CN translation"
        with open(MODULE / 'portal' / 'locale' / 'zh_CN.po', 'rb') as fp:
            translated = {m.id for m in read_po(fp, locale='zh_CN')
                if m.id and m.string and not m.fuzzy}
        messages = i18n.extract(MODULE)
        self.assertGreater(len(messages), 15)
        self.assertEqual(sorted(set(messages) - translated), [])


class VisitorRouteTestCase(PortalPages, RouteTestCase):
    "The visitor pages of the portal"
    module = 'community_visitor'
    extras = ['community_portal']
    password = PASSWORD

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        company = create_company()
        compound, = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': "嘉州花园"}])
        building, = Building.create([{'compound': compound.id,
                    'code': '3'}])
        create_residents(building, [
                ('3-2-1201', "钱多", '13900139006'),
                ('3-2-1202', "孙少", '13900139007')], PASSWORD)

    def invite(self, client, **values):
        page = client.get(self.url('/visitors/new'), headers=ZH)
        self.assertEqual(page.status_code, 200)
        unit = re.search(r'<option value="([^"]+)"',
            page.get_data(as_text=True)).group(1)
        data = {'csrf': self.csrf(page), 'unit': unit, 'name': "李四",
            'phone': '139 1234 5678', 'day': self.tomorrow.isoformat(),
            'start': '14:00', 'end': '18:00', 'entries': '2'}
        data.update(values)
        return client.post(self.url('/visitors/new'), data=data,
            headers=ZH)

    @property
    def tomorrow(self):
        return dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=1)

    def test_invite_shows_link_once(self):
        """A resident invites a visitor for tomorrow 14:00–18:00: the page
        shows the link and QR code of the token, whose hash only is
        stored; the visitor opens the link without logging in"""
        client = self.login('13900139006')
        listing = client.get(self.url('/visitors'), headers=ZH)
        self.assertEqual(listing.status_code, 200)
        html = listing.get_data(as_text=True)
        self.assertIn('邀请访客', html)
        self.assertIn('data-nav="visitors"', html)

        response = self.invite(client)
        self.assertEqual(response.status_code, 200)
        html = response.get_data(as_text=True)
        self.assertIn('只显示这一次', html)
        self.assertIn('<svg', html)
        token = re.search(r'/visitors/pass/([A-Za-z0-9_-]+)"',
            html).group(1)
        self.assertGreaterEqual(len(token), 22)
        day = self.tomorrow.isoformat()
        self.assertIn('%s 14:00 ~ %s 18:00' % (day, day), html)

        with Transaction().start(DB_NAME, 0, readonly=True):
            Pass = Pool().get('community.visitor.pass')
            pass_, = Pass.search([])
            self.assertEqual(pass_.token_hash, hash_token(token))
            self.assertEqual(
                (pass_.visitor_name, pass_.visitor_phone, pass_.host.name,
                    pass_.unit.code, pass_.state, pass_.uses_allowed,
                    pass_.kind),
                ("李四", '13912345678', "钱多", '3-2-1201', 'active', 2,
                    'invite'))
            start = dt.datetime.combine(self.tomorrow, dt.time(14),
                SHANGHAI).astimezone(dt.UTC).replace(tzinfo=None)
            self.assertEqual((pass_.start, pass_.end),
                (start, start + dt.timedelta(hours=4)))

        html = client.get(self.url('/visitors'),
            headers=ZH).get_data(as_text=True)
        self.assertIn('李四', html)
        self.assertIn('已通行 0/2 次', html)
        self.assertNotIn(token, html)

        # the visitor's page of the link, without logging in
        visitor = self.client()
        page = visitor.get(self.url('/visitors/pass/%s' % token),
            headers=ZH)
        self.assertEqual(page.status_code, 200)
        html = page.get_data(as_text=True)
        self.assertIn('嘉州花园', html)
        self.assertIn('<svg', html)
        self.assertNotIn('13912345678', html)
        self.assertEqual(visitor.get(self.url('/visitors/pass/%s' % (
                        'x' * 22)), headers=ZH).status_code, 404)

        # the other resident sees nothing of it
        other = self.login('13900139007')
        html = other.get(self.url('/visitors'),
            headers=ZH).get_data(as_text=True)
        self.assertNotIn('李四', html)

    def test_invite_refused(self):
        "A wrong time or number is answered 400 in Chinese; no CSRF, 403"
        client = self.login('13900139006')
        response = self.invite(client, start='25:00', name="王五")
        self.assertEqual(response.status_code, 400)
        self.assertIn('时间格式', response.get_data(as_text=True))
        response = self.invite(client, phone='12345', name="王五")
        self.assertEqual(response.status_code, 400)
        self.assertIn('手机号码无效', response.get_data(as_text=True))
        response = self.invite(client, entries='99', name="王五")
        self.assertEqual(response.status_code, 400)
        forged = client.post(self.url('/visitors/new'), data={
                'name': "王五"}, headers=ZH)
        self.assertEqual(forged.status_code, 403)
        with Transaction().start(DB_NAME, 0, readonly=True):
            Pass = Pool().get('community.visitor.pass')
            self.assertEqual(
                Pass.search([('visitor_name', '=', "王五")]), [])
