# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The devices of the resident's home in the portal (with community_iot),
in-process: the owner sees the live state of the devices of her unit and
switches a plug through the command outbox, confirmed when the device
reports it (through the real ingestion); a household member sees what the
owner shared; nobody sees or switches another unit's devices."""
import datetime as dt
import json
import re
from decimal import Decimal

from trytond.modules.community_portal.tests.tools import (
    ZH, PortalPages, create_residents)
from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'device-route-test-1'


def ingest(topic, payload):
    "Ingest one MQTT message as the bridge does (the real path)."
    Message = Pool().get('community.iot.message')
    return Message.ingest([{'topic': topic,
                'payload': json.dumps(payload).encode('utf-8'),
                'retain': False, 'received': dt.datetime.utcnow()}])


class PortalDeviceTestCase(PortalPages, RouteTestCase):
    "The devices of the resident's home"
    module = 'community_portal'
    extras = ['community_iot']
    password = PASSWORD

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Device = pool.get('community.iot.device')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        WebUser = pool.get('web.user')
        company = create_company()
        compound, = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': "嘉州花园"}])
        building, = Building.create([{'compound': compound.id,
                    'code': '3'}])
        (home, other), _ = create_residents(building, [
                ('3-2-1201', "钱多", '13900139006'),
                ('3-2-1202', "孙少", '13900139007')], PASSWORD)
        # a household member of 3-2-1201 with an account
        member, = Party.create([{'name': "钱小"}])
        Residency.create([{'unit': home.id, 'party': member.id,
                    'role': 'member', 'share': Decimal(0),
                    'start_date': dt.date(2020, 1, 1)}])
        WebUser.create([{'mobile': '13900139008', 'party': member.id,
                    'password': PASSWORD}])
        Device.create([{
                    'name': name, 'family': 'zigbee2mqtt', 'key': key,
                    'compound': compound.id, 'unit': unit.id,
                    'capabilities': capabilities,
                    } for name, key, unit, capabilities in [
                    ("客厅插座", 'u1201/plug', home, ['switch', 'power']),
                    ("厨房水浸", 'u1201/leak', home, ['water_leak']),
                    ("邻居插座", 'u1202/plug', other, ['switch']),
                    ]])
        ingest('zigbee2mqtt/u1201/plug', {'state': 'OFF', 'power': 0})
        ingest('zigbee2mqtt/u1201/leak', {'water_leak': True, 'battery': 15})
        ingest('zigbee2mqtt/u1202/plug', {'state': 'ON'})

    def page(self, client):
        response = client.get(self.url('/devices'), headers=ZH)
        self.assertEqual(response.status_code, 200)
        return response

    def refs(self, html):
        "{device name: ref} of the cards of a page."
        return {name: ref for ref, name in re.findall(
                r'id="device-([^"]+)" data-ref="[^"]+"><h3>([^ <]+)', html)}

    def state(self, client):
        response = client.get(self.url('/devices/state'), headers=ZH)
        self.assertEqual(response.status_code, 200)
        return json.loads(response.get_data(as_text=True))

    def commands(self):
        with Transaction().start(DB_NAME, 0, readonly=True):
            Command = Pool().get('community.iot.command')
            return [(c.device.name, c.action, c.state)
                for c in Command.search([], order=[('id', 'ASC')])]

    def test_owner_switches_a_plug(self):
        """The owner sees the plug (off) and the leak sensor (water, low
        battery) of her unit, not her neighbour's; she switches the plug
        on: one command in the outbox (a second press replaces it), the
        page shows it switching until the device reports ON"""
        owner = self.login('13900139006')
        response = self.page(owner)
        html = response.get_data(as_text=True)
        self.assertIn('data-nav="devices"', html)
        refs = self.refs(html)
        self.assertEqual(sorted(refs), ["厨房水浸", "客厅插座"])
        self.assertNotIn('邻居插座', html)
        self.assertIn('检测到漏水', html)
        self.assertIn('15%', html)
        state = self.state(owner)
        self.assertEqual(sorted(state), sorted(refs.values()))
        plug = refs["客厅插座"]
        self.assertEqual((state[plug]['on'], state[plug]['pending'],
                state[plug]['readings']['switch']), (False, None, '关'))

        for _ in range(2):
            page = self.page(owner)
            response = owner.post(self.url('/devices/%s/switch' % plug),
                data={'csrf': self.csrf(page), 'action': 'on'})
            self.assertEqual(response.status_code, 303)
        self.assertEqual(self.commands(), [
                ("客厅插座", 'on', 'failed'), ("客厅插座", 'on', 'pending')])
        self.assertEqual(self.state(owner)[plug]['pending'], 'on')
        self.assertIn('正在切换', self.page(owner).get_data(as_text=True))

        # the bridge publishes it, the plug reports ON
        with Transaction().start(DB_NAME, 0) as transaction:
            Command = Pool().get('community.iot.command')
            pending, = Command.search([('state', '=', 'pending')])
            Command.mark_sent([pending.id])
            ingest('zigbee2mqtt/u1201/plug', {'state': 'ON', 'power': 35})
            transaction.commit()
        self.assertEqual(self.commands()[-1], ("客厅插座", 'on', 'confirmed'))
        state = self.state(owner)[plug]
        self.assertEqual((state['on'], state['pending'],
                state['readings']['switch']), (True, None, '开'))
        html = self.page(owner).get_data(as_text=True)
        self.assertRegex(html, r'name="action" value="off" class="switch">'
            r'关闭')

        # a device of another unit cannot be switched
        with Transaction().start(DB_NAME, 0, readonly=True):
            Device = Pool().get('community.iot.device')
            neighbour, = Device.search([('name', '=', "邻居插座")])
            from trytond.modules.community_portal.portal.web import sign_ref
            foreign = sign_ref('device', neighbour.id)
        page = self.page(owner)
        response = owner.post(self.url('/devices/%s/switch' % foreign),
            data={'csrf': self.csrf(page), 'action': 'off'})
        self.assertEqual(response.status_code, 404)
        neighbour_client = self.login('13900139007')
        page = self.page(neighbour_client)
        self.assertNotIn('客厅插座', page.get_data(as_text=True))
        response = neighbour_client.post(
            self.url('/devices/%s/switch' % plug),
            data={'csrf': self.csrf(page), 'action': 'off'})
        self.assertEqual(response.status_code, 404)
        self.assertEqual(len(self.commands()), 2)

    def test_member_sees_what_the_owner_shares(self):
        """A household member sees no device until the owner shares the
        plug; then the plug only; the member cannot share"""
        member = self.login('13900139008')
        html = self.page(member).get_data(as_text=True)
        self.assertEqual(self.refs(html), {})
        self.assertIn('家中暂无设备', html)

        owner = self.login('13900139006')
        page = self.page(owner)
        plug = self.refs(page.get_data(as_text=True))["客厅插座"]
        response = owner.post(self.url('/devices/%s/share' % plug),
            data={'csrf': self.csrf(page), 'shared': '1'})
        self.assertEqual(response.status_code, 303)
        self.assertIn('停止与家庭成员共享',
            self.page(owner).get_data(as_text=True))

        page = self.page(member)
        html = page.get_data(as_text=True)
        self.assertEqual(sorted(self.refs(html)), ["客厅插座"])
        self.assertNotIn('共享', html)
        response = member.post(self.url('/devices/%s/share' % plug),
            data={'csrf': self.csrf(page), 'shared': '0'})
        self.assertEqual(response.status_code, 403)
        # unshared again by the owner
        page = self.page(owner)
        owner.post(self.url('/devices/%s/share' % plug),
            data={'csrf': self.csrf(page), 'shared': '0'})
        self.assertEqual(self.refs(self.page(member).get_data(
                    as_text=True)), {})
