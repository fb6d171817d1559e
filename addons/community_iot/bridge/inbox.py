# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Drain the client's queue in batches, one transaction per batch.

A batch is committed, then its messages are acknowledged to the broker:
a crash before the commit means the broker redelivers them, a crash
between commit and acknowledgement means a redelivery that the
de-duplication key makes a no-op. Operational errors (lost connection,
serialization failure) are retried with backoff; a batch that fails for
another reason is split so that the culprit alone is quarantined.

Two stages: a ``prepare`` thread takes the next batch from the client's
queue and decodes it (``ingest.prepare``, pure Python, no database)
while the main thread has the previous one in its transaction (waiting
on PostgreSQL, the GIL released); at most one prepared batch waits.
Batches grow with the backlog (up to ``batch_size``): a batch is what
arrived while the previous one was being committed.
"""
import json
import logging
import queue
import sys
import threading
import time

from trytond.backend import DatabaseOperationalError
from trytond.pool import Pool
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)


class Inbox:
    def __init__(self, database, client, conf, trace=None, outbox=None):
        self.outbox = outbox
        self.database = database
        self.client = client
        self.conf = conf
        self.trace = trace
        self.running = True
        self.committed = 0

    def take(self):
        "Return up to batch_size items, waiting at most batch_wait."
        q = self.client.queue
        try:
            first = q.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.conf.batch_wait
        while len(batch) < self.conf.batch_size:
            timeout = deadline - time.monotonic()
            try:
                batch.append(q.get_nowait() if timeout <= 0
                    else q.get(timeout=timeout))
            except queue.Empty:
                break
        return batch

    def _prepare_loop(self):
        "Prepare thread: take and decode batches ahead of the commits."
        from ..ingest import prepare
        while self.running:
            batch = self.take()
            if not batch:
                continue
            try:
                prepared = prepare(self._records(batch), self.conf.roots)
            except Exception:
                # a bug in an adapter: process() prepares again inside
                # its error handling (split, quarantine)
                logger.exception("prepare failed")
                prepared = None
            while self.running:
                try:
                    self.ready.put((batch, prepared), timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _start_preparer(self):
        preparer = threading.Thread(target=self._prepare_loop,
            name='inbox-prepare', daemon=True)
        preparer.start()
        return preparer

    def run(self):
        self.ready = queue.Queue(maxsize=1)
        preparer = self._start_preparer()
        while self.running:
            try:
                batch, prepared = self.ready.get(timeout=0.2)
            except queue.Empty:
                batch, prepared = [], []
                if not preparer.is_alive() and self.running:
                    logger.error("prepare thread died, restarted")
                    preparer = self._start_preparer()
            if batch or (self.outbox and not self.outbox.acked.empty()):
                self.process(batch, prepared)
        preparer.join(5)
        # Stopping: the current batch is committed and acknowledged; what
        # is still queued is left unacknowledged and the broker redelivers
        # it on the next start (persistent session). Draining here instead
        # would never end under a backlog: the broker keeps sending.
        left = self.client.queue.qsize()
        if left:
            logger.info("stopping: %d queued messages left to the broker",
                left)

    def _records(self, items):
        return [{'topic': i.topic, 'payload': i.payload,
                'received': i.received, 'retain': i.retain} for i in items]

    def _ingest(self, items, acked=(), prepared=None):
        from ..ingest import prepare
        pool = Pool(self.database)
        if prepared is None:
            prepared = prepare(self._records(items), self.conf.roots)
        retries = 0
        while True:
            try:
                with Transaction().start(self.database, 0,
                        context={'language': 'en'}) as transaction:
                    Message = pool.get('community.iot.message')
                    Command = pool.get('community.iot.command')
                    if acked:
                        Command.mark_sent([e[0] for e in acked],
                            {e[0]: (e[1], e[2]) for e in acked})
                    stats = Message.ingest_prepared(prepared)
                    transaction.commit()
                return stats
            except DatabaseOperationalError as exc:
                retries += 1
                delay = min(0.1 * 2 ** retries, 5)
                logger.warning("database error (retry %d in %.1f s): %s",
                    retries, delay, exc)
                if not self.running and retries > 3:
                    raise
                time.sleep(delay)

    def process(self, items, prepared=None):
        """Commit a batch then acknowledge it; split it on unexpected
        errors. ``prepared``: ``ingest.prepare`` of the items, or None."""
        acked = self.outbox.take_acked() if self.outbox else []
        if acked:
            try:
                self._ingest(items, acked, prepared)
            except Exception:
                self.outbox.marked(acked, False)
                raise
            self.outbox.marked(acked, True)
            # the messages are committed with the commands
            self.client.ack(items)
            self.committed += len(items)
            self._trace(items, prepared)
            return
        try:
            stats = self._ingest(items, prepared=prepared)
        except DatabaseOperationalError:
            return  # stopping: not acknowledged, the broker redelivers
        except Exception:
            if len(items) > 1:
                half = len(items) // 2
                self.process(items[:half])
                self.process(items[half:])
                return
            error = sys.exc_info()[1]
            logger.exception("message failed, quarantined: %r",
                items[0].topic)
            if not self._quarantine(items[0], error):
                return
            stats = {'new': 1}
        self.client.ack(items)
        self.committed += stats.get('new', 0)
        self._trace(items, prepared)
        logger.debug("batch of %d: %s", len(items), stats)

    def _trace(self, items, prepared):
        "--trace: the commit time of the batch's messages (their keys)."
        if self.trace and items:
            from ..ingest import dedup_key
            keys = ([r['key'] for r in prepared] if prepared
                else [dedup_key(i.topic, i.payload) for i in items])
            self.trace.write(json.dumps({'t': time.time(),
                        'keys': keys}) + '\n')
            self.trace.flush()

    def _quarantine(self, item, error):
        """Store a message whose processing failed; True when committed.

        The message is stored once (state quarantined, its de-duplication
        key: a redelivery adds nothing) with a quarantine entry whose
        reason is ``internal error:`` and the exception on one line, filed
        under the device its topic names (its compound's staff see it)."""
        import traceback
        from ..ingest import dedup_key
        from .adapters import topic_device
        pool = Pool(self.database)
        reason = ' '.join(''.join(traceback.format_exception_only(
                        type(error), error)).split())
        try:
            with Transaction().start(self.database, 0) as transaction:
                Message = pool.get('community.iot.message')
                Quarantine = pool.get('community.iot.quarantine')
                Device = pool.get('community.iot.device')
                key = dedup_key(item.topic, item.payload)
                if Message.search([('dedup_key', '=', key)]):
                    return True  # a redelivery of a stored message
                device = None
                named = topic_device(item.topic, self.conf.roots)
                if named:
                    with Transaction().set_context(active_test=False):
                        devices = Device.search([
                                ('family', '=', named[0]),
                                ('key', '=', named[1]),
                                ], limit=1)
                    device = devices[0] if devices else None
                topic = item.topic.decode('utf-8', 'backslashreplace')
                message, = Message.create([{
                            'topic': topic,
                            'payload': item.payload,
                            'received': item.received,
                            'dedup_key': key,
                            'retained': item.retain,
                            'device': device.id if device else None,
                            'state': 'quarantined',
                            }])
                Quarantine.create([{
                            'message': message.id,
                            'compound': (device.compound.id
                                if device and device.compound else None),
                            'topic': topic,
                            'topic_raw': item.topic,
                            'payload': item.payload,
                            'reason': ('internal error: ' + reason)[:250],
                            'received': item.received,
                            }])
                transaction.commit()
            return True
        except Exception:
            logger.exception("could not quarantine")
            return False
