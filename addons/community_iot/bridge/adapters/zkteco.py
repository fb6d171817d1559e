# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""ZKTeco terminals pushing over HTTP (ADMS, the "push SDK").

Not an MQTT family: the terminal talks to ``/iclock/...`` on the server
(``routes``). It announces itself with ``GET /iclock/cdata?SN=…&
options=all`` and is answered its options (:func:`options`), then posts
its logs: ``POST /iclock/cdata?SN=…&table=ATTLOG&Stamp=…``, one record a
line, tab-separated: ``PIN, YYYY-MM-DD HH:MM:SS, status, verify, work
code, …`` with the terminal's local time without zone. ``PIN`` is the
person's number on the terminal (our opaque person id, never an ID
number). Verify modes read here: 15 face, 1 fingerprint, 0 password, 2
/ 4 card [UNVERIFIED: firmwares differ]; only a face names a credential
(its person id), the others are kept as the person's passage.
"""
import hashlib

from .base import Adapter, DecodeError, Decoded, Event, text, timed

FAMILY = 'zkteco'
#: verify mode → credential kind (only a face is a credential we hold by
#: the terminal's person number)
VERIFY = {15: 'face', 1: 'fingerprint', 0: 'password', 2: 'card', 4: 'card'}
MAX_LINES = 5000


def options(sn):
    """The answer to a terminal's ``options=all``: send its access logs
    in real time, every table from now on."""
    return '\n'.join([
            'GET OPTION FROM: %s' % sn,
            'ATTLOGStamp=None', 'OPERLOGStamp=9999', 'ATTPHOTOStamp=None',
            'ErrorDelay=30', 'Delay=10', 'TransTimes=00:00;14:05',
            'TransInterval=1', 'TransFlag=TransData AttLog', 'Realtime=1',
            'Encrypt=None', ''])


def attlog(sn, body):
    """The records of an ATTLOG body: a list of (de-duplication key, raw
    line bytes, Decoded or None, error or None). A line that cannot be
    read is returned with its reason (quarantined alone)."""
    lines = [line for line in body.split(b'\n') if line.strip()]
    if len(lines) > MAX_LINES:
        raise DecodeError("too many lines (%d)" % len(lines))
    records = []
    for line in lines:
        line = line.rstrip(b'\r')
        key = hashlib.sha256(b'zkteco\0' + sn.encode('utf-8') + b'\0'
            + b'\t'.join(line.split(b'\t')[:2])).hexdigest()
        try:
            records.append((key, line, decode_line(sn, line), None))
        except DecodeError as exception:
            records.append((key, line, None, str(exception.args[0])))
    return records


def decode_line(sn, line):
    "One ATTLOG line of terminal ``sn`` into a Decoded."
    fields = text(line).split('\t')
    if len(fields) < 4:
        raise DecodeError("ATTLOG line with %d fields" % len(fields))
    pin, time, status, verify = (f.strip() for f in fields[:4])
    if not pin:
        raise DecodeError("ATTLOG line without PIN")
    try:
        verify = int(verify)
    except ValueError:
        raise DecodeError("verify mode %r" % verify[:20]) from None
    kind = VERIFY.get(verify, 'other')
    decoded = timed(Decoded(FAMILY, sn, availability='online',
            events=[Event('access', data={
                        'kind': kind if kind == 'face' else 'person',
                        'value': pin, 'verify': verify,
                        'verify_kind': kind, 'status': status,
                        'door': None, 'id': None,
                        'device_result': 'allow', 'online': False,
                        })]),
        time.replace(' ', 'T'))
    if decoded.time is None:
        raise DecodeError("ATTLOG time %r" % time[:30])
    return decoded


class ZKTeco(Adapter):
    "An HTTP family: no MQTT topic is its own."
    family = FAMILY
    actions = ()

    def filters(self, root):
        return []

    def owns(self, rest):
        return False

    def decode(self, rest, payload, roots):
        raise DecodeError("not an MQTT family")


ADAPTER = ZKTeco()
