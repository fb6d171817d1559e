# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Raw MQTT messages, quarantined messages and typed events."""
import datetime as dt


from trytond import config
from trytond.model import Index, ModelSQL, ModelView, Unique, fields

from .bridge.adapters import EVENT_KINDS


class Message(ModelSQL, ModelView):
    """A message received from the broker, stored once.

    ``dedup_key`` is the SHA-256 of the raw topic, a NUL byte and the raw
    payload: a redelivery (QoS 1 is at-least-once) or the same payload
    sent twice inserts nothing. Stateless events that must count twice
    should carry a timestamp or counter (Zigbee2MQTT ``last_seen``, Shelly
    ``ts``, Tasmota ``Time``).
    """
    __name__ = 'community.iot.message'
    _rec_name = 'topic'
    topic = fields.Char("Topic", readonly=True)
    payload = fields.Binary("Payload", readonly=True)
    payload_text = fields.Function(fields.Text("Payload (text)"),
        'get_payload_text')
    received = fields.Timestamp("Received", readonly=True)
    device_time = fields.Timestamp("Device Time", readonly=True,
        help="The time of the reading by the device's own clock "
        "(Zigbee2MQTT last_seen, Tasmota Time, Shelly ts, generic "
        "timestamp), when it sends one.")
    clock_skew = fields.Boolean("Clock Skew", readonly=True,
        help="The device time is too far from the arrival time to be "
        "trusted: the events take the arrival time.")
    stale = fields.Boolean("Stale", readonly=True,
        help="Older than the device's state when it arrived (delayed in a "
        "gateway's queue): it changed nothing and raised no alarm.")
    dedup_key = fields.Char("De-duplication Key", readonly=True,
        required=True)
    retained = fields.Boolean("Retained", readonly=True)
    device = fields.Many2One('community.iot.device', "Device",
        readonly=True, ondelete='SET NULL')
    compound = fields.Function(fields.Many2One(
            'community.compound', "Compound"), 'get_compound',
        searcher='search_compound')
    state = fields.Selection([
            ('processed', "Processed"),
            ('quarantined', "Quarantined"),
            ], "State", readonly=True, required=True)
    events = fields.One2Many('community.iot.event', 'message', "Events",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('dedup_key_unique', Unique(t, t.dedup_key),
                'community_iot.msg_message_dedup_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.received, Index.Range())),
                Index(t, (t.device, Index.Range())),
                })
        cls._order = [('received', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'processed'

    def get_payload_text(self, name):
        if self.payload is None:
            return None
        return bytes(self.payload).decode('utf-8', 'backslashreplace')

    def get_compound(self, name):
        return (self.device.compound.id
            if self.device and self.device.compound else None)

    @classmethod
    def search_compound(cls, name, clause):
        return [('device.' + clause[0],) + tuple(clause[1:])]

    @classmethod
    def purge(cls, retention_days=None):
        """Delete processed messages older than the retention period
        (``[community_iot] retention_days``, default 30) together with
        their events' link (events are kept, their message is emptied).

        Quarantined messages are kept until reviewed.
        """
        if retention_days is None:
            retention_days = config.getint(
                'community_iot', 'retention_days', default=30)
        threshold = (dt.datetime.utcnow()
            - dt.timedelta(days=retention_days))
        messages = cls.search([
                ('state', '=', 'processed'),
                ('received', '<', threshold),
                ])
        cls.delete(messages)
        return len(messages)

    @classmethod
    def ingest(cls, records, roots=None):
        """Store and decode a batch of messages; see ``ingest.ingest``."""
        from .ingest import ingest
        return ingest(records, roots)

    @classmethod
    def ingest_prepared(cls, batch):
        """Store a batch decoded outside the transaction by
        ``ingest.prepare``; see ``ingest.ingest_prepared``."""
        from .ingest import ingest_prepared
        return ingest_prepared(batch)


class Quarantine(ModelSQL, ModelView):
    """A message that could not be decoded, kept with its reason.

    ``compound`` is the compound of the device the message came from when
    the device is known (its compound's staff see it); messages of unknown
    devices or topics have none and are seen by headquarters only.
    """
    __name__ = 'community.iot.quarantine'
    message = fields.Many2One('community.iot.message', "Message",
        readonly=True, ondelete='SET NULL')
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True, ondelete='CASCADE')
    topic = fields.Char("Topic", readonly=True,
        help="Non-UTF-8 bytes are shown escaped.")
    topic_raw = fields.Binary("Raw Topic", readonly=True)
    payload = fields.Binary("Raw Payload", readonly=True)
    payload_text = fields.Function(fields.Text("Payload (text)"),
        'get_payload_text')
    reason = fields.Char("Reason", readonly=True)
    received = fields.Timestamp("Received", readonly=True)
    reviewed = fields.Boolean("Reviewed")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.compound, Index.Equality())))
        cls._order = [('received', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_reviewed(cls):
        return False

    def get_payload_text(self, name):
        if self.payload is None:
            return None
        return bytes(self.payload)[:4096].decode('utf-8', 'backslashreplace')


class Event(ModelSQL, ModelView):
    """A typed event decoded from a message.

    ``value`` is in ``unit``: energy always in kWh (Wh sources divided by
    1000), power in W. ``counter_reset`` marks an energy reading lower
    than the previous one or a changed Tasmota ``TotalStartTime``.
    """
    __name__ = 'community.iot.event'
    device = fields.Many2One('community.iot.device', "Device",
        readonly=True, ondelete='CASCADE')
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True, ondelete='CASCADE')
    message = fields.Many2One('community.iot.message', "Message",
        readonly=True, ondelete='SET NULL')
    kind = fields.Selection(EVENT_KINDS, "Kind", readonly=True,
        required=True)
    value = fields.Numeric("Value", digits=(16, 6), readonly=True)
    unit = fields.Char("Unit", readonly=True)
    data = fields.Text("Data", readonly=True)
    time = fields.Timestamp("Time", readonly=True,
        help="The device's own time of the reading when trusted, else the "
        "arrival time.")
    counter_reset = fields.Boolean("Counter Reset", readonly=True)
    clock_skew = fields.Boolean("Clock Skew", readonly=True,
        help="The device time was not trusted: the time is the arrival "
        "time.")
    stale = fields.Boolean("Stale", readonly=True,
        help="From a reading older than the device's state: recorded, "
        "without rules or alarms.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.time, Index.Range())),
                Index(t, (t.device, Index.Range()),
                    (t.kind, Index.Equality())),
                })
        cls._order = [('time', 'DESC'), ('id', 'DESC')]
