# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Hikvision ISAPI access events, pushed by the controllers over HTTP.

Not an MQTT family (no topic is its own): the HTTP endpoint
(``community_access``) finds the JSON with :func:`event_json` (a plain
JSON body, or a ``multipart/form-data`` part as most firmwares send it
with the pictures), decodes it with :func:`decode` and de-duplicates on
:func:`dedup_key` (device, ``serialNo``, ``dateTime``).

``{"ipAddress": "10.0.0.7", "dateTime": "2026-12-02T09:00:00+08:00",
"eventType": "AccessControllerEvent", "AccessControllerEvent":
{"majorEventType": 5, "subEventType": 75, "employeeNoString": "P0001",
"cardNo": "", "serialNo": 1017, "currentVerifyMode": "cardOrFace",
"doorNo": 1}}``

Major 5 is an event; the minor codes (HCNetSDK ``MINOR_*``) read here:
0x01 card ok, 0x06 card without permission, 0x26 fingerprint ok, 0x4b
face ok, 0x4c face failed, 0x9c QR code, 0x400 remote opening.
"""
import email.parser
import email.policy
import hashlib

from .base import (
    Adapter, DecodeError, Decoded, Event, integer, load_json, timed)

FAMILY = 'hikvision'
MAJOR_EVENT = 5
#: minor code → (credential kind, what the device did)
MINOR = {
    0x01: ('card', 'allow'),
    0x06: ('card', 'deny'),
    0x26: ('fingerprint', 'allow'),
    0x4b: ('face', 'allow'),
    0x4c: ('face', 'deny'),
    0x9c: ('qr', 'allow'),
    0x400: ('remote', 'allow'),
    }
MAX_SIZE = 4 * 1024 * 1024


def event_json(content_type, body):
    """Return the bytes of the event's JSON in an HTTP body: the body
    itself, or the first ``multipart/form-data`` part holding a JSON
    object (the others are pictures). Raises DecodeError."""
    if len(body) > MAX_SIZE:
        raise DecodeError("body too large (%d bytes)" % len(body))
    if not (content_type or '').lower().startswith('multipart/'):
        return body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: ' + content_type.encode('latin-1') + b'\r\n\r\n'
        + body)
    if not message.is_multipart():
        raise DecodeError("malformed multipart body")
    for part in message.iter_parts():
        if part.get_content_maintype() == 'image':
            continue
        data = part.get_payload(decode=True) or b''
        if data.lstrip()[:1] == b'{':
            return data
    raise DecodeError("no JSON part in the multipart body")


def dedup_key(sn, data):
    """The de-duplication key of an event of device ``sn``: its
    ``serialNo`` and ``dateTime`` (a serial number may start again after a
    reset), else the whole JSON."""
    event = data.get('AccessControllerEvent') if isinstance(
        data, dict) else None
    serial = event.get('serialNo') if isinstance(event, dict) else None
    if serial is not None and data.get('dateTime'):
        raw = '\0'.join(['hikvision', sn, str(serial),
                str(data['dateTime'])]).encode('utf-8')
    else:
        raw = b'hikvision\0' + sn.encode('utf-8') + b'\0' + repr(
            sorted(data.items()) if isinstance(data, dict) else data
            ).encode('utf-8')
    return hashlib.sha256(raw).hexdigest()


def decode(key, payload):
    """Decode the JSON (bytes) of device ``key`` into a Decoded: an
    ``access`` event for the access minor codes (``data``: kind, value,
    door, id, minor, device_result); a heartbeat or another event type
    only tells the device is online. Raises DecodeError."""
    data = load_json(payload)
    return decode_data(key, data)


def decode_data(key, data):
    if not isinstance(data, dict):
        raise DecodeError("payload is not an object")
    event_type = data.get('eventType')
    if not event_type:
        raise DecodeError("no eventType")
    if event_type != 'AccessControllerEvent':
        return timed(Decoded(FAMILY, key, availability='online'),
            data.get('dateTime'))
    event = data.get('AccessControllerEvent')
    if not isinstance(event, dict):
        raise DecodeError("no AccessControllerEvent object")
    if not data.get('dateTime'):
        raise DecodeError("no dateTime")
    major = integer(event.get('majorEventType'))
    minor = integer(event.get('subEventType'))
    if major != MAJOR_EVENT or minor not in MINOR:
        # alarms, operations, exceptions: the device is alive
        return timed(Decoded(FAMILY, key, availability='online',
                state={'last_event': {'major': major, 'minor': minor}}),
            data['dateTime'])
    kind, result = MINOR[minor]
    if kind == 'card':
        value = event.get('cardNo')
    elif kind == 'qr':
        value = event.get('cardNo') or event.get('employeeNoString')
    else:
        value = event.get('employeeNoString') or event.get('employeeNo')
    decoded = Decoded(FAMILY, key, availability='online',
        events=[Event('access', data={
                    'kind': kind,
                    'value': None if value in (None, '') else str(value),
                    'door': (None if event.get('doorNo') is None
                        else str(event['doorNo'])),
                    'id': (None if event.get('serialNo') is None
                        else str(event['serialNo'])),
                    'minor': minor,
                    'verify_mode': event.get('currentVerifyMode'),
                    'device_result': result,
                    'online': False,
                    })])
    decoded = timed(decoded, data['dateTime'])
    if decoded.time is None:
        raise DecodeError("dateTime not understood: %r"
            % str(data['dateTime'])[:40])
    return decoded


class Hikvision(Adapter):
    "An HTTP family: no MQTT topic is its own."
    family = FAMILY
    actions = ()

    def filters(self, root):
        return []

    def owns(self, rest):
        return False

    def decode(self, rest, payload, roots):
        return decode(None, payload)


ADAPTER = Hikvision()
