# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""德安-style face terminals speaking MQTT (the protocol of the reference,
services-security.md §2.2).

Topics below the root (default ``mqtt/face``), ``<ID>`` the terminal's
``facesluiceId`` (the device key):

- ``<ID>``: ours, the commands: ``{"messageId": "12", "operator":
  "EditPerson", "info": {"facesluiceId": "<ID>", "customId": "<opaque
  person id>", "name": "张伟", "personType": 0, "cardValidBegin":
  "2026-12-02 08:00:00", "cardValidEnd": "2099-12-31 23:59:59",
  "RFIDCard": "A1B2C3D4"}}`` (times in the terminal's local time;
  ``RFIDCard`` for a card only) and ``DelPerson`` with ``customId``;
  never an ID or phone number, no picture: a face is enrolled at the
  terminal and stays in it;
- ``<ID>/Ack``: the answer, ``{"messageId": "12", "operator":
  "EditPerson-Ack", "info": {"customId": "…", "result": "ok"}}``, or
  ``"result": "fail"`` with the reason in ``detail``;
- ``<ID>/Rec``: a recognition the terminal decided itself, ``{"operator":
  "RecPush", "info": {"customId": "…", "RecordID": "…", "time": "…",
  "similarity1": "92.5", "pic": "data:…"}}`` (the picture is not kept);
- ``heartbeat``: ``{"operator": "HeartBeat", "info": {"facesluiceId":
  "<ID>", "time": "2026-12-02 09:00:00"}}``: the terminal is online.
"""
import datetime as dt
import json

from .base import Adapter, DecodeError, Decoded, Event, load_json, timed

FAMILY = 'dean'
#: the validity of a person without an end on the terminal
NO_END = '2099-12-31 23:59:59'
NO_START = '2000-01-01 00:00:00'


def _info(data):
    info = data.get('info') if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise DecodeError("payload without info")
    return info


def local(value, default):
    """An ISO 8601 time (with the compound's offset) as the terminal's
    local wall time ``YYYY-MM-DD HH:MM:SS``."""
    if not value:
        return default
    return dt.datetime.fromisoformat(value).strftime('%Y-%m-%d %H:%M:%S')


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    if rest == 'heartbeat':
        info = _info(load_json(payload))
        key = info.get('facesluiceId')
        if not key:
            raise DecodeError("heartbeat without facesluiceId")
        return timed(Decoded(FAMILY, str(key), availability='online'),
            info.get('time'))
    key, _, sub = rest.partition('/')
    if not key:
        raise DecodeError("not a face terminal topic")
    if not sub:
        # our own commands
        return Decoded(FAMILY, key)
    data = load_json(payload)
    info = _info(data)
    if sub == 'Ack':
        message_id = data.get('messageId')
        if message_id in (None, ''):
            raise DecodeError("Ack without messageId")
        result = str(info.get('result') or '').lower()
        error = None
        if result != 'ok':
            error = str(info.get('detail') or result or 'failed')[:250]
        return Decoded(FAMILY, key, reply_to=str(message_id),
            reply_error=error,
            state={'last_reply': {'command_id': str(message_id),
                    'operator': str(data.get('operator') or ''),
                    'result': result}})
    if sub == 'Rec':
        person = info.get('customId')
        if person in (None, ''):
            raise DecodeError("recognition without customId")
        return timed(Decoded(FAMILY, key, events=[Event('access', data={
                            'kind': 'face', 'value': str(person).strip(),
                            'door': None,
                            'id': None if info.get('RecordID') is None
                            else str(info['RecordID']),
                            'similarity': str(info.get('similarity1')
                                or ''),
                            'online': False,
                            })]),
            info.get('time'))
    raise DecodeError("unknown face terminal sub-topic %r" % sub)


class Dean(Adapter):
    family = FAMILY
    default_root = 'mqtt/face'
    actions = ('person_upsert', 'person_delete')

    def device_key(self, rest):
        if rest == 'heartbeat':
            return None
        return rest.partition('/')[0] or None

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def command(self, prefix, key, action, command_id, expires=None,
            data=None):
        data = data or {}
        person = data.get('person')
        if not person:
            raise ValueError("a person command without a person")
        info = {'facesluiceId': key, 'customId': person}
        if action == 'person_upsert':
            info.update({
                    'name': data.get('name') or '',
                    'personType': 0,
                    'cardValidBegin': local(data.get('valid_from'),
                        NO_START),
                    'cardValidEnd': local(data.get('valid_to'), NO_END),
                    })
            if data.get('kind') == 'card':
                info['RFIDCard'] = person
            operator = 'EditPerson'
        elif action == 'person_delete':
            operator = 'DelPerson'
        else:
            raise ValueError("no command %r for family %r" % (
                    action, self.family))
        return prefix + key, json.dumps({'messageId': str(command_id),
                'operator': operator, 'info': info}, ensure_ascii=False)


ADAPTER = Dean()
