# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Adapters: one per device family, pure (no database).

Each family's :class:`~.base.Adapter` owns its topics (subscriptions,
which topics are its own, the device key a topic names), its decoding
into typed events and its command encoding; the functions below only
dispatch. ``roots`` maps family -> topic root (see ``bridge.config``).
New families: a module with an ``Adapter`` subclass registered in
``ADAPTERS``, a root in the configuration (``topic_<family>``) and the
device ``family`` selection extended.
"""
from . import (
    access, dean, generic, hikvision, homeassistant, shelly, tasmota,
    zigbee2mqtt, zkteco)
from .base import (  # noqa: F401
    CLEARED_BY, EVENT_KINDS, URGENT_KINDS, Adapter, DecodeError, Decoded,
    Event, device_time, jsonable)

ADAPTERS = {a.family: a for a in (
        zigbee2mqtt.ADAPTER, tasmota.ADAPTER, shelly.ADAPTER,
        generic.ADAPTER, homeassistant.ADAPTER, access.ADAPTER,
        hikvision.ADAPTER, zkteco.ADAPTER, dean.ADAPTER)}
DEFAULT_ROOTS = {family: a.default_root for family, a in ADAPTERS.items()}


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
        adapter = ADAPTERS.get(family)
        if adapter is None:
            continue
        if root:
            if not topic.startswith(root + '/'):
                continue
            rest = topic[len(root) + 1:]
        elif adapter.rootless:
            rest = topic
        else:
            continue  # no root: the family is off
        if not adapter.owns(rest):
            continue
        if best is None or len(root) > len(best[2]):
            best = (family, rest, root)
    if best is None:
        raise DecodeError("no adapter for topic")
    return best[0], best[1]


def subscriptions(roots):
    "Topic filters of all the families (without a shared group)."
    filters = []
    for family, root in sorted(roots.items()):
        if family in ADAPTERS:
            filters += ADAPTERS[family].filters(root)
    return filters


def decode(topic, payload, roots=None):
    """Decode one MQTT message into a :class:`Decoded`.

    ``topic`` is str or bytes, ``payload`` bytes. Raises DecodeError with
    the reason for anything that cannot be understood. An empty payload
    is a deleted retained message (``Decoded.cleared``), not an error.
    """
    topic = topic_text(topic)
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    family, rest = route(topic, roots)
    adapter = ADAPTERS[family]
    try:
        if not payload.strip():
            return adapter.cleared(rest)
        return adapter.decode(rest, payload, roots or DEFAULT_ROOTS)
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
    key = ADAPTERS[family].device_key(rest)
    return (family, key) if key else None


def command(family, key, action, command_id, roots, expires=None,
        data=None):
    """Return (topic, payload str) of ``action`` ('on'/'off', 'open',
    'person_upsert'/'person_delete' for access controllers) to device
    ``key`` of ``family``, with its expiry ``expires`` (naive UTC) when it
    has one and its parameters ``data`` (a dict: the person of a
    'person_*' action, see ``access``); raises ValueError for families
    without commands or without that action."""
    adapter = ADAPTERS.get(family)
    if adapter is None or action not in adapter.actions:
        raise ValueError("no command %r for family %r" % (action, family))
    root = roots.get(family, '')
    return adapter.command(root + '/' if root else '', key, action,
        command_id, expires=expires, data=data)
