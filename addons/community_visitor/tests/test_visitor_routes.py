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


from trytond.modules.community_portal.tests.tools import (
    ZH, PortalPages, catalogue_gaps, create_residents)
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
        messages, untranslated = catalogue_gaps(MODULE)
        self.assertGreater(len(messages), 15)
        self.assertEqual(untranslated, [])


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
        # the guard of the compound, and one of another compound
        other, = Compound.create([{'company': company.id,
                    'code': 'FHXQ', 'name': "凤凰小区"}])
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        User.create([{
                    'name': name, 'login': login, 'password': PASSWORD,
                    'groups': [('add', [ModelData.get_id(
                                    'community_base',
                                    'group_community_staff')])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [c.id])],
                    } for name, login, c in [
                    ("嘉州门岗", 'guard_jz', compound),
                    ("凤凰门岗", 'guard_fh', other)]])


    def staff_page(self, client):
        page = client.get(self.url('/staff/visitors'), headers=ZH)
        self.assertEqual(page.status_code, 200)
        return page

    def register_walk_in(self, guard, name, unit='3-2-1201', **values):
        page = self.staff_page(guard)
        compound = re.search(r'<select id="compound" name="compound">'
            r'<option value="([^"]+)"', page.get_data(as_text=True)).group(1)
        data = {'csrf': self.csrf(page), 'compound': compound,
            'unit': unit, 'name': name, 'phone': '136 1111 2222',
            'people': '2'}
        data.update(values)
        return guard.post(self.url('/staff/visitors/new'), data=data,
            headers=ZH)

    def walk_in(self, name):
        "(state, uses, answered by) of the walk-in of ``name``."
        with Transaction().start(DB_NAME, 0, readonly=True):
            Pass = Pool().get('community.visitor.pass')
            pass_, = Pass.search([('visitor_name', '=', name)])
            return (pass_.state, pass_.uses,
                pass_.answered_by.name if pass_.answered_by else None)

    def pass_ref(self, html, name):
        "The signed reference of the walk-in card of ``name`` on a page."
        return re.search(r'id="(?:walk-in|pass)-([^"]+)"[^>]*>(?:<h3>)?'
            r'(?:%s)' % re.escape(name), html).group(1)

    def test_walk_in_let_in_by_the_host(self):
        """The guard registers 赵六 for 3-2-1201; the owner sees him
        waiting and lets him in; the guard's page shows it and the guard
        lets him in once. The other resident and the guard of another
        compound see nothing of it"""
        guard = self.staff_login('guard_jz')
        html = self.staff_page(guard).get_data(as_text=True)
        self.assertIn('临时访客登记', html)
        self.assertIn('data-nav="staff_visitors"', html)
        response = self.register_walk_in(guard, "赵六")
        self.assertEqual(response.status_code, 303)
        self.assertEqual(self.walk_in("赵六"), ('waiting', 0, None))
        html = self.staff_page(guard).get_data(as_text=True)
        self.assertIn('等待住户确认', html)
        # the guard who registered him reads the number in full
        self.assertIn('13611112222', html)

        owner = self.login('13900139006')
        html = owner.get(self.url('/visitors'), headers=ZH).get_data(
            as_text=True)
        self.assertIn('赵六 在门岗等候', html)
        self.assertIn('2 人', html)
        ref = self.pass_ref(html, '<h3>赵六')
        other = self.login('13900139007')
        self.assertNotIn('赵六', other.get(self.url('/visitors'),
                headers=ZH).get_data(as_text=True))
        # the other resident cannot answer for a unit not theirs
        page = other.get(self.url('/visitors'), headers=ZH)
        self.assertEqual(other.post(self.url('/visitors/answer/%s' % ref),
                data={'csrf': self.csrf(page), 'accept': '1'}).status_code,
            404)
        self.assertEqual(self.walk_in("赵六"), ('waiting', 0, None))

        page = owner.get(self.url('/visitors'), headers=ZH)
        response = owner.post(self.url('/visitors/answer/%s' % ref),
            data={'csrf': self.csrf(page), 'accept': '1'})
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.location.endswith('/visitors?m=active'))
        self.assertIn('门岗将为您的访客放行', owner.get(
                response.location, headers=ZH).get_data(as_text=True))
        self.assertEqual(self.walk_in("赵六"), ('active', 0, "钱多"))
        # a second answer comes too late
        page = owner.get(self.url('/visitors'), headers=ZH)
        response = owner.post(self.url('/visitors/answer/%s' % ref),
            data={'csrf': self.csrf(page), 'accept': '0'})
        self.assertTrue(response.location.endswith('/visitors?m=late'))
        self.assertEqual(self.walk_in("赵六"), ('active', 0, "钱多"))

        # the guard of another compound sees nothing, cannot act on it
        guard_fh = self.staff_login('guard_fh')
        page = self.staff_page(guard_fh)
        self.assertNotIn('赵六', page.get_data(as_text=True))
        self.assertEqual(guard_fh.post(self.url(
                    '/staff/visitors/%s/admit' % ref), data={
                    'csrf': self.csrf(page)}).status_code, 404)

        page = self.staff_page(guard)
        html = page.get_data(as_text=True)
        self.assertIn('立即放行', html)
        response = guard.post(self.url('/staff/visitors/%s/admit' % ref),
            data={'csrf': self.csrf(page)}, headers=ZH)
        self.assertEqual(response.status_code, 303)
        self.assertEqual(self.walk_in("赵六"), ('used', 1, "钱多"))
        page = self.staff_page(guard)
        response = guard.post(self.url('/staff/visitors/%s/admit' % ref),
            data={'csrf': self.csrf(page)}, headers=ZH)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(self.walk_in("赵六"), ('used', 1, "钱多"))

    def test_walk_in_nobody_answers(self):
        """Nobody answers for 周九 in time: the resident's late answer is
        refused, the guard checks with the host and lets him in (a
        person's decision); a walk-in for an unknown unit is refused"""
        guard = self.staff_login('guard_jz')
        self.assertEqual(self.register_walk_in(guard, "周九").status_code,
            303)
        page = self.staff_page(guard)
        ref = self.pass_ref(page.get_data(as_text=True), '周九')
        # still waiting: the guard cannot decide yet
        response = guard.post(self.url('/staff/visitors/%s/approve' % ref),
            data={'csrf': self.csrf(page)}, headers=ZH)
        self.assertEqual(response.status_code, 409)
        self.assertIn('请稍候', response.get_data(as_text=True))
        # the deadline passes
        with Transaction().start(DB_NAME, 0) as transaction:
            Pass = Pool().get('community.visitor.pass')
            table = Pass.__table__()
            transaction.connection.cursor().execute(*table.update(
                    [table.confirm_deadline],
                    [table.confirm_deadline - dt.timedelta(minutes=5)],
                    where=table.visitor_name == "周九"))
            transaction.commit()
        owner = self.login('13900139006')
        html = owner.get(self.url('/visitors'), headers=ZH).get_data(
            as_text=True)
        self.assertNotIn('周九 在门岗等候', html)
        page = owner.get(self.url('/visitors'), headers=ZH)
        response = owner.post(self.url('/visitors/answer/%s' % ref),
            data={'csrf': self.csrf(page), 'accept': '1'})
        self.assertTrue(response.location.endswith('/visitors?m=late'))
        self.assertEqual(self.walk_in("周九"), ('waiting', 0, None))

        page = self.staff_page(guard)
        self.assertIn('已与住户核实，放行', page.get_data(as_text=True))
        response = guard.post(self.url('/staff/visitors/%s/approve' % ref),
            data={'csrf': self.csrf(page)}, headers=ZH)
        self.assertEqual(response.status_code, 303)
        self.assertEqual(self.walk_in("周九"), ('used', 1, None))

        response = self.register_walk_in(guard, "吴十", unit='9-9-999')
        self.assertEqual(response.status_code, 400)
        self.assertIn('没有房号 9-9-999', response.get_data(as_text=True))

    def test_staff_checks_an_invitation(self):
        """The guard scans an invitation's link valid now: one entry; the
        second scan is refused; a made-up code is unknown"""
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Pass = pool.get('community.visitor.pass')
            Party = pool.get('party.party')
            Unit = pool.get('community.unit')
            host, = Party.search([('name', '=', "孙少")])
            unit, = Unit.search([('code', '=', '3-2-1202')])
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            _, token = Pass.invite({'unit': unit.id, 'host': host.id,
                    'visitor_name': "郑十一",
                    'start': now - dt.timedelta(hours=1),
                    'end': now + dt.timedelta(hours=1)})
            transaction.commit()
        guard = self.staff_login('guard_jz')
        page = self.staff_page(guard)
        compound = re.search(r'<select id="check-compound" name="compound">'
            r'<option value="([^"]+)"', page.get_data(as_text=True)).group(1)
        link = 'https://example.com/db/portal/visitors/pass/%s' % token
        response = guard.post(self.url('/staff/visitors/check'), data={
                'csrf': self.csrf(page), 'compound': compound,
                'token': link}, headers=ZH)
        self.assertEqual(response.status_code, 200)
        html = response.get_data(as_text=True)
        self.assertIn('放行：郑十一，拜访 3-2-1202', html)
        response = guard.post(self.url('/staff/visitors/check'), data={
                'csrf': self.csrf(page), 'compound': compound,
                'token': token}, headers=ZH)
        self.assertEqual(response.status_code, 409)
        self.assertIn('class="error" role="alert" id="checked"',
            response.get_data(as_text=True))
        response = guard.post(self.url('/staff/visitors/check'), data={
                'csrf': self.csrf(page), 'compound': compound,
                'token': 'made-up'}, headers=ZH)
        self.assertEqual(response.status_code, 409)
        self.assertIn('无效的通行证', response.get_data(as_text=True))

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
