# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The resident's pass code on the portal, in-process (werkzeug's test
client): opened on first use, shown as a QR code that the gate accepts,
renewed by its JSON route, gone when the property suspends it; no one
else's code."""
import json
import re
import unittest


from trytond.modules.community_portal.tests.tools import (
    ZH, PortalPages, catalogue_gaps, create_residents)
from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'access-route-test-1'
MODULE = __import__('pathlib').Path(__file__).resolve().parent.parent


class AccessCatalogueTestCase(unittest.TestCase):
    "The texts of the pass code pages are translated"

    def test_zh_cn_catalogue_complete(self):
        "Every text of the templates and routes has a zh_CN translation"
        messages, untranslated = catalogue_gaps(MODULE)
        self.assertGreaterEqual(len(messages), 6)
        self.assertEqual(untranslated, [])


class AccessRouteTestCase(PortalPages, RouteTestCase):
    "The resident's pass code pages of the portal"
    module = 'community_access'
    extras = ['community_portal']
    password = PASSWORD

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Door = pool.get('community.access.door')
        DoorGroup = pool.get('community.access.door.group')
        Rule = pool.get('community.access.rule')
        company = create_company()
        compound, = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': "嘉州花园"}])
        building, = Building.create([{'compound': compound.id,
                    'code': '3'}])
        create_residents(building, [
                ('3-2-1201', "钱多", '13900139016'),
                ('3-2-1202', "孙少", '13900139017')], PASSWORD)
        door, = Door.create([{'name': "东门", 'compound': compound.id,
                    'location': 'gate'}])
        group, = DoorGroup.create([{'name': "大门",
                    'compound': compound.id, 'doors': [('add', [door.id])]}])
        Rule.create([{'name': "住户", 'compound': compound.id,
                    'subject': 'residents', 'door_group': group.id}])

    def decide(self, code):
        "The east gate's decision on ``code`` now."
        with Transaction().start(DB_NAME, 0) as transaction:
            Door = Pool().get('community.access.door')
            door, = Door.search([('name', '=', "东门")])
            decision = Door.decide(door, 'qr', code)
            result = decision.result, decision.reason, decision.party.name \
                if decision.party else None
            transaction.commit()
        return result

    def test_pass_code(self):
        """A resident opens the pass code on first use; the page shows
        its QR code and asks a new one every 30 s; the gate lets them in;
        suspended, the code is gone and the page says why"""
        client = self.login('13900139016')
        page = client.get(self.url('/access'), headers=ZH)
        self.assertEqual(page.status_code, 200)
        html = page.get_data(as_text=True)
        self.assertIn('开通通行码', html)
        self.assertIn('data-nav="access"', html)
        self.assertNotIn('<svg', html)
        # no CSRF token, no credential
        self.assertEqual(client.post(self.url('/access'),
                headers=ZH).status_code, 403)

        opened = client.post(self.url('/access'),
            data={'csrf': self.csrf(page)}, headers=ZH)
        self.assertEqual(opened.status_code, 303)
        # a second POST (a double tap) opens nothing more
        client.post(self.url('/access'), data={'csrf': self.csrf(page)})
        with Transaction().start(DB_NAME, 0, readonly=True):
            Credential = Pool().get('community.access.credential')
            credential, = Credential.search([])
            self.assertEqual(
                (credential.party.name, credential.kind, credential.state),
                ("钱多", 'qr', 'active'))

        page = client.get(self.url('/access'), headers=ZH)
        html = page.get_data(as_text=True)
        self.assertIn('<svg', html)
        self.assertIn('每 30 秒自动更新', html)
        self.assertIn('data-url="/%s/portal/access/code"' % DB_NAME, html)
        self.assertIn('data-refresh="30"', html)
        self.assertRegex(html, r'/static/[0-9a-f]+/access_qr\.js')
        self.assertNotIn('13900139016', html)

        # the refresh route: a new code as JSON, which opens the gate
        answer = client.get(self.url('/access/code'), headers=ZH)
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.headers['Content-Type'], 'application/json')
        self.assertEqual(answer.headers['Cache-Control'], 'no-store')
        data = json.loads(answer.get_data(as_text=True))
        self.assertRegex(data['code'], r'^[A-Za-z0-9_-]{44}$')
        self.assertTrue(data['svg'].startswith('<svg'))
        self.assertIn(data['valid'], (59, 60))
        self.assertEqual(data['refresh'], 30)
        self.assertEqual(self.decide(data['code']),
            ('allow', 'granted', "钱多"))

        # the JS of the page is served
        js = re.search(r'src="([^"]+access_qr\.js)"', html).group(1)
        script = client.get(js)
        self.assertEqual(script.status_code, 200)
        self.assertIn(b'setTimeout', script.get_data())

        # the other resident has their own, never this one
        other = self.login('13900139017')
        html = other.get(self.url('/access'),
            headers=ZH).get_data(as_text=True)
        self.assertIn('开通通行码', html)
        self.assertEqual(other.get(self.url('/access/code')).status_code,
            404)

        # the property suspends the credential: no code any more
        with Transaction().start(DB_NAME, 0) as transaction:
            Credential = Pool().get('community.access.credential')
            Credential.suspend(Credential.search([]))
            transaction.commit()
        self.assertEqual(client.get(self.url('/access/code')).status_code,
            404)
        html = client.get(self.url('/access'),
            headers=ZH).get_data(as_text=True)
        self.assertNotIn('<svg', html)
        self.assertIn('您的通行码已暂停使用。', html)
        self.assertIn('请联系物业', html)
        # and the resident cannot open another one
        page = client.get(self.url('/access'), headers=ZH)
        client.post(self.url('/access'), data={'csrf': self.csrf(page)})
        with Transaction().start(DB_NAME, 0, readonly=True):
            Credential = Pool().get('community.access.credential')
            self.assertEqual(len(Credential.search(
                        [('party.name', '=', "钱多")])), 1)
        self.assertEqual(self.decide(data['code'])[:2],
            ('deny', 'suspended'))

    def test_logged_out(self):
        "Without a session the pages lead to the login"
        client = self.client()
        self.assertEqual(client.get(self.url('/access')).status_code, 303)
        self.assertEqual(
            client.get(self.url('/access/code')).status_code, 303)
