# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Generic JSON devices (our own simple convention for gateways that can
be scripted).

Topics below the root (default ``community/devices``):

- ``<key>/event``: ``{"kind": "<event kind>", "value": 1.5,
  "unit": "Wh"|"kWh"|"W", …}``; numbers may be strings;
- ``<key>/state``: a JSON object overlaid on the latest state; may carry
  ``battery`` and ``linkquality``;
- ``<key>/availability``: ``online``/``offline``;
- ``<key>/set``: commands (ours, ignored).

Device time: ``timestamp`` in the state and event objects, ISO 8601 (an
offset or ``Z``; without, the compound's local time) or epoch seconds
(milliseconds above 10^11).
"""
import json

from .base import (
    EVENT_KINDS, Adapter, DecodeError, Decoded, Event, integer, kwh,
    load_json, number, text, timed)

FAMILY = 'generic'
KINDS = {k for k, _ in EVENT_KINDS}


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    key, _, sub = rest.rpartition('/')
    if not key:
        raise DecodeError("not a generic device topic")
    if sub == 'availability':
        raw = text(payload).strip().lower()
        if raw not in ('online', 'offline'):
            raise DecodeError("unknown availability %r" % raw[:50])
        return Decoded(FAMILY, key, availability=raw)
    if sub == 'set':
        return Decoded(FAMILY, key)
    data = load_json(payload)
    if not isinstance(data, dict):
        raise DecodeError("payload is not an object")
    if sub == 'state':
        return timed(Decoded(FAMILY, key, state=data,
                battery=integer(data.get('battery')),
                link_quality=integer(data.get('linkquality'))),
            data.get('timestamp'))
    if sub == 'event':
        kind = data.get('kind')
        if kind not in KINDS:
            raise DecodeError("unknown event kind %r" % (kind,))
        unit = data.get('unit')
        value = data.get('value')
        if kind == 'energy':
            if unit not in ('Wh', 'kWh'):
                raise DecodeError("energy without unit Wh or kWh")
            value, unit = kwh(value, unit), 'kWh'
        else:
            value = number(value)
        return timed(Decoded(FAMILY, key, events=[Event(kind, value, unit,
                        data={k: v for k, v in data.items()
                            if k not in ('kind',)})],
                battery=integer(data.get('battery'))),
            data.get('timestamp'))
    raise DecodeError("unknown generic sub-topic %r" % sub)


class Generic(Adapter):
    family = FAMILY
    default_root = 'community/devices'

    def device_key(self, rest):
        return rest.rpartition('/')[0] or None

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        return prefix + key + '/set', json.dumps({
                'state': 'ON' if action == 'on' else 'OFF',
                'command_id': command_id})


ADAPTER = Generic()
