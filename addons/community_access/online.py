# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Online decisions over HTTP: a reader (or its gateway) that scanned a
resident's QR code asks whether to open, and opens on ``allow``.

``POST /<database>/community_access/decide/<device key>`` with the JSON
``{"code": "…", "door": "东门", "kind": "qr", "id": "8812"}``: ``door``
the name of one of the device's doors (may be left out when it controls
only one), ``kind`` ``qr`` unless told (``card``, ``pin`` and ``face``
are decided the same way), ``id`` the reader's own request number
(optional): a retry of the same request within RETRY_WINDOW gets the
same decision, not a second one (which anti-passback would refuse).
The device is authenticated by its push token (the one of
``community.iot.device``, only its SHA-256 stored): ``Authorization:
Bearer <token>``, or HTTP Basic with the token as password (never tried
as a Tryton login). The answer, in one short transaction on the server's
clock, is ``{"result": "allow"|"deny", "reason": …, "open": bool,
"decision": id}`` with the person's display name when allowed; every
request is recorded as a decision (``Door.decide``). A database conflict
is answered 503 (ask again), an unknown device or wrong token 401, an
unknown door or a malformed request 400, never 500.
"""
import datetime as dt
import json
import logging
import time

from werkzeug.wrappers import Response

from trytond import backend
from trytond.protocols.wrappers import with_pool, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from .credential import KINDS

logger = logging.getLogger(__name__)
#: a decision request is a few hundred bytes
MAX_SIZE = 16 * 1024
#: how long a retried request (same ``id``) gets the same decision
RETRY_WINDOW = dt.timedelta(minutes=2)
KIND_VALUES = {k for k, _ in KINDS}


def _json(body, status=200, headers=None):
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
        headers=headers, content_type='application/json')
    response.headers['Cache-Control'] = 'no-store'
    return response


def presented_token(request):
    "The device's token: Bearer, HTTP Basic password or ``token``."
    header = request.headers.get('Authorization', '')
    scheme, _, value = header.partition(' ')
    if scheme.lower() == 'bearer' and value.strip():
        return value.strip()
    auth = request.authorization
    if auth and getattr(auth, 'password', None):
        return auth.password
    return request.args.get('token')


@with_pool
def decide(request, pool, device_key):
    try:
        return _decide(request, pool, device_key)
    except backend.DatabaseOperationalError:
        logger.warning("online decision conflicted", exc_info=True)
        return _json({'error': 'retry'}, 503)


# with its own limit, trytond does not try HTTP Basic as a user's login
decide.max_request_size = MAX_SIZE
app.route('/<database_name>/community_access/decide/<path:device_key>',
    methods=['POST'])(decide)


def parse(request):
    "(kind, code, door name) of the request's JSON, else None."
    try:
        data = json.loads(request.get_data(as_text=True) or 'null')
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get('kind') or 'qr'
    code = data.get('code')
    door = data.get('door')
    request_id = data.get('id')
    if isinstance(request_id, int) and not isinstance(request_id, bool):
        request_id = str(request_id)
    if (kind not in KIND_VALUES or not isinstance(code, str)
            or not code or len(code) > 256
            or (door is not None and not isinstance(door, str))
            or (request_id is not None and (
                    not isinstance(request_id, str)
                    or not 0 < len(request_id) <= 64))):
        return None
    return kind, code, door, request_id


@with_transaction(readonly=False)
def _decide(request, pool, device_key):
    Device = pool.get('community.iot.device')
    Door = pool.get('community.access.door')
    Decision = pool.get('community.access.decision')
    start = time.perf_counter()
    token = presented_token(request)
    devices = [d for d in Device.search([
                ('key', '=', device_key),
                ('active', '=', True),
                ], limit=10)
        if d.check_push_token(token)]
    if not devices:
        Transaction().rollback()
        logger.warning("online decision refused for %r from %s",
            device_key[:100], request.remote_addr)
        return _json({'error': 'unauthorized'}, 401,
            headers={'WWW-Authenticate': 'Bearer realm="community"'})
    device, = devices[:1]
    parsed = parse(request)
    if parsed is None:
        return _json({'error': 'bad request'}, 400)
    kind, code, door_name, request_id = parsed
    with Transaction().set_context(active_test=False):
        doors = Door.search([('device', '=', device.id)])
    if door_name is not None:
        doors = [d for d in doors if d.name == door_name]
    if len(doors) != 1:
        return _json({'error': 'unknown door'}, 400)
    door, = doors
    decision = None
    if request_id:
        # a retry (the answer lost on the way): the same decision, not a
        # second one that anti-passback would refuse
        decisions = Decision.search([
                ('door', '=', door.id),
                ('request', '=', request_id),
                ('time', '>=', dt.datetime.utcnow() - RETRY_WINDOW),
                ], order=[('id', 'DESC')], limit=1)
        decision = decisions[0] if decisions else None
    if decision is None:
        decision = Door.decide(door, kind, code)
        if request_id:
            Decision.write([decision], {'request': request_id})
    answer = {
        'result': decision.result,
        'reason': decision.reason,
        'open': decision.result == 'allow',
        'decision': decision.id,
        }
    if decision.result == 'allow' and decision.party:
        answer['name'] = decision.party.name
    logger.info("online decision %s at %s: %s %s in %.1f ms", kind,
        door.id, decision.result, decision.reason,
        (time.perf_counter() - start) * 1000)
    return _json(answer)
