# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Access controllers speaking our generic MQTT JSON (readers, keypads and
QR scanners scripted on a gateway, or a vendor protocol translated by
one).

Topics below the root (default ``community/access``):

- ``<key>/attempt``: a credential presented, the device asks for the
  decision: ``{"door": "1", "kind": "card"|"pin"|"qr"|"face", "value":
  "A1B2C3D4", "time": "2026-12-02T09:00:00+08:00", "id": "8812"}``
  (``door``: the door's name when the controller has several; ``time``
  ISO 8601 or epoch seconds; ``id``: the device's own attempt number, so
  that a retry is the same message and stored once);
- ``<key>/reply``: the answer to a command, ``{"command_id": "12",
  "result": "opened"|"ok"|"refused"|"expired"}``, or ``"result":
  "failed"`` with the device's ``error`` (a person it could not store);
- ``<key>/availability``: ``online``/``offline``;
- ``<key>/command``: ours: ``{"action": "open", "command_id": "12",
  "expires": "2026-12-02T01:00:10Z"}``; a device never executes a command
  after its ``expires``. The controller's own list (it decides offline):
  ``{"action": "person_upsert", "command_id": "13", "person": {"person":
  "A1B2C3D4", "kind": "card", "name": "张伟", "valid_from":
  "2026-12-02T08:00:00+08:00", "valid_to": null}}`` and ``{"action":
  "person_delete", "command_id": "14", "person": {"person": "A1B2C3D4",
  "kind": "card"}}`` (the person id is opaque: the card's UID or the
  random id of a face, never an ID or phone number).
"""
import datetime as dt
import json

from .base import Adapter, DecodeError, Decoded, Event, load_json, text, timed

FAMILY = 'access'
KINDS = ('card', 'pin', 'qr', 'face')
#: results of a command reply that confirm it, and that fail it
DONE = ('ok', 'opened', 'done')
FAILED = ('failed', 'error')


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    key, _, sub = rest.rpartition('/')
    if not key:
        raise DecodeError("not an access controller topic")
    if sub == 'availability':
        raw = text(payload).strip().lower()
        if raw not in ('online', 'offline'):
            raise DecodeError("unknown availability %r" % raw[:50])
        return Decoded(FAMILY, key, availability=raw)
    if sub == 'command':
        return Decoded(FAMILY, key)
    data = load_json(payload)
    if not isinstance(data, dict):
        raise DecodeError("payload is not an object")
    if sub == 'attempt':
        kind = data.get('kind')
        if kind not in KINDS:
            raise DecodeError("unknown credential kind %r" % (kind,))
        value = data.get('value')
        if not isinstance(value, (str, int)) or isinstance(value, bool) \
                or str(value).strip() == '':
            raise DecodeError("attempt without a value")
        door = data.get('door')
        return timed(Decoded(FAMILY, key, events=[Event('access', data={
                            'kind': kind, 'value': str(value).strip(),
                            'door': None if door is None else str(door),
                            'id': None if data.get('id') is None
                            else str(data['id']),
                            'online': True,
                            })]),
            data.get('time'))
    if sub == 'reply':
        command_id = data.get('command_id')
        if command_id is None:
            raise DecodeError("reply without command_id")
        result = str(data.get('result') or '').lower()
        if result in FAILED:
            return Decoded(FAMILY, key, reply_to=str(command_id),
                reply_error=str(data.get('error') or result)[:250],
                state={'last_reply': {'command_id': str(command_id),
                        'result': result}})
        return Decoded(FAMILY, key,
            reply_to=str(command_id) if result in DONE else None,
            state={'last_reply': {'command_id': str(command_id),
                    'result': result}})
    raise DecodeError("unknown access sub-topic %r" % sub)


class Access(Adapter):
    family = FAMILY
    default_root = 'community/access'
    actions = ('open', 'person_upsert', 'person_delete')

    def device_key(self, rest):
        return rest.rpartition('/')[0] or None

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        message = {'action': action, 'command_id': str(command_id)}
        if action.startswith('person_'):
            message['person'] = data or {}
        if expires is not None:
            message['expires'] = expires.replace(
                tzinfo=dt.timezone.utc).isoformat().replace('+00:00', 'Z')
        return prefix + key + '/command', json.dumps(message)


ADAPTER = Access()
