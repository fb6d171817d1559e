# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The notification endpoint of the payment providers.

``POST /<database>/community_payment/notify/<merchant id>``: the URL each
merchant account gives its provider (``notify_url``). The notification is
verified with the merchant's provider key (and, for WeChat Pay, its
resource decrypted with the APIv3 key) before anything is read from it;
a forged, malformed or unknown one is answered with the provider's failure
answer and logged (without its body), nothing booked. A payment confirmed
twice is booked once (``community.payment.online.confirm``); when the
database keeps refusing the request (locks), the answer is a failure and
the provider sends the notification again later.
"""
import logging

from werkzeug.wrappers import Response

from trytond import backend
from trytond.exceptions import UserError
from trytond.protocols.wrappers import abort, with_pool, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from .providers import get_provider

logger = logging.getLogger(__name__)


def _answer(provider, ok, message=''):
    status, body, content_type = provider.answer(ok, message)
    return Response(body, status=status, content_type=content_type)


@app.route('/<database_name>/community_payment/notify/<int:merchant_id>',
    methods=['POST'])
@with_pool
def notify(request, pool, merchant_id):
    try:
        return _notify(request, pool, merchant_id)
    except backend.DatabaseOperationalError:
        logger.warning("payment notification conflicted", exc_info=True)
        return Response('{"code":"FAIL","message":"retry"}', status=503,
            content_type='application/json')


@with_transaction(readonly=False)
def _notify(request, pool, merchant_id):
    Merchant = pool.get('community.payment.merchant')
    Payment = pool.get('community.payment.online')
    merchants = Merchant.search([('id', '=', merchant_id)], limit=1)
    if not merchants:
        abort(404)
    merchant, = merchants
    provider = get_provider(merchant)
    try:
        Payment.receive(merchant, request.headers, request.get_data())
    except (ValueError, KeyError, UserError) as exception:
        Transaction().rollback()
        logger.warning("refused %s notification for merchant %s from %s: %s",
            merchant.provider, merchant.id, request.remote_addr, exception)
        return _answer(provider, False)
    return _answer(provider, True)
