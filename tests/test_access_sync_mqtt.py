"""End to end: credentials synchronised to a 德安-style face terminal
through the real bridge and Mosquitto.

A simulated terminal subscribes to its topic and acknowledges each
``EditPerson``/``DelPerson`` on ``…/Ack``; the queue rows follow (sent on
the broker's acknowledgement, acknowledged on the terminal's). Then the
terminal goes away, a card is added (its row waits: the device is
offline), the bridge is killed; the bridge restarted and the terminal's
heartbeat back, the terminal catches up. Nothing but the opaque person
id, the display name and the validity reaches the terminal.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import iot_support  # noqa: E402
from portal_server import BIN, devdb  # noqa: E402

# the scripts of the Tryton side run in their own process: same run
RUN = os.environ.get('ACCESS_SYNC_RUN') or uuid.uuid4().hex[:6]
DB = 'test_access_sync_' + RUN
PREFIX = 'sync' + RUN
FACE_ROOT = PREFIX + '/face'
TERMINAL = 'DA' + RUN
ID_NUMBER = '11010519491231002X'
MOBILE = '13912345678'


def sql(query, params=None):
    import psycopg
    uri = devdb.database_uri('pg-test')
    with psycopg.connect(devdb.dsn(uri, DB), autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def admin_sql(query):
    import psycopg
    uri = devdb.database_uri('pg-test')
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        conn.execute(query)


def env():
    env = dict(os.environ, TRYTOND_DATABASE__URI=devdb.database_uri(
            'pg-test'))
    env.setdefault('TRYTOND_EMAIL__FROM', 'noreply@example.com')
    return env


def script(conf, *args):
    out = subprocess.run([sys.executable, __file__, str(conf), DB]
        + list(args), env=dict(env(), ACCESS_SYNC_RUN=RUN),
        capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError("script failed:\n" + out.stderr[-4000:])
    return out.stdout


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    local = tmp_path_factory.mktemp('sync')
    conf = local / 'trytond.conf'
    conf.write_text('[database]\npath = %s\n' % local)
    admin_sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
    admin_sql('CREATE DATABASE "%s" ENCODING \'UTF8\'' % DB)
    try:
        passfile = local / 'admin-password'
        passfile.write_text('admin-sync-test\n')
        subprocess.run([str(BIN / 'trytond-admin'), '-c', str(conf),
                '-d', DB, '--activate-dependencies', '-u',
                'community_access', '--email', 'admin@example.com'],
            env=dict(env(), TRYTONPASSFILE=str(passfile)), check=True,
            stdout=subprocess.DEVNULL)
        script(conf, 'prepare')
        yield conf
    finally:
        admin_sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
        shutil.rmtree(local, ignore_errors=True)


class Terminal:
    "A simulated 德安 face terminal: acknowledges what it is sent."

    def __init__(self):
        import paho.mqtt.client as mqtt
        self.received = []
        self.persons = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
            client_id='terminal-' + RUN, protocol=mqtt.MQTTv5)
        self.client.on_message = self.on_message
        self.client.on_connect = lambda c, *a: c.subscribe(
            FACE_ROOT + '/' + TERMINAL, qos=1)

    def on_message(self, client, userdata, message):
        command = json.loads(message.payload)
        info = command['info']
        with self.lock:
            self.received.append((message.payload, command))
            if command['operator'] == 'EditPerson':
                self.persons[info['customId']] = info
            elif command['operator'] == 'DelPerson':
                self.persons.pop(info['customId'], None)
        client.publish(FACE_ROOT + '/' + TERMINAL + '/Ack', json.dumps({
                    'messageId': command['messageId'],
                    'operator': command['operator'] + '-Ack',
                    'info': {'customId': info['customId'],
                        'result': 'ok'}}), qos=1)

    def start(self):
        self.client.connect('127.0.0.1', 1883)
        self.client.loop_start()
        return self

    def heartbeat(self):
        self.client.publish(FACE_ROOT + '/heartbeat', json.dumps({
                    'operator': 'HeartBeat', 'info': {
                        'facesluiceId': TERMINAL,
                        'time': time.strftime('%Y-%m-%d %H:%M:%S')}}),
            qos=1).wait_for_publish(10)

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def rows():
    return sql("SELECT c.identifier, s.operation, s.state "
        "FROM community_access_sync s JOIN community_access_credential c "
        "ON c.id = s.credential ORDER BY c.identifier")


def test_sync_survives_offline_device_and_killed_bridge(database,
        tmp_path):
    iot_support.ensure_mosquitto()
    conf = iot_support.write_bridge_config(str(tmp_path / 'bridge.conf'),
        1883, PREFIX, topic_dean=FACE_ROOT)
    log = tmp_path / 'bridge.log'
    bridge = iot_support.Bridge(conf, DB, str(log))
    terminal = Terminal().start()
    bridge.start()
    try:
        iot_support.wait_online(1883, PREFIX)
        # the card queued before the bridge started: published on start,
        # acknowledged by the terminal
        assert iot_support.wait_for(lambda: rows() == [
                ('A1B2C3D4', 'upsert', 'acknowledged')], timeout=60), (
            rows(), terminal.received, sql("SELECT m.topic, m.device, "
                "q.reason FROM community_iot_message m LEFT JOIN "
                "community_iot_quarantine q ON q.message = m.id"),
            sql("SELECT id, state, error FROM community_iot_command"),
            log.read_text()[-3000:])
        assert terminal.persons['A1B2C3D4']['name'] == '张伟'
        for payload, _ in terminal.received:
            assert ID_NUMBER.encode() not in payload
            assert MOBILE.encode() not in payload

        # the terminal goes away (the device check marks it offline);
        # a second card waits, the bridge is killed
        terminal.stop()
        sql("UPDATE community_iot_device SET availability = 'offline' "
            "WHERE key = %s", (TERMINAL,))
        script(database, 'card', 'B2C3D4E5')
        assert rows()[1] == ('B2C3D4E5', 'upsert', 'pending')
        assert sql("SELECT s.command, s.last_error FROM "
            "community_access_sync s JOIN community_access_credential c "
            "ON c.id = s.credential WHERE c.identifier = 'B2C3D4E5'") == [
            (None, 'device offline')]
        bridge.kill()
        assert rows()[1] == ('B2C3D4E5', 'upsert', 'pending')

        # the bridge restarted, the terminal back: its heartbeat brings
        # it online and it catches up
        bridge = iot_support.Bridge(conf, DB, str(log))
        bridge.start()
        iot_support.wait_online(1883, PREFIX)
        terminal = Terminal().start()
        time.sleep(0.5)
        terminal.heartbeat()
        assert iot_support.wait_for(lambda: rows() == [
                ('A1B2C3D4', 'upsert', 'acknowledged'),
                ('B2C3D4E5', 'upsert', 'acknowledged')], timeout=60), (
            rows(), log.read_text()[-3000:])
        assert set(terminal.persons) == {'B2C3D4E5'}
        assert sql("SELECT availability FROM community_iot_device "
            "WHERE key = %s", (TERMINAL,)) == [('online',)]
    finally:
        terminal.stop()
        bridge.stop()


# --- Tryton side (run as a script) ------------------------------------------

def prepare(conf, database):
    from proteus import Model
    from proteus import config as pconfig
    pconfig.set_trytond(database=database, config_file=conf)
    from trytond.modules.company.tests.tools import create_company
    create_company()
    Compound = Model.get('community.compound')
    compound = Compound(code='A', name="嘉州花园")
    compound.save()
    Party = Model.get('party.party')
    zhang = Party(name="张伟")
    zhang.identifiers.new(type='cn_ric', code=ID_NUMBER)
    zhang.contact_mechanisms.new(type='mobile', value=MOBILE)
    zhang.save()
    Device = Model.get('community.iot.device')
    terminal = Device(name="东门人脸机", family='dean', key=TERMINAL,
        compound=compound)
    terminal.save()
    Door = Model.get('community.access.door')
    east = Door(name="东门", compound=compound, device=terminal)
    east.save()
    DoorGroup = Model.get('community.access.door.group')
    group = DoorGroup(name="东门", compound=compound)
    group.doors.append(Door(east.id))
    group.save()
    Rule = Model.get('community.access.rule')
    Rule(name="张伟", compound=compound, subject='party', party=zhang,
        door_group=group).save()
    card(conf, database, 'A1B2C3D4')


def card(conf, database, identifier):
    from proteus import Model
    from proteus import config as pconfig
    pconfig.set_trytond(database=database, config_file=conf)
    Compound = Model.get('community.compound')
    Party = Model.get('party.party')
    Credential = Model.get('community.access.credential')
    compound, = Compound.find([('code', '=', 'A')])
    zhang, = Party.find([('name', '=', "张伟")])
    Credential(compound=compound, party=zhang, kind='card',
        identifier=identifier).save()


if __name__ == '__main__':
    if sys.argv[3] == 'prepare':
        prepare(sys.argv[1], sys.argv[2])
    elif sys.argv[3] == 'card':
        card(sys.argv[1], sys.argv[2], sys.argv[4])
