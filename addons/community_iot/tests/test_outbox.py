# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The bridge's outbox and paho's threads: a PUBACK handled while a
command is being published never blocks either thread."""
import threading
import unittest
from types import SimpleNamespace

from trytond.modules.community_iot.bridge.outbox import Outbox


class Client:
    """paho's locking as it is: ``publish`` takes the lock of outgoing
    messages, and the network thread calls on_publish holding it. The
    broker answers at once: the PUBACK of each message is handled by a
    network thread while ``publish`` has not returned yet."""

    def __init__(self):
        self.out_message_mutex = threading.RLock()
        self.mid = 0
        self.outbox = None

    def publish(self, topic, payload, qos=1):
        with self.out_message_mutex:
            self.mid += 1
            mid = self.mid
        network = threading.Thread(target=self.puback, args=(mid,))
        network.start()
        network.join(5)
        with self.out_message_mutex:
            return SimpleNamespace(mid=mid, rc=0)

    def puback(self, mid):
        with self.out_message_mutex:
            self.outbox.on_published(mid, SimpleNamespace(is_failure=False))


class OutboxTestCase(unittest.TestCase):
    "Outbox"

    def test_puback_during_publish(self):
        "A PUBACK before publish returns: acknowledged, nothing blocks"
        client = Client()
        outbox = Outbox('db', client, conf=None)
        client.outbox = outbox
        sender = threading.Thread(target=lambda: [
                outbox.send(i, 'acc/b3/command', '{}') for i in (1, 2)],
            daemon=True)
        sender.start()
        sender.join(10)
        self.assertFalse(sender.is_alive(), "the outbox deadlocked")
        self.assertEqual([e[0] for e in outbox.take_acked()], [1, 2])
        self.assertEqual(outbox.inflight, {})
        self.assertEqual(outbox.pending_ids, {1, 2})

    def test_puback_after_publish(self):
        "A PUBACK after publish returned finds its command in flight"
        outbox = Outbox('db', SimpleNamespace(publish=lambda *a, **k:
                SimpleNamespace(mid=7, rc=0)), conf=None)
        outbox.send(12, 'acc/b3/command', '{}')
        self.assertEqual(outbox.take_acked(), [])
        outbox.on_published(7, SimpleNamespace(is_failure=False))
        self.assertEqual(outbox.take_acked(),
            [(12, 'acc/b3/command', '{}')])
        # a PUBACK of another message (the bridge's status) is ignored
        outbox.on_published(8, SimpleNamespace(is_failure=False))
        self.assertEqual((outbox.take_acked(), outbox.early), ([], {}))
