# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Publish pending commands at QoS 1; mark them sent on PUBACK.

A thread LISTENs on PostgreSQL channel ``community_iot_command`` (NOTIFY
sent by the ORM at commit when a command is created or retried) and sweeps
pending commands on start, on every notification and once a minute as a
safety net; it is woken at once, it does not poll every few seconds.
"""
import datetime as dt
import logging
import queue
import threading
import time

from trytond import backend
from trytond.pool import Pool
from trytond.transaction import Transaction

from ..command import CHANNEL
from .commands import build

logger = logging.getLogger(__name__)
SWEEP = 60
_NONE = object()


class Outbox:
    def __init__(self, database, client, conf):
        self.database = database
        self.client = client
        self.conf = conf
        self.running = True
        self.acked = queue.Queue()
        self.inflight = {}  # mid -> (command id, topic, payload)
        self.pending_ids = set()
        # PUBACKs that came back before publish() returned their mid
        self.early = {}  # mid -> reason code
        self.publishing = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, name='outbox',
            daemon=True)

    def on_published(self, mid, reason_code):
        """paho on_publish: called on PUBACK for QoS 1 (network thread).

        paho calls it holding its lock of outgoing messages, which
        ``publish`` takes too: ``self._lock`` is never held while
        publishing (the two threads would wait for each other forever, as
        they did under load). A PUBACK that comes back before ``publish``
        returned its mid is kept in ``early``."""
        with self._lock:
            entry = self.inflight.pop(mid, None)
            if entry is None:
                if self.publishing:
                    self.early[mid] = reason_code
                return
        self._acknowledged(entry, reason_code)

    def send(self, command_id, topic, payload):
        "Publish a command at QoS 1; it is sent once the broker acks it."
        entry = (command_id, topic, payload)
        with self._lock:
            self.publishing = True
        try:
            info = self.client.publish(topic, payload, qos=1)
        except Exception:
            with self._lock:
                self.publishing = False
                self.early.clear()
            raise
        with self._lock:
            self.publishing = False
            early = self.early.pop(info.mid, _NONE) if (
                info.rc == 0) else _NONE
            self.early.clear()
            if info.rc == 0:
                self.pending_ids.add(command_id)
                if early is _NONE:
                    self.inflight[info.mid] = entry
        if early is not _NONE:
            self._acknowledged(entry, early)
        return info

    def _acknowledged(self, entry, reason_code):
        if entry:
            if getattr(reason_code, 'is_failure', False):
                with self._lock:
                    self.pending_ids.discard(entry[0])
                logger.warning("command %s refused: %s", entry[0],
                    reason_code)
            else:
                self.acked.put(entry)

    def start(self):
        self.thread.start()

    def _listen(self):
        Database = backend.Database
        conn = Database(self.database).get_connection(autocommit=True)
        conn.execute('LISTEN %s' % CHANNEL)
        return conn

    def run(self):
        conn = None
        last_sweep = 0
        wake = True
        while self.running:
            try:
                if conn is None:
                    conn = self._listen()
                    wake = True
                timeout = 1.0
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    wake = True
                if (wake or time.monotonic() - last_sweep > SWEEP) \
                        and self.client.connected.is_set():
                    wake = False
                    last_sweep = time.monotonic()
                    self._publish_pending()
            except Exception:
                logger.exception("outbox error, reconnecting")
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(1)

    def take_acked(self):
        """Return the (command id, topic, payload) acknowledged by the
        broker since the last call; the inbox marks them sent in its next
        transaction (one writer: no race with the device's answer)."""
        entries = []
        while True:
            try:
                entries.append(self.acked.get_nowait())
            except queue.Empty:
                return entries

    def marked(self, entries, ok):
        "Called by the inbox after its transaction: committed or not."
        if not ok:
            for e in entries:
                self.acked.put(e)
            return
        with self._lock:
            for e in entries:
                self.pending_ids.discard(e[0])
        if entries:
            logger.info("commands sent: %s", [e[0] for e in entries])

    def _expire(self):
        """Mark expired the pending commands past their expiry (never
        published); return their ids."""
        pool = Pool(self.database)
        with self._lock:
            inflight = set(self.pending_ids)
        with Transaction().start(self.database, 0) as transaction:
            Command = pool.get('community.iot.command')
            expired = [c.id for c in Command.expire_due(exclude=inflight)]
            transaction.commit()
        if expired:
            logger.warning("commands expired before they were sent: %s",
                expired)
        return expired

    def _publish_pending(self):
        pool = Pool(self.database)
        self._expire()
        with Transaction().start(self.database, 0, readonly=True):
            Command = pool.get('community.iot.command')
            commands = Command.search([('state', '=', 'pending')],
                order=[('id', 'ASC')], limit=500)
            todo = []
            for command in commands:
                if command.id in self.pending_ids:
                    continue
                device = command.device
                try:
                    topic, payload = build(device.family, device.key,
                        command.action, command.id, self.conf.roots,
                        expires=command.expires_at,
                        data=command.data_dict or None)
                except ValueError:
                    logger.error("command %s: no command %s for family %s",
                        command.id, command.action, device.family)
                    continue
                todo.append((command.id, topic, payload,
                        command.expires_at))
        late = False
        for command_id, topic, payload, expires in todo:
            if expires and expires <= dt.datetime.utcnow():
                # expired while the others were published: never sent
                late = True
                continue
            self.send(command_id, topic, payload)
            logger.info("command %s published on %s", command_id, topic)
        if late:
            self._expire()
