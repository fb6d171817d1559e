# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""HTTP push of devices: Hikvision ISAPI access events and ZKTeco ADMS
logs, applied like a batch of the MQTT bridge (``ingest``), inline in one
short transaction (the access attempts are decided there by
``community_access``: a few milliseconds, see
``tests/test_access_http.py``); the answer is sent after the commit.

``POST /<database>/community_iot/hikvision/<device key>``: the URL of
the controller's HTTP listening host (``/ISAPI/Event/notification/
httpHosts``). The device is authenticated by its push token (HTTP Basic
password, or ``?token=``; only its SHA-256 is stored on the device),
the JSON is taken from the body or from its ``multipart/form-data`` part
(pictures are not kept) and stored once as a device message keyed on
(device, ``serialNo``, ``dateTime``) so that a retry is a no-op. A
payload that cannot be read is quarantined with its reason and answered
200 (the device must not retry it forever), never 500; a database
conflict is answered 503 and the device sends it again.

``/iclock/cdata``, ``/iclock/getrequest``, ``/iclock/devicecmd``: ZKTeco
terminals (ADMS), whose paths name no database (``[community_iot]
adms_database``) and which present nothing but their serial number: an
active device of family ``zkteco`` with that key. Each ATTLOG line is
stored once (terminal, PIN, time). The protocol has no secret: keep the
terminals on a network of their own.
"""
import datetime as dt
import hashlib
import json
import logging
import time

from werkzeug.wrappers import Response

from trytond import backend, config
from trytond.protocols.wrappers import with_pool, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from .bridge.adapters import DecodeError, Decoded
from .bridge.adapters import hikvision as adapter
from .bridge.adapters import zkteco
from .ingest import Prepared

logger = logging.getLogger(__name__)
SECTION = 'community_iot'
#: the raw bytes kept of a payload that cannot be read
KEEP = 256 * 1024


def _json(body, status=200, headers=None):
    return Response(json.dumps(body), status=status, headers=headers,
        content_type='application/json')


@with_pool
def hikvision(request, pool, device_key):
    try:
        return _hikvision(request, pool, device_key)
    except backend.DatabaseOperationalError:
        logger.warning("hikvision event conflicted", exc_info=True)
        return _json({'statusCode': 503, 'statusString': 'retry'}, 503)


# the pictures of a multipart event; and with its own limit, trytond does
# not try the device's HTTP Basic credentials as a user's login
hikvision.max_request_size = adapter.MAX_SIZE
app.route('/<database_name>/community_iot/hikvision/<path:device_key>',
    methods=['POST'])(hikvision)


def token(request):
    "The push token presented: HTTP Basic password or ``token``."
    auth = request.authorization
    if auth and auth.password:
        return auth.password
    return request.args.get('token')


def prepare(device, content_type, body, received):
    """The ingestion record of a pushed body (see ``ingest.prepare``):
    decoded, or with the reason it could not be."""
    sn = device.serial or device.key
    topic = ('hikvision/' + device.key).encode('utf-8')
    try:
        payload = adapter.event_json(content_type, body)
        data = adapter.load_json(payload)
        key = adapter.dedup_key(sn, data)
        decoded, error = adapter.decode_data(device.key, data), None
    except DecodeError as exception:
        payload = body[:KEEP]
        key = hashlib.sha256(b'hikvision\0' + sn.encode('utf-8') + b'\0'
            + body).hexdigest()
        decoded, error = None, str(exception.args[0] if exception.args
            else exception)
    batch = Prepared()
    batch.append({
            'topic': topic, 'payload': bytes(payload), 'key': key,
            'received': received, 'retain': False,
            'decoded': decoded, 'decode_error': error,
            'topic_device': ('hikvision', device.key),
            })
    return batch


@with_transaction(readonly=False)
def _hikvision(request, pool, device_key):
    Device = pool.get('community.iot.device')
    Message = pool.get('community.iot.message')
    start = time.perf_counter()
    received = dt.datetime.utcnow()
    devices = Device.search([
            ('family', '=', 'hikvision'),
            ('key', '=', device_key),
            ('active', '=', True),
            ], limit=1)
    if not devices or not devices[0].check_push_token(token(request)):
        Transaction().rollback()
        logger.warning("hikvision push refused for %r from %s",
            device_key[:100], request.remote_addr)
        return _json({'statusCode': 401, 'statusString': 'unauthorized'},
            401, headers={'WWW-Authenticate': 'Basic realm="community"'})
    device, = devices
    batch = prepare(device, request.headers.get('Content-Type', ''),
        request.get_data(), received)
    stats = Message.ingest_prepared(batch)
    record, = batch
    logger.info("hikvision %s: %s in %.1f ms", device.key, stats,
        (time.perf_counter() - start) * 1000)
    return _json({'statusCode': 1, 'statusString': 'OK',
            'duplicate': not stats['new'],
            'quarantined': bool(stats['quarantined'])})


# --- ZKTeco ADMS -----------------------------------------------------------

def adms_database():
    """The database of the ZKTeco terminals (``[community_iot]
    adms_database``): their ``/iclock`` paths name none."""
    return config.get(SECTION, 'adms_database', default='')


def _text(body, status=200):
    return Response(body, status=status, content_type='text/plain')


def iclock(request, path):
    """``/iclock/cdata`` (GET: the terminal's options; POST: its logs),
    ``/iclock/getrequest`` (no command yet: ``OK``) and
    ``/iclock/devicecmd`` of a ZKTeco terminal known by its serial number
    (``SN``) as an active device of family ``zkteco``."""
    database = adms_database()
    if not database or path not in {'cdata', 'getrequest', 'devicecmd'}:
        return _text('Not Found', 404)
    try:
        return with_pool(_iclock)(request, database, path)
    except backend.DatabaseOperationalError:
        logger.warning("zkteco push conflicted", exc_info=True)
        return _text('retry', 503)


iclock.max_request_size = zkteco.MAX_LINES * 200
app.route('/iclock/<path>', methods=['GET', 'POST'])(iclock)


def prepare_adms(device, table, body, received):
    """The ingestion records of a terminal's post: one per ATTLOG line
    (keyed on the terminal, the PIN and the time: a repeated upload is a
    no-op), or the whole body of another table."""
    sn = device.key
    topic = ('zkteco/%s/%s' % (sn, table or '')).encode('utf-8')
    batch = Prepared()
    if table == 'ATTLOG':
        try:
            lines = zkteco.attlog(sn, body)
        except DecodeError as exception:
            lines = [(hashlib.sha256(b'zkteco\0' + body).hexdigest(),
                    body[:KEEP], None, str(exception.args[0]))]
    else:
        lines = [(hashlib.sha256(topic + b'\0' + body).hexdigest(),
                body[:KEEP], Decoded(zkteco.FAMILY, sn,
                    availability='online'), None)]
    for key, payload, decoded, error in lines:
        batch.append({
                'topic': topic, 'payload': bytes(payload), 'key': key,
                'received': received, 'retain': False,
                'decoded': decoded, 'decode_error': error,
                'topic_device': (zkteco.FAMILY, sn),
                })
    return batch


@with_transaction(readonly=False)
def _iclock(request, pool, path):
    Device = pool.get('community.iot.device')
    Message = pool.get('community.iot.message')
    sn = request.args.get('SN', '')
    devices = Device.search([
            ('family', '=', zkteco.FAMILY),
            ('key', '=', sn),
            ('active', '=', True),
            ], limit=1) if sn else []
    if not devices:
        Transaction().rollback()
        logger.warning("zkteco terminal %r refused from %s", sn[:50],
            request.remote_addr)
        return _text('Unknown device', 401)
    device, = devices
    if path == 'cdata' and request.method == 'GET':
        return _text(zkteco.options(sn))
    if path != 'cdata' or request.method != 'POST':
        return _text('OK')
    batch = prepare_adms(device, request.args.get('table'),
        request.get_data(), dt.datetime.utcnow())
    Message.ingest_prepared(batch)
    return _text('OK: %d' % len(batch))
