# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Shelly Gen2/Gen3 (https://shelly-api-docs.shelly.cloud/gen2/General/RPCChannels#mqtt).

Topics below the root (default ``shellies``), ``<key>`` being the device's
topic prefix (e.g. ``shellyplus1pm-a8032ab12345``):

- ``<key>/online``: ``true``/``false``;
- ``<key>/status/switch:0``: full status, ``aenergy.total`` in **Wh**;
- ``<key>/events/rpc``: ``NotifyStatus``/``NotifyFullStatus`` (changed
  keys only, overlaid on the last status) and ``NotifyEvent`` (buttons);
- ``<key>/rpc``: JSON-RPC requests (ours, ignored);
- ``<key>/reply/rpc``: replies to our requests (``src`` =
  ``<root>/<key>/reply``), ``id`` is the command id.

Device time: ``params.ts`` (epoch seconds) of the RPC notifications; the
``status/…`` messages carry none.
"""
import json

from .base import (
    Adapter, DecodeError, Decoded, Event, boolean, kwh, load_json, number,
    text, timed)

FAMILY = 'shelly'


def _switch_events(component, status):
    events = []
    if not isinstance(status, dict):
        return events
    if 'output' in status:
        on = boolean(status['output'])
        events.append(Event('switch_on' if on else 'switch_off',
                data={component: {'output': on}},
                level=('%s.output' % component, on)))
    if status.get('apower') is not None:
        events.append(Event('power', number(status['apower']), 'W',
                data={'apower': status['apower']}))
    aenergy = status.get('aenergy')
    if isinstance(aenergy, dict) and aenergy.get('total') is not None:
        events.append(Event('energy', kwh(aenergy['total'], 'Wh'), 'kWh',
                data={'aenergy.total_wh': aenergy['total']}))
    return events


def _components(params):
    return {k: v for k, v in params.items()
        if isinstance(v, dict) and ':' in k}


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    key, _, sub = rest.partition('/')
    if not key or not sub:
        raise DecodeError("not a Shelly topic")
    if sub == 'online':
        online = boolean(text(payload))
        return Decoded(FAMILY, key,
            availability='online' if online else 'offline')
    if sub == 'rpc':
        return Decoded(FAMILY, key)
    if sub == 'reply/rpc':
        data = load_json(payload)
        if not isinstance(data, dict) or 'id' not in data:
            raise DecodeError("RPC reply without id")
        ok = 'error' not in data
        return Decoded(FAMILY, key, reply_to=str(data['id']),
            events=[] if ok else [Event('custom', data={
                        'rpc_error': data.get('error')})],
            state={} if not ok else {'rpc_ok': str(data['id'])})
    if sub.startswith('status/'):
        component = sub[len('status/'):]
        status = load_json(payload)
        if not isinstance(status, dict):
            raise DecodeError("status is not an object")
        events = (_switch_events(component, status)
            if component.startswith(('switch:', 'pm1:')) else [])
        return Decoded(FAMILY, key, events=events, state={component: status})
    if sub == 'events/rpc':
        data = load_json(payload)
        if not isinstance(data, dict):
            raise DecodeError("RPC notification is not an object")
        method = data.get('method')
        params = data.get('params') or {}
        if not isinstance(params, dict):
            raise DecodeError("params is not an object")
        if method in ('NotifyStatus', 'NotifyFullStatus'):
            events, state = [], {}
            for component, status in _components(params).items():
                if component.startswith(('switch:', 'pm1:')):
                    events += _switch_events(component, status)
                state[component] = status
            return timed(Decoded(FAMILY, key, events=events, state=state),
                params.get('ts'))
        if method == 'NotifyEvent':
            events = []
            for item in params.get('events') or []:
                if not isinstance(item, dict):
                    continue
                name = item.get('event')
                if name in ('single_push', 'double_push', 'long_push',
                        'triple_push', 'btn_down', 'btn_up'):
                    events.append(Event('button', data={
                                'component': item.get('component'),
                                'event': name}))
            return timed(Decoded(FAMILY, key, events=events),
                params.get('ts'))
        return Decoded(FAMILY, key)
    return Decoded(FAMILY, key)


class Shelly(Adapter):
    family = FAMILY
    default_root = 'shellies'

    def device_key(self, rest):
        key, _, sub = rest.partition('/')
        return key if sub else None

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        return prefix + key + '/rpc', json.dumps({
                'id': command_id, 'src': prefix + key + '/reply',
                'method': 'Switch.Set',
                'params': {'id': 0, 'on': action == 'on'}})


ADAPTER = Shelly()
