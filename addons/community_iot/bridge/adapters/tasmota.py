# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Tasmota (https://tasmota.github.io/docs/MQTT/), FullTopic
``%prefix%/%topic%/`` below an optional root.

- ``tele/<topic>/LWT``: ``Online``/``Offline`` (retained);
- ``tele/<topic>/STATE``: ``{"POWER":"ON", "Wifi":{…}}``;
- ``tele/<topic>/SENSOR``: ``{"ENERGY":{"Total":kWh,"Today":kWh,
  "Power":W,"TotalStartTime":…}}``;
- ``stat/<topic>/POWER``: ``ON``/``OFF``; ``stat/<topic>/RESULT``:
  ``{"POWER":"ON"}``;
- ``cmnd/<topic>/…``: commands (ours, ignored).

Energy is in kWh; ``TotalStartTime`` changes when the counter is reset.
Device time: ``Time`` of ``STATE``/``SENSOR``/``RESULT``, the device's
local time (its compound's time zone) unless ``SetOption52 1`` adds the
offset.
"""
from .base import (
    Adapter, DecodeError, Decoded, Event, boolean, integer, kwh, load_json,
    number, text, timed)

FAMILY = 'tasmota'


def _power_events(data):
    events = []
    for key in sorted(data):
        if key == 'POWER' or (key.startswith('POWER') and key[5:].isdigit()):
            on = boolean(data[key])
            if on is not None:
                events.append(Event('switch_on' if on else 'switch_off',
                        data={key: data[key]}, level=(key, on)))
    return events


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    parts = rest.split('/')
    if len(parts) < 3 or parts[0] not in ('tele', 'stat', 'cmnd'):
        raise DecodeError("not a Tasmota topic")
    prefix, key, name = parts[0], '/'.join(parts[1:-1]), parts[-1]
    if prefix == 'cmnd':
        return Decoded(FAMILY, key)
    if name == 'LWT':
        raw = text(payload).strip().lower()
        if raw not in ('online', 'offline'):
            raise DecodeError("unknown LWT %r" % raw[:50])
        return Decoded(FAMILY, key, availability=raw)
    if name.startswith('POWER') and prefix == 'stat':
        on = boolean(text(payload))
        return Decoded(FAMILY, key,
            events=[Event('switch_on' if on else 'switch_off',
                    data={name: on}, level=(name, on))],
            state={name: 'ON' if on else 'OFF'})
    data = load_json(payload)
    if not isinstance(data, dict):
        raise DecodeError("%s is not an object" % name)
    if name in ('STATE', 'RESULT'):
        events = _power_events(data)
        state = {k: v for k, v in data.items() if k.startswith('POWER')}
        rssi = (data.get('Wifi') or {}).get('RSSI')
        return timed(Decoded(FAMILY, key, events=events, state=state,
                link_quality=integer(rssi) if rssi is not None else None),
            data.get('Time'))
    if name == 'SENSOR':
        events, state = [], {}
        energy = data.get('ENERGY')
        if isinstance(energy, dict):
            if energy.get('Power') is not None:
                power = energy['Power']
                if isinstance(power, list):  # one value per channel
                    power = sum(number(p) for p in power)
                events.append(Event('power', number(power), 'W',
                        data={'Power': power}))
            if energy.get('Total') is not None:
                events.append(Event('energy', kwh(energy['Total'], 'kWh'),
                        'kWh', data={
                            'Total': energy['Total'],
                            'TotalStartTime': energy.get('TotalStartTime'),
                            'Time': data.get('Time'),
                            }))
            state['ENERGY'] = energy
        return timed(Decoded(FAMILY, key, events=events, state=state),
            data.get('Time'))
    return Decoded(FAMILY, key)


class Tasmota(Adapter):
    family = FAMILY
    default_root = ''  # %prefix%/%topic%/ at the top level
    rootless = True
    prefixes = ('tele/', 'stat/', 'cmnd/')

    def filters(self, root):
        prefix = root + '/' if root else ''
        return [prefix + 'tele/#', prefix + 'stat/#']

    def owns(self, rest):
        return rest.startswith(self.prefixes)

    def device_key(self, rest):
        parts = rest.split('/')
        return '/'.join(parts[1:-1]) if len(parts) >= 3 else None

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        return (prefix + 'cmnd/' + key + '/POWER',
            'ON' if action == 'on' else 'OFF')


ADAPTER = Tasmota()
