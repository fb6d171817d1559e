# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Adapters on real payload shapes (reference devices.md and the vendors'
documentation), including the traps."""
import datetime as dt
import json
import unittest
from decimal import Decimal

from trytond.modules.community_iot.bridge.adapters import (
    DecodeError, decode, route, topic_device)
from trytond.modules.community_iot.bridge.adapters.homeassistant import (
    expand)


def kinds(decoded):
    return [e.kind for e in decoded.events]


def by_kind(decoded, kind):
    return [e for e in decoded.events if e.kind == kind][0]


class AdapterTestCase(unittest.TestCase):
    "Adapters"

    # Zigbee2MQTT
    def test_z2m_contact_true_means_closed(self):
        "Zigbee2MQTT contact true = closed, false = open"
        d = decode('zigbee2mqtt/door1',
            b'{"contact":false,"battery":87,"voltage":2985,'
            b'"linkquality":132}')
        self.assertEqual(d.family, 'zigbee2mqtt')
        self.assertEqual(d.key, 'door1')
        self.assertEqual(kinds(d), ['door_opened'])
        self.assertEqual(d.battery, 87)
        self.assertEqual(d.link_quality, 132)
        d = decode('zigbee2mqtt/door1', b'{"contact":true,"linkquality":90}')
        self.assertEqual(kinds(d), ['door_closed'])
        self.assertEqual(d.events[0].level, ('contact', True))

    def test_z2m_friendly_name_with_slash(self):
        "Friendly names may contain /"
        d = decode('zigbee2mqtt/b1/u2/1201/door', b'{"contact":true}')
        self.assertEqual(d.key, 'b1/u2/1201/door')
        d = decode('zigbee2mqtt/b1/u2/1201/door/availability',
            b'{"state":"offline"}')
        self.assertEqual((d.key, d.availability),
            ('b1/u2/1201/door', 'offline'))
        d = decode('zigbee2mqtt/b1/u2/1201/door/set', b'{"state":"ON"}')
        self.assertEqual((d.key, d.events), ('b1/u2/1201/door', []))

    def test_z2m_alarms(self):
        "Water leak, smoke and SOS (action emergency)"
        d = decode('zigbee2mqtt/leak', b'{"water_leak":true,'
            b'"battery_low":false,"battery":100,"linkquality":96}')
        self.assertEqual(kinds(d), ['water_leak'])
        d = decode('zigbee2mqtt/smoke', b'{"smoke":true,"battery_low":false,'
            b'"tamper":false,"battery":95,"linkquality":88}')
        self.assertEqual(kinds(d), ['smoke'])
        d = decode('zigbee2mqtt/smoke', b'{"smoke":false}')
        self.assertEqual(kinds(d), ['smoke_clear'])
        d = decode('zigbee2mqtt/sos', b'{"action":"emergency","battery":100,'
            b'"linkquality":80}')
        self.assertEqual(kinds(d), ['sos'])
        d = decode('zigbee2mqtt/btn', b'{"action":"single"}')
        self.assertEqual(kinds(d), ['button'])
        self.assertEqual(d.events[0].data, {'action': 'single'})
        d = decode('zigbee2mqtt/radar', b'{"fall_down_status":"fall"}')
        self.assertEqual(kinds(d), ['fall'])

    def test_z2m_plug_kwh(self):
        "Zigbee2MQTT energy is already kWh; power in W"
        d = decode('zigbee2mqtt/plug', b'{"state":"ON","power":63.2,'
            b'"current":0.29,"voltage":229,"energy":12.57,"linkquality":156}')
        self.assertEqual(kinds(d), ['switch_on', 'power', 'energy'])
        self.assertEqual(by_kind(d, 'energy').value, Decimal('12.57'))
        self.assertEqual(by_kind(d, 'energy').unit, 'kWh')
        self.assertEqual(by_kind(d, 'power').value, Decimal('63.2'))

    def test_numbers_as_strings(self):
        "Numbers that arrive as strings are parsed"
        d = decode('zigbee2mqtt/plug', b'{"power":"63.2","energy":"12.5",'
            b'"battery":"87"}')
        self.assertEqual(by_kind(d, 'power').value, Decimal('63.2'))
        self.assertEqual(by_kind(d, 'energy').value, Decimal('12.5'))
        self.assertEqual(d.battery, 87)
        with self.assertRaises(DecodeError):
            decode('zigbee2mqtt/plug', b'{"power":"lots"}')

    def test_z2m_bridge_devices(self):
        "bridge/devices announces devices with their capabilities"
        payload = json.dumps([
                {'ieee_address': '0x00124b0000000000', 'type': 'Coordinator',
                    'friendly_name': 'Coordinator'},
                {'ieee_address': '0x00158d0001a2b3c4', 'type': 'EndDevice',
                    'friendly_name': 'b3/u2/1201/door',
                    'power_source': 'Battery',
                    'definition': {'model': 'MCCGQ11LM', 'vendor': 'Aqara',
                        'description': 'Door and window sensor',
                        'exposes': [
                            {'type': 'binary', 'name': 'contact',
                                'property': 'contact'},
                            {'type': 'numeric', 'name': 'battery',
                                'property': 'battery'}]}},
                {'ieee_address': '0x00158d0001a2b3c5', 'type': 'Router',
                    'friendly_name': 'plug',
                    'definition': {'model': 'ZNCZ02LM', 'vendor': 'Xiaomi',
                        'exposes': [{'type': 'switch', 'features': [
                                    {'name': 'state', 'property': 'state'}]},
                            {'name': 'power', 'property': 'power'},
                            {'name': 'energy', 'property': 'energy'}]}},
                ]).encode()
        d = decode('zigbee2mqtt/bridge/devices', payload)
        self.assertIsNone(d.key)
        self.assertEqual([x['key'] for x in d.discovered],
            ['b3/u2/1201/door', 'plug'])
        door = d.discovered[0]
        self.assertEqual((door['model'], door['vendor'], door['ieee_address']),
            ('MCCGQ11LM', 'Aqara', '0x00158d0001a2b3c4'))
        self.assertEqual(door['capabilities'], ['battery', 'contact'])
        self.assertEqual(d.discovered[1]['capabilities'],
            ['energy', 'power', 'switch'])
        self.assertEqual(decode('zigbee2mqtt/bridge/state',
                b'{"state":"online"}').events, [])

    def test_gbk_payload(self):
        "GBK text is decoded (friendly name in Chinese)"
        d = decode('community/devices/gate1/event', json.dumps(
                {'kind': 'button', 'label': '东门'},
                ensure_ascii=False).encode('gbk'))
        self.assertEqual(d.events[0].data['label'], '东门')

    def test_bad_input(self):
        "Truncated JSON, non-UTF-8 topic, huge payload, unknown root"
        with self.assertRaisesRegex(DecodeError, 'invalid JSON'):
            decode('zigbee2mqtt/door1', b'{"contact":fal')
        with self.assertRaisesRegex(DecodeError, 'topic is not UTF-8'):
            decode(b'zigbee2mqtt/\xff\xfe', b'{}')
        with self.assertRaisesRegex(DecodeError, 'too large'):
            decode('zigbee2mqtt/door1', b'{"a":"' + b'x' * 300000 + b'"}')
        with self.assertRaisesRegex(DecodeError, 'no adapter'):
            decode('elsewhere/thing', b'{}')
        with self.assertRaises(DecodeError):
            decode('zigbee2mqtt/door1', b'[1, 2]')
        with self.assertRaises(DecodeError):
            decode('zigbee2mqtt/door1', b'\xff\xfe\xfa')

    # Tasmota
    def test_tasmota_energy_kwh_and_reset(self):
        "Tasmota SENSOR ENERGY Total in kWh with TotalStartTime"
        d = decode('tele/plug1/SENSOR', b'{"Time":"2025-03-01T10:00:00",'
            b'"ENERGY":{"TotalStartTime":"2024-11-02T09:00:00",'
            b'"Total":41.573,"Yesterday":6.147,"Today":8.286,"Power":2,'
            b'"Voltage":230,"Current":0.094}}')
        self.assertEqual(d.key, 'plug1')
        energy = by_kind(d, 'energy')
        self.assertEqual(energy.value, Decimal('41.573'))
        self.assertEqual(energy.data['TotalStartTime'], '2024-11-02T09:00:00')
        self.assertEqual(by_kind(d, 'power').value, Decimal('2'))

    def test_tasmota_lwt_power(self):
        "Tasmota LWT plain text, stat POWER plain, RESULT JSON"
        self.assertEqual(decode('tele/plug1/LWT', b'Offline').availability,
            'offline')
        self.assertEqual(decode('tele/plug1/LWT', b'Online').availability,
            'online')
        self.assertEqual(kinds(decode('stat/plug1/POWER', b'ON')),
            ['switch_on'])
        self.assertEqual(kinds(decode('stat/plug1/RESULT',
                    b'{"POWER":"OFF"}')), ['switch_off'])
        self.assertEqual(kinds(decode('tele/plug1/STATE',
                    b'{"Time":"2025-03-01T10:00:00","POWER":"ON",'
                    b'"Wifi":{"RSSI":76}}')), ['switch_on'])
        self.assertEqual(decode('cmnd/plug1/POWER', b'ON').events, [])

    # Shelly
    def test_shelly_wh_to_kwh(self):
        "Shelly aenergy.total is Wh, normalised to kWh"
        d = decode('shellies/shellyplus1pm-a8032ab12345/status/switch:0',
            b'{"id":0,"source":"init","output":true,"apower":63.2,'
            b'"voltage":229.8,"current":0.291,"aenergy":{"total":1234.567}}')
        self.assertEqual(d.key, 'shellyplus1pm-a8032ab12345')
        self.assertEqual(by_kind(d, 'energy').value, Decimal('1.234567'))
        self.assertEqual(by_kind(d, 'energy').unit, 'kWh')
        self.assertEqual(kinds(d), ['switch_on', 'power', 'energy'])

    def test_shelly_notify(self):
        "NotifyStatus overlays changed keys; NotifyEvent button pushes"
        d = decode('shellies/shellyplus1pm-a8032ab12345/events/rpc',
            b'{"src":"shellyplus1pm-a8032ab12345","dst":"x",'
            b'"method":"NotifyStatus","params":{"ts":1740823205.1,'
            b'"switch:0":{"id":0,"output":false}}}')
        self.assertEqual(kinds(d), ['switch_off'])
        self.assertEqual(d.state, {'switch:0': {'id': 0, 'output': False}})
        d = decode('shellies/shellyplus1pm-a8032ab12345/events/rpc',
            b'{"src":"shellyplus1pm-a8032ab12345","method":"NotifyEvent",'
            b'"params":{"ts":1740823205.10,"events":[{"component":"input:0",'
            b'"id":0,"event":"single_push"}]}}')
        self.assertEqual(kinds(d), ['button'])
        d = decode('shellies/shellyplus1pm-a8032ab12345/online', b'false')
        self.assertEqual(d.availability, 'offline')
        d = decode('shellies/shellyplus1pm-a8032ab12345/reply/rpc',
            b'{"id":42,"src":"shellyplus1pm-a8032ab12345",'
            b'"result":{"was_on":true}}')
        self.assertEqual(d.reply_to, '42')

    # Generic JSON
    def test_generic(self):
        "Generic JSON events with units"
        d = decode('community/devices/meter7/event',
            b'{"kind":"energy","value":"1500","unit":"Wh"}')
        self.assertEqual((d.key, kinds(d)), ('meter7', ['energy']))
        self.assertEqual(d.events[0].value, Decimal('1.5'))
        with self.assertRaisesRegex(DecodeError, 'unknown event kind'):
            decode('community/devices/meter7/event', b'{"kind":"boom"}')
        with self.assertRaisesRegex(DecodeError, 'unit'):
            decode('community/devices/meter7/event',
                b'{"kind":"energy","value":3}')

    # Home Assistant discovery
    def test_homeassistant_tasmota_abbreviated(self):
        "Tasmota's abbreviated discovery config is expanded"
        payload = json.dumps({
                'name': 'Plug 1', '~': 'tele/plug1/', 'stat_t': '~STATE',
                'avty_t': '~LWT', 'pl_avail': 'Online', 'uniq_id': 'ABC_RL_1',
                'dev': {'ids': ['ABC123'], 'name': 'Plug 1',
                    'mdl': 'Sonoff S26', 'mf': 'Tasmota',
                    'cns': [['mac', 'AA:BB:CC:DD:EE:FF']]},
                }).encode()
        d = decode('homeassistant/switch/ABC123/ABC_RL_1/config', payload)
        device, = d.discovered
        self.assertEqual((device['family'], device['key']),
            ('tasmota', 'plug1'))
        self.assertEqual((device['model'], device['vendor'], device['mac']),
            ('Sonoff S26', 'Tasmota', 'AA:BB:CC:DD:EE:FF'))
        self.assertEqual(device['capabilities'], ['switch'])
        self.assertEqual(expand({'stat_t': 'a', 'dev_cla': 'door'}),
            {'state_topic': 'a', 'device_class': 'door'})

    def test_homeassistant_z2m_and_removal(self):
        "Discovery of a Zigbee2MQTT door; empty payload removes"
        payload = json.dumps({
                'state_topic': 'zigbee2mqtt/b1/door', 'device_class': 'door',
                'unique_id': '0x00158d_contact',
                'device': {'identifiers': ['zigbee2mqtt_0x00158d'],
                    'name': 'b1/door', 'model': 'MCCGQ11LM',
                    'manufacturer': 'Aqara'}}).encode()
        d = decode('homeassistant/binary_sensor/0x00158d/contact/config',
            payload)
        self.assertEqual((d.discovered[0]['family'], d.discovered[0]['key'],
                d.discovered[0]['capabilities']),
            ('zigbee2mqtt', 'b1/door', ['contact']))
        self.assertEqual(d.discovered[0]['entry'],
            'binary_sensor/0x00158d/contact/config')
        d = decode('homeassistant/binary_sensor/0x00158d/contact/config', b'')
        self.assertTrue(d.discovered[0]['remove'])
        self.assertEqual(d.discovered[0]['entry'],
            'binary_sensor/0x00158d/contact/config')

    def test_z2m_devices_complete_and_leave(self):
        "bridge/devices is the complete list; device_leave withdraws one"
        d = decode('zigbee2mqtt/bridge/devices', b'[]')
        self.assertEqual((d.discovered, d.complete), ([], True))
        d = decode('zigbee2mqtt/bridge/event', json.dumps({
                    'type': 'device_leave', 'data': {
                        'friendly_name': 'b3/door',
                        'ieee_address': '0x00158d'}}).encode())
        self.assertEqual(d.discovered, [{'family': 'zigbee2mqtt',
                    'key': 'b3/door', 'ieee_address': '0x00158d',
                    'remove': True, 'source': 'zigbee2mqtt'}])
        self.assertFalse(d.complete)
        d = decode('zigbee2mqtt/bridge/event', json.dumps({
                    'type': 'device_joined', 'data': {
                        'friendly_name': '0x00158d'}}).encode())
        self.assertEqual((d.key, d.discovered), (None, []))

    def test_topic_device(self):
        "The device a topic names, for messages that cannot be decoded"
        self.assertEqual(topic_device('zigbee2mqtt/b3/door/availability'),
            ('zigbee2mqtt', 'b3/door'))
        self.assertEqual(topic_device('zigbee2mqtt/b3/door'),
            ('zigbee2mqtt', 'b3/door'))
        self.assertIsNone(topic_device('zigbee2mqtt/bridge/devices'))
        self.assertEqual(topic_device('tele/plug1/SENSOR'),
            ('tasmota', 'plug1'))
        self.assertEqual(topic_device('shellies/shelly1/status/switch:0'),
            ('shelly', 'shelly1'))
        self.assertEqual(topic_device('community/devices/meter7/event'),
            ('generic', 'meter7'))
        self.assertIsNone(topic_device(b'zigbee2mqtt/\xff'))
        self.assertIsNone(topic_device('elsewhere/x'))

    def test_route_roots(self):
        "Configured roots; the longest root wins"
        roots = {'zigbee2mqtt': 'run1/z2m', 'tasmota': 'run1',
            'shelly': 'run1/shellies', 'generic': 'run1/dev',
            'homeassistant': 'run1/ha'}
        self.assertEqual(route('run1/z2m/a/b', roots),
            ('zigbee2mqtt', 'a/b'))
        self.assertEqual(route('run1/tele/plug/LWT', roots),
            ('tasmota', 'tele/plug/LWT'))
        self.assertEqual(route('run1/shellies/x/online', roots),
            ('shelly', 'x/online'))
        with self.assertRaises(DecodeError):
            route('run1/other/x', roots)

    def test_device_time(self):
        "Each family's own time of a reading, in naive UTC"
        utc = dt.datetime
        d = decode('zigbee2mqtt/door1', b'{"contact":false,'
            b'"last_seen":"2026-12-01T08:00:00.500+08:00"}')
        self.assertEqual((d.time, d.local),
            (utc(2026, 12, 1, 0, 0, 0, 500000), False))
        d = decode('zigbee2mqtt/door1', b'{"contact":false,'
            b'"last_seen":"2026-12-01T00:00:00Z"}')
        self.assertEqual(d.time, utc(2026, 12, 1))
        # last_seen: epoch (milliseconds)
        d = decode('zigbee2mqtt/door1',
            b'{"contact":false,"last_seen":1796083200000}')
        self.assertEqual(d.time, utc(2026, 12, 1))
        # disabled (Zigbee2MQTT's default): no device time
        d = decode('zigbee2mqtt/door1', b'{"contact":false}')
        self.assertEqual((d.time, d.local), (None, False))
        # Tasmota: local time of the device unless SetOption52
        d = decode('tele/plug1/SENSOR', b'{"Time":"2026-12-01T08:00:00",'
            b'"ENERGY":{"Total":1.5}}')
        self.assertEqual((d.time, d.local), (utc(2026, 12, 1, 8), True))
        d = decode('tele/plug1/STATE',
            b'{"Time":"2026-12-01T08:00:00+08:00","POWER":"ON"}')
        self.assertEqual((d.time, d.local), (utc(2026, 12, 1), False))
        # Shelly: ts of the RPC notifications (epoch seconds)
        d = decode('shellies/s1/events/rpc', json.dumps({
                    'method': 'NotifyStatus', 'params': {
                        'ts': 1796083200.25,
                        'switch:0': {'output': True}}}).encode())
        self.assertEqual(d.time, utc(2026, 12, 1, 0, 0, 0, 250000))
        # generic: timestamp
        d = decode('community/devices/m7/state',
            b'{"timestamp":"2026-12-01T00:00:00Z","temperature":20}')
        self.assertEqual(d.time, utc(2026, 12, 1))
        d = decode('community/devices/m7/event',
            b'{"kind":"sos","timestamp":1796083200}')
        self.assertEqual(d.time, utc(2026, 12, 1))
        # a timestamp that cannot be read loses nothing: no device time
        d = decode('community/devices/m7/event',
            b'{"kind":"sos","timestamp":"yesterday"}')
        self.assertEqual((kinds(d), d.time), (['sos'], None))

    def test_empty_payload_clears(self):
        "An empty payload is a deleted retained message, not an error"
        d = decode('zigbee2mqtt/b3/door', b'')
        self.assertEqual((d.family, d.key, d.cleared, d.events, d.state),
            ('zigbee2mqtt', 'b3/door', True, [], {}))
        d = decode('zigbee2mqtt/b3/door/availability', b'')
        self.assertEqual((d.key, d.cleared, d.availability),
            ('b3/door', True, None))
        d = decode('tele/plug1/LWT', b'')
        self.assertEqual((d.key, d.cleared), ('plug1', True))
        d = decode('community/devices/m7/state', b'')
        self.assertEqual((d.key, d.cleared), ('m7', True))
        # Home Assistant: the entity is withdrawn
        d = decode('homeassistant/binary_sensor/0x1/contact/config', b'')
        self.assertEqual([(x['entry'], x['remove']) for x in d.discovered],
            [('binary_sensor/0x1/contact/config', True)])

    def test_adapter_owns_commands_and_subscriptions(self):
        "Each family encodes its commands and names its subscriptions"
        from trytond.modules.community_iot.bridge.adapters import (
            DEFAULT_ROOTS, subscriptions)
        from trytond.modules.community_iot.bridge.commands import build
        self.assertEqual(build('zigbee2mqtt', 'b3/plug', 'on', 7,
                DEFAULT_ROOTS), ('zigbee2mqtt/b3/plug/set', '{"state": "ON"}'))
        self.assertEqual(build('tasmota', 'plug1', 'off', 7,
                {'tasmota': 'site'}), ('site/cmnd/plug1/POWER', 'OFF'))
        topic, payload = build('shelly', 's1', 'on', 7, DEFAULT_ROOTS)
        self.assertEqual((topic, json.loads(payload)), ('shellies/s1/rpc', {
                    'id': 7, 'src': 'shellies/s1/reply',
                    'method': 'Switch.Set', 'params': {'id': 0, 'on': True}}))
        self.assertEqual(build('generic', 'm7', 'off', 7, DEFAULT_ROOTS),
            ('community/devices/m7/set',
                '{"state": "OFF", "command_id": 7}'))
        with self.assertRaises(ValueError):
            build('homeassistant', 'x', 'on', 7, DEFAULT_ROOTS)
        with self.assertRaises(ValueError):
            # a switch has no open command, a door no switch
            build('generic', 'm7', 'open', 7, DEFAULT_ROOTS)
        with self.assertRaises(ValueError):
            build('access', 'gate', 'on', 7, DEFAULT_ROOTS)
        with self.assertRaises(ValueError):
            build('hikvision', 'hik', 'open', 7, DEFAULT_ROOTS)
        self.assertEqual(subscriptions(DEFAULT_ROOTS), [
                'community/access/#', 'mqtt/face/#', 'community/devices/#',
                'homeassistant/#', 'shellies/#',
                'tele/#', 'stat/#', 'zigbee2mqtt/#'])
        # an empty root turns a family off (Tasmota: top-level topics)
        roots = dict(DEFAULT_ROOTS, shelly='')
        self.assertNotIn('shellies/#', subscriptions(roots))
        with self.assertRaises(DecodeError):
            route('shellies/s1/online', roots)


class AccessAdapterTestCase(unittest.TestCase):
    "Access controllers: MQTT JSON and Hikvision ISAPI"

    def test_attempt(self):
        "An MQTT JSON attempt is an access event with the device's time"
        d = decode('community/access/b3/gate/attempt', json.dumps({
                    'door': 1, 'kind': 'card', 'value': ' A1B2C3D4 ',
                    'time': '2026-12-02T09:00:00+08:00', 'id': 8812}))
        self.assertEqual((d.family, d.key), ('access', 'b3/gate'))
        event, = d.events
        self.assertEqual(event.kind, 'access')
        self.assertEqual(event.data, {'kind': 'card', 'value': 'A1B2C3D4',
                'door': '1', 'id': '8812', 'online': True})
        self.assertEqual(d.time, dt.datetime(2026, 12, 2, 1, 0))

    def test_attempt_bad(self):
        "Unknown kinds, missing values and other shapes are refused"
        for payload in [b'{"kind": "iris", "value": "x"}',
                b'{"kind": "card"}', b'{"kind": "card", "value": true}',
                b'{"kind": "card", "value": ""}', b'[1]', b'{"kind": ']:
            with self.assertRaises(DecodeError):
                decode('community/access/gate/attempt', payload)
        with self.assertRaises(DecodeError):
            decode('community/access/gate/other', b'{}')

    def test_reply_and_command(self):
        "An open command carries its expiry; only a done reply confirms"
        from trytond.modules.community_iot.bridge.adapters import (
            DEFAULT_ROOTS)
        from trytond.modules.community_iot.bridge.commands import build
        topic, payload = build('access', 'gate', 'open', 12, DEFAULT_ROOTS,
            expires=dt.datetime(2026, 12, 2, 1, 0, 10))
        self.assertEqual(topic, 'community/access/gate/command')
        self.assertEqual(json.loads(payload), {'action': 'open',
                'command_id': '12', 'expires': '2026-12-02T01:00:10Z'})
        d = decode('community/access/gate/reply',
            b'{"command_id": 12, "result": "opened"}')
        self.assertEqual(d.reply_to, '12')
        d = decode('community/access/gate/reply',
            b'{"command_id": 12, "result": "expired"}')
        self.assertIsNone(d.reply_to)
        self.assertEqual(decode('community/access/gate/command',
                payload).events, [])

    def test_hikvision_minor_codes(self):
        "Hikvision minor codes map to credential kinds and values"
        from trytond.modules.community_iot.bridge.adapters import hikvision

        def event(minor, **fields):
            body = {'majorEventType': 5, 'subEventType': minor,
                'serialNo': 7, 'doorNo': 1}
            body.update(fields)
            return json.dumps({'ipAddress': '10.0.0.7',
                    'dateTime': '2026-12-02T09:00:00+08:00',
                    'eventType': 'AccessControllerEvent',
                    'AccessControllerEvent': body}).encode()
        cases = [
            (0x01, {'cardNo': '1234567890'}, 'card', '1234567890', 'allow'),
            (0x06, {'cardNo': '99'}, 'card', '99', 'deny'),
            (0x4b, {'employeeNoString': 'P0001'}, 'face', 'P0001', 'allow'),
            (0x4c, {}, 'face', None, 'deny'),
            (0x9c, {'cardNo': 'QR1'}, 'qr', 'QR1', 'allow'),
            (0x400, {}, 'remote', None, 'allow'),
            ]
        for minor, fields, kind, value, result in cases:
            d = hikvision.decode('hik', event(minor, **fields))
            data = d.events[0].data
            self.assertEqual((data['kind'], data['value'],
                    data['device_result'], data['door'], data['id']),
                (kind, value, result, '1', '7'), minor)
            self.assertEqual(d.time, dt.datetime(2026, 12, 2, 1, 0))
        # other events (door held open, tamper…) only tell it is alive
        d = hikvision.decode('hik', event(0x15))
        self.assertEqual((d.events, d.availability), ([], 'online'))
        d = hikvision.decode('hik', json.dumps({'eventType': 'heartBeat',
                    'dateTime': '2026-12-02T09:00:00+08:00'}).encode())
        self.assertEqual((d.events, d.availability), ([], 'online'))
        for bad in [b'{}', b'{"eventType": "AccessControllerEvent"}',
                json.dumps({'eventType': 'AccessControllerEvent',
                        'dateTime': 'yesterday', 'AccessControllerEvent': {
                            'majorEventType': 5,
                            'subEventType': 1}}).encode()]:
            with self.assertRaises(DecodeError):
                hikvision.decode('hik', bad)
        # never an MQTT topic of its own
        with self.assertRaises(DecodeError):
            route('hikvision/hik')

    def test_hikvision_multipart_and_dedup(self):
        "The JSON part of a multipart body; retries share one key"
        from trytond.modules.community_iot.bridge.adapters import hikvision
        body = b'{"eventType": "AccessControllerEvent"}'
        data = (b'--b\r\nContent-Disposition: form-data; name="Picture"; '
            b'filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            b'\xff\xd8{\r\n--b\r\nContent-Disposition: form-data; '
            b'name="event_log"\r\n\r\n' + body + b'\r\n--b--\r\n')
        self.assertEqual(hikvision.event_json(
                'multipart/form-data; boundary=b', data), body)
        self.assertEqual(hikvision.event_json('application/json', body),
            body)
        with self.assertRaises(DecodeError):
            hikvision.event_json('multipart/form-data; boundary=b',
                b'--b\r\n\r\nnot json\r\n--b--\r\n')
        one = {'dateTime': '2026-12-02T09:00:00+08:00',
            'AccessControllerEvent': {'serialNo': 7}}
        again = dict(one, activePostCount=2)
        later = dict(one, dateTime='2026-12-03T09:00:00+08:00')
        self.assertEqual(hikvision.dedup_key('SN1', one),
            hikvision.dedup_key('SN1', again))
        self.assertNotEqual(hikvision.dedup_key('SN1', one),
            hikvision.dedup_key('SN1', later))
        self.assertNotEqual(hikvision.dedup_key('SN1', one),
            hikvision.dedup_key('SN2', one))


class PersonSyncAdapterTestCase(unittest.TestCase):
    "Persons sent to access controllers: 德安 face terminal, MQTT JSON"

    def build(self, family, action, data):
        from trytond.modules.community_iot.bridge.adapters import (
            DEFAULT_ROOTS)
        from trytond.modules.community_iot.bridge.commands import build
        return build(family, 'DA0001', action, 31, DEFAULT_ROOTS, data=data)

    def test_dean_edit_and_delete(self):
        "EditPerson in the terminal's local time; DelPerson by customId"
        topic, payload = self.build('dean', 'person_upsert', {
                'person': 'A1B2C3D4', 'kind': 'card', 'name': '张伟',
                'valid_from': '2026-12-02T08:00:00+08:00',
                'valid_to': None})
        self.assertEqual(topic, 'mqtt/face/DA0001')
        self.assertEqual(json.loads(payload), {'messageId': '31',
                'operator': 'EditPerson', 'info': {
                    'facesluiceId': 'DA0001', 'customId': 'A1B2C3D4',
                    'name': '张伟', 'personType': 0,
                    'cardValidBegin': '2026-12-02 08:00:00',
                    'cardValidEnd': '2099-12-31 23:59:59',
                    'RFIDCard': 'A1B2C3D4'}})
        self.assertIn('张伟', payload)  # UTF-8, not \\u escapes
        topic, payload = self.build('dean', 'person_delete', {
                'person': '9F3A1C0D5E7B2A64', 'kind': 'face'})
        self.assertEqual(json.loads(payload), {'messageId': '31',
                'operator': 'DelPerson', 'info': {
                    'facesluiceId': 'DA0001',
                    'customId': '9F3A1C0D5E7B2A64'}})
        with self.assertRaises(ValueError):
            self.build('dean', 'person_upsert', {})
        with self.assertRaises(ValueError):
            self.build('dean', 'open', {'person': 'x'})

    def test_dean_ack_rec_heartbeat(self):
        "Acks confirm or fail by messageId; Rec is a face; heartbeat online"
        d = decode('mqtt/face/DA0001/Ack', json.dumps({'messageId': '31',
                    'operator': 'EditPerson-Ack',
                    'info': {'customId': 'A1', 'result': 'ok'}}).encode())
        self.assertEqual((d.key, d.reply_to, d.reply_error),
            ('DA0001', '31', None))
        d = decode('mqtt/face/DA0001/Ack', json.dumps({'messageId': '32',
                    'operator': 'DelPerson-Ack',
                    'info': {'result': 'fail',
                        'detail': '人员不存在'}}).encode('gb18030'))
        self.assertEqual((d.reply_to, d.reply_error), ('32', '人员不存在'))
        d = decode('mqtt/face/heartbeat', b'{"operator": "HeartBeat", '
            b'"info": {"facesluiceId": "DA0001", '
            b'"time": "2026-12-02 09:00:00"}}')
        self.assertEqual((d.key, d.availability, d.local),
            ('DA0001', 'online', True))
        d = decode('mqtt/face/DA0001/Rec', json.dumps({
                    'operator': 'RecPush', 'info': {'customId': 'P0001',
                        'RecordID': 77, 'similarity1': '93.1',
                        'time': '2026-12-02 09:00:00',
                        'pic': 'data:image/jpeg;base64,/9j/'}}).encode())
        event, = d.events
        self.assertEqual((event.kind, event.data['kind'],
                event.data['value'], event.data['online']),
            ('access', 'face', 'P0001', False))
        self.assertNotIn('pic', event.data)
        # our own command comes back: nothing to apply
        self.assertEqual(decode('mqtt/face/DA0001', b'{"x": 1}').events, [])
        self.assertEqual(topic_device('mqtt/face/DA0001/Ack'),
            ('dean', 'DA0001'))
        for topic, payload in [('mqtt/face/DA0001/Ack', b'{"info": {}}'),
                ('mqtt/face/DA0001/Ack', b'[1]'),
                ('mqtt/face/heartbeat', b'{"info": {}}'),
                ('mqtt/face/DA0001/Other', b'{"info": {}}')]:
            with self.assertRaises(DecodeError):
                decode(topic, payload)

    def test_access_person_commands_and_failed_reply(self):
        "MQTT JSON: the person in the command; a failed reply fails it"
        topic, payload = self.build('access', 'person_upsert', {
                'person': 'A1B2C3D4', 'kind': 'card', 'name': '张伟',
                'valid_from': None, 'valid_to': None})
        self.assertEqual(topic, 'community/access/DA0001/command')
        self.assertEqual(json.loads(payload)['person']['person'],
            'A1B2C3D4')
        d = decode('community/access/gate/reply',
            b'{"command_id": 31, "result": "failed", "error": "list full"}')
        self.assertEqual((d.reply_to, d.reply_error), ('31', 'list full'))


class ZKTecoTestCase(unittest.TestCase):
    "ZKTeco ADMS"

    def test_attlog(self):
        "ATTLOG lines: a face names its person id, local time, bad lines"
        from trytond.modules.community_iot.bridge.adapters import zkteco
        body = (b'P0001\t2026-12-02 09:00:00\t0\t15\t0\t0\t0\r\n'
            b'P0002\t2026-12-02 09:01:00\t1\t1\t0\t0\t0\r\n'
            b'\r\n'
            b'P0003\tyesterday\t0\t15\r\n'
            b'P0001\t2026-12-02 09:00:00\t0\t15\t0\t0\t0\r\n')
        records = zkteco.attlog('CKJ1234', body)
        self.assertEqual(len(records), 4)
        (k1, line, face, error), (_, _, finger, _), (_, _, bad, reason), (
            k4, _, _, _) = records
        self.assertEqual(line, b'P0001\t2026-12-02 09:00:00\t0\t15\t0\t0\t0')
        self.assertIsNone(error)
        self.assertEqual((face.family, face.key), ('zkteco', 'CKJ1234'))
        self.assertEqual((face.time, face.local),
            (dt.datetime(2026, 12, 2, 9, 0), True))
        data = face.events[0].data
        self.assertEqual((data['kind'], data['value'], data['verify']),
            ('face', 'P0001', 15))
        self.assertEqual(finger.events[0].data['kind'], 'person')
        self.assertEqual(finger.events[0].data['verify_kind'],
            'fingerprint')
        self.assertIsNone(bad)
        self.assertEqual(reason, "ATTLOG time 'yesterday'")
        # the same line uploaded twice has one key
        self.assertEqual(k1, k4)
        self.assertIn('ATTLOGStamp=None', zkteco.options('CKJ1234'))
        self.assertTrue(zkteco.options('CKJ1234').startswith(
                'GET OPTION FROM: CKJ1234\n'))
