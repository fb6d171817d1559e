# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Store and decode a batch of MQTT messages inside the current transaction.

Called by the bridge (one transaction per batch) and by tests. Set-based:
one INSERT … ON CONFLICT DO NOTHING for the messages, one INSERT for the
events, one search for the devices; only new messages are decoded, so a
redelivered batch (after a crash before the commit, or a broker
redelivery) is a no-op.
"""
import datetime as dt
import hashlib
import json
import logging

from trytond.pool import Pool
from trytond.transaction import Transaction

from .bridge.adapters import CLEARED_BY, DecodeError, decode, jsonable

logger = logging.getLogger(__name__)


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


def _level_value(state, name):
    "Value of a level key (dotted for nested) in a state dict."
    value = state
    for part in name.split('.'):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _normal(value):
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ('on', 'true'):
            return True
        if v in ('off', 'false'):
            return False
    return value


def ingest(records, roots=None):
    """Store, decode and apply a batch of messages.

    ``records``: iterable of dicts with ``topic`` (bytes or str),
    ``payload`` (bytes), ``received`` (naive UTC datetime, default now)
    and ``retain`` (bool).

    Returns a dict of counts: ``received``, ``new`` (messages inserted),
    ``duplicates``, ``events``, ``quarantined``, ``alarms``.
    """
    pool = Pool()
    Message = pool.get('community.iot.message')
    Quarantine = pool.get('community.iot.quarantine')
    Event = pool.get('community.iot.event')
    Device = pool.get('community.iot.device')
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    now = dt.datetime.utcnow()

    batch, seen = [], set()
    for record in records:
        topic = record['topic']
        if isinstance(topic, str):
            topic = topic.encode('utf-8')
        payload = bytes(record['payload'] or b'')
        key = dedup_key(topic, payload)
        if key in seen:
            continue
        seen.add(key)
        batch.append({
                'topic': topic, 'payload': payload, 'key': key,
                'received': record.get('received') or now,
                'retain': bool(record.get('retain')),
                })
    stats = {'received': len(batch), 'new': 0, 'duplicates': 0,
        'events': 0, 'quarantined': 0, 'alarms': 0}
    if not batch:
        return stats

    # Decode first: the device and the state go into the INSERT
    for r in batch:
        try:
            r['decoded'] = decode(r['topic'], r['payload'], roots)
        except DecodeError as exc:
            r['reason'] = str(exc.args[0] if exc.args else exc)

    # Discovery first: a device announced in this batch is known below
    discovered = [d for r in batch if r.get('decoded')
        for d in r['decoded'].discovered if not d.get('remove')]
    if discovered:
        _discover(discovered)

    keys = {}
    for r in batch:
        decoded = r.get('decoded')
        if decoded and decoded.key is not None:
            keys.setdefault(decoded.family, set()).add(decoded.key)
    devices = {}
    with transaction.set_context(active_test=False):
        for family, family_keys in keys.items():
            for device in Device.search([
                        ('family', '=', family),
                        ('key', 'in', list(family_keys)),
                        ]):
                devices[(family, device.key)] = device
    # plain ids: attribute access on records costs in a loop
    ids_of = {d.id: (d.id, d.compound.id if d.compound else None)
        for d in devices.values()}
    for r in batch:
        decoded = r.get('decoded')
        r['device'] = None
        if decoded is None or decoded.key is None:
            continue
        r['device'] = devices.get((decoded.family, decoded.key))
        if r['device'] is None and (decoded.events or decoded.state
                or decoded.availability or decoded.reply_to):
            r['reason'] = 'unknown device %s %r' % (
                decoded.family, decoded.key)

    # One statement of fixed text whatever the batch size (arrays
    # unnested): PostgreSQL and psycopg parse it once.
    cursor.execute(
        'INSERT INTO "%s" (topic, payload, received, dedup_key, retained, '
        'device, state, create_uid, create_date) '
        'SELECT t, p, r, k, rt, d, s, %%s, %%s FROM unnest('
        '%%s::varchar[], %%s::bytea[], %%s::timestamp[], %%s::varchar[], '
        '%%s::boolean[], %%s::integer[], %%s::varchar[]) '
        'AS u(t, p, r, k, rt, d, s) '
        'ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key'
        % Message._table, (
            transaction.user, now,
            [r['topic'].decode('utf-8', 'backslashreplace') for r in batch],
            [r['payload'] for r in batch],
            [r['received'] for r in batch],
            [r['key'] for r in batch],
            [r['retain'] for r in batch],
            [ids_of[r['device'].id][0] if r['device'] else None
                for r in batch],
            ['quarantined' if r.get('reason') else 'processed'
                for r in batch]))
    ids = dict((k, i) for i, k in cursor)
    new = [r for r in batch if r['key'] in ids]
    stats['new'] = len(new)
    stats['duplicates'] = len(batch) - len(new)
    if not new:
        return stats
    for r in new:
        r['id'] = ids[r['key']]

    event_rows = []
    changed = {}
    for r in new:
        decoded = r.get('decoded')
        device = r['device']
        if decoded is None or device is None:
            continue
        info = changed.get(device.id)
        if info is None:
            info = changed[device.id] = {
                'device': device, 'state': device.state_dict,
                'availability': device.availability,
                'last_seen': device.last_seen,
                'battery': device.battery,
                'link_quality': device.link_quality,
                'replies': [], 'levels': [], 'switch': None,
                }
        state = info['state']
        if (info['last_seen'] is None
                or r['received'] > info['last_seen']):
            info['last_seen'] = r['received']
        for event in decoded.events:
            if event.kind in ('switch_on', 'switch_off'):
                # confirms commands even when the level did not change
                info['switch'] = 'on' if event.kind == 'switch_on' else 'off'
            if event.level:
                name, value = event.level
                previous = _normal(state.get('_levels', {}).get(name))
                if previous == value:
                    continue
                state.setdefault('_levels', {})[name] = value
                info['levels'].append(event.kind)
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
            event_rows.append({
                    'device': ids_of[device.id], 'message': r['id'],
                    'kind': event.kind, 'value': event.value,
                    'unit': event.unit,
                    'data': json.dumps(jsonable(event.data),
                        ensure_ascii=False, default=str),
                    'time': r['received'], 'counter_reset': counter_reset,
                    })
        if decoded.availability:
            if decoded.availability != info['availability']:
                event_rows.append({
                        'device': ids_of[device.id], 'message': r['id'],
                        'kind': decoded.availability, 'value': None,
                        'unit': None, 'data': '{}',
                        'time': r['received'], 'counter_reset': False,
                        })
            info['availability'] = decoded.availability
        elif info['availability'] != 'online' and (
                decoded.events or decoded.state):
            # a device that talks is online
            if info['availability'] == 'offline':
                event_rows.append({
                        'device': ids_of[device.id], 'message': r['id'],
                        'kind': 'online', 'value': None, 'unit': None,
                        'data': '{}', 'time': r['received'],
                        'counter_reset': False})
            info['availability'] = 'online'
        if decoded.state:
            levels = state.get('_levels', {})
            overlay = {k: v for k, v in decoded.state.items()
                if not k.startswith('_')}
            state = info['state'] = merge(state, jsonable(overlay))
            state['_levels'] = levels
        if decoded.battery is not None:
            info['battery'] = decoded.battery
        if decoded.link_quality is not None:
            info['link_quality'] = decoded.link_quality
        if decoded.reply_to:
            info['replies'].append(decoded.reply_to)

    # Events, set-based
    if event_rows:
        cursor.execute(
            'INSERT INTO "%s" (device, compound, message, kind, value, unit, '
            'data, time, counter_reset, create_uid, create_date) '
            'SELECT d, c, m, k, v, u, dt, t, cr, %%s, %%s FROM unnest('
            '%%s::integer[], %%s::integer[], %%s::integer[], %%s::varchar[], '
            '%%s::numeric[], %%s::varchar[], %%s::text[], %%s::timestamp[], '
            '%%s::boolean[]) AS x(d, c, m, k, v, u, dt, t, cr) '
            'RETURNING id' % Event._table, (
                transaction.user, now,
                [e['device'][0] for e in event_rows],
                [e['device'][1] for e in event_rows],
                [e['message'] for e in event_rows],
                [e['kind'] for e in event_rows],
                [e['value'] for e in event_rows],
                [e['unit'] for e in event_rows],
                [e['data'] for e in event_rows],
                [e['time'] for e in event_rows],
                [e['counter_reset'] for e in event_rows]))
        event_ids = [i for i, in cursor]
    else:
        event_ids = []
    stats['events'] = len(event_ids)

    # Quarantine
    quarantined = [r for r in new if r.get('reason')]
    if quarantined:
        Quarantine.create([{
                    'message': r['id'],
                    'topic': r['topic'].decode('utf-8', 'backslashreplace'),
                    'topic_raw': r['topic'],
                    'payload': r['payload'],
                    'reason': r['reason'][:250],
                    'received': r['received'],
                    } for r in quarantined])
        for r in quarantined:
            logger.info("quarantined %r: %s", r['topic'][:200], r['reason'])
    stats['quarantined'] = len(quarantined)

    # Devices
    # Devices: availability fields only (readonly in the client), one
    # UPDATE each without the ORM's per-record overhead
    table = Device.__table__()
    for device_id, info in changed.items():
        cursor.execute(*table.update([
                    table.latest_state, table.availability,
                    table.last_seen, table.battery, table.link_quality,
                    table.write_uid, table.write_date], [
                    json.dumps(info['state'], ensure_ascii=False,
                        sort_keys=True, default=str),
                    info['availability'], info['last_seen'],
                    info['battery'], info['link_quality'],
                    transaction.user, now],
                where=table.id == device_id))
    if changed:
        # records read later in this transaction must see the new values
        for cache in transaction.cache.values():
            cache.clear()

    Command = pool.get('community.iot.command')
    Command.confirm_by_events([], {
            device_id: info['replies']
            for device_id, info in changed.items() if info['replies']},
        {device_id: info['switch'] for device_id, info in changed.items()
            if info['switch']})
    if event_ids:
        stats['alarms'] = _after_events(event_ids, event_rows)
    return stats


def _after_events(event_ids, rows):
    """Clear alarms and apply the rules; return the number of new alarms.

    Only the events that a rule listens to are instantiated."""
    pool = Pool()
    Alarm = pool.get('community.iot.alarm')
    Rule = pool.get('community.iot.rule')
    Event = pool.get('community.iot.event')
    clearing = set(CLEARED_BY.values())
    Alarm.clear([(r['kind'], r['device'][0], r['time']) for r in rows
            if r['kind'] in clearing])
    kinds = Rule.listened_kinds()
    events = Event.browse([i for i, r in zip(event_ids, rows)
            if r['kind'] in kinds])
    return Rule.apply(events) if events else 0


def _discover(descriptions):
    """Create unconfirmed devices for announced ones; complete the
    identifiers of known ones (never overwrite what staff set)."""
    pool = Pool()
    Device = pool.get('community.iot.device')
    by_key = {}
    for d in descriptions:
        if d.get('family') and d.get('key'):
            by_key[(d['family'], d['key'])] = d
    if not by_key:
        return
    existing = {}
    with Transaction().set_context(active_test=False):
        for family in {f for f, _ in by_key}:
            for device in Device.search([
                        ('family', '=', family),
                        ('key', 'in', [k for f, k in by_key if f == family]),
                        ]):
                existing[(family, device.key)] = device
    to_create, to_save = [], []
    for key, d in by_key.items():
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
                    })
        else:
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
            if dirty:
                to_save.append(device)
    if to_create:
        Device.create(to_create)
    if to_save:
        Device.save(to_save)
