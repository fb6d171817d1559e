# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Bridge options from the trytond configuration file, section
``[community_iot]``.

=================== =========================== ==========================
option              default                     meaning
=================== =========================== ==========================
host                (required for the bridge)   MQTT broker host
port                1883 (8883 with tls)        broker port
username, password  empty                       broker credentials
tls                 False                       TLS (system CAs or
                                                ``ca_certs``)
client_id           community-iot-bridge        stable client id (one per
                                                bridge process)
shared_group        (empty: plain subscription) ``$share/<group>/…`` to
                                                split the load between
                                                several bridges; loses
                                                what arrives between a
                                                broker restart and the
                                                first bridge's return
                                                (see README)
session_expiry      86400                       seconds the broker keeps
                                                the session (messages
                                                queued while away)
keepalive           30                          seconds between MQTT
                                                pings when idle; the
                                                broker drops the bridge
                                                (and publishes its will
                                                ``offline``) after 1.5×
receive_maximum     2000                        unacknowledged QoS 1
                                                messages in flight (the
                                                backpressure bound; MQTT
                                                5 Receive Maximum, which
                                                Mosquitto applies instead
                                                of its
                                                max_inflight_messages)
batch_size          1000                        messages per transaction
                                                at most (a batch is what
                                                arrived while the
                                                previous one committed)
batch_wait          0.02                        seconds to fill a batch
topic_zigbee2mqtt   zigbee2mqtt                 topic roots per family
topic_tasmota       (empty: tele/…, stat/…)
topic_shelly        shellies
topic_generic       community/devices
topic_homeassistant homeassistant
status_topic        community/bridge/<client_id>/status
device_time_ahead   300                         seconds a device time may
                                                be after the arrival and
                                                be trusted (read by
                                                ``ingest``)
device_time_behind  86400                       seconds it may be before
                                                (a gateway's queue);
                                                outside: arrival time,
                                                flagged clock skew
protocol            5                           ``5`` (MQTT 5) or ``3.1.1``
                                                for brokers without MQTT 5
                                                (e.g. the embedded amqtt of
                                                the demo): no shared
                                                subscriptions, clean
                                                session off
=================== =========================== ==========================
"""
from dataclasses import dataclass, field

from trytond import config

from .adapters import DEFAULT_ROOTS, subscriptions

SECTION = 'community_iot'


@dataclass
class BridgeConfig:
    host: str = ''
    port: int = 1883
    username: str = ''
    password: str = ''
    tls: bool = False
    ca_certs: str = None
    client_id: str = 'community-iot-bridge'
    shared_group: str = ''
    session_expiry: int = 86400
    receive_maximum: int = 2000
    keepalive: int = 30
    batch_size: int = 1000
    batch_wait: float = 0.02
    roots: dict = field(default_factory=lambda: dict(DEFAULT_ROOTS))
    status_topic: str = ''
    protocol: str = '5'

    def subscriptions(self):
        "Topic filters to subscribe to (with the shared group prefix)."
        filters = subscriptions(self.roots)
        if self.shared_group and self.protocol == '5':
            filters = ['$share/%s/%s' % (self.shared_group, f)
                for f in filters]
        return filters


def _get(option, default=None):
    value = config.get(SECTION, option, default=default)
    return default if value in (None, '') else value


def load():
    "Return the BridgeConfig of the loaded trytond configuration."
    c = BridgeConfig()
    c.host = _get('host', '')
    c.tls = config.getboolean(SECTION, 'tls', default=False)
    c.port = int(_get('port', 8883 if c.tls else 1883))
    c.username = _get('username', '')
    c.password = _get('password', '')
    c.ca_certs = _get('ca_certs')
    c.client_id = _get('client_id', c.client_id)
    c.shared_group = config.get(SECTION, 'shared_group',
        default=c.shared_group)
    c.session_expiry = int(_get('session_expiry', c.session_expiry))
    c.receive_maximum = int(_get('receive_maximum', c.receive_maximum))
    c.keepalive = int(_get('keepalive', c.keepalive))
    c.batch_size = int(_get('batch_size', c.batch_size))
    c.batch_wait = float(_get('batch_wait', c.batch_wait))
    for family in list(c.roots):
        value = config.get(SECTION, 'topic_' + family)
        if value is not None:
            c.roots[family] = value.strip('/')
    c.protocol = _get('protocol', '5')
    c.status_topic = _get('status_topic',
        'community/bridge/%s/status' % c.client_id)
    return c
