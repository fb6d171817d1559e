# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
import json
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.community_base.tests.test_module import create_compound
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.transaction import Transaction
from trytond.tests.test_tryton import ModuleTestCase, with_transaction



def msg(topic, payload, received=None, retain=False):
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    return {'topic': topic, 'payload': payload, 'retain': retain,
        'received': received or dt.datetime.utcnow()}


def create_device(compound, key='door1', family='zigbee2mqtt', **values):
    Device = Pool().get('community.iot.device')
    device, = Device.create([dict({
                    'name': key, 'family': family, 'key': key,
                    'compound': compound.id}, **values)])
    return device


class CommunityIotTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_iot module"
    module = 'community_iot'

    @with_transaction()
    def test_ingest_dedup_and_levels(self):
        "Duplicates are no-ops; a repeated level creates no new event"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            device = create_device(compound, 'b3/u2/1201/door')
            stats = Message.ingest([
                    msg('zigbee2mqtt/b3/u2/1201/door',
                        {'contact': False, 'battery': 87, 'linkquality': 132}),
                    msg('zigbee2mqtt/b3/u2/1201/door',
                        {'contact': False, 'battery': 87, 'linkquality': 132}),
                    ])
            self.assertEqual((stats['received'], stats['new'],
                    stats['duplicates'], stats['events']), (2, 1, 1, 1))
            # Redelivery in a later batch
            stats = Message.ingest([msg('zigbee2mqtt/b3/u2/1201/door',
                        {'contact': False, 'battery': 87,
                            'linkquality': 132})])
            self.assertEqual((stats['new'], stats['duplicates']), (0, 1))
            # Same level, other battery: stored, but no door event
            stats = Message.ingest([msg('zigbee2mqtt/b3/u2/1201/door',
                        {'contact': False, 'battery': 86,
                            'linkquality': 120})])
            self.assertEqual((stats['new'], stats['events']), (1, 0))
            stats = Message.ingest([msg('zigbee2mqtt/b3/u2/1201/door',
                        {'contact': True, 'battery': 86})])
            self.assertEqual(stats['events'], 1)
            events = Event.search([('device', '=', device.id)],
                order=[('id', 'ASC')])
            self.assertEqual([e.kind for e in events],
                ['door_opened', 'door_closed'])
            self.assertEqual(events[0].compound, compound)
            self.assertEqual(device.battery, 86)
            self.assertEqual(device.link_quality, 120)
            self.assertEqual(device.availability, 'online')
            self.assertEqual(device.state_dict['contact'], True)
            self.assertEqual(Message.search_count([]), 3)

    @with_transaction()
    def test_availability_retained_replay(self):
        "Retained availability replayed creates no second event"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            device = create_device(compound, 'plug1', 'tasmota')
            Message.ingest([msg('tele/plug1/LWT', 'Offline', retain=True)])
            self.assertEqual(device.availability, 'offline')
            Message.ingest([msg('tele/plug1/LWT', 'Online', retain=True)])
            Message.ingest([msg('tele/plug1/LWT', 'Online', retain=True)])
            self.assertEqual(
                [e.kind for e in Event.search([], order=[('id', 'ASC')])],
                ['offline', 'online'])

    @with_transaction()
    def test_energy_units_and_counter_reset(self):
        "Shelly Wh and Tasmota kWh both stored in kWh; resets flagged"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            shelly = create_device(compound, 'shellypm-1', 'shelly')
            create_device(compound, 'plug1', 'tasmota')
            Message.ingest([msg('shellies/shellypm-1/status/switch:0', {
                            'id': 0, 'output': True, 'apower': 63.2,
                            'aenergy': {'total': 1234.567}})])
            Message.ingest([msg('tele/plug1/SENSOR', {
                            'Time': '2025-03-01T10:00:00', 'ENERGY': {
                                'TotalStartTime': '2024-11-02T09:00:00',
                                'Total': 41.573, 'Power': 2}})])
            Message.ingest([msg('tele/plug1/SENSOR', {
                            'Time': '2025-03-01T10:05:00', 'ENERGY': {
                                'TotalStartTime': '2025-03-01T10:04:00',
                                'Total': 0.002, 'Power': 2}})])
            energy = Event.search([('kind', '=', 'energy')],
                order=[('id', 'ASC')])
            self.assertEqual([(e.value, e.unit, e.counter_reset)
                    for e in energy], [
                    (Decimal('1.234567'), 'kWh', False),
                    (Decimal('41.573'), 'kWh', False),
                    (Decimal('0.002'), 'kWh', True)])
            self.assertEqual(
                shelly.state_dict['switch:0']['aenergy']['total'], 1234.567)

    @with_transaction()
    def test_quarantine(self):
        "Bad input and unknown devices are quarantined with a reason"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Quarantine = pool.get('community.iot.quarantine')
        company = create_company()
        with set_company(company):
            create_compound(company)
            stats = Message.ingest([
                    msg('zigbee2mqtt/door9', b'{"contact":tr'),
                    msg(b'zigbee2mqtt/\xff', b'{}'),
                    msg('zigbee2mqtt/unknown', {'contact': True}),
                    ])
            self.assertEqual(stats['quarantined'], 3)
            reasons = sorted(q.reason.split(':')[0]
                for q in Quarantine.search([]))
            self.assertEqual(reasons, ['invalid JSON', 'topic is not UTF-8',
                    "unknown device zigbee2mqtt 'unknown'"])
            q, = Quarantine.search([('reason', 'like', 'topic%')])
            self.assertEqual(bytes(q.topic_raw), b'zigbee2mqtt/\xff')
            self.assertEqual(Message.search_count(
                    [('state', '=', 'quarantined')]), 3)

    @with_transaction()
    def test_discovery_and_confirm(self):
        "bridge/devices creates unconfirmed devices; confirm needs a place"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Device = pool.get('community.iot.device')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            payload = [{'ieee_address': '0x00158d0001a2b3c4',
                    'friendly_name': 'gate/east/sos', 'type': 'EndDevice',
                    'definition': {'model': 'WXKG01LM', 'vendor': 'Aqara',
                        'exposes': [{'name': 'action', 'property': 'action',
                                'values': ['single', 'emergency']}]}}]
            Message.ingest([msg('zigbee2mqtt/bridge/devices', payload,
                        retain=True)])
            device, = Device.search([('key', '=', 'gate/east/sos')])
            self.assertEqual((device.state, device.discovery, device.model),
                ('discovered', 'zigbee2mqtt', 'WXKG01LM'))
            self.assertEqual(device.capabilities, ('button', 'sos'))
            with self.assertRaises(UserError):
                Device.confirm([device])
            device.compound = compound
            device.save()
            Device.confirm([device])
            self.assertEqual(device.state, 'confirmed')

    @with_transaction()
    def test_rule_alarm_clear_command(self):
        "A rule raises an alarm and sends a command; the device clears it"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Rule = pool.get('community.iot.rule')
        Alarm = pool.get('community.iot.alarm')
        Command = pool.get('community.iot.command')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            smoke = create_device(compound, 'smoke1')
            relay = create_device(compound, 'fan', 'tasmota')
            rule, = Rule.create([{
                        'name': "Smoke", 'event_kind': 'smoke',
                        'compound': compound.id,
                        'actions': [('create', [
                                    {'type': 'alarm', 'severity': 'critical',
                                        'title': "Smoke at {device}"},
                                    {'type': 'command',
                                        'command_device': relay.id,
                                        'command_action': 'on'},
                                    {'type': 'server_action',
                                        'server_action': 'community.iot.'
                                        'rule.action|log_event'},
                                    ])]}])
            stats = Message.ingest([msg('zigbee2mqtt/smoke1',
                        {'smoke': True, 'battery': 95})])
            self.assertEqual(stats['alarms'], 1)
            alarm, = Alarm.search([])
            self.assertEqual((alarm.name, alarm.severity, alarm.state,
                    alarm.device, alarm.compound),
                ("Smoke at smoke1", 'critical', 'open', smoke, compound))
            command, = Command.search([])
            self.assertEqual((command.device, command.action, command.state),
                (relay, 'on', 'pending'))
            Command.mark_sent([command.id],
                {command.id: ('cmnd/fan/POWER', 'ON')})
            self.assertEqual(command.state, 'sent')
            Message.ingest([msg('stat/fan/POWER', 'ON')])
            self.assertEqual(command.state, 'confirmed')
            Message.ingest([msg('zigbee2mqtt/smoke1',
                        {'smoke': False, 'battery': 95})])
            self.assertIsNotNone(alarm.cleared)
            Alarm.acknowledge([alarm])
            self.assertEqual(alarm.state, 'acknowledged')
            with self.assertRaises(UserError):
                Alarm.resolve([alarm])
            alarm.resolution_note = "Cooking smoke, checked on site"
            alarm.save()
            Alarm.resolve([alarm])
            self.assertEqual(alarm.state, 'resolved')

    @with_transaction()
    def test_rule_service_request_per_alarm(self):
        "A device's repair request: one per alarm, in Chinese, local time"
        from trytond.modules import create_graph, load_translations
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        Rule = pool.get('community.iot.rule')
        Alarm = pool.get('community.iot.alarm')
        Request = pool.get('community.service.request')
        Lang = pool.get('ir.lang')
        Module = pool.get('ir.module')
        lang, = Lang.search([('code', '=', 'zh_CN')])
        Lang.write([lang], {'translatable': True})
        graph = create_graph({m.name for m in Module.search(
                        [('state', '=', 'activated')])})
        load_translations(pool, graph['community_iot'], {'zh_CN'})
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            create_device(compound, 'leak1')
            # no alarm action: the request raises the alarm itself
            Rule.create([{
                        'name': "水浸报修", 'event_kind': 'water_leak',
                        'compound': compound.id,
                        'actions': [('create', [
                                    {'type': 'service_request'}])]}])
            Message.ingest([msg('zigbee2mqtt/leak1', {'water_leak': True},
                        received=dt.datetime(2026, 3, 1, 16, 30))])
            alarm, = Alarm.search([])
            request, = Request.search([])
            self.assertEqual(
                (request.origin, request.channel, request.kind,
                    request.urgency, request.title, request.requester),
                (alarm, 'device', 'repair', 'high', "水浸报修", None))
            # 16:30 UTC is half past midnight in Shanghai
            self.assertEqual(request.description,
                "设备 leak1 于 2026-03-02 00:30:00（本地时间）上报“水浸”。")
            # the event repeats while the alarm is open: no new request
            event, = Event.search([('kind', '=', 'water_leak')])
            Rule.apply([event])
            Rule.apply([event])
            self.assertEqual(Request.search([]), [request])
            self.assertEqual(Alarm.search([]), [alarm])
            # no resident to confirm: done is closed
            request.assigned_to = 1
            request.save()
            Request.dispatch([request])
            Request.start([request])
            Request.do([request])
            self.assertEqual(request.state, 'confirmed')

    @with_transaction()
    def test_rule_notify_group(self):
        "A rule notifies the users of a group (Tryton notifications)"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Rule = pool.get('community.iot.rule')
        Group = pool.get('res.group')
        User = pool.get('res.user')
        Notification = pool.get('res.notification')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            other, _ = create_compound(company, code='LS02', name="其他")
            create_device(compound, 'gate/sos')
            group, = Group.create([{'name': "Security"}])
            guard, elsewhere = User.create([
                    {'login': 'guard', 'name': "Guard",
                        'groups': [('add', [group.id])],
                        'compounds': [('add', [compound.id])]},
                    {'login': 'elsewhere', 'name': "Elsewhere",
                        'groups': [('add', [group.id])],
                        'compounds': [('add', [other.id])]}])
            Rule.create([{'name': "SOS", 'event_kind': 'sos',
                        'actions': [('create', [{'type': 'notify',
                                        'group': group.id,
                                        'title': "SOS {device}"}])]}])
            Message.ingest([msg('zigbee2mqtt/gate/sos',
                        {'action': 'emergency', 'battery': 100})])
            notification, = Notification.search([])
            self.assertEqual((notification.user, notification.label,
                    notification.model),
                (guard, "SOS gate/sos", 'community.iot.event'))

    @with_transaction()
    def test_rule_filters(self):
        "Value condition, family and night hours (compound time zone)"
        pool = Pool()
        Rule = pool.get('community.iot.rule')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            device = create_device(compound, 'plug', 'shelly')
            rule = Rule(name="High power", event_kind='power',
                value_operator='>', value=Decimal(2000),
                family='shelly', hour_from=22, hour_to=6,
                compound=compound, building=None, place=None)
            # 15:00 UTC = 23:00 Asia/Shanghai
            night = dt.datetime(2026, 3, 1, 15, 0)
            day = dt.datetime(2026, 3, 1, 4, 0)
            event = Event(kind='power', value=Decimal(2500), device=device,
                time=night)
            self.assertTrue(rule.match(event))
            event.time = day
            self.assertFalse(rule.match(event))
            event.time = night
            event.value = Decimal(1500)
            self.assertFalse(rule.match(event))
            rule.family = 'tasmota'
            event.value = Decimal(2500)
            self.assertFalse(rule.match(event))

    @with_transaction()
    def test_scheduled_actions(self):
        "Offline detection, escalation, stale commands and purge"
        pool = Pool()
        Device = pool.get('community.iot.device')
        Message = pool.get('community.iot.message')
        Alarm = pool.get('community.iot.alarm')
        Command = pool.get('community.iot.command')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            old = dt.datetime.utcnow() - dt.timedelta(hours=2)
            device = create_device(compound, 'leak1', expected_interval=60)
            quiet = create_device(compound, 'leak2', expected_interval=240)
            Message.ingest([
                    msg('zigbee2mqtt/leak1', {'water_leak': False}, old),
                    msg('zigbee2mqtt/leak2', {'water_leak': False}, old)])
            self.assertEqual(Device.check_offline(), [device])
            self.assertEqual(device.availability, 'offline')
            self.assertEqual(quiet.availability, 'online')
            self.assertEqual(Event.search_count([('kind', '=', 'offline')]), 1)

            alarm, = Alarm.create([{'name': "Leak", 'severity': 'warning',
                        'device': device.id, 'compound': compound.id,
                        'raised': old}])
            self.assertEqual(Alarm.escalate(), [alarm])
            self.assertEqual(alarm.severity, 'critical')
            self.assertEqual(Alarm.escalate(), [])

            command, = Command.create([{'device': device.id, 'action': 'on',
                        'max_retries': 1}])
            Command.mark_sent([command.id])
            command.sent_at = old
            command.save()
            retry, fail = Command.retry_stale()
            self.assertEqual((retry, fail), ([command], []))
            self.assertEqual((command.state, command.retries), ('pending', 1))
            Command.mark_sent([command.id])
            command.sent_at = old
            command.save()
            retry, fail = Command.retry_stale()
            self.assertEqual((command.state, command.error),
                ('failed', 'not confirmed'))

            self.assertEqual(Message.purge(retention_days=0), 2)
            self.assertEqual(Message.search_count([]), 0)
            self.assertEqual(Event.search_count([]), 3)

    @with_transaction()
    def test_quarantine_per_compound(self):
        "Quarantine of a known device is its compound's; unknown is HQ's"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Quarantine = pool.get('community.iot.quarantine')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            other, _ = create_compound(company, code='LS02', name="其他")
            create_device(compound, 'door1')
            create_device(other, 'door2', 'tasmota')
            stats = Message.ingest([
                    msg('zigbee2mqtt/door1', b'{"contact":tr'),
                    msg('tele/door2/SENSOR', b'\xff\xfe'),
                    msg('zigbee2mqtt/nobody', {'contact': True}),
                    ])
            self.assertEqual(stats['quarantined'], 3)
            self.assertEqual(sorted(
                    (q.topic, q.compound.code if q.compound else None)
                    for q in Quarantine.search([])), [
                    ('tele/door2/SENSOR', 'LS02'),
                    ('zigbee2mqtt/door1', compound.code),
                    ('zigbee2mqtt/nobody', None)])
            message, = Message.search([('topic', '=', 'zigbee2mqtt/door1')])
            self.assertEqual(message.compound, compound)

            staff_group = ModelData.get_id(
                'community_base', 'group_community_staff')
            admin_group = ModelData.get_id(
                'community_base', 'group_community_admin')
            staff, hq = User.create([
                    {'login': 'staff1', 'name': "Staff",
                        'groups': [('add', [staff_group])],
                        'compounds': [('add', [compound.id])]},
                    {'login': 'hq', 'name': "HQ",
                        'groups': [('add', [admin_group])]}])
            for user, topics in [
                    (staff, ['zigbee2mqtt/door1']),
                    (hq, ['tele/door2/SENSOR', 'zigbee2mqtt/door1',
                            'zigbee2mqtt/nobody'])]:
                with Transaction().set_user(user.id), \
                        Transaction().set_context(_check_access=True):
                    self.assertEqual(sorted(
                            q.topic for q in Quarantine.search([])), topics)

    @with_transaction()
    def test_discovery_removed(self):
        "Withdrawn discovered devices are deactivated, manual ones kept"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Device = pool.get('community.iot.device')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            manual = create_device(compound, 'manual1')

            def ha(component, object_id, payload):
                return msg('homeassistant/%s/0x00158d/%s/config'
                    % (component, object_id), payload, retain=True)
            config = {'stat_t': 'zigbee2mqtt/hall/door',
                'dev': {'ids': ['0x00158d'], 'mf': 'Aqara'}}
            Message.ingest([
                    ha('binary_sensor', 'contact',
                        dict(config, dev_cla='door')),
                    ha('sensor', 'battery', dict(config, dev_cla='battery')),
                    ])
            door, = Device.search([('key', '=', 'hall/door')])
            self.assertEqual((door.discovery, door.active),
                ('homeassistant', True))
            self.assertEqual(json.loads(door.discovery_entries), [
                    'binary_sensor/0x00158d/contact/config',
                    'sensor/0x00158d/battery/config'])
            # one entity removed: the device stays
            Message.ingest([ha('sensor', 'battery', '')])
            self.assertTrue(door.active)
            # all removed: deactivated
            Message.ingest([ha('binary_sensor', 'contact', '')])
            door = Device(door.id)
            self.assertEqual((door.active, door.discovery_entries),
                (False, '[]'))
            self.assertIsNotNone(door.removed)
            # announced again: reactivated
            Message.ingest([ha('binary_sensor', 'contact',
                        dict(config, dev_cla='door', name="again"))])
            door = Device(door.id)
            self.assertEqual((door.active, door.removed), (True, None))

            def devices(*names):
                return msg('zigbee2mqtt/bridge/devices', [
                        {'friendly_name': n, 'ieee_address': '0x%04d' % i,
                            'type': 'EndDevice', 'definition': {}}
                        for i, n in enumerate(names)], retain=True)
            Message.ingest([devices('z1', 'z2', 'z3')])
            z1, z2, z3 = [Device.search([('key', '=', k)])[0]
                for k in ('z1', 'z2', 'z3')]
            # z2 no longer listed, z3 left the network
            Message.ingest([devices('z1', 'z3'),
                    msg('zigbee2mqtt/bridge/event', {'type': 'device_leave',
                            'data': {'friendly_name': 'z3',
                                'ieee_address': '0x0002'}})])
            self.assertEqual([Device(d.id).active for d in (z1, z2, z3)],
                [True, False, False])
            # manual and Home Assistant devices are not Zigbee2MQTT's
            self.assertTrue(Device(manual.id).active)
            self.assertTrue(Device(door.id).active)

    @with_transaction()
    def test_older_reading_does_not_roll_back(self):
        "A reading delayed in a gateway's queue neither rolls the device "
        "back nor raises an alarm; events keep the device's own time"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        Rule = pool.get('community.iot.rule')
        Alarm = pool.get('community.iot.alarm')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            door = create_device(compound, 'b3/door')
            Rule.create([{'name': "Door", 'event_kind': 'door_opened',
                        'actions': [('create', [{'type': 'alarm'}])]}])
            now = dt.datetime.utcnow().replace(microsecond=0)
            newer, older = now - dt.timedelta(minutes=1), (
                now - dt.timedelta(hours=2))

            def door_msg(contact, seen, battery):
                return msg('zigbee2mqtt/b3/door', {'contact': contact,
                        'battery': battery,
                        'last_seen': seen.isoformat() + 'Z'},
                    received=now)
            # the closed door, one minute ago; then the open door of two
            # hours ago, stuck in the gateway's queue until now
            stats = Message.ingest([door_msg(True, newer, 80)])
            self.assertEqual(stats['events'], 1)
            stats = Message.ingest([door_msg(False, older, 90)])
            self.assertEqual((stats['new'], stats['events'], stats['stale'],
                    stats['alarms']), (1, 0, 1, 0))
            door = type(door)(door.id)
            self.assertEqual((door.state_dict['contact'], door.battery,
                    door.state_time, door.last_seen), (True, 80, newer, now))
            self.assertEqual([(e.kind, e.time, e.stale) for e in
                    Event.search([('device', '=', door.id)])],
                [('door_closed', newer, False)])
            self.assertEqual(Alarm.search([]), [])
            late, = Message.search([('stale', '=', True)])
            self.assertEqual((late.device_time, late.clock_skew),
                (older, False))
            # in one batch, arrival order: the older one after is stale,
            # non-level events of a stale reading are kept, flagged
            sos = create_device(compound, 'gate/sos')
            stats = Message.ingest([
                    msg('zigbee2mqtt/gate/sos', {'action': 'single',
                            'last_seen': (now - dt.timedelta(seconds=5)
                                ).isoformat() + 'Z'}, received=now),
                    msg('zigbee2mqtt/gate/sos', {'action': 'double',
                            'last_seen': older.isoformat() + 'Z'},
                        received=now),
                    ])
            self.assertEqual(stats['stale'], 1)
            self.assertEqual(sorted(
                    (json.loads(e.data)['action'], e.time, e.stale)
                    for e in Event.search([('device', '=', sos.id)])), [
                    ('double', older, True),
                    ('single', now - dt.timedelta(seconds=5), False)])

    @with_transaction()
    def test_stale_sos_raises_alarm(self):
        "An SOS delayed in a gateway's queue still raises its alarm, at "
        "the device's own time; a stale button press raises nothing"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        Rule = pool.get('community.iot.rule')
        Alarm = pool.get('community.iot.alarm')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            Rule.create([{'name': "SOS", 'event_kind': 'sos',
                        'actions': [('create', [{'type': 'alarm'}])]},
                    {'name': "Button", 'event_kind': 'button',
                        'actions': [('create', [{'type': 'alarm'}])]}])
            sos = create_device(compound, 'b5/sos')
            now = dt.datetime.utcnow().replace(microsecond=0)
            older = now - dt.timedelta(minutes=20)

            def sos_msg(action, seen):
                return msg('zigbee2mqtt/b5/sos', {'action': action,
                        'last_seen': seen.isoformat() + 'Z'}, received=now)
            stats = Message.ingest([sos_msg('single',
                        now - dt.timedelta(seconds=5))])
            self.assertEqual(stats['alarms'], 1)
            stats = Message.ingest([sos_msg('single', older),
                    sos_msg('emergency', older)])
            self.assertEqual((stats['stale'], stats['alarms']), (2, 1))
            self.assertEqual(sorted((e.kind, e.time, e.stale)
                    for e in Event.search([('device', '=', sos.id)])), [
                    ('button', older, True),
                    ('button', now - dt.timedelta(seconds=5), False),
                    ('sos', older, True)])
            self.assertEqual(sorted(a.kind for a in Alarm.search([])),
                ['button', 'sos'])

    @with_transaction()
    def test_device_time_tolerance(self):
        "A device time is trusted within the tolerance, else the arrival "
        "time is used and flagged; local times in the compound's zone"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            self.assertEqual(compound.timezone, 'Asia/Shanghai')
            plug = create_device(compound, 'plug1', 'tasmota')
            now = dt.datetime.utcnow().replace(microsecond=0)
            local = now + dt.timedelta(hours=8)  # Asia/Shanghai

            def sensor(time, total, received=now):
                return msg('tele/plug1/SENSOR', {'Time': time, 'ENERGY': {
                            'Total': total, 'Power': 5}}, received=received)
            Message.ingest([
                    # local time of the device, 30 s ago
                    sensor((local - dt.timedelta(seconds=30)).isoformat(),
                        1.5),
                    # an hour fast: not trusted
                    sensor((local + dt.timedelta(hours=1)).isoformat(), 1.6),
                    # a clock back to 1970 before NTP: not trusted
                    sensor('1970-01-01T00:00:07', 1.7),
                    ])
            energy = Event.search([('device', '=', plug.id),
                    ('kind', '=', 'energy')], order=[('value', 'ASC')])
            self.assertEqual([(e.value, e.time, e.clock_skew, e.stale)
                    for e in energy], [
                    (Decimal('1.5'), now - dt.timedelta(seconds=30), False,
                        False),
                    (Decimal('1.6'), now, True, False),
                    (Decimal('1.7'), now, True, False)])
            messages = Message.search([('device', '=', plug.id)],
                order=[('id', 'ASC')])
            self.assertEqual([(m.device_time, m.clock_skew)
                    for m in messages], [
                    (now - dt.timedelta(seconds=30), False),
                    (now + dt.timedelta(hours=1), True),
                    (dt.datetime(1969, 12, 31, 16, 0, 7), True)])
            # an untrusted time never makes the next reading stale
            stats = Message.ingest([sensor(
                        (local - dt.timedelta(seconds=10)).isoformat(), 1.8,
                        received=now + dt.timedelta(seconds=1))])
            self.assertEqual((stats['events'], stats['stale']), (2, 0))
            self.assertEqual(plug.state_time, now - dt.timedelta(seconds=10))

    @with_transaction()
    def test_empty_payload_and_batch_duplicates(self):
        "An empty payload clears a topic (not quarantined); duplicates "
        "within one batch are counted as duplicates"
        pool = Pool()
        Message = pool.get('community.iot.message')
        Quarantine = pool.get('community.iot.quarantine')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            door = create_device(compound, 'b3/door')
            Message.ingest([msg('zigbee2mqtt/b3/door', {'contact': True})])
            # Zigbee2MQTT renamed b3/door and old/name: their retained
            # state and availability are deleted (empty payloads)
            stats = Message.ingest([
                    msg('zigbee2mqtt/b3/door', b''),
                    msg('zigbee2mqtt/b3/door/availability', b''),
                    msg('zigbee2mqtt/old/name', b''),
                    ])
            self.assertEqual((stats['new'], stats['quarantined'],
                    stats['events']), (3, 0, 0))
            self.assertEqual(Quarantine.search([]), [])
            self.assertEqual(door.state_dict['contact'], True)
            self.assertEqual(Message.search_count(
                    [('state', '=', 'processed')]), 4)
            stats = Message.ingest([
                    msg('zigbee2mqtt/b3/door', {'contact': False}),
                    msg('zigbee2mqtt/b3/door', {'contact': False}),
                    msg('zigbee2mqtt/b3/door', {'contact': False}),
                    msg('zigbee2mqtt/b3/door', {'contact': True,
                            'battery': 50}),
                    ])
            self.assertEqual((stats['received'], stats['new'],
                    stats['duplicates']), (4, 2, 2))


del ModuleTestCase
