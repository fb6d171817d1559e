# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Types shared by the adapters and small, defensive decoding helpers.

An adapter is a pure function ``(rest, payload) -> Decoded`` where ``rest``
is the topic below the family's root (a ``str``) and ``payload`` the raw
bytes. It raises :class:`DecodeError` with a short reason when the message
cannot be understood; the bridge then quarantines it.
"""
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

#: Event kinds and the kind that clears them (alarms raised by the first
#: are marked cleared by the second).
EVENT_KINDS = [
    ('door_opened', "Door Opened"),
    ('door_closed', "Door Closed"),
    ('smoke', "Smoke Detected"),
    ('smoke_clear', "Smoke Cleared"),
    ('water_leak', "Water Leak"),
    ('water_leak_clear', "Water Leak Cleared"),
    ('gas', "Gas Detected"),
    ('sos', "SOS"),
    ('fall', "Fall Detected"),
    ('motion', "Motion"),
    ('tamper', "Tamper"),
    ('battery_low', "Battery Low"),
    ('button', "Button Pressed"),
    ('switch_on', "Switched On"),
    ('switch_off', "Switched Off"),
    ('power', "Power Reading"),
    ('energy', "Energy Reading"),
    ('online', "Device Online"),
    ('offline', "Device Offline"),
    ('access', "Access Attempt"),
    ('custom', "Custom"),
    ]
#: Events of a person in danger: their rules run (an alarm is raised) even
#: when the reading is stale (delayed in a gateway's queue), since a late
#: SOS is still somebody who called for help.
URGENT_KINDS = frozenset({'sos', 'fall'})
CLEARED_BY = {
    'door_opened': 'door_closed',
    'smoke': 'smoke_clear',
    'water_leak': 'water_leak_clear',
    'offline': 'online',
    }


class DecodeError(ValueError):
    "The message cannot be decoded; ``args[0]`` is the reason."


@dataclass
class Event:
    """A typed event.

    ``value`` is a Decimal in ``unit`` (energy always in kWh, power in W),
    ``data`` the relevant raw fields, kept for the record.
    """
    kind: str
    value: Decimal = None
    unit: str = None
    data: dict = field(default_factory=dict)
    #: for events that report a level (door contact, smoke, switch …): the
    #: state key and its value; the bridge drops the event when the
    #: device's latest state already had that value (periodic reports and
    #: retained replays do not repeat the event).
    level: tuple = None


@dataclass
class Decoded:
    """What one message says.

    - ``key``: the device key in its family (None for bridge messages);
    - ``events``: typed events;
    - ``state``: keys to overlay on the device's latest state;
    - ``availability``: 'online', 'offline' or None;
    - ``battery``, ``link_quality``: integers or None;
    - ``discovered``: device descriptions announced by the message, dicts
      with family, key, name, model, vendor, ieee_address, serial, mac,
      capabilities (list), source, ``entry`` (the discovery entry that
      announces it, e.g. a Home Assistant config topic below the root, or
      None) and ``remove``: True when withdrawn, then with ``entry`` (one
      entry of a device withdrawn) or family and key (the device left);
    - ``complete``: ``discovered`` is the complete list of the devices of
      its source (Zigbee2MQTT ``bridge/devices``): the family's devices
      discovered by that source and not listed are gone;
    - ``reply_to``: for command replies, the command correlation id;
    - ``reply_error``: with ``reply_to``, the device's error when it
      refused or failed the command (None: done);
    - ``time``: the device's own time of the reading (Zigbee2MQTT
      ``last_seen``, Tasmota ``Time``, Shelly ``ts``, generic
      ``timestamp``) or None: a naive UTC datetime, or with ``local``
      True a naive time of the device's clock zone (Tasmota without
      ``SetOption52``), read in its compound's time zone. The bridge
      trusts it within a tolerance (``ingest``) and never lets a reading
      older than the device's state overwrite it;
    - ``cleared``: the payload is empty: the retained message of the
      topic was deleted (Zigbee2MQTT after a rename or removal, Home
      Assistant discovery); nothing to apply, nothing to quarantine.
    """
    family: str
    key: str = None
    events: list = field(default_factory=list)
    state: dict = field(default_factory=dict)
    availability: str = None
    battery: int = None
    link_quality: int = None
    discovered: list = field(default_factory=list)
    complete: bool = False
    reply_to: str = None
    reply_error: str = None
    time: dt.datetime = None
    local: bool = False
    cleared: bool = False


class Adapter:
    """A device family: its topics, subscriptions, device key, decoding
    and command encoding. ``rest`` is always the topic below the family's
    root. Register an instance in ``adapters.ADAPTERS``."""
    family = None
    #: the topic root when ``topic_<family>`` is not configured
    default_root = ''
    #: whether the family works without a root (its topics recognised by
    #: :meth:`owns` alone); the others are off when their root is empty
    rootless = False
    #: the command actions the family's devices understand
    actions = ('on', 'off')

    def filters(self, root):
        "Topic filters to subscribe to (none without a root)."
        return [root + '/#'] if root else []

    def owns(self, rest):
        "Whether a topic below the root is this family's."
        return True

    def device_key(self, rest):
        """The key of the device a topic names, from the topic alone, or
        None (used to file an undecodable message under its device)."""
        return None

    def decode(self, rest, payload, roots):
        "Decode a message (non-empty payload) into a :class:`Decoded`."
        raise NotImplementedError

    def cleared(self, rest):
        """An empty payload: the topic's retained message was deleted
        (device renamed or removed); nothing to apply."""
        return Decoded(self.family, self.device_key(rest), cleared=True)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        """(topic, payload str) switching device ``key`` ``action``
        ('on'/'off'); ``prefix`` is the root and ``/`` or empty;
        ``expires``: the command's expiry (naive UTC) when it has one."""
        raise ValueError("no command for family %r" % self.family)


def device_time(value):
    """Return ``(time, local)`` for a device timestamp, or ``(None,
    False)`` when absent or not understood (a bad clock never loses the
    reading: it takes the arrival time).

    Numbers are Unix epoch seconds (milliseconds above 10^11, as
    Zigbee2MQTT ``epoch``); strings are ISO 8601, with an offset or ``Z``
    (converted to naive UTC) or without (a local time: ``local`` True).
    """
    if value is None or isinstance(value, bool):
        return None, False
    try:
        if isinstance(value, (int, float, Decimal)):
            seconds = float(value)
            if seconds > 1e11:
                seconds /= 1000
            return dt.datetime.utcfromtimestamp(seconds), False
        if isinstance(value, str):
            value = value.strip()
            if value.endswith(('Z', 'z')):
                value = value[:-1] + '+00:00'
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed, True
            return (parsed.astimezone(dt.timezone.utc).replace(tzinfo=None),
                False)
    except (ValueError, OverflowError, OSError):
        pass
    return None, False


def timed(decoded, value):
    "Set the device time of ``decoded`` from a raw timestamp; return it."
    decoded.time, decoded.local = device_time(value)
    return decoded


def text(payload):
    """Decode payload bytes: UTF-8 first, then GB18030 (a superset of GBK
    that Chinese devices send); raises DecodeError otherwise."""
    if isinstance(payload, str):
        return payload
    for encoding in ('utf-8', 'gb18030'):
        try:
            return payload.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DecodeError("payload is neither UTF-8 nor GBK")


# one decoder: json.loads(..., parse_float=...) builds a new one per call
_JSON = json.JSONDecoder(parse_float=Decimal)


def load_json(payload, max_size=256 * 1024):
    """Parse a JSON payload (bytes); raises DecodeError with the reason."""
    if len(payload) > max_size:
        raise DecodeError("payload too large (%d bytes)" % len(payload))
    if not payload.strip():
        raise DecodeError("empty payload")
    try:
        return _JSON.decode(text(payload))
    except ValueError as exc:
        raise DecodeError("invalid JSON: %s" % exc) from None


def number(value):
    """Return value as Decimal; accepts numbers and numeric strings
    ("12.5", " 3 "); None for None/empty; raises DecodeError otherwise."""
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        raise DecodeError("boolean where a number is expected")
    if isinstance(value, Decimal):  # JSON numbers are parsed as Decimals
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    else:
        try:
            result = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise DecodeError("not a number: %r" % (value,)) from None
    if not result.is_finite():
        raise DecodeError("not a finite number: %r" % (value,))
    return result


def boolean(value):
    """Return True/False for booleans and their usual string forms
    ("true", "ON", "1"); None for None; raises DecodeError otherwise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ('true', 'on', '1', 'yes', 'online'):
            return True
        if v in ('false', 'off', '0', 'no', 'offline'):
            return False
    raise DecodeError("not a boolean: %r" % (value,))


def integer(value):
    "Return value as int (rounded) or None; see :func:`number`."
    n = number(value)
    return None if n is None else int(n.to_integral_value())


def kwh(value, unit='kWh'):
    """Normalise an energy value to kWh (Decimal); ``unit`` is 'Wh' or
    'kWh'."""
    n = number(value)
    if n is None:
        return None
    if unit == 'Wh':
        n = n / 1000
    return n.quantize(Decimal('0.000001'))


def jsonable(value):
    "Convert Decimals for json.dumps."
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
