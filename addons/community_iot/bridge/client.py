# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The paho-mqtt 2 client of the bridge.

MQTT 5, callback API version 2, stable client id, persistent session
(clean_start False + session expiry), retained last will ``offline`` and
birth ``online`` on the status topic, subscriptions made in
``on_connect`` so they are renewed on every reconnection, reconnect with
backoff (1 → 30 s), QoS 1 with **manual acknowledgement**: a message is
acknowledged by :meth:`Client.ack` only after its transaction committed.

``online`` is published once the broker granted the subscriptions
(SUBACK), so that whoever waits for it knows messages are delivered from
then on; a refused subscription is logged and retried every 5 seconds.

The Receive Maximum (``receive_maximum``, MQTT 5 CONNECT property) bounds
the unacknowledged messages the broker sends; Mosquitto takes it instead
of its own ``max_inflight_messages`` (20 by default) for MQTT 5 clients,
so the bridge's throughput does not depend on the broker's setting. Over
MQTT 3.1.1 the broker's setting applies.

The network thread never blocks: ``on_message`` puts the message in a
queue whose bound is enforced by the broker through the MQTT 5 Receive
Maximum (at most ``receive_maximum`` unacknowledged messages in flight)
and, for brokers that overshoot it (Mosquitto 2.0.11 does after a
session resumes), by the broker's own in-flight limit: the queue is
never waited on by paho's network thread, so acknowledgements, pings and
a clean disconnection always get through.

Loss across a broker restart: the default subscription is plain (not
shared) and belongs to the persistent session, so a broker with
persistence restores it at start and queues what devices publish before
the bridge is back. Mosquitto restores a *shared* subscription
(``shared_group``) only when one of its members reconnects: what it
accepts in between is delivered to nobody (see the README).
"""
import datetime as dt
import logging
import queue
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

logger = logging.getLogger(__name__)
UNREACHABLE = 60  # seconds without the broker before a warning


class Inbound:
    "A received message (topic kept as raw bytes)."
    __slots__ = ('mid', 'qos', 'topic', 'payload', 'retain', 'received',
        'generation')

    def __init__(self, mid, qos, topic, payload, retain, received,
            generation):
        self.mid = mid
        self.qos = qos
        self.topic = topic
        self.payload = payload
        self.retain = retain
        self.received = received
        self.generation = generation


class Client:
    def __init__(self, conf, on_published=None):
        self.conf = conf
        # bounded by the broker (Receive Maximum / its in-flight limit):
        # a put never waits, see _on_message
        self.queue = queue.SimpleQueue()
        self._overshoot_warned = False
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.generation = 0  # connection count: acks of old ones are moot
        self.on_published = on_published
        self._lock = threading.Lock()
        self.v5 = conf.protocol == '5'
        if self.v5:
            self.mqtt = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=conf.client_id,
                protocol=mqtt.MQTTv5, manual_ack=True)
        else:
            self.mqtt = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=conf.client_id,
                protocol=mqtt.MQTTv311, clean_session=False,
                manual_ack=True)
        self.mqtt.suppress_exceptions = True
        self._stopping = False
        self._lost = None  # monotonic time the connection was lost
        self._unreachable_warned = False
        paho_logger = logging.getLogger(__name__ + '.paho')
        paho_logger.addFilter(self._paho_filter)
        self.mqtt.enable_logger(paho_logger)
        if conf.username:
            self.mqtt.username_pw_set(conf.username, conf.password or None)
        if conf.tls:
            self.mqtt.tls_set(ca_certs=conf.ca_certs,
                cert_reqs=ssl.CERT_REQUIRED)
        self.mqtt.will_set(conf.status_topic, 'offline', qos=1, retain=True)
        self.mqtt.reconnect_delay_set(min_delay=1, max_delay=30)
        self.mqtt.max_inflight_messages_set(100)
        self.mqtt.max_queued_messages_set(0)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.on_connect_fail = self._on_connect_fail
        self.mqtt.on_message = self._on_message
        self.mqtt.on_publish = self._on_publish
        self.mqtt.on_subscribe = self._on_subscribe

    def start(self):
        "Connect asynchronously and start the network thread."
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.conf.session_expiry
            props.ReceiveMaximum = self.conf.receive_maximum
            self.mqtt.connect_async(self.conf.host, self.conf.port,
                keepalive=self.conf.keepalive, clean_start=False,
                properties=props)
        else:
            self.mqtt.connect_async(self.conf.host, self.conf.port,
                keepalive=self.conf.keepalive)
        self.mqtt.loop_start()

    def stop(self):
        "Publish the offline status and disconnect (the session stays)."
        self._stopping = True
        try:
            if self.connected.is_set():
                info = self.mqtt.publish(self.conf.status_topic, 'offline',
                    qos=1, retain=True)
                info.wait_for_publish(timeout=2)
            self.mqtt.disconnect()
        finally:
            self.mqtt.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.warning("connection refused: %s", reason_code)
            return
        with self._lock:
            self.generation += 1
        self._lost = None
        self._unreachable_warned = False
        logger.info("connected to %s:%s (session present: %s)",
            self.conf.host, self.conf.port,
            getattr(flags, 'session_present', None))
        self.connected.set()
        self._subscribe()

    def _subscribe(self):
        if not self.connected.is_set():
            return  # on_connect subscribes again
        if self.v5:
            self.mqtt.subscribe([(f, mqtt.SubscribeOptions(qos=1))
                    for f in self.conf.subscriptions()])
        else:
            self.mqtt.subscribe([(f, 1) for f in self.conf.subscriptions()])

    def _on_subscribe(self, client, userdata, mid, reason_codes,
            properties):
        # the bridge subscribes only here: every SUBACK answers _subscribe
        refused = [(f, rc) for f, rc in zip(self.conf.subscriptions(),
                reason_codes) if rc.is_failure]
        if refused:
            logger.error("subscriptions refused (retry in 5 s): %s",
                ', '.join('%s: %s' % r for r in refused))
            timer = threading.Timer(5, self._subscribe)
            timer.daemon = True
            timer.start()
            return
        logger.info("subscribed: %s", ', '.join(self.conf.subscriptions()))
        self.subscribed.set()
        client.publish(self.conf.status_topic, 'online', qos=1, retain=True)

    def _paho_filter(self, record):
        """Lower to DEBUG what paho logs as errors when a connection ends
        normally: a socket closed by a broker that stops ("failed to
        receive on socket", reported by _on_disconnect) and the extra
        loop of its network thread after our own disconnection."""
        if record.levelno >= logging.WARNING and (self._stopping
                or str(record.msg).startswith(
                    'failed to receive on socket')):
            record.levelno, record.levelname = logging.DEBUG, 'DEBUG'
            return record.name and logging.getLogger(
                record.name).isEnabledFor(logging.DEBUG)
        return True

    def _on_disconnect(self, client, userdata, flags, reason_code,
            properties):
        self.connected.clear()
        self.subscribed.clear()
        if self._stopping:
            logger.info("disconnected")
            return
        # A broker that stops (restart, upgrade) closes the connection:
        # Mosquitto 2.0 without a DISCONNECT packet (paho reports
        # "Unspecified error"), MQTT 5 brokers may send "Server shutting
        # down". Not an error: paho reconnects, the persistent session
        # keeps what arrives meanwhile; an unreachable broker is warned
        # about after UNREACHABLE seconds (_on_connect_fail).
        self._lost = time.monotonic()
        logger.info("connection to the broker closed (%s), reconnecting",
            reason_code)

    def _on_connect_fail(self, client, userdata):
        "paho could not reconnect (broker down): warn once after a while."
        if self._lost is None:
            self._lost = time.monotonic()
        down = time.monotonic() - self._lost
        if down >= UNREACHABLE and not self._unreachable_warned:
            self._unreachable_warned = True
            logger.warning("broker %s:%s unreachable for %d s, still "
                "trying", self.conf.host, self.conf.port, down)

    def _on_message(self, client, userdata, message):
        # Never blocks: the broker sends at most receive_maximum
        # unacknowledged QoS 1 messages, fewer than the queue holds.
        item = Inbound(message.mid, message.qos, message._topic,
            message.payload, message.retain, dt.datetime.utcnow(),
            self.generation)
        self.queue.put(item)
        if (not self._overshoot_warned
                and self.queue.qsize() > self.conf.receive_maximum):
            # the broker ignores our Receive Maximum: never block paho's
            # thread (that would stall acks and the disconnection), the
            # messages are unacknowledged and bounded by the broker
            self._overshoot_warned = True
            logger.warning("broker exceeds receive maximum (%d queued)",
                self.queue.qsize())

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        if self.on_published:
            self.on_published(mid, reason_code)

    def ack(self, items):
        "Acknowledge committed messages (QoS 1) of the current connection."
        for item in items:
            if item.qos and item.generation == self.generation:
                self.mqtt.ack(item.mid, item.qos)

    def publish(self, topic, payload, qos=1):
        "Publish; returns the MQTTMessageInfo (mid, rc)."
        return self.mqtt.publish(topic, payload, qos=qos)
