# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Bills and payments: the bill list and its details, online payments
(bill, everything open of a unit, prepayment), their page and receipt,
and the notifications of the payment providers."""
import ipaddress
import json
import logging
import re
import urllib.parse
import uuid
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps

from sql import For, Null
from werkzeug.wrappers import Response

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.protocols.wrappers import abort, with_pool, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from ..payment_provider import (
    configured_provider_name, get_provider, sandbox_enabled)
from .account import unverified
from .helpers import parse_decimal
from .i18n import N_
from .nav import register_nav
from .web import PREFIX, environment, parse_ref, rollback, route, sign_ref

logger = logging.getLogger(__name__)

register_nav('bills', N_("Bills"), 'bills', icon='bill', order=10)


def bills_domain(ctx):
    """Bills the resident sees: owners and household members those of their
    units not addressed to a tenant; tenants only those addressed to them
    (the fees their lease assigns to them)."""
    def compute():
        family_units = [u.id for u, role in ctx.scope.values()
            if role in {'owner', 'member'}]
        tenant_units = [u.id for u, role in ctx.scope.values()
            if role == 'tenant']
        tenant_parties = list(active_tenants(ctx, family_units)
            - {ctx.party.id})
        clauses = ['OR']
        if family_units:
            clauses.append([
                    ('unit', 'in', family_units),
                    ('party', 'not in', tenant_parties),
                    ])
        if tenant_units:
            clauses.append([
                    ('unit', 'in', tenant_units),
                    ('party', '=', ctx.party.id),
                    ])
        if len(clauses) == 1:
            return [('id', '=', -1)]
        return [('state', '!=', 'cancelled'), clauses]
    return ctx.cached('bills_domain', compute)


def active_tenants(ctx, unit_ids):
    "The parties of the active tenant residencies of ``unit_ids`` (SQL)."
    if not unit_ids:
        return set()
    Residency = ctx.pool.get('community.residency')
    Date = ctx.pool.get('ir.date')
    residency = Residency.__table__()
    today = Transaction().context.get('date') or Date.today()
    cursor = Transaction().connection.cursor()
    cursor.execute(*residency.select(residency.party,
            where=residency.unit.in_(list(unit_ids))
            & (residency.role == 'tenant')
            & (residency.start_date <= today)
            & ((residency.end_date == Null)
                | (residency.end_date >= today))))
    return {party for party, in cursor}


def paid_payments(ctx, bills):
    Payment = ctx.pool.get('community.portal.payment')
    payments = Payment.search([
            ('bill', 'in', [str(b) for b in bills]),
            ('state', '=', 'paid'),
            ])
    result = {}
    for payment in payments:
        result.setdefault(payment.bill.id, []).append(payment)
    return result


def bill_is_paid(bill, payments):
    if bill.paid:
        return True
    paid = sum((p.amount for p in payments.get(bill.id, [])), Decimal(0))
    return paid >= bill.total_amount


def get_bill(ctx, ref):
    "The bill of a signed reference the resident sees, else 404."
    if not ctx.scope:
        abort(404)
    bill_id = parse_ref('bill', ref)
    return ctx.get_or_404('community.bill',
        [('id', '=', bill_id)] + bills_domain(ctx))


def payable(ctx, unit_id, bill=None):
    """The resident's payable items of a unit in scope (bills and late
    fees, ``community.portal.payment.payable_items``), once per request."""
    def compute():
        Payment = ctx.pool.get('community.portal.payment')
        unit, _ = ctx.scope[unit_id]
        return Payment.payable_items(unit, ctx.party, bill=bill)
    return ctx.cached(('payable', unit_id, bill.id if bill else None),
        compute)


def unavailable_text():
    return gettext('community_portal.msg_portal_payment_unavailable')


ONLINE_PAYMENT = N_("Online payment")


def payment_unavailable(ctx, title=ONLINE_PAYMENT):
    "The answer to a payment started while no provider is configured."
    return ctx.render('unavailable.html', title=ctx._(title), status=409,
        text=unavailable_text())


#: the online providers of community_payment, in the order offered
ONLINE_PROVIDERS = ('wechat', 'alipay')
METHOD_LABELS = {
    'wechat': N_("WeChat Pay"),
    'alipay': N_("Alipay"),
    }


def payment_methods(ctx, compound):
    """The payment methods offered to the residents of ``compound``, in
    order: WeChat Pay and Alipay when the compound (or its company) has an
    active merchant account (community_payment), then the sandbox when the
    configuration enables it (never in production by default). Once per
    request."""
    def compute():
        Merchant = ctx.pool.get('community.payment.merchant')
        methods = [p for p in ONLINE_PROVIDERS
            if Merchant.for_compound(compound, p)]
        sandbox = configured_provider_name()
        if sandbox and sandbox not in methods:
            methods.append(sandbox)
        return methods
    return ctx.cached(('payment_methods', compound.id), compute)


def method_label(ctx, method):
    "The translated name of a payment method."
    if method in METHOD_LABELS:
        return ctx._(METHOD_LABELS[method])
    provider = get_provider(method)
    return ctx._(provider.label) if provider else method


def method_choices(ctx, methods):
    "(method, label) of ``methods`` for the pay buttons."
    return [(m, method_label(ctx, m)) for m in methods]


#: a phone's browser, by its User-Agent
MOBILE = re.compile(r'Mobile|Android|iPhone|iPad')


def client_address(request):
    """The IP address of the resident's phone, as WeChat Pay H5 asks it
    (``payer_client_ip``), or None when unknown: the WSGI server's peer,
    which trytond replaces by the last X-Forwarded-For address when it
    runs behind a reverse proxy (``[web] num_proxies``, werkzeug's
    ProxyFix); a socket without an IP address gives none."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ''))
    except ValueError:
        return None


def payment_channel(ctx, method, token):
    """How an order of ``method`` opened from this browser is paid, as
    (channel, values of ``community.payment.online.start``): inside
    WeChat, WeChat Pay JSAPI for the account's openid (known when the
    resident logged in through WeChat); WeChat Pay in a phone's browser
    outside WeChat, H5 for the phone's IP address (its h5_url opens
    WeChat, which comes back to the payment page, see
    ``wechat_h5_link``), the QR code when the address is not known;
    Alipay in a phone's browser, its wap pay coming back to the payment
    page ``token``; else the QR code (WeChat Native, Alipay
    precreate)."""
    agent = ctx.request.user_agent.string or ''
    in_wechat = 'MicroMessenger' in agent
    if method == 'wechat' and in_wechat:
        openid = getattr(ctx.user, 'wechat_openid', None)
        if openid:
            return 'jsapi', {'openid': openid}
    if method == 'wechat' and not in_wechat and MOBILE.search(agent):
        client_ip = client_address(ctx.request)
        if client_ip:
            return 'mobile', {'client_ip': client_ip}
    if method == 'alipay' and not in_wechat and MOBILE.search(agent):
        return 'mobile', {
            'return_url': '%s/payments/%s' % (ctx.full_base, token)}
    return 'qr', {}


def wechat_h5_link(ctx, h5_url, token):
    """WeChat Pay's h5_url with the page WeChat comes back to once paid
    (``redirect_url``, URL-encoded, as WeChat Pay asks): the payment page
    ``token``, which turns into the receipt."""
    return '%s&redirect_url=%s' % (h5_url, urllib.parse.quote(
            '%s/payments/%s' % (ctx.full_base, token), safe=''))


def start_payment(ctx, unit, kind, items, bill=None, amount=None):
    """Open a payment of ``items`` (or a prepayment of ``amount``) by the
    method the resident chose (``method`` of the form, else the first
    offered) and go to its page. WeChat Pay and Alipay open an order at
    the provider through community_payment (its notification books the
    money); the sandbox a portal payment of its own."""
    methods = payment_methods(ctx, unit.compound)
    method = ctx.request.form.get('method') or (
        methods[0] if methods else None)
    if method not in methods:
        return payment_unavailable(ctx)
    if amount is None:
        amount = sum((i['amount'] for i in items), Decimal(0))
    online = None
    token = uuid.uuid4().hex
    if method in ONLINE_PROVIDERS:
        OnlinePayment = ctx.pool.get('community.payment.online')
        channel, values = payment_channel(ctx, method, token)
        try:
            online = OnlinePayment.start(unit.compound, unit, ctx.party,
                method, items=items, amount=amount, channel=channel,
                **values)
        except UserError as exception:
            rollback()
            online, refusal = None, exception.message
            if method == 'wechat' and channel == 'mobile':
                # WeChat Pay refused H5 (the merchant may not have the
                # product): the QR code, which any merchant may show
                try:
                    online = OnlinePayment.start(unit.compound, unit,
                        ctx.party, method, items=items, amount=amount,
                        channel='qr')
                except UserError as second:
                    rollback()
                    refusal = second.message
            if online is None:
                return ctx.render('unavailable.html',
                    title=ctx._(ONLINE_PAYMENT), status=502, text=refusal)
    Payment = ctx.pool.get('community.portal.payment')
    payment, = Payment.create([{
                'token': token,
                'web_user': ctx.user.id, 'party': ctx.party.id,
                'compound': unit.compound.id, 'unit': unit.id,
                'bill': str(bill) if bill else None, 'kind': kind,
                'amount': amount, 'provider': method,
                'online': online.id if online else None,
                'lines': [('create', [{
                                'bill': i['bill'],
                                'late_fee': i.get('late_fee'),
                                'amount': i['amount']} for i in items])],
                }])
    return ctx.redirect('/payments/%s' % payment.token)


@route('/bills', service='bills')
def bills(ctx):
    if not ctx.scope:
        return unverified(ctx)
    Bill = ctx.pool.get('community.bill')
    Payment = ctx.pool.get('community.portal.payment')
    LateFee = ctx.pool.get('community.late_fee')
    # the ids of every bill the resident sees, then set-based reads: the
    # amounts of the bills (one query) and their open late fees; what each
    # unit owes comes from them (as payable_items: the posted bills with
    # something left to pay and the open late fees), not from reading each
    # unit's open items again
    all_ids = [b.id for b in Bill.search(bills_domain(ctx))]
    values = Payment.bill_list(all_ids)
    fees = {}
    for fee in LateFee.search([('bill', 'in', all_ids)]) if all_ids else []:
        if fee.amount_to_pay > 0:
            fees[fee.bill.id] = fees.get(fee.bill.id, Decimal(0)) + (
                fee.amount_to_pay)
    codes = ctx.unit_codes
    totals = {}
    for id_ in all_ids:
        v = values[id_]
        total, late = totals.get(v['unit'], (Decimal(0), Decimal(0)))
        late_fees = fees.get(id_, Decimal(0))
        totals[v['unit']] = (
            total + max(v['amount_to_pay'], Decimal(0)) + late_fees,
            late + late_fees)
    owed = [{
            'ref': sign_ref('unit', u_id), 'unit': codes[u_id],
            'total': totals[u_id][0], 'late': totals[u_id][1],
            'methods': method_choices(ctx, payment_methods(
                    ctx, ctx.scope[u_id][0].compound)),
            } for u_id in sorted(ctx.scope, key=codes.get)
        if totals.get(u_id, (0,))[0] > 0]
    open_, paid = [], []
    for id_ in all_ids[:200]:
        v = dict(values[id_])
        v['late_fees'] = fees.get(id_, Decimal(0))
        v['ref'] = sign_ref('bill', id_)
        v['unit_code'] = codes.get(v['unit'], '')
        (paid if v['paid'] and not v['late_fees'] else open_).append(v)
    return ctx.render('bills.html', open_bills=open_, paid_bills=paid,
        owed=owed, can_pay=any(payment_methods(ctx, c)
            for c in ctx.compounds),
        unavailable=unavailable_text())


@route('/bills/<ref>')
def bill_detail(ctx, ref):
    bill = get_bill(ctx, ref)
    payments = paid_payments(ctx, [bill])
    items = payable(ctx, bill.unit.id, bill=bill)
    fees = [i for i in items if i.get('late_fee')]
    LateFee = ctx.pool.get('community.late_fee')
    late_fees = list(zip(fees, LateFee.browse([i['late_fee'] for i in fees])))
    return ctx.render('bill.html', bill=bill, ref=ref, late_fees=late_fees,
        is_paid=bill_is_paid(bill, payments) and not fees,
        payments=payments.get(bill.id, []), items=items,
        amount=sum((i['amount'] for i in items), Decimal(0)),
        methods=method_choices(ctx, payment_methods(ctx, bill.compound)),
        unavailable=unavailable_text())


@route('/bills/<ref>/pay', methods=('POST',), readonly=False)
def bill_pay(ctx, ref):
    "Pay what is open of a bill and its late fees."
    bill = get_bill(ctx, ref)
    items = payable(ctx, bill.unit.id, bill=bill)
    if not items:
        return ctx.redirect('/bills/%s' % ref)
    return start_payment(ctx, bill.unit, 'bill', items, bill=bill)


@route('/units/<ref>/pay', methods=('POST',), readonly=False)
def unit_pay(ctx, ref):
    "Pay everything the resident may pay of a unit: bills and late fees."
    unit_id = parse_ref('unit', ref)
    if unit_id not in ctx.scope:
        abort(404)
    items = payable(ctx, unit_id)
    if not items:
        return ctx.redirect('/bills')
    unit, _ = ctx.scope[unit_id]
    return start_payment(ctx, unit, 'all', items)


@route('/prepay', methods=('GET', 'POST'), readonly=False,
    service='bills')
def prepay(ctx):
    if not ctx.scope:
        return unverified(ctx)
    error = None
    methods = []
    for compound in ctx.compounds:
        methods += [m for m in payment_methods(ctx, compound)
            if m not in methods]
    if not methods:
        if ctx.request.method == 'POST':
            return payment_unavailable(ctx)
        return ctx.render('unavailable.html', title=ctx._("Prepay"),
            text=unavailable_text())
    if ctx.request.method == 'POST':
        unit_id = parse_ref('unit', ctx.request.form.get('unit', ''))
        if unit_id not in ctx.scope:
            abort(404)
        # plain numbers only: NaN, Infinity, exponents and signs refused
        amount = parse_decimal(ctx.request.form.get('amount'))
        if amount is not None:
            amount = amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)
        if amount is None or amount <= 0 or amount > 100000:
            error = ctx._("Enter an amount between 0.01 and 100000.")
        else:
            unit, _ = ctx.scope[unit_id]
            return start_payment(ctx, unit, 'prepayment', [], amount=amount)
    return ctx.render('prepay.html', error=error,
        methods=method_choices(ctx, methods),
        units=[(sign_ref('unit', u.id), u.code)
            for u, _ in ctx.scope.values()],
        status=400 if error else 200)


def own_payment(ctx, token):
    "The resident's own portal payment ``token``, else 404."
    return ctx.get_or_404('community.portal.payment', [
            ('token', '=', token),
            ('web_user', '=', ctx.user.id),
            ])


def payment_state(payment):
    """pending, paid or closed (the order expired or was closed at its
    provider: nothing more can be paid on it)."""
    if payment.state == 'paid':
        return 'paid'
    if payment.state == 'failed' or (payment.online
            and payment.online.state in {'closed', 'failed'}):
        return 'closed'
    return 'pending'


@route('/payments/<token>')
def payment_page(ctx, token):
    payment = own_payment(ctx, token)
    if payment.state == 'paid':
        return ctx.render('payment_paid.html', payment=payment,
            **receipt_values(ctx, payment))
    jsapi = open_link = None
    wechat_h5 = False
    if payment.online:
        qr_text = payment.online.qr_code
        open_link = payment.online.pay_url
        if open_link and payment.provider == 'wechat':
            # WeChat Pay H5: no QR, a link that opens WeChat
            wechat_h5 = True
            open_link = wechat_h5_link(ctx, open_link, token)
        if payment_state(payment) == 'pending':
            jsapi = payment.online.jsapi_parameters()
    else:
        provider = get_provider(payment.provider)
        if provider is None:
            # its provider is no longer configured (e.g. the sandbox is off)
            return ctx.render('unavailable.html',
                title=ctx._("Scan to pay"), text=unavailable_text())
        qr_text = provider.qr_text(payment, ctx.full_base)
    if qr_text and qr_text.startswith(('http://', 'https://')):
        # a link the phone can open: the sandbox wallet, Alipay's page;
        # not WeChat's weixin:// (only scanned by WeChat)
        open_link = open_link or qr_text
    return ctx.render('payment.html', payment=payment, token=token,
        qr_text=qr_text, state=payment_state(payment),
        method=method_label(ctx, payment.provider), open_link=open_link,
        wechat_h5=wechat_h5, jsapi=json.dumps(jsapi) if jsapi else None)


@route('/payments/<token>/status')
def payment_status(ctx, token):
    """The state of the resident's own payment as JSON, polled by its QR
    page: ``{"state": "pending" | "paid" | "closed"}``, and once paid
    ``receipt``: the HTML of the receipt the page turns into."""
    payment = own_payment(ctx, token)
    state = payment_state(payment)
    data = {'state': state}
    if state == 'paid':
        values = receipt_values(ctx, payment)
        data['receipt'] = environment(ctx.lang).get_template(
            'payment_done.html').render(ctx=ctx, base=ctx.base, lang=ctx.lang,
            payment=payment, **values)
        data['receipt_number'] = values['receipt_number']
    return ctx.response(json.dumps(data, ensure_ascii=False),
        content_type='application/json; charset=utf-8')


def receipt_values(ctx, payment):
    "What the receipt of a paid portal payment shows."
    settlement = payment.settlement
    receipt_number = payment.token[:16].upper()
    if settlement and getattr(settlement, 'receipt_number', None):
        receipt_number = settlement.receipt_number
    return {
        'unit': payment.unit, 'receipt_number': receipt_number,
        'settlement': settlement,
        'kind': ctx.selection('community.portal.payment', 'kind').get(
            payment.kind, payment.kind),
        'method': method_label(ctx, payment.provider),
        }


@route('/receipts/<token>')
def receipt(ctx, token):
    if not ctx.scope:
        abort(404)
    payment = ctx.get_or_404('community.portal.payment', [
            ('receipt_token', '=', token),
            ('state', '=', 'paid'),
            ('unit', 'in', list(ctx.scope.keys())),
            ])
    unit, role = ctx.scope[payment.unit.id]
    if role == 'tenant' and payment.party != ctx.party:
        abort(404)
    return ctx.render('receipt.html', payment=payment,
        **receipt_values(ctx, payment))


# ------------------------------------------------- payment provider routes

class CallbackRefused(ValueError):
    "A provider notification that confirms nothing (logged, answered 400)."


def _lock_payment(pool, payment_id):
    """Wait for the row lock of a portal payment (SELECT … FOR UPDATE).

    Concurrent confirmations of one payment queue here; when the one
    before committed, PostgreSQL refuses the lock to a REPEATABLE READ
    snapshot that predates the commit (serialization failure) and trytond
    runs the request again: it then reads the payment paid."""
    table = pool.get('community.portal.payment').__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.id,
            where=table.id == payment_id, for_=For('UPDATE')))


def handle_callback(pool, provider, body, headers):
    """Verify a notification of ``provider`` (an instance of
    payment_provider) and confirm the payment it names, once.

    Returns the payment; raises ValueError (bad signature or payload,
    unknown reference, a payment of another provider) or PortalError
    (amount mismatch)."""
    Payment = pool.get('community.portal.payment')
    token, amount, reference = provider.verify(body, headers)
    found = Payment.search([('token', '=', token)], limit=1)
    if not found:
        raise CallbackRefused("unknown payment %r" % token)
    payment, = found
    if payment.provider != provider.name:
        raise CallbackRefused("payment %s belongs to provider %r"
            % (payment.id, payment.provider))
    _lock_payment(pool, payment.id)
    Transaction().counter += 1  # read the payment after the lock
    return Payment.confirm(Payment(payment.id), amount, reference)


def _conflict_as_409(func):
    """Answer 409 (the provider sends its notification again later) when
    the database still refuses the request after trytond's retries (lock
    or serialization conflicts), instead of a server error."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            return func(request, pool, *args, **kwargs)
        except backend.DatabaseOperationalError:
            logger.warning("payment callback conflicted, answered 409",
                exc_info=True)
            return Response('RETRY', status=409, content_type='text/plain')
    return wrapper


@app.route(PREFIX + '/payment/callback/<provider_name>', methods=['POST'])
@with_pool
@_conflict_as_409
@with_transaction(readonly=False)
def payment_callback(request, pool, provider_name):
    """Notification of a provider: 404 for an unknown provider or the
    sandbox while disabled; 400 (logged) when refused, nothing posted;
    SUCCESS when the payment is paid (again: idempotent)."""
    provider = get_provider(provider_name)
    if provider is None:
        logger.warning("payment callback of unavailable provider %r from %s",
            provider_name, request.remote_addr)
        abort(404)
    try:
        handle_callback(pool, provider, request.get_data(), request.headers)
    except (KeyError, ValueError, UserError) as exception:
        logger.warning("refused %s payment callback from %s: %s",
            provider_name, request.remote_addr, exception)
        Transaction().rollback()
        return Response('FAIL', status=400, content_type='text/plain')
    return Response('SUCCESS', content_type='text/plain')


@route('/sandbox/<token>', methods=('GET', 'POST'), login=False)
def sandbox_wallet(ctx, token):
    """The sandbox "payment app": shows the order and, on confirmation,
    sends the signed notification a real provider would send."""
    if not sandbox_enabled():
        abort(404)
    Payment = ctx.pool.get('community.portal.payment')
    payment = ctx.get_or_404('community.portal.payment', [
            ('token', '=', token), ('provider', '=', 'sandbox')])
    if ctx.request.method == 'POST' and payment.state == 'pending':
        provider = get_provider('sandbox')
        body, headers = provider.notification(payment)
        handle_callback(ctx.pool, provider, body, headers)
        if ctx.user and payment.web_user == ctx.user:
            return ctx.redirect('/payments/%s' % token)
    payment = Payment(payment.id)
    return ctx.render('sandbox.html', nav=None, payment=payment, token=token,
        own=bool(ctx.user and payment.web_user == ctx.user))
