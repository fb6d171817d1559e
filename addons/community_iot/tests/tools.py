# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Fixtures for scenarios of community_iot and the modules built on it."""
import datetime as dt
import json

from proteus import config as pconfig


def publish(*messages, config=None, roots=None):
    """Hand messages to the ingestion as the bridge does (one committed
    transaction). Each message is (topic, payload[, received UTC]); dict
    payloads are sent as JSON. Returns the ingestion counts."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    config = config or pconfig.get_config()
    records = []
    for message in messages:
        topic, payload = message[:2]
        received = message[2] if len(message) > 2 else dt.datetime.utcnow()
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload, ensure_ascii=False)
        if isinstance(payload, str):
            payload = payload.encode('utf-8')
        records.append({'topic': topic, 'payload': payload,
                'received': received})
    with Transaction().start(config.database_name, 0) as transaction:
        Message = Pool(config.database_name).get('community.iot.message')
        stats = Message.ingest(records, roots)
        transaction.commit()
    return stats


def mark_sent(*command_ids, config=None):
    "As the bridge does when the broker acknowledged the commands."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    config = config or pconfig.get_config()
    with Transaction().start(config.database_name, 0) as transaction:
        Command = Pool(config.database_name).get('community.iot.command')
        Command.mark_sent(list(command_ids))
        transaction.commit()


class RecordingClient:
    "A stand-in for the bridge's MQTT client: records what is published."

    def __init__(self):
        import threading
        self.published = []
        self.connected = threading.Event()
        self.connected.set()

    def publish(self, topic, payload, qos=0):
        from types import SimpleNamespace
        self.published.append((topic, payload))
        return SimpleNamespace(rc=0, mid=len(self.published))


def sweep_outbox(config=None, roots=None):
    """Run one sweep of the bridge's outbox (expire, then publish the
    pending commands) with a recording client; return the (topic,
    payload) published. The broker's acknowledgements are not simulated:
    see :func:`mark_sent`."""
    from types import SimpleNamespace

    from ..bridge.adapters import DEFAULT_ROOTS
    from ..bridge.outbox import Outbox
    config = config or pconfig.get_config()
    client = RecordingClient()
    outbox = Outbox(config.database_name, client,
        SimpleNamespace(roots=roots or dict(DEFAULT_ROOTS)))
    outbox._publish_pending()
    return client.published
