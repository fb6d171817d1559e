"""Benchmark of the community_iot bridge (``make bench-iot``).

Usage: bench_iot.py [-m MESSAGES] [--rate 2000] [--seconds 10]

Against a private Mosquitto (persistence, no queue limit, 1000 in flight)
and the project's PostgreSQL:

(a) throughput: M messages (default 100,000) from several simulated
    devices of every family are queued in the broker for the bridge's
    persistent session, then the bridge drains them: messages and events
    committed per second (from the first to the last commit);
(b) the same M messages drained by a raw baseline: a minimal paho
    subscriber inserting them into a PostgreSQL table in batches;
(c) publish→commit latency p50/p99 at a fixed rate (default 2,000 msg/s)
    with the bridge running, from the bridge's --trace of commit times.

Prints both rates, their ratio, and the latencies. Goals: ratio ≥ 50 %,
p99 ≤ 200 ms.
"""
import argparse
import hashlib
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import iot_support as s  # noqa: E402

DB = 'bench_iot'

BASELINE = r'''
import sys, time, queue, threading
import paho.mqtt.client as mqtt
import psycopg
port, topic_filter, dsn, client_id, batch = (int(sys.argv[1]), sys.argv[2],
    sys.argv[3], sys.argv[4], int(sys.argv[5]))
conn = psycopg.connect(dsn)
conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id serial PRIMARY KEY, "
    "topic text, payload bytea, received timestamp)")
conn.commit()
q = queue.Queue()
def on_message(c, u, m):
    q.put((m.topic, m.payload))
def on_connect(c, u, f, rc, p):
    c.subscribe(topic_filter, qos=1)
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
props = Properties(PacketTypes.CONNECT)
props.SessionExpiryInterval = 3600
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
    protocol=mqtt.MQTTv5)
c.on_message = on_message
c.on_connect = on_connect
c.connect('127.0.0.1', port, clean_start=False, properties=props)
c.loop_start()
while True:
    rows = [q.get()]
    while len(rows) < batch:
        try:
            rows.append(q.get(timeout=0.02))
        except queue.Empty:
            break
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bench_raw (topic, payload, received) "
            "VALUES (%s, %s, now())", rows)
    conn.commit()
'''


def drain_rate(counter, m, timeout=900):
    "Poll a count until m; rate from the first to the last observation."
    t0 = n0 = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = counter()
        now = time.monotonic()
        if n and t0 is None:
            t0, n0 = now, n
        if n >= m:
            return (n - n0) / max(now - t0, 1e-6), n
        time.sleep(0.25)
    raise TimeoutError("only %s of %s" % (counter(), m))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-m', '--messages', type=int, default=100000)
    parser.add_argument('--rate', type=int, default=2000)
    parser.add_argument('--seconds', type=int, default=10)
    parser.add_argument('--batch', type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault('DB_CACHE', 'postgresql://')
    s.database_uri()
    run = uuid.uuid4().hex[:6]
    prefix = 'bench' + run
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='bench-iot-'))
    print("setting up database %s …" % DB, flush=True)
    s.sql('postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
    s.setup_database(DB, prefix)
    s.sql(DB, "DROP TABLE IF EXISTS bench_raw")
    broker = s.Broker().start()
    messages = s.stream(prefix, args.messages)
    events_before = s.sql(DB, "SELECT count(*) FROM community_iot_event")[0][0]
    try:
        # (a) bridge
        conf = s.write_bridge_config(str(tmp / 'bridge.conf'), broker.port,
            prefix, batch_size=args.batch, shared_group='bench' + run)
        bridge = s.Bridge(conf, DB, str(tmp / 'bridge.log')).start()
        s.wait_online(broker.port, prefix)  # session and subscriptions
        bridge.stop()
        pub = s.Publisher(broker.port)
        t = time.monotonic()
        pub.publish(messages, timeout=600)
        print("published %d messages in %.1f s" % (
                len(messages), time.monotonic() - t), flush=True)
        bridge.start()
        rate, n = drain_rate(lambda: s.sql(DB, "SELECT count(*) FROM "
                "community_iot_message WHERE topic LIKE %s",
                (prefix + '/%',))[0][0], args.messages)
        events = s.sql(DB, "SELECT count(*) FROM community_iot_event"
            )[0][0] - events_before
        bridge.stop()
        print("bridge:   %8.0f messages/s committed (%d messages, %d events,"
            " %.0f events/s)" % (rate, n, events, rate * events / n),
            flush=True)

        # (b) raw baseline on the same messages
        client_id = 'baseline-' + run
        cmd = [sys.executable, '-c', BASELINE, str(broker.port),
            '$share/base%s/%s/#' % (run, prefix), s.dsn(DB), client_id,
            str(args.batch)]
        base = subprocess.Popen(cmd, start_new_session=True)
        time.sleep(3)
        base.kill()
        base.wait()
        s.sql(DB, "TRUNCATE bench_raw")
        pub.publish(messages, timeout=600)
        base = subprocess.Popen(cmd, start_new_session=True)
        base_rate, _ = drain_rate(lambda: s.sql(DB,
                "SELECT count(*) FROM bench_raw")[0][0], args.messages)
        base.kill()
        base.wait()
        print("baseline: %8.0f messages/s committed (raw paho + INSERT "
            "batches)" % base_rate)
        print("ratio:    %8.1f %% of baseline (goal ≥ 50 %%)"
            % (100 * rate / base_rate), flush=True)

        # (c) latency at a fixed rate
        # a fresh session: the bridge's first one holds the copies of the
        # baseline's messages, queued while it was stopped
        trace = tmp / 'trace.jsonl'
        lat_conf = s.write_bridge_config(str(tmp / 'bridge-lat.conf'),
            broker.port, prefix, batch_size=args.batch,
            client_id='iot-bench-lat-' + run, shared_group='lat' + run)
        bridge = s.Bridge(lat_conf, DB, str(tmp / 'bridge.log'),
            trace=str(trace)).start()
        s.wait_online(broker.port, prefix)
        lat_msgs = s.stream(prefix + 'lat', args.rate * args.seconds,
            start=0)
        lat_msgs = [(t.replace(prefix + 'lat', prefix, 1), p + ' ', r)
            for t, p, r in lat_msgs]
        sent = {}

        def on_sent(i):
            sent[i] = time.time()
        pub.publish(lat_msgs, rate=args.rate, on_sent=on_sent)
        keys = {hashlib.sha256(t.encode() + b'\0' + p.encode()).hexdigest(): i
            for i, (t, p, r) in enumerate(lat_msgs)}
        def traced():
            # complete lines only: the bridge may be writing the last one
            lines = trace.read_text().split('\n')[:-1]
            return sum(len(json.loads(line)['keys']) for line in lines)
        s.wait_for(lambda: trace.exists() and traced() >= len(lat_msgs),
            timeout=120)
        bridge.stop()
        committed = {}
        for line in trace.read_text().splitlines():
            entry = json.loads(line)
            for key in entry['keys']:
                if key in keys:
                    committed.setdefault(keys[key], entry['t'])
        lat = sorted((committed[i] - sent[i]) * 1000 for i in committed)
        p50 = statistics.median(lat)
        p99 = lat[int(len(lat) * 0.99) - 1]
        print("latency at %d msg/s (%d messages): p50 %.0f ms, p99 %.0f ms"
            " (goal p99 ≤ 200 ms)" % (args.rate, len(lat), p50, p99))
        pub.close()
    finally:
        broker.cleanup()


if __name__ == '__main__':
    main()
