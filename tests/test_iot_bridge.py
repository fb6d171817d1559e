"""community_iot bridge against a real Mosquitto and PostgreSQL.

Every published QoS 1 message must end up exactly once in the database,
including when the broker restarts, when PostgreSQL connections are
killed mid-batch and when the bridge is SIGKILLed mid-batch. Each run uses
unique topic roots and client ids (the broker on 1883 may be shared).
"""
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
import uuid
from decimal import Decimal

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import iot_support as s  # noqa: E402

RUN = uuid.uuid4().hex[:8]
DB = 'test_iot_bridge'


@pytest.fixture(scope='module')
def database():
    s.database_uri()
    s.ensure_mosquitto()
    s.setup_database(DB, 'iot' + RUN)
    return DB


@pytest.fixture
def prefix(request):
    return 'iot%s/%s' % (RUN, request.node.name.replace('test_', ''))


def count(prefix, table='community_iot_message', where=''):
    if table == 'community_iot_message':
        return s.sql(DB, "SELECT count(*), count(DISTINCT dedup_key) "
            "FROM community_iot_message WHERE topic LIKE %s " + where,
            (prefix + '/%',))[0]
    return s.sql(DB, "SELECT count(*) FROM community_iot_event e "
        "JOIN community_iot_message m ON e.message = m.id "
        "WHERE m.topic LIKE %s " + where, (prefix + '/%',))[0][0]


def run_bridge(tmp_path, port, prefix, name='bridge', **extra):
    conf = s.write_bridge_config(str(tmp_path / (name + '.conf')), port,
        prefix, **extra)
    return s.Bridge(conf, DB, str(tmp_path / (name + '.log'))).start()


def wait_count(prefix, n, timeout=90):
    """Wait until n messages of the prefix are stored; return (count,
    distinct keys). No more can come: the published messages are distinct
    and the de-duplication key is unique."""
    s.wait_for(lambda: count(prefix)[0] >= n, timeout=timeout)
    return count(prefix)


def dump_log(tmp_path):
    for log in tmp_path.glob('*.log'):
        print(log.read_text()[-5000:])


def test_events_end_to_end(database, prefix, tmp_path):
    "Every family end to end; duplicates and bad input; typed events"
    bridge = run_bridge(tmp_path, 1883, prefix)
    pub = s.Publisher(1883)
    try:
        r = s.roots(prefix)
        messages = s.stream(prefix, 600)
        # QoS 1 redelivery / same payload twice
        messages += messages[:50]
        bad = [
            (r['zigbee2mqtt'] + '/b3/smoke', '{"smoke":tr', False),
            (r['zigbee2mqtt'] + '/nobody', '{"contact":true}', False),
            (r['generic'] + '/meter7/event', b'\xff\xfe' * 10, False),
            # decodes, but the database refuses it (integer out of range):
            # quarantined by the bridge itself, under the device's compound
            (r['zigbee2mqtt'] + '/b3/leak', json.dumps({
                        'water_leak': False, 'battery': 3000000000}), False),
            ]
        sos = [(r['zigbee2mqtt'] + '/gate/sos', json.dumps({
                        'action': 'emergency', 'battery': 100,
                        'last_seen': '2026-03-01T10:00:00+08:00'}), False),
            (r['zigbee2mqtt'] + '/b3/smoke', json.dumps({
                        'smoke': True, 'battery': 95, 'seq': 'x'}), False)]
        s.wait_online(1883, prefix)
        pub.publish(messages + bad + sos)
        total, distinct = wait_count(prefix, 600 + 4 + 2)
        if total != 606:
            dump_log(tmp_path)
        assert (total, distinct) == (606, 606)
        assert count(prefix, where="AND state = 'quarantined'") == (4, 4)
        # 100 Tasmota + 100 Shelly + 100 generic energy readings, in kWh
        assert count(prefix, 'event', "AND e.kind = 'energy'") == 300
        assert s.sql(DB, "SELECT min(e.value) FROM community_iot_event e "
            "JOIN community_iot_message m ON e.message = m.id "
            "WHERE m.topic = %s", (
                s.roots(prefix)['generic'] + '/meter7/event',))[0][0] \
            == Decimal('1.004')
        assert count(prefix, 'event', "AND e.kind = 'sos'") == 1
        assert count(prefix, 'event', "AND e.kind = 'smoke'") == 1
        assert s.sql(DB, "SELECT count(*) FROM community_iot_alarm a "
            "JOIN community_iot_event e ON a.event = e.id "
            "JOIN community_iot_message m ON e.message = m.id "
            "WHERE m.topic LIKE %s", (prefix + '/%',))[0][0] == 1
        reasons = sorted(s.sql(DB,
                "SELECT q.reason, c.code FROM community_iot_quarantine q "
                "LEFT JOIN community_compound c ON c.id = q.compound "
                "WHERE q.topic LIKE %s", (prefix + '/%',)))
        assert [(x.split(':')[0], c) for x, c in reasons] == [
            ('internal error', 'IOT'),
            ('invalid JSON', 'IOT'), ('invalid JSON', 'IOT'),
            ("unknown device zigbee2mqtt 'nobody'", None)]
        assert reasons[0][0] == ('internal error: psycopg.errors.'
            'NumericValueOutOfRange: integer out of range')
    finally:
        pub.close()
        bridge.stop()
    assert bridge.proc.returncode == 0


def test_stale_reading_and_cleared_topic(database, prefix, tmp_path):
    """Through the broker: a smoke reading two hours old (its Zigbee2MQTT
    last_seen) arriving after a newer one neither rolls the detector back
    nor raises an event or alarm; an empty retained payload (Zigbee2MQTT
    clearing a renamed device's topic) is not quarantined"""
    bridge = run_bridge(tmp_path, 1883, prefix)
    pub = s.Publisher(1883)
    r = s.roots(prefix)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    older = now - dt.timedelta(hours=2)
    smoke = r['zigbee2mqtt'] + '/b3/smoke'
    try:
        s.wait_online(1883, prefix)
        pub.publish([
                (smoke, json.dumps({'smoke': False, 'battery': 91,
                            'last_seen': now.isoformat()}), False),
                (smoke, json.dumps({'smoke': True, 'battery': 92,
                            'last_seen': older.isoformat()}), False),
                (r['zigbee2mqtt'] + '/b3/renamed', b'', True),
                ])
        total, _ = wait_count(prefix, 3, timeout=60)
        if total != 3:
            dump_log(tmp_path)
        assert total == 3
        assert s.sql(DB, "SELECT payload = '', stale, device_time, state "
            "FROM community_iot_message WHERE topic LIKE %s ORDER BY id",
            (prefix + '/%',)) == [
            (False, False, now.replace(tzinfo=None), 'processed'),
            (False, True, older.replace(tzinfo=None), 'processed'),
            (True, False, None, 'processed')]
        assert count(prefix, 'event', "AND e.kind = 'smoke'") == 0
        assert s.sql(DB, "SELECT count(*) FROM community_iot_quarantine "
            "WHERE topic LIKE %s", (prefix + '/%',))[0][0] == 0
        state, state_time = s.sql(DB, "SELECT latest_state, state_time "
            "FROM community_iot_device WHERE family = 'zigbee2mqtt' "
            "AND key = 'b3/smoke'")[0]
        assert (json.loads(state)['smoke'], json.loads(state)['battery'],
            state_time) == (False, 91, now.replace(tzinfo=None))
    finally:
        pub.close()
        bridge.stop()


def test_command_published_and_confirmed(database, prefix, tmp_path):
    "A command is published at QoS 1, marked sent, then confirmed"
    import paho.mqtt.client as mqtt
    bridge = run_bridge(tmp_path, 1883, prefix)
    r = s.roots(prefix)
    received = []
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
        client_id='dev-' + RUN, protocol=mqtt.MQTTv5)

    def on_message(client, userdata, message):
        received.append((message.topic, message.payload.decode()))
        # the plug switches and reports its state
        client.publish(r['tasmota'] + '/stat/plug1/POWER',
            message.payload, qos=1)
    device.on_message = on_message
    device.on_connect = lambda c, *a: c.subscribe(
        r['tasmota'] + '/cmnd/plug1/POWER', qos=1)
    device.connect('127.0.0.1', 1883)
    device.loop_start()
    try:
        s.wait_online(1883, prefix)
        start = time.monotonic()
        command_id = s.create_command(DB, 'tasmota', 'plug1', 'on')
        state = s.wait_for(lambda: s.sql(DB, "SELECT state FROM "
                "community_iot_command WHERE id = %s", (command_id,))[0][0]
            == 'confirmed' and 'confirmed', timeout=30)
        elapsed = time.monotonic() - start
        if state != 'confirmed':
            dump_log(tmp_path)
        assert state == 'confirmed'
        assert received == [(r['tasmota'] + '/cmnd/plug1/POWER', 'ON')]
        topic, sent_at = s.sql(DB, "SELECT topic, sent_at FROM "
            "community_iot_command WHERE id = %s", (command_id,))[0]
        assert topic == r['tasmota'] + '/cmnd/plug1/POWER'
        assert sent_at is not None
        # woken by LISTEN/NOTIFY, not by the outbox's sweep (every SWEEP
        # seconds); half a sweep leaves room for a busy machine
        from trytond.modules.community_iot.bridge.outbox import SWEEP
        assert elapsed < SWEEP / 2
    finally:
        device.loop_stop()
        device.disconnect()
        bridge.stop()


def test_broker_restart_mid_stream(database, prefix, tmp_path):
    """Mosquitto restarted while a device keeps publishing: every message,
    published once at QoS 1, ends up once in the database, including those
    the restarted broker accepted before the bridge was connected again
    (the bridge with its default options)"""
    broker = s.Broker().start()
    bridge = run_bridge(tmp_path, broker.port, prefix, batch_size=50)
    pub = s.Publisher(broker.port, bridge=prefix)
    n = 3000
    restarted = []
    try:
        s.wait_online(broker.port, prefix)

        def restart():
            # a third of the stream accepted, then down and up again while
            # the publisher goes on (paho queues, then sends again)
            s.wait_for(lambda: len(pub.acked_at) >= n // 3, timeout=60)
            broker.stop()
            broker.start()
            restarted.append(time.monotonic())
        thread = threading.Thread(target=restart)
        thread.start()
        pub.publish(s.stream(prefix, n), rate=1500, timeout=90)
        thread.join()
        assert pub.published == n  # each message published once
        # the test covers the gap: the restarted broker acknowledged
        # messages before the bridge was subscribed again
        back = s.wait_for(lambda: [t for t in pub.bridge_online
                if t > restarted[0]], timeout=60)
        assert back, "the bridge did not come back online"
        assert any(restarted[0] < t < back[0]
            for t in pub.acked_at.values())
        total, distinct = wait_count(prefix, n, timeout=60)
        if total != n:
            dump_log(tmp_path)
        assert (total, distinct) == (n, n)
    finally:
        pub.close()
        bridge.stop()
        broker.cleanup()
    # a broker restart and a clean stop are not errors
    log = (tmp_path / 'bridge.log').read_text().splitlines()
    assert [line for line in log if ' ERROR ' in line
        or (' WARNING ' in line and 'connect' in line)] == []


def test_postgresql_connection_lost(database, prefix, tmp_path):
    "PostgreSQL backends terminated mid-batch: exactly once"
    bridge = run_bridge(tmp_path, 1883, prefix, batch_size=100)
    pub = s.Publisher(1883)
    n = 3000
    killed = []
    try:
        s.wait_online(1883, prefix)

        def kill():
            # mid-stream: at each fifth of the messages stored
            for k in range(1, 5):
                s.wait_for(lambda k=k: count(prefix)[0] >= k * n // 5,
                    timeout=60, interval=0.05)
                killed.extend(s.sql('postgres',
                        "SELECT pg_terminate_backend(pid) "
                        "FROM pg_stat_activity WHERE datname = %s "
                        "AND pid <> pg_backend_pid()", (DB,)))
        thread = threading.Thread(target=kill)
        thread.start()
        pub.publish(s.stream(prefix, n), rate=1500)
        thread.join()
        total, distinct = wait_count(prefix, n)
        if total != n:
            dump_log(tmp_path)
        assert killed, "no backend was terminated"
        assert (total, distinct) == (n, n)
    finally:
        pub.close()
        bridge.stop()


def test_bridge_sigkill_and_restart(database, prefix, tmp_path):
    "Bridge SIGKILLed mid-batch, restarted: exactly once"
    broker = s.Broker().start()
    bridge = run_bridge(tmp_path, broker.port, prefix, batch_size=200)
    pub = s.Publisher(broker.port)
    n = 4000
    try:
        s.wait_online(broker.port, prefix)

        def on_sent(i):
            if i == n // 3:
                bridge.kill(signal.SIGKILL)
        pub.publish(s.stream(prefix, n), rate=2000, on_sent=on_sent)
        partial = count(prefix)[0]
        assert partial < n
        bridge.start()
        total, distinct = wait_count(prefix, n)
        if total != n:
            dump_log(tmp_path)
        assert (total, distinct) == (n, n)
    finally:
        pub.close()
        bridge.stop()
        broker.cleanup()


def test_receive_maximum_beats_broker_inflight_limit(prefix):
    """The bridge's client sets its own in-flight window: with a broker
    keeping Mosquitto's default max_inflight_messages (20), the bridge
    receives receive_maximum unacknowledged messages, no more (MQTT 5
    Receive Maximum in its CONNECT), so its throughput does not depend on
    the broker's setting"""
    from trytond.modules.community_iot.bridge.client import Client
    from trytond.modules.community_iot.bridge.config import BridgeConfig
    broker = s.Broker(inflight=20).start()
    conf = BridgeConfig(host='127.0.0.1', port=broker.port,
        client_id='rm-' + RUN, receive_maximum=200,
        status_topic=s.status_topic(prefix),
        roots={'generic': prefix + '/dev'})
    client = Client(conf)
    client.start()
    pub = s.Publisher(broker.port)
    try:
        assert client.subscribed.wait(30)
        pub.publish([(prefix + '/dev/m%d/event' % i, '{}', False)
                for i in range(300)])
        # every message is with the broker; a round trip of the bridge's
        # connection comes after whatever the broker sent it before
        client.publish(prefix + '/probe', 'x').wait_for_publish(10)
        assert client.queue.qsize() == 200  # none acknowledged
        received = []
        while not client.queue.empty():
            received.append(client.queue.get())
        client.ack(received[:100])  # acknowledged: the window moves on
        s.wait_for(lambda: client.queue.qsize() >= 100, timeout=10)
        client.publish(prefix + '/probe', 'y').wait_for_publish(10)
        assert client.queue.qsize() == 100
    finally:
        pub.close()
        client.stop()
        broker.cleanup()
