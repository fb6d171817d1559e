"""Helpers of the community_iot integration tests and benchmark.

Run as a script for the Tryton side (own process, own DB_NAME):
  python tests/iot_support.py setup DB PREFIX     activate community_iot,
      create a compound, devices of every family under the topic PREFIX
  python tests/iot_support.py command DB FAMILY KEY on|off   → prints id

Everything else (brokers, publishers, SQL counts) is used in-process.
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable

DEVICES = [
    # family, key, name
    ('zigbee2mqtt', 'b3/u2/1201/door', "3-2-1201 门磁"),
    ('zigbee2mqtt', 'b3/smoke', "3栋烟感"),
    ('zigbee2mqtt', 'b3/leak', "3栋水浸"),
    ('zigbee2mqtt', 'gate/sos', "东门SOS"),
    ('tasmota', 'plug1', "公区插座"),
    ('shelly', 'shellyplus1pm-a8032ab12345', "水泵继电器"),
    ('generic', 'meter7', "电表7"),
    ]


def roots(prefix):
    return {
        'zigbee2mqtt': prefix + '/z2m', 'tasmota': prefix + '/tas',
        'shelly': prefix + '/shelly', 'generic': prefix + '/dev',
        'homeassistant': prefix + '/ha'}


# --- MQTT brokers -------------------------------------------------------

def mosquitto_bin():
    return shutil.which('mosquitto') or '/usr/sbin/mosquitto'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def listening(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_mosquitto():
    "The shared broker on 1883 (started by scripts/ensure_mosquitto.sh)."
    if not listening(1883):
        subprocess.run([str(ROOT / 'scripts' / 'ensure_mosquitto.sh')],
            check=True)


class Broker:
    """A private Mosquitto with persistence and no queue limit, that can be
    restarted (the shared one on 1883 must not be)."""

    def __init__(self, port=None, inflight=2000):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix='iot-mosquitto-')
        # mosquitto started as root drops to user "mosquitto": it must be
        # able to write its persistence database (sessions, queues) here
        os.chmod(self.dir, 0o777)
        self.conf = os.path.join(self.dir, 'mosquitto.conf')
        with open(self.conf, 'w') as f:
            f.write('listener %d 127.0.0.1\nallow_anonymous true\n'
                'persistence true\npersistence_location %s/\n'
                'max_queued_messages 0\nmax_inflight_messages %d\n'
                % (self.port, self.dir, inflight))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([mosquitto_bin(), '-c', self.conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if listening(self.port):
                return self
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # saves the persistence database
            self.proc.wait(10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- Database -------------------------------------------------------------

def database_uri():
    uri = os.environ.get('TRYTOND_DATABASE__URI')
    if not uri:
        sys.path.insert(0, str(ROOT / 'scripts'))
        import devdb
        uri = devdb.database_uri('pg-test')
        os.environ['TRYTOND_DATABASE__URI'] = uri
    return uri


def dsn(database):
    sys.path.insert(0, str(ROOT / 'scripts'))
    import devdb
    return devdb.dsn(database_uri(), database)


def sql(database, query, params=None):
    import psycopg
    with psycopg.connect(dsn(database), autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def setup_database(database, prefix):
    """Create ``database`` afresh (a database left by an earlier run would
    keep its old schema: activate_module reuses an existing database) and
    load the devices of ``prefix``."""
    sql('postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database)
    env = dict(os.environ, TRYTOND_DATABASE__URI=database_uri(),
        DB_NAME=database, DB_CACHE=os.environ.get('DB_CACHE', ''))
    env.pop('DB_CACHE') if not env['DB_CACHE'] else None
    subprocess.run([PY, __file__, 'setup', database, prefix], env=env,
        check=True)


def create_command(database, family, key, action):
    env = dict(os.environ, TRYTOND_DATABASE__URI=database_uri())
    out = subprocess.run([PY, __file__, 'command', database, family, key,
            action], env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def write_bridge_config(path, port, prefix, **extra):
    options = {
        'host': '127.0.0.1', 'port': port,
        'client_id': 'iot-test-' + prefix.replace('/', '-'),
        'status_topic': status_topic(prefix),
        'batch_size': 200, 'batch_wait': 0.02,
        }
    options.update({'topic_' + k: v for k, v in roots(prefix).items()})
    options.update(extra)
    with open(path, 'w') as f:
        f.write('[database]\npath = %s\n\n[community_iot]\n'
            % tempfile.gettempdir())
        for k, v in options.items():
            f.write('%s = %s\n' % (k, v))
    return path


def status_topic(prefix):
    "The bridge status topic write_bridge_config sets for a prefix."
    return prefix + '/bridge/status'


def wait_online(port, prefix, timeout=90):
    """Wait until the bridge of ``prefix`` reports ``online`` on its status
    topic: it publishes it once the broker granted its subscriptions
    (SUBACK), so messages published from then on reach it. A bridge
    still starting (loading the Tryton pool takes seconds on a busy
    machine) would miss what is published before. Raises TimeoutError."""
    import paho.mqtt.client as mqtt
    last = []
    online = threading.Event()

    def on_message(client, userdata, message):
        last.append(message.payload)
        if message.payload == b'online':
            online.set()
        else:
            online.clear()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
        client_id='wait-' + uuid.uuid4().hex[:10], protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(status_topic(prefix), 1)
    client.connect('127.0.0.1', port)
    client.loop_start()
    try:
        if not online.wait(timeout):
            raise TimeoutError("bridge not online on %s (got %r)"
                % (status_topic(prefix), last[-3:]))
    finally:
        client.disconnect()
        client.loop_stop()


class Bridge:
    "The bridge as a subprocess (its own process group)."

    def __init__(self, conf, database, log, trace=None):
        self.cmd = [str(pathlib.Path(PY).parent / 'community-iot-bridge'),
            '-c', conf, '-d', database, '-v']
        if trace:
            self.cmd += ['--trace', trace]
        self.log = log
        self.proc = None

    def start(self):
        env = dict(os.environ, TRYTOND_DATABASE__URI=database_uri())
        self.proc = subprocess.Popen(self.cmd, env=env,
            stdout=open(self.log, 'a'), stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(20)

    def stop(self):
        self.kill(signal.SIGTERM)


# --- Publishing -------------------------------------------------------------

class Publisher:
    """A QoS 1 publisher, as a device or gateway: each message is published
    once; paho keeps what the broker did not acknowledge and sends it
    again (DUP) after a reconnection, as MQTT QoS 1 requires, nothing
    more. At most ``window`` messages are unacknowledged at any time
    (``publish`` waits on PUBACKs through ``on_publish``).

    ``bridge``: the prefix of a bridge whose status topic is watched;
    ``bridge_online`` lists the times it came (back) online live (its
    subscriptions granted)."""

    def __init__(self, port, client_id=None, window=500, bridge=None):
        import paho.mqtt.client as mqtt
        self.mqtt = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or 'pub-' + uuid.uuid4().hex[:10],
            protocol=mqtt.MQTTv5)
        self.window = window
        self.mqtt.max_inflight_messages_set(window)
        self.mqtt.max_queued_messages_set(0)
        self.mqtt.reconnect_delay_set(0.2, 2)
        self.connected = threading.Event()
        self.cond = threading.Condition()
        self.mid_index = {}   # mid -> message index (unacknowledged)
        self.early = set()    # PUBACKs seen before their mid was recorded
        self.pending = set()  # indexes not acknowledged yet
        self.acked_at = {}    # index -> time of its PUBACK
        self.published = 0    # calls to paho's publish (one per message)
        self.status_topic = status_topic(bridge) if bridge else None
        self.bridge_online = []
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.on_publish = self._on_publish
        self.mqtt.on_message = self._on_status
        self.mqtt.connect_async('127.0.0.1', port, clean_start=True)
        self.mqtt.loop_start()
        self.connected.wait(10)

    def _on_connect(self, client, *args):
        if self.status_topic:
            client.subscribe(self.status_topic, 1)
        self.connected.set()

    def _on_disconnect(self, *args):
        self.connected.clear()

    def _on_status(self, client, userdata, message):
        # a live (not retained) "online": the bridge is subscribed again
        if message.payload == b'online' and not message.retain:
            self.bridge_online.append(time.monotonic())

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self.cond:
            index = self.mid_index.pop(mid, None)
            if index is None:
                self.early.add(mid)
            else:
                self.pending.discard(index)
                self.acked_at[index] = time.monotonic()
            self.cond.notify_all()

    def _send(self, index, message):
        topic, payload, retain = message
        with self.cond:
            self.pending.add(index)
        info = self.mqtt.publish(topic, payload, qos=1, retain=retain)
        with self.cond:
            self.published += 1
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.pending.discard(index)
                self.acked_at[index] = time.monotonic()
            else:
                self.mid_index[info.mid] = index

    def publish(self, messages, rate=None, on_sent=None, timeout=120):
        """Publish (topic, payload, retain) tuples once each; ``rate``
        msg/s if given; return when the broker acknowledged every one."""
        messages = list(messages)
        self.acked_at = {}
        start = time.monotonic()
        deadline = start + timeout
        for i, message in enumerate(messages):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            with self.cond:
                while len(self.pending) >= self.window:
                    if time.monotonic() > deadline:
                        raise TimeoutError("%d messages not acknowledged"
                            % len(self.pending))
                    self.cond.wait(0.5)
            self._send(i, message)
            if on_sent:
                on_sent(i)
        with self.cond:
            while self.pending:
                if time.monotonic() > deadline:
                    raise TimeoutError("%d messages not acknowledged"
                        % len(self.pending))
                self.cond.wait(0.5)
        return len(messages)

    def close(self):
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def stream(prefix, n, start=0):
    """n realistic messages of every family, each unique (counter)."""
    r = roots(prefix)
    out = []
    for i in range(start, start + n):
        k = i % 6
        if k == 0:
            out.append((r['zigbee2mqtt'] + '/b3/u2/1201/door', json.dumps({
                            'contact': i % 12 == 0, 'battery': 87,
                            'linkquality': 100 + i % 50, 'seq': i}), False))
        elif k == 1:
            out.append((r['zigbee2mqtt'] + '/b3/leak', json.dumps({
                            'water_leak': False, 'battery': 99,
                            'linkquality': 90, 'seq': i}), False))
        elif k == 2:
            out.append((r['tasmota'] + '/tele/plug1/SENSOR', json.dumps({
                            'Time': '2026-03-01T10:00:%02d' % (i % 60),
                            'seq': i, 'ENERGY': {
                                'TotalStartTime': '2024-11-02T09:00:00',
                                'Total': 41.5 + i / 1000, 'Power': 20 + i % 7,
                                'Voltage': 230, 'Current': 0.1}}), False))
        elif k == 3:
            out.append((r['shelly']
                    + '/shellyplus1pm-a8032ab12345/status/switch:0',
                    json.dumps({'id': 0, 'output': True, 'apower': 63.2,
                            'voltage': 229.8, 'aenergy': {
                                'total': 1234.5 + i}, 'seq': i}), False))
        elif k == 4:
            out.append((r['generic'] + '/meter7/event', json.dumps({
                            'kind': 'energy', 'value': str(1000 + i),
                            'unit': 'Wh', 'seq': i}), False))
        else:
            out.append((r['zigbee2mqtt'] + '/b3/smoke', json.dumps({
                            'smoke': False, 'battery': 95, 'tamper': False,
                            'linkquality': 88, 'seq': i}), False))
    return out


def wait_for(predicate, timeout=60, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# --- Tryton side (run as a script) ------------------------------------------

def _setup(database, prefix):
    from trytond.tests.test_tryton import activate_module
    activate_module(['community_iot'])
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        Company = pool.get('company.company')
        if not Company.search([]):
            from trytond.modules.company.tests import create_company
            create_company()
        company, = Company.search([], limit=1)
        with transaction.set_context(company=company.id):
            Compound = pool.get('community.compound')
            Device = pool.get('community.iot.device')
            Rule = pool.get('community.iot.rule')
            compound, = Compound.search([('code', '=', 'IOT')]) or \
                Compound.create([{'company': company.id, 'code': 'IOT',
                            'name': "物联小区"}])
            existing = {(d.family, d.key) for d in Device.search([])}
            Device.create([{'name': name, 'family': family, 'key': key,
                        'compound': compound.id}
                    for family, key, name in DEVICES
                    if (family, key) not in existing])
            if not Rule.search([]):
                Rule.create([{'name': "Smoke", 'event_kind': 'smoke',
                            'actions': [('create', [{'type': 'alarm',
                                            'severity': 'critical'}])]}])
        transaction.commit()


def _command(database, family, key, action):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0) as transaction:
        Command = pool.get('community.iot.command')
        Device = pool.get('community.iot.device')
        device, = Device.search([('family', '=', family), ('key', '=', key)])
        command, = Command.create([{'device': device.id, 'action': action}])
        transaction.commit()
        print(command.id)


if __name__ == '__main__':
    if sys.argv[1] == 'setup':
        _setup(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'command':
        _command(*sys.argv[2:6])
