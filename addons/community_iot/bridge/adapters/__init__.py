# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Adapters: pure functions from (topic, payload bytes) to typed events.

``decode(topic, payload, roots)`` finds the family by the topic root and
calls its adapter. ``roots`` maps family -> topic root (see
``bridge.config``). New families: add ``ADAPTERS['lpr'] = lpr.decode``
and a root in the configuration, and extend the device ``family``
selection.
"""
from . import generic, homeassistant, shelly, tasmota, zigbee2mqtt
from .base import (  # noqa: F401
    CLEARED_BY, EVENT_KINDS, DecodeError, Decoded, Event, jsonable)

ADAPTERS = {
    'zigbee2mqtt': zigbee2mqtt.decode,
    'tasmota': tasmota.decode,
    'shelly': shelly.decode,
    'generic': generic.decode,
    'homeassistant': homeassistant.decode,
    }
DEFAULT_ROOTS = {
    'zigbee2mqtt': 'zigbee2mqtt',
    'tasmota': '',
    'shelly': 'shellies',
    'generic': 'community/devices',
    'homeassistant': 'homeassistant',
    }
_TASMOTA_PREFIXES = ('tele/', 'stat/', 'cmnd/')


def topic_text(topic):
    """Return the topic as str; raises DecodeError for non-UTF-8 bytes."""
    if isinstance(topic, str):
        return topic
    try:
        return topic.decode('utf-8')
    except UnicodeDecodeError:
        raise DecodeError("topic is not UTF-8") from None


def route(topic, roots=None):
    """Return (family, rest) for a topic, the longest root winning;
    raises DecodeError when no family's root matches."""
    roots = roots or DEFAULT_ROOTS
    best = None
    for family, root in roots.items():
        if family not in ADAPTERS:
            continue
        if root:
            if not topic.startswith(root + '/'):
                continue
            rest = topic[len(root) + 1:]
        else:
            rest = topic
        if family == 'tasmota' and not rest.startswith(_TASMOTA_PREFIXES):
            continue
        if best is None or len(root) > len(best[2]):
            best = (family, rest, root)
    if best is None:
        raise DecodeError("no adapter for topic")
    return best[0], best[1]


def decode(topic, payload, roots=None):
    """Decode one MQTT message into a :class:`Decoded`.

    ``topic`` is str or bytes, ``payload`` bytes. Raises DecodeError with
    the reason for anything that cannot be understood.
    """
    topic = topic_text(topic)
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    family, rest = route(topic, roots)
    try:
        return ADAPTERS[family](rest, payload, roots or DEFAULT_ROOTS)
    except DecodeError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError,
            ArithmeticError) as exc:
        raise DecodeError("%s: %s" % (type(exc).__name__, exc)) from None


def topic_device(topic, roots=None):
    """Return (family, key) of the device a topic belongs to, from the
    topic alone, or None (bridge topics, unknown roots, non-UTF-8 topics).

    Used to file a message whose payload cannot be decoded under its
    device (and the device's compound)."""
    try:
        family, rest = route(topic_text(topic), roots)
    except DecodeError:
        return None
    key = None
    if family == 'zigbee2mqtt':
        if rest != 'bridge' and not rest.startswith('bridge/'):
            key = rest
            for suffix in ('/availability', '/set', '/get'):
                if key.endswith(suffix):
                    key = key[:-len(suffix)]
                elif suffix != '/availability' and (suffix + '/') in key:
                    key = key.split(suffix + '/')[0]
    elif family == 'tasmota':
        parts = rest.split('/')
        if len(parts) >= 3:
            key = '/'.join(parts[1:-1])
    elif family == 'shelly':
        key, _, sub = rest.partition('/')
        key = key if sub else None
    elif family == 'generic':
        key = rest.rpartition('/')[0]
    return (family, key) if key else None
