# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Zigbee2MQTT 2.x (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html).

Topics below the root (default ``zigbee2mqtt``):

- ``<friendly_name>``: JSON state; the name may contain ``/``;
- ``<friendly_name>/availability``: ``{"state":"online"}`` (retained);
- ``<friendly_name>/set`` and ``/get``: commands (ours, ignored);
- ``bridge/devices``: retained array of devices (discovery), the
  complete list: discovered devices no longer listed are deactivated;
- ``bridge/event``: ``device_leave`` withdraws the device, other events
  are stored without typed events;
- an empty payload on a device topic: Zigbee2MQTT deleted its retained
  message (device renamed or removed), nothing to apply;
- ``bridge/state``, ``bridge/info``, ``bridge/…``: bridge messages,
  stored but without events.

Trap: ``contact`` true means the contact is closed (door closed).
Device time: ``last_seen`` (option ``advanced.last_seen``: ISO_8601,
ISO_8601_local or epoch milliseconds), absent when disabled.
"""
import json

from .base import (
    Adapter, DecodeError, Decoded, Event, boolean, integer, kwh, load_json,
    number, text, timed)

FAMILY = 'zigbee2mqtt'

# state key -> (event when true, event when false or None)
_BOOLEANS = {
    'water_leak': ('water_leak', 'water_leak_clear'),
    'smoke': ('smoke', 'smoke_clear'),
    'gas': ('gas', None),
    'carbon_monoxide': ('gas', None),
    'sos': ('sos', None),
    'tamper': ('tamper', None),
    'battery_low': ('battery_low', None),
    'occupancy': ('motion', None),
    'presence': ('motion', None),
    }
_EXPOSE_CAPABILITIES = {
    'contact': 'contact', 'smoke': 'smoke', 'water_leak': 'water_leak',
    'sos': 'sos', 'occupancy': 'motion', 'presence': 'motion',
    'tamper': 'tamper', 'battery': 'battery', 'power': 'power',
    'energy': 'energy', 'action': 'button', 'state': 'switch',
    'temperature': 'temperature', 'fall_down_status': 'fall',
    }
_SOS_ACTIONS = {'emergency', 'sos', 'panic'}


def _exposes(exposes):
    result = set()
    for expose in exposes or []:
        if not isinstance(expose, dict):
            continue
        prop = expose.get('property') or expose.get('name')
        if prop in _EXPOSE_CAPABILITIES:
            result.add(_EXPOSE_CAPABILITIES[prop])
        result |= _exposes(expose.get('features'))
        if prop == 'action' and set(expose.get('values') or []) & _SOS_ACTIONS:
            result.add('sos')
    return result


def devices(payload):
    """Decode ``bridge/devices`` into device descriptions (the coordinator
    is skipped)."""
    data = load_json(payload, max_size=4 * 1024 * 1024)
    if not isinstance(data, list):
        raise DecodeError("bridge/devices is not a list")
    result = []
    for device in data:
        if not isinstance(device, dict) or not device.get('friendly_name'):
            continue
        if device.get('type') == 'Coordinator':
            continue
        definition = device.get('definition') or {}
        result.append({
                'family': FAMILY,
                'key': device['friendly_name'],
                'name': device['friendly_name'],
                'ieee_address': device.get('ieee_address'),
                'model': definition.get('model') or device.get('model_id'),
                'vendor': (definition.get('vendor')
                    or device.get('manufacturer')),
                'capabilities': sorted(_exposes(definition.get('exposes'))),
                'source': 'zigbee2mqtt',
                'remove': False,
                })
    return result


def bridge_event(payload):
    """Decode ``bridge/event``: ``device_leave`` withdraws the device
    (``{"type": "device_leave", "data": {"friendly_name": …,
    "ieee_address": …}}``); other events announce nothing."""
    data = load_json(payload)
    if not isinstance(data, dict):
        raise DecodeError("bridge/event is not an object")
    info = data.get('data')
    if data.get('type') != 'device_leave' or not isinstance(info, dict):
        return []
    name = info.get('friendly_name') or info.get('ieee_address')
    if not name:
        return []
    return [{'family': FAMILY, 'key': str(name),
            'ieee_address': info.get('ieee_address'), 'remove': True,
            'source': 'zigbee2mqtt'}]


def state_events(state):
    "Events of a Zigbee2MQTT state dict."
    events = []
    if 'contact' in state:
        closed = boolean(state['contact'])
        if closed is not None:
            events.append(Event('door_closed' if closed else 'door_opened',
                    data={'contact': closed}, level=('contact', closed)))
    for key, (on, off) in _BOOLEANS.items():
        if key not in state:
            continue
        value = boolean(state[key])
        if value is None:
            continue
        kind = on if value else off
        if kind:
            events.append(Event(kind, data={key: value}, level=(key, value)))
        elif off is None:
            # keep the level so that a later "true" is a change
            pass
    action = state.get('action')
    if action:
        action = text(action) if isinstance(action, bytes) else str(action)
        if action.lower() in _SOS_ACTIONS:
            events.append(Event('sos', data={'action': action}))
        else:
            events.append(Event('button', data={'action': action}))
    if state.get('fall_down_status') == 'fall':
        events.append(Event('fall', data={'fall_down_status': 'fall'},
                level=('fall_down_status', 'fall')))
    if 'state' in state and isinstance(state['state'], str):
        on = boolean(state['state'])
        if on is not None:
            events.append(Event('switch_on' if on else 'switch_off',
                    data={'state': state['state']}, level=('state', on)))
    if state.get('power') is not None:
        events.append(Event('power', number(state['power']), 'W',
                data={'power': state['power']}))
    if state.get('energy') is not None:
        events.append(Event('energy', kwh(state['energy'], 'kWh'), 'kWh',
                data={'energy': state['energy']}))
    return events


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    if rest == 'bridge/devices':
        return Decoded(FAMILY, discovered=devices(payload), complete=True)
    if rest == 'bridge/event':
        return Decoded(FAMILY, discovered=bridge_event(payload))
    if rest.startswith('bridge/') or rest == 'bridge':
        return Decoded(FAMILY)
    if rest.endswith('/availability'):
        key = rest[:-len('/availability')]
        raw = text(payload).strip()
        if raw.startswith('{'):
            data = load_json(payload)
            if not isinstance(data, dict):
                raise DecodeError("availability is not an object")
            raw = str(data.get('state', ''))
        if raw.lower() not in ('online', 'offline'):
            raise DecodeError("unknown availability %r" % raw[:50])
        return Decoded(FAMILY, key, availability=raw.lower())
    for suffix in ('/set', '/get'):
        if rest.endswith(suffix) or ('%s/' % suffix) in rest:
            return Decoded(FAMILY, rest.split(suffix)[0])
    if not rest:
        raise DecodeError("no device name in topic")
    state = load_json(payload)
    if not isinstance(state, dict):
        raise DecodeError("state is not an object")
    return timed(Decoded(FAMILY, rest, events=state_events(state),
            state=state, battery=integer(state.get('battery')),
            link_quality=integer(state.get('linkquality'))),
        state.get('last_seen'))


class Zigbee2MQTT(Adapter):
    family = FAMILY
    default_root = 'zigbee2mqtt'

    def device_key(self, rest):
        if rest == 'bridge' or rest.startswith('bridge/'):
            return None
        key = rest
        for suffix in ('/availability', '/set', '/get'):
            if key.endswith(suffix):
                key = key[:-len(suffix)]
            elif suffix != '/availability' and (suffix + '/') in key:
                key = key.split(suffix + '/')[0]
        return key or None

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        return (prefix + key + '/set',
            json.dumps({'state': 'ON' if action == 'on' else 'OFF'}))


ADAPTER = Zigbee2MQTT()
