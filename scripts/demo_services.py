"""Demo services of community_iot, started by scripts/demo.py.

Usage: demo_services.py -c trytond.conf -d DATABASE

1. the MQTT broker: the configured one (``[community_iot] host``), else an
   embedded pure-Python amqtt broker on 127.0.0.1 (the configured port, or
   a free one when it is taken; MQTT 3.1.1, so the bridge runs in 3.1.1
   mode);
2. the bridge (``community-iot-bridge``);
3. a device simulator publishing realistic messages of every supported
   family for the demo devices (scripts/load_demo.py ``setup_iot_devices``):
   Zigbee2MQTT door, smoke, water leak and SOS sensors (plus a new motion
   sensor announced by ``bridge/devices``, to confirm), a Tasmota plug, a
   Shelly Plus 1PM relay, a generic JSON meter; it answers commands like
   the real devices. A smoke alarm and a water leak are raised after
   about 30 s, so the back office shows an alarm.

Stops everything on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import configparser
import datetime as dt
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import threading

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.executable).parent


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(('127.0.0.1', port))
            return True
        except OSError:
            return False


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_amqtt(port):
    "Run an amqtt broker in a daemon thread; return when it listens."
    from amqtt.broker import Broker
    ready = threading.Event()

    def run():
        async def main():
            broker = Broker({
                    'listeners': {'default': {'type': 'tcp',
                            'bind': '127.0.0.1:%d' % port}},
                    'plugins': {
                        'amqtt.plugins.authentication.AnonymousAuthPlugin':
                        {'allow_anonymous': True}},
                    })
            await broker.start()
            ready.set()
            while True:
                await asyncio.sleep(3600)
        asyncio.run(main())
    threading.Thread(target=run, daemon=True, name='amqtt').start()
    if not ready.wait(20):
        raise RuntimeError("amqtt broker did not start")


class Simulator:
    "Devices of the demo compound (see load_demo.IOT_DEVICES)."

    def __init__(self, host, port, roots, protocol):
        import paho.mqtt.client as mqtt
        self.roots = roots
        self.mqtt = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id='community-demo-devices', protocol=(
                mqtt.MQTTv5 if protocol == '5' else mqtt.MQTTv311))
        self.mqtt.on_connect = self.on_connect
        self.mqtt.on_message = self.on_message
        self.mqtt.reconnect_delay_set(1, 10)
        self.mqtt.connect_async(host, port)
        self.energy = {'lobby_plug': 41.573, 'shelly': 1234.5,
            'meter': 20000.0}
        self.pump_on = False

    def t(self, family, rest):
        root = self.roots[family]
        return (root + '/' if root else '') + rest

    def pub(self, family, rest, payload, retain=False):
        if not isinstance(payload, (str, bytes)):
            payload = json.dumps(payload, ensure_ascii=False)
        self.mqtt.publish(self.t(family, rest), payload, qos=1,
            retain=retain)

    def on_connect(self, client, userdata, flags, reason_code,
            properties=None):
        client.subscribe([(self.t('tasmota', 'cmnd/+/POWER'), 1),
                (self.t('zigbee2mqtt', '+/set'), 1),
                (self.t('shelly', '+/rpc'), 1)])
        self.announce()

    def on_message(self, client, userdata, message):
        topic = message.topic
        payload = message.payload.decode('utf-8', 'replace')
        if topic.endswith('/POWER'):
            key = topic.split('/')[-2]
            self.pub('tasmota', 'stat/%s/POWER' % key, payload.upper())
        elif topic.endswith('/rpc'):
            request = json.loads(payload)
            on = request.get('params', {}).get('on')
            self.pump_on = bool(on)
            key = topic.split('/')[-2]
            self.pub('shelly', key + '/reply/rpc', {'id': request.get('id'),
                    'src': key, 'result': {'was_on': not on}})
            self.pub('shelly', key + '/status/switch:0', self.shelly())

    def shelly(self):
        self.energy['shelly'] += 0.75 if self.pump_on else 0.01
        return {'id': 0, 'source': 'timer', 'output': self.pump_on,
            'apower': 750.0 if self.pump_on else 0.0, 'voltage': 229.8,
            'current': 3.26 if self.pump_on else 0.0,
            'aenergy': {'total': round(self.energy['shelly'], 3)}}

    def announce(self):
        devices = [
            ('3/2/1201/door', 'MCCGQ11LM', 'Aqara', 'contact'),
            ('3/smoke', 'JTYJ-GD-01LM/BW', 'Xiaomi', 'smoke'),
            ('pump/leak', 'SJCGQ11LM', 'Aqara', 'water_leak'),
            ('gate/east/sos', 'WXKG01LM', 'Aqara', 'action'),
            ('b5/lobby/motion', 'RTCGQ11LM', 'Aqara', 'occupancy'),
            ]
        self.pub('zigbee2mqtt', 'bridge/state', {'state': 'online'},
            retain=True)
        self.pub('zigbee2mqtt', 'bridge/devices', [{
                    'ieee_address': '0x00158d00%08x' % i,
                    'type': 'EndDevice', 'friendly_name': name,
                    'power_source': 'Battery',
                    'definition': {'model': model, 'vendor': vendor,
                        'exposes': [{'name': prop, 'property': prop},
                            {'name': 'battery', 'property': 'battery'}]}}
                for i, (name, model, vendor, prop) in enumerate(devices)],
            retain=True)
        for name, *_ in devices:
            self.pub('zigbee2mqtt', name + '/availability',
                {'state': 'online'}, retain=True)
        self.pub('tasmota', 'tele/lobby_plug/LWT', 'Online', retain=True)
        self.pub('shelly', 'shellyplus1pm-a8032ab12345/online', 'true',
            retain=True)
        self.pub('generic', 'meter/public-1/availability', 'online',
            retain=True)

    def tick(self, n):
        now = dt.datetime.now()
        last_seen = now.astimezone().isoformat(timespec='seconds')
        self.pub('zigbee2mqtt', '3/2/1201/door', {'contact': n % 4 != 1,
                'battery': 87, 'voltage': 2985,
                'linkquality': random.randint(90, 140),
                'last_seen': last_seen})
        self.pub('zigbee2mqtt', '3/smoke', {'smoke': 3 <= n <= 5,
                'battery_low': False, 'tamper': False, 'battery': 95,
                'linkquality': random.randint(70, 100),
                'last_seen': last_seen})
        self.pub('zigbee2mqtt', 'pump/leak', {'water_leak': 4 <= n <= 8,
                'battery_low': False, 'battery': 100,
                'linkquality': random.randint(80, 110),
                'last_seen': last_seen})
        if n % 10 == 6:
            self.pub('zigbee2mqtt', 'gate/east/sos', {'action': 'emergency',
                    'battery': 100, 'linkquality': 80,
                    'last_seen': last_seen})
        self.pub('zigbee2mqtt', 'b5/lobby/motion', {
                'occupancy': n % 3 == 0, 'battery': 91,
                'linkquality': 77, 'last_seen': last_seen})
        self.energy['lobby_plug'] += 0.004
        self.pub('tasmota', 'tele/lobby_plug/SENSOR', {
                'Time': now.strftime('%Y-%m-%dT%H:%M:%S'),
                'ENERGY': {'TotalStartTime': '2024-11-02T09:00:00',
                    'Total': round(self.energy['lobby_plug'], 3),
                    'Yesterday': 6.147, 'Today': 1.286,
                    'Power': random.randint(15, 60), 'Voltage': 230,
                    'Current': 0.094}})
        self.pub('tasmota', 'tele/lobby_plug/STATE', {
                'Time': now.strftime('%Y-%m-%dT%H:%M:%S'), 'POWER': 'ON',
                'Wifi': {'RSSI': random.randint(60, 80)}})
        self.pub('shelly', 'shellyplus1pm-a8032ab12345/status/switch:0',
            self.shelly())
        self.energy['meter'] += random.uniform(50, 120)
        self.pub('generic', 'meter/public-1/event', {'kind': 'energy',
                'value': '%.1f' % self.energy['meter'], 'unit': 'Wh',
                'ts': now.isoformat(timespec='seconds')})

    def run(self, stop, interval=10):
        self.mqtt.loop_start()
        n = 0
        while not stop.wait(interval if n else 2):
            self.tick(n)
            n += 1
        self.mqtt.loop_stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    args = parser.parse_args()
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(args.config)
    if not conf.has_section('community_iot'):
        conf.add_section('community_iot')
    section = conf['community_iot']
    host = section.get('host', '').strip()
    protocol = section.get('protocol', '5').strip() or '5'
    port = int(section.get('port', '') or 1883)
    if not host:
        if not port_free(port):
            port = free_port()
        start_amqtt(port)
        host, protocol = '127.0.0.1', '3.1.1'
        print("demo: embedded amqtt broker on 127.0.0.1:%d" % port,
            flush=True)
    section['host'] = host
    section['port'] = str(port)
    section['protocol'] = protocol
    derived = ROOT / '.local' / 'trytond-iot.conf'
    derived.parent.mkdir(exist_ok=True)
    with open(derived, 'w') as f:
        conf.write(f)
    from trytond.modules.community_iot.bridge.adapters import DEFAULT_ROOTS
    roots = dict(DEFAULT_ROOTS)
    for family in roots:
        if section.get('topic_' + family) is not None:
            roots[family] = section.get('topic_' + family).strip('/')

    bridge = subprocess.Popen([str(BIN / 'community-iot-bridge'), '-c',
            str(derived), '-d', args.database, '-v'],
        start_new_session=True)
    stop = threading.Event()

    def on_signal(*a):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("demo: bridge and device simulator running on %s:%d"
        % (host, port), flush=True)
    try:
        Simulator(host, port, roots, protocol).run(stop)
    finally:
        try:
            os.killpg(bridge.pid, signal.SIGTERM)
            bridge.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(bridge.pid, signal.SIGKILL)


if __name__ == '__main__':
    main()
