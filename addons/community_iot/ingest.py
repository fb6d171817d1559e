# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Store and decode a batch of MQTT messages inside the current transaction.

Called by the bridge (one transaction per batch) and by tests, in two
steps: :func:`prepare` (de-duplication key and decoding, pure: the bridge
runs it before opening the transaction) then :func:`ingest_prepared`
(set-based, a fixed number of statements whatever the batch size: COPY
of the messages and one INSERT … ON CONFLICT DO NOTHING RETURNING, COPY
of the events, one SELECT and one UPDATE of the devices). Only new
messages are applied, so a redelivered batch (after a crash before the
commit, or a broker redelivery) is a no-op.
"""
import datetime as dt
import hashlib
import json
import logging
from collections import namedtuple
from decimal import Decimal

from trytond import config
from trytond.pool import Pool
from trytond.transaction import Transaction

from .bridge.adapters import (
    CLEARED_BY, URGENT_KINDS, DecodeError, decode, topic_device)

logger = logging.getLogger(__name__)
SECTION = 'community_iot'
#: the time zone of local device times of a device without a compound
DEFAULT_TIMEZONE = 'Asia/Shanghai'


def dedup_key(topic, payload):
    "SHA-256 hex of raw topic bytes, NUL, raw payload bytes."
    if isinstance(topic, str):
        topic = topic.encode('utf-8')
    return hashlib.sha256(topic + b'\0' + bytes(payload)).hexdigest()


def merge(base, overlay):
    "Deep-merge overlay into a copy of base (Shelly NotifyStatus overlays)."
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def _normal(value):
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ('on', 'true'):
            return True
        if v in ('off', 'false'):
            return False
    return value


class Prepared(list):
    "The distinct messages of a batch; ``duplicates``: those dropped."
    duplicates = 0


#: A device as the ingestion reads it (the row of its new message).
DeviceRow = namedtuple('DeviceRow', ['id', 'compound', 'latest_state',
        'availability', 'last_seen', 'battery', 'link_quality',
        'state_time'])
#: An event row as copied into the event table.
EventRow = namedtuple('EventRow', ['device', 'compound', 'message', 'kind',
        'value', 'unit', 'data', 'time', 'counter_reset', 'clock_skew',
        'stale'])


def time_tolerance():
    """(ahead, behind) in seconds: a device time is trusted from
    ``behind`` before its arrival to ``ahead`` after it
    (``[community_iot] device_time_ahead``, default 300: clocks a few
    minutes fast; ``device_time_behind``, default 86400: readings queued
    by a gateway for up to a day). Outside, the arrival time is used and
    the message and its events are flagged ``clock_skew``."""
    return (config.getint(SECTION, 'device_time_ahead', default=300),
        config.getint(SECTION, 'device_time_behind', default=86400))


def prepare(records, roots=None):
    """Pure part of the ingestion (no database): run it outside the
    transaction, then hand the result to :func:`ingest_prepared`.

    ``records``: iterable of dicts with ``topic`` (bytes or str),
    ``payload`` (bytes), ``received`` (naive UTC datetime, default now)
    and ``retain`` (bool).

    Returns the list (:class:`Prepared`) of distinct messages (duplicates
    inside the batch dropped and counted), dicts with ``topic`` (bytes),
    ``payload`` (bytes), ``key`` (the de-duplication key), ``received``,
    ``retain``, ``decoded`` (:class:`~.bridge.adapters.Decoded` or None),
    ``decode_error`` (the reason when it could not be decoded, else None)
    and ``topic_device`` ((family, key) named by the topic of a message
    that could not be decoded, else None).
    """
    now = dt.datetime.utcnow()
    batch, seen = Prepared(), set()
    for record in records:
        topic = record['topic']
        if isinstance(topic, str):
            topic = topic.encode('utf-8')
        payload = bytes(record['payload'] or b'')
        key = dedup_key(topic, payload)
        if key in seen:
            batch.duplicates += 1
            continue
        seen.add(key)
        try:
            decoded, error, named = decode(topic, payload, roots), None, None
        except DecodeError as exc:
            decoded, error = None, str(exc.args[0] if exc.args else exc)
            named = topic_device(topic, roots)
        batch.append({
                'topic': topic, 'payload': payload, 'key': key,
                'received': record.get('received') or now,
                'retain': bool(record.get('retain')),
                'decoded': decoded, 'decode_error': error,
                'topic_device': named,
                })
    return batch


def ingest(records, roots=None):
    """Store, decode and apply a batch of messages.

    ``records``: see :func:`prepare`.

    Returns a dict of counts: ``received``, ``new`` (messages inserted),
    ``duplicates``, ``events``, ``quarantined``, ``alarms``.
    """
    return ingest_prepared(prepare(records, roots))


def _json_default(value):
    "Decimals as floats (as ``jsonable``), anything else as str."
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


# json.dumps(..., default=...) builds an encoder per call; the C encoder
# calls the default only for Decimals, no walk of the structure in Python
_DUMPS = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
_DUMPS_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True,
    default=_json_default).encode

_STAGING = 'community_iot_message_in'
_STAGING_COLUMNS = ('n', 'topic', 'payload', 'received', 'dedup_key',
    'retained', 'family', 'device_key', 'failed', 'needs_device',
    'device_time', 'device_local')
_STAGING_TYPES = ('int4', 'varchar', 'bytea', 'timestamp', 'varchar', 'bool',
    'varchar', 'varchar', 'bool', 'bool', 'timestamp', 'bool')
_EVENT_COLUMNS = EventRow._fields + ('create_uid', 'create_date')
_EVENT_TYPES = ('int4', 'int4', 'int4', 'varchar', 'numeric',
    'varchar', 'text', 'timestamp', 'bool', 'bool', 'bool', 'int4',
    'timestamp')


def ingest_prepared(batch):
    """Store and apply a batch returned by :func:`prepare` in the current
    transaction (PostgreSQL); ``batch`` is not modified, so a transaction
    retried after an operational error can pass it again.

    Set-based, a fixed number of statements whatever the batch size:
    the messages are copied (COPY, binary) into a temporary table, then
    one statement inserts them with ON CONFLICT (dedup_key) DO NOTHING,
    joined to their devices, and returns the new ones with their device's
    state, so that only new messages are applied; the events are copied
    (COPY); the devices are updated by one UPDATE. Returns the counts of
    :func:`ingest`.
    """
    pool = Pool()
    Message = pool.get('community.iot.message')
    Quarantine = pool.get('community.iot.quarantine')
    Event = pool.get('community.iot.event')
    Device = pool.get('community.iot.device')
    Rule = pool.get('community.iot.rule')
    Command = pool.get('community.iot.command')
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    now = dt.datetime.utcnow()
    user = transaction.user

    in_batch = getattr(batch, 'duplicates', 0)
    stats = {'received': len(batch) + in_batch, 'new': 0,
        'duplicates': in_batch, 'events': 0, 'quarantined': 0, 'alarms': 0,
        'stale': 0}
    if not batch:
        return stats

    # Discovery first: a device announced in this batch is known below
    _discover(batch)

    new, sent_commands, open_alarms = _insert_messages(batch, user, now)
    stats['new'] = len(new)
    stats['duplicates'] = stats['received'] - len(new)
    if not new:
        return stats

    changed, event_rows, stale = _apply(new)

    # Events: COPY (binary); ids taken from their sequence beforehand only
    # when a rule listens to some of them (the rules browse them)
    event_ids = []
    if event_rows:
        columns, types = _EVENT_COLUMNS, _EVENT_TYPES
        listened = Rule.listened_kinds()
        if any(row.kind in listened
                and (not row.stale or row.kind in URGENT_KINDS)
                for row in event_rows):
            cursor.execute('SELECT nextval(%s) FROM generate_series(1, %s)',
                ('"%s_id_seq"' % Event._table, len(event_rows)))
            event_ids = [i for i, in cursor]
            columns, types = ('id',) + columns, ('int4',) + types
        with cursor.copy('COPY "%s" (%s) FROM STDIN (FORMAT BINARY)' % (
                    Event._table, ', '.join(columns))) as copy:
            copy.set_types(types)
            write_row = copy.write_row
            if event_ids:
                for event_id, row in zip(event_ids, event_rows):
                    write_row((event_id,) + row + (user, now))
            else:
                for row in event_rows:
                    write_row(row + (user, now))
    stats['events'] = len(event_rows)
    if stale:
        # rare (a gateway's late queue): one UPDATE of those messages
        cursor.execute('UPDATE "%s" SET stale = true WHERE id = ANY(%%s)'
            % Message._table, (stale,))
    stats['stale'] = len(stale)

    # Quarantine, with the compound of a known device
    quarantined = [n for n in new if n.reason]
    if quarantined:
        Quarantine.create([{
                    'message': n.message,
                    'compound': n.device.compound if n.device else None,
                    'topic': n.record['topic'].decode(
                        'utf-8', 'backslashreplace'),
                    'topic_raw': n.record['topic'],
                    'payload': n.record['payload'],
                    'reason': n.reason[:250],
                    'received': n.record['received'],
                    } for n in quarantined])
        for n in quarantined:
            logger.info("quarantined %r: %s", n.record['topic'][:200],
                n.reason)
    stats['quarantined'] = len(quarantined)

    # Devices: availability fields only (readonly in the client), one
    # UPDATE for all, in id order, without the ORM's per-record overhead
    if changed:
        order = sorted(changed)
        cursor.execute(
            'UPDATE "%s" AS d SET latest_state = u.s, availability = u.a, '
            'last_seen = u.l, battery = u.b, link_quality = u.q, '
            'state_time = u.t, '
            'write_uid = %%s, write_date = %%s FROM unnest('
            '%%s::integer[], %%s::text[], %%s::varchar[], '
            '%%s::timestamp[], %%s::integer[], %%s::integer[], '
            '%%s::timestamp[]) '
            'AS u(i, s, a, l, b, q, t) WHERE d.id = u.i' % Device._table, (
                user, now, order,
                [_DUMPS_SORTED(changed[i]['state']) for i in order],
                [changed[i]['availability'] for i in order],
                [changed[i]['last_seen'] for i in order],
                [changed[i]['battery'] for i in order],
                [changed[i]['link_quality'] for i in order],
                [changed[i]['state_time'] for i in order]))
        # records read later in this transaction must see the new values
        for cache in transaction.cache.values():
            cache.clear()

    if sent_commands:
        Command.confirm_by_events([], {
                device_id: info['replies']
                for device_id, info in changed.items() if info['replies']},
            {device_id: info['switch'] for device_id, info in changed.items()
                if info['switch']},
            {device_id: info['failures']
                for device_id, info in changed.items() if info['failures']})
    if event_rows:
        stats['alarms'] = _after_events(event_ids, event_rows,
            clear=open_alarms)
    return stats


#: A new message: its prepared record, id, device (DeviceRow or None),
#: quarantine reason (or None), device time (naive UTC, or None) and
#: whether that time is outside the tolerance (clock_skew).
NewMessage = namedtuple('NewMessage', ['record', 'message', 'device',
        'reason', 'device_time', 'clock_skew'])


def _insert_messages(batch, user, now):
    """Insert the batch's messages, the new ones only; return (list of
    NewMessage in batch order, any command sent?, any alarm open?).

    COPY into a temporary table (one per database session; emptied by the
    INSERT for a next batch of the same transaction and truncated at
    commit: temporary tables are never vacuumed; IF NOT EXISTS each time,
    a flag per connection would outlive a rolled back CREATE), then one
    INSERT … ON CONFLICT DO NOTHING joined to the devices (inactive
    included) that returns only the new messages. A message that cannot
    be decoded is filed under the device its topic names (its compound's
    staff see it in quarantine); one that needs a device nobody
    registered is quarantined. The device time is read in UTC (a local
    one in the compound's time zone) and flagged ``clock_skew`` outside
    the tolerance (:func:`time_tolerance`)."""
    pool = Pool()
    Message = pool.get('community.iot.message')
    Device = pool.get('community.iot.device')
    Compound = pool.get('community.compound')
    Command = pool.get('community.iot.command')
    Alarm = pool.get('community.iot.alarm')
    cursor = Transaction().connection.cursor()
    ahead, behind = time_tolerance()
    cursor.execute('CREATE TEMPORARY TABLE IF NOT EXISTS "%s" ('
        'n integer, topic varchar, payload bytea, received timestamp, '
        'dedup_key varchar, retained boolean, family varchar, '
        'device_key varchar, failed boolean, needs_device boolean, '
        'device_time timestamp, device_local boolean) '
        'ON COMMIT DELETE ROWS' % _STAGING)
    with cursor.copy('COPY "%s" (%s) FROM STDIN (FORMAT BINARY)' % (
                _STAGING, ', '.join(_STAGING_COLUMNS))) as copy:
        copy.set_types(_STAGING_TYPES)
        write_row = copy.write_row
        for n, r in enumerate(batch):
            decoded = r['decoded']
            if decoded is None:
                family, key = r['topic_device'] or (None, None)
                needs, time, local = False, None, False
            else:
                family, key = decoded.family, decoded.key
                needs = key is not None and _needs_device(decoded)
                time, local = decoded.time, decoded.local
            write_row((n, r['topic'].decode('utf-8', 'backslashreplace'),
                    r['payload'], r['received'], r['key'], r['retain'],
                    family, key, decoded is None, needs, time, local))
    cursor.execute(
        'WITH s AS (DELETE FROM "%(staging)s" RETURNING *), '
        'i AS (INSERT INTO "%(message)s" (topic, payload, received, '
            'dedup_key, retained, device, state, device_time, clock_skew, '
            'stale, create_uid, create_date) '
            'SELECT s.topic, s.payload, s.received, s.dedup_key, '
            's.retained, d.id, CASE WHEN s.failed OR (s.needs_device '
                'AND d.id IS NULL) THEN \'quarantined\' '
                'ELSE \'processed\' END, t.utc, '
            'COALESCE(t.utc NOT BETWEEN s.received - %%s * interval '
                '\'1 second\' AND s.received + %%s * interval \'1 second\', '
                'false), false, %%s, %%s '
            'FROM s LEFT JOIN "%(device)s" AS d '
            'ON d.family = s.family AND d.key = s.device_key '
            'LEFT JOIN "%(compound)s" AS c ON c.id = d.compound '
            'CROSS JOIN LATERAL (SELECT CASE WHEN s.device_local THEN '
                '(s.device_time AT TIME ZONE COALESCE(c.timezone, %%s)) '
                'AT TIME ZONE \'UTC\' ELSE s.device_time END AS utc) AS t '
            'ORDER BY s.n '
            'ON CONFLICT (dedup_key) DO NOTHING '
            'RETURNING id, dedup_key, device, device_time, clock_skew) '
        'SELECT i.dedup_key, i.id, i.device_time, i.clock_skew, '
        'd.id, d.compound, d.latest_state, '
        'd.availability, d.last_seen, d.battery, d.link_quality, '
        'd.state_time, '
        # in the same round trip: is there any command waiting for its
        # confirmation, any alarm that a clearing event could clear?
        '(SELECT EXISTS (SELECT 1 FROM "%(command)s" '
            'WHERE state = \'sent\')), '
        '(SELECT EXISTS (SELECT 1 FROM "%(alarm)s" '
            'WHERE state IN (\'open\', \'acknowledged\') '
            'AND cleared IS NULL)) '
        'FROM i LEFT JOIN "%(device)s" AS d ON d.id = i.device' % {
            'staging': _STAGING, 'message': Message._table,
            'device': Device._table, 'compound': Compound._table,
            'command': Command._table, 'alarm': Alarm._table},
        (behind, ahead, user, now, DEFAULT_TIMEZONE))
    inserted = {}
    sent_commands = open_alarms = False
    for row in cursor:
        inserted[row[0]] = (row[1], row[2], row[3],
            DeviceRow(*row[4:12]) if row[4] else None)
        sent_commands, open_alarms = row[12], row[13]
    new = []
    for r in batch:
        if r['key'] not in inserted:
            continue
        message_id, device_time, clock_skew, device = inserted[r['key']]
        decoded, reason = r['decoded'], r['decode_error']
        if (decoded is not None and device is None
                and decoded.key is not None and _needs_device(decoded)):
            reason = 'unknown device %s %r' % (decoded.family, decoded.key)
        new.append(NewMessage(r, message_id, device, reason, device_time,
                clock_skew))
    return new, sent_commands, open_alarms


def _needs_device(decoded):
    "Whether a decoded message has something to apply to its device."
    return bool(decoded.events or decoded.state or decoded.availability
        or decoded.reply_to)


def _apply(new):
    """Apply the new messages to their devices, in arrival order; return
    (changed devices: id -> dict of their new fields, EventRows, ids of
    the stale messages).

    A message's time is its device time when trusted, else its arrival.
    A reading whose trusted device time is older than the device's state
    (``state_time``, the newest device time applied) is **stale**: it
    changes neither the state, nor the levels, nor the availability,
    battery or link quality; its level events (door, smoke, switch…) are
    dropped (they compare with a newer state) and its other events
    (energy, button, SOS…) are recorded with their own time, flagged
    stale, without rules or alarms (but SOS and falls). Readings without
    a device time are applied in arrival order."""
    event_rows = []
    changed = {}
    stale_ids = []
    for n in new:
        decoded, device = n.record['decoded'], n.device
        if decoded is None or device is None:
            continue
        device_id, compound_id, message_id = (device.id, device.compound,
            n.message)
        info = changed.get(device_id)
        if info is None:
            try:
                state = json.loads(device.latest_state or '{}')
            except ValueError:
                state = {}
            info = changed[device_id] = {
                'state': state if isinstance(state, dict) else {},
                'availability': device.availability,
                'last_seen': device.last_seen,
                'battery': device.battery,
                'link_quality': device.link_quality,
                'state_time': device.state_time,
                'replies': [], 'failures': {}, 'switch': None,
                }
        state = info['state']
        received = n.record['received']
        if info['last_seen'] is None or received > info['last_seen']:
            info['last_seen'] = received
        if decoded.reply_to and decoded.reply_error is not None:
            info['failures'][decoded.reply_to] = decoded.reply_error
        elif decoded.reply_to:
            info['replies'].append(decoded.reply_to)
        timed = n.device_time is not None and not n.clock_skew
        time = n.device_time if timed else received
        stale = bool(timed and info['state_time'] is not None
            and n.device_time < info['state_time'])
        if stale:
            stale_ids.append(message_id)
            for event in decoded.events:
                if not event.level:
                    event_rows.append(EventRow(device_id, compound_id,
                            message_id, event.kind, event.value, event.unit,
                            _DUMPS(event.data), time, False, n.clock_skew,
                            True))
            continue
        if timed:
            info['state_time'] = n.device_time
        for event in decoded.events:
            if event.kind in ('switch_on', 'switch_off'):
                # confirms commands even when the level did not change
                info['switch'] = 'on' if event.kind == 'switch_on' else 'off'
            if event.level:
                name, value = event.level
                levels = state.setdefault('_levels', {})
                if _normal(levels.get(name)) == value:
                    continue
                levels[name] = value
            counter_reset = False
            if event.kind == 'energy' and event.value is not None:
                last = state.get('_energy_kwh')
                start = event.data.get('TotalStartTime')
                if ((last is not None and float(event.value) < last)
                        or (start and state.get('_energy_start')
                            and start != state.get('_energy_start'))):
                    counter_reset = True
                state['_energy_kwh'] = float(event.value)
                if start:
                    state['_energy_start'] = start
            event_rows.append(EventRow(device_id, compound_id, message_id,
                    event.kind, event.value, event.unit, _DUMPS(event.data),
                    time, counter_reset, n.clock_skew, False))
        if decoded.availability:
            if decoded.availability != info['availability']:
                event_rows.append(EventRow(device_id, compound_id,
                        message_id, decoded.availability, None, None, '{}',
                        time, False, n.clock_skew, False))
            info['availability'] = decoded.availability
        elif info['availability'] != 'online' and (
                decoded.events or decoded.state):
            # a device that talks is online
            if info['availability'] == 'offline':
                event_rows.append(EventRow(device_id, compound_id,
                        message_id, 'online', None, None, '{}', time,
                        False, n.clock_skew, False))
            info['availability'] = 'online'
        if decoded.state:
            levels = state.get('_levels', {})
            overlay = {k: v for k, v in decoded.state.items()
                if not k.startswith('_')}
            # Decimals stay in the dict: dumped as floats (_json_default)
            state = info['state'] = merge(state, overlay)
            state['_levels'] = levels
        if decoded.battery is not None:
            info['battery'] = decoded.battery
        if decoded.link_quality is not None:
            info['link_quality'] = decoded.link_quality
    return changed, event_rows, stale_ids


def _after_events(event_ids, rows, clear=True):
    """Clear alarms and apply the rules; return the number of new alarms.

    ``rows``: the EventRows inserted, ``event_ids`` their ids (empty when
    no rule listens to any of them); ``clear``: False when no alarm is
    open. Stale events clear nothing and raise nothing, but for the
    urgent kinds (SOS, fall: ``URGENT_KINDS``), whose rules run with the
    event's own time. Only the events that a rule listens to are
    instantiated."""
    pool = Pool()
    Alarm = pool.get('community.iot.alarm')
    Rule = pool.get('community.iot.rule')
    Event = pool.get('community.iot.event')
    clearing = set(CLEARED_BY.values())
    if clear:
        Alarm.clear([(r.kind, r.device, r.time) for r in rows
                if r.kind in clearing and not r.stale])
    kinds = Rule.listened_kinds()
    events = Event.browse([i for i, r in zip(event_ids, rows)
            if r.kind in kinds
            and (not r.stale or r.kind in URGENT_KINDS)])
    return Rule.apply(events) if events else 0


def _discover(batch):
    """Apply the discovery messages of a prepared batch, in order.

    Announced devices: unknown ones are created unconfirmed, the
    identifiers of known ones completed (never overwriting what staff
    set), their Home Assistant entries recorded; a device deactivated by a
    withdrawal is reactivated. Withdrawn devices are deactivated (active
    False, ``removed`` set): a Home Assistant device when all its entries
    are removed (empty config payloads), a Zigbee2MQTT device discovered
    by ``bridge/devices`` when a later ``bridge/devices`` no longer lists
    it or ``bridge/event`` reports it left. Manual devices are left to
    staff."""
    pool = Pool()
    Device = pool.get('community.iot.device')
    announced = {}  # (family, key) -> description
    left = {}  # (family, key) -> source
    entries = {}  # HA entry -> (family, key), or None when removed
    rosters = {}  # (family, source) -> keys listed
    for r in batch:
        decoded = r['decoded']
        if decoded is None or not (decoded.discovered or decoded.complete):
            continue
        for d in decoded.discovered:
            key = (d.get('family'), d.get('key'))
            if d.get('remove'):
                if d.get('entry'):
                    entries[d['entry']] = None
                elif all(key):
                    announced.pop(key, None)
                    left[key] = d.get('source')
            elif all(key):
                announced[key] = d
                left.pop(key, None)
                if d.get('entry'):
                    entries[d['entry']] = key
        if decoded.complete:
            rosters[(decoded.family, decoded.discovered[0]['source']
                    if decoded.discovered else decoded.family)] = {
                (d['family'], d['key']) for d in decoded.discovered
                if d.get('key') and not d.get('remove')}
    if not (announced or left or entries or rosters):
        return
    now = dt.datetime.utcnow()
    added = {}  # (family, key) -> entries announcing it
    for entry, key in entries.items():
        if key:
            added.setdefault(key, set()).add(entry)
    withdrawn = {e for e, key in entries.items() if key is None}

    existing = {}
    with Transaction().set_context(active_test=False):
        for family in {f for f, _ in announced} | {f for f, _ in left}:
            keys = [k for f, k in list(announced) + list(left)
                if f == family]
            for device in Device.search([
                        ('family', '=', family), ('key', 'in', keys)]):
                existing[(family, device.key)] = device
        for entry in withdrawn:
            for device in Device.search([('discovery_entries', 'like',
                            '%' + json.dumps(entry) + '%')]):
                existing.setdefault((device.family, device.key), device)
        for family, source in rosters:
            for device in Device.search([
                        ('family', '=', family), ('discovery', '=', source),
                        ('active', '=', True)]):
                existing.setdefault((family, device.key), device)

    def device_entries(device):
        try:
            return set(json.loads(device.discovery_entries or '[]'))
        except ValueError:
            return set()

    def withdraw(device):
        device.active = False
        device.removed = now

    to_create, to_save = [], {}
    for key, d in announced.items():
        device = existing.get(key)
        if device is None:
            to_create.append({
                    'name': (d.get('name') or d['key'])[:100],
                    'family': d['family'], 'key': d['key'],
                    'model': d.get('model'), 'vendor': d.get('vendor'),
                    'ieee_address': d.get('ieee_address'),
                    'serial': d.get('serial'), 'mac': d.get('mac'),
                    'capabilities': d.get('capabilities') or [],
                    'state': 'discovered', 'discovery': d.get('source'),
                    'discovery_entries': (json.dumps(sorted(added[key]))
                        if key in added else None),
                    })
            continue
        dirty = False
        for field in ('model', 'vendor', 'ieee_address', 'serial', 'mac'):
            if d.get(field) and not getattr(device, field):
                setattr(device, field, d[field])
                dirty = True
        caps = set(device.capabilities or ()) | set(
            d.get('capabilities') or [])
        if caps != set(device.capabilities or ()):
            device.capabilities = sorted(caps)
            dirty = True
        if key in added:
            current = device_entries(device)
            if not added[key] <= current:
                device.discovery_entries = json.dumps(
                    sorted(current | added[key]))
                dirty = True
        if device.removed and not device.active:
            device.active = True
            device.removed = None
            dirty = True
        if dirty:
            to_save[key] = device
    for device in existing.values():
        key = (device.family, device.key)
        current = device_entries(device)
        if current & withdrawn:
            current -= withdrawn
            device.discovery_entries = json.dumps(sorted(current))
            to_save[key] = device
            if not current and key not in announced and device.active:
                withdraw(device)
        elif key in announced or not device.active:
            continue
        elif (left.get(key) and device.discovery == left[key]) or any(
                family == device.family and source == device.discovery
                and key not in listed
                for (family, source), listed in rosters.items()):
            withdraw(device)
            to_save[key] = device
    if to_create:
        Device.create(to_create)
    if to_save:
        Device.save(list(to_save.values()))
        for device in to_save.values():
            if not device.active:
                logger.info("device %s %r withdrawn by its discovery",
                    device.family, device.key)
