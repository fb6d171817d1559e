# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The inbox of the portal (werkzeug's test client): the unread count on
the navigation, a notification opened leads to its record and is read,
all marked read; nobody reads another resident's notifications, neither
through the pages nor through the record rules."""
import datetime as dt

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company
from trytond.modules.community_portal.portal.web import resident_access
from trytond.modules.community_portal.tests.tools import (
    PortalPages, create_residents, ZH)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase, with_transaction
from trytond.transaction import Transaction, check_access

PASSWORD = 'portal-inbox-test-1'


class PortalInboxTestCase(PortalPages, RouteTestCase):
    "The portal's inbox"
    module = 'community_portal'
    password = PASSWORD

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Request = pool.get('community.service.request')
        Notification = pool.get('community.notification')
        company = create_company()
        jz, = Compound.create([
                {'company': company.id, 'code': 'JZHY', 'name': "嘉州花园"}])
        b3, = Building.create([{'compound': jz.id, 'code': '3'}])
        (u1, u2), (qian, zhao) = create_residents(b3, [
                ('3-2-1201', "钱多", '13900139006'),
                ('3-2-1202', "赵磊", '13900139003')], PASSWORD)
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        staff = ModelData.get_id('community_base', 'group_community_staff')
        User.create([{
                    'name': "嘉州维修", 'login': 'tech_jz',
                    'groups': [('add', [staff])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [jz.id])],
                    }])
        mine, theirs = Request.create([
                {'unit': u1.id, 'requester': qian.id, 'title': "水管漏水",
                    'channel': 'portal'},
                {'unit': u2.id, 'requester': zhao.id, 'title': "门锁坏了",
                    'channel': 'portal'}])
        for request, party in [(mine, qian), (theirs, zhao)]:
            Notification.notify('request_state', [(party, jz, {
                            'number': 'R-%s' % request.id,
                            'title': request.title, 'state': "处理中",
                            })], origin=request)
        Notification.notify('announcement_pinned', [(qian, jz, {
                        'title': "停水通知"})])

    @staticmethod
    def tokens():
        "{party name: [(token, title, read)]} of the notifications."
        result = {}
        with Transaction().start(DB_NAME, 0):
            Notification = Pool().get('community.notification')
            for n in Notification.search([], order=[('id', 'ASC')]):
                result.setdefault(n.party.name, []).append(
                    (n.token, n.title, bool(n.read_date)))
        return result

    def test_inbox_open_and_read_all(self):
        "The unread count, a notification opened leads to its request"
        client = self.login('13900139006')
        home = client.get(self.url('/'), headers=ZH).get_data(as_text=True)
        self.assertIn('消息<span class="badge" id="nav-inbox-count">2</span>',
            home)
        page = client.get(self.url('/notifications'), headers=ZH)
        html = page.get_data(as_text=True)
        self.assertEqual(page.status_code, 200)
        self.assertIn('2 条未读', html)
        self.assertIn('水管漏水', html)
        self.assertIn('停水通知', html)
        self.assertNotIn('门锁坏了', html)
        self.assertEqual(html.count('class="message unread"'), 2)

        (request_token, _, _), (notice_token, _, _) = self.tokens()["钱多"]
        response = client.post(
            self.url('/notifications/%s/open' % request_token),
            data={'csrf': self.csrf(page)})
        self.assertEqual(response.status_code, 303)
        self.assertRegex(response.headers['Location'],
            r'/portal/requests/[0-9a-f]{32}$')
        self.assertEqual(client.get(response.headers['Location'],
                headers=ZH).status_code, 200)
        html = client.get(self.url('/notifications'),
            headers=ZH).get_data(as_text=True)
        self.assertIn('1 条未读', html)
        self.assertIn('id="nav-inbox-count">1<', html)
        self.assertEqual([r for _, _, r in self.tokens()["钱多"]],
            [True, False])

        # a notification without a record: its page, marked read there
        page = client.get(self.url('/notifications/%s' % notice_token),
            headers=ZH)
        self.assertIn('标为已读', page.get_data(as_text=True))
        response = client.post(
            self.url('/notifications/%s/open' % notice_token),
            data={'csrf': self.csrf(page)})
        self.assertTrue(response.headers['Location'].endswith(
                '/notifications/%s' % notice_token))
        html = client.get(self.url('/notifications'),
            headers=ZH).get_data(as_text=True)
        self.assertNotIn('nav-inbox-count', html)
        self.assertEqual(html.count('class="message unread"'), 0)
        self.assertEqual(html.count('class="message"'), 2)

    def test_read_all(self):
        "Mark all read: the count is gone, other residents' stay unread"
        client = self.login('13900139006')
        page = client.get(self.url('/notifications'), headers=ZH)
        response = client.post(self.url('/notifications/read-all'),
            data={'csrf': self.csrf(page)})
        self.assertEqual(response.status_code, 303)
        html = client.get(self.url('/notifications'),
            headers=ZH).get_data(as_text=True)
        self.assertNotIn('条未读', html)
        self.assertNotIn('nav-inbox-count', html)
        tokens = self.tokens()
        self.assertEqual([r for _, _, r in tokens["钱多"]], [True, True])
        self.assertEqual([r for _, _, r in tokens["赵磊"]], [False])

    def test_other_residents_notification(self):
        "Another resident's notification is not found, nor marked read"
        client = self.login('13900139006')
        page = client.get(self.url('/notifications'), headers=ZH)
        (token, _, _), = self.tokens()["赵磊"]
        self.assertEqual(client.get(
                self.url('/notifications/%s' % token)).status_code, 404)
        self.assertEqual(client.post(
                self.url('/notifications/%s/open' % token),
                data={'csrf': self.csrf(page)}).status_code, 404)
        self.assertFalse(self.tokens()["赵磊"][0][2])
        # without login: the login page
        anonymous = self.client().get(self.url('/notifications'))
        self.assertEqual(anonymous.status_code, 303)
        self.assertTrue(anonymous.headers['Location'].endswith('/login'))

    @with_transaction()
    def test_record_rule(self):
        "The record rules of a resident: their own notifications only"
        pool = Pool()
        Party = pool.get('party.party')
        Notification = pool.get('community.notification')
        qian, = Party.search([('name', '=', "钱多")])
        zhao, = Party.search([('name', '=', "赵磊")])
        theirs, = Notification.search([('party', '=', zhao.id)])
        with resident_access(qian.id):
            mine = Notification.search([])
            self.assertEqual({n.party.id for n in mine}, {qian.id})
            self.assertEqual(len(mine), 2)
            with self.assertRaises(AccessError):
                Notification.read([theirs.id], ['title'])
            with self.assertRaises(AccessError):
                Notification.write([Notification(theirs.id)],
                    {'read_date': dt.datetime.now()})
            with self.assertRaises(AccessError):
                Notification.delete(mine)
        with resident_access(None):
            self.assertEqual(Notification.search([]), [])

    @with_transaction()
    def test_claim_notifies_the_requester(self):
        "A technician claims a request (his rights): the requester is told"
        pool = Pool()
        User = pool.get('res.user')
        Request = pool.get('community.service.request')
        Notification = pool.get('community.notification')
        tech, = User.search([('login', '=', 'tech_jz')])
        request, = Request.search([('title', '=', "水管漏水")])
        transaction = Transaction()
        with transaction.set_user(tech.id):
            preferences = User.get_preferences(context_only=True)
        with transaction.set_user(tech.id), \
                transaction.set_context(preferences), check_access():
            Request.claim([Request(request.id)])
        told = Notification.search([
                ('party', '=', request.requester.id),
                ('origin', '=', str(request))])
        self.assertEqual(len(told), 2)
        self.assertIn("嘉州维修", told[0].body)
