# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The staff cashier: a unit's open bills, each with the payment QR code
to show the resident: WeChat Pay Native or Alipay precreate through
community_payment (as the portal opens them), on a page that turns into
the receipt once paid; or the sandbox's code, when it is enabled."""
import json
import urllib.parse
import uuid
from contextlib import contextmanager
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.protocols.wrappers import abort
from trytond.transaction import Transaction

from ..payment_provider import configured_provider_name, get_provider
from .bills import (
    ONLINE_PAYMENT, ONLINE_PROVIDERS, method_choices, method_label,
    payment_methods, payment_state, receipt_values, unavailable_text)
from .i18n import N_
from .nav import STAFF, register_nav
from .web import environment, parse_ref, rollback, sign_ref, staff_route

register_nav('staff_cashier', N_("Cashier"), 'staff/cashier', order=20,
    audience=STAFF, service='bills')


@contextmanager
def as_root():
    """Read and write what staff have no access to (portal payments,
    merchant accounts, online payments), for records found first through
    the staff user's own record rules."""
    with Transaction().set_user(0), \
            Transaction().set_context(_check_access=False):
        yield


def cashier_pending(pool, bill, provider):
    """The pending portal payment of the configured provider for what is
    left to pay of ``bill``, or None (read as root: staff have no access
    to portal payments of the portal's own making)."""
    Payment = pool.get('community.portal.payment')
    with as_root():
        pending = Payment.search([
                ('bill', '=', str(bill)),
                ('state', '=', 'pending'),
                ('provider', '=', provider),
                ('amount', '=', bill.amount_to_pay),
                ], limit=1)
    return pending[0] if pending else None


def cashier_methods(ctx, compound):
    """The methods the cashier offers for ``compound``: WeChat Pay and
    Alipay when it has a merchant account, the sandbox when enabled."""
    with as_root():
        return payment_methods(ctx, compound)


def bill_items(pool, bill):
    """What is open of ``bill`` and its late fees, as payment line values
    (``community.payment.open_items``)."""
    Counter = pool.get('community.payment')
    with as_root():
        return [i for i in Counter.open_items(bill.unit)
            if i['bill'] == bill.id]


def start_online(ctx, bill, method):
    """Open an order of what is open of ``bill`` at ``method`` (WeChat
    Native or Alipay precreate QR, community_payment's path, as the
    portal) for the bill's payer, with its portal payment; return the
    payment's page, or the unavailable page when the provider refused."""
    pool = ctx.pool
    OnlinePayment = pool.get('community.payment.online')
    Payment = pool.get('community.portal.payment')
    items = bill_items(pool, bill)
    if not items:
        return ctx.redirect('/staff/cashier?' + urllib.parse.urlencode(
                {'unit': bill.unit.code}))
    amount = sum((i['amount'] for i in items), Decimal(0))
    with as_root():
        try:
            online = OnlinePayment.start(bill.compound, bill.unit,
                bill.party, method, items=items, amount=amount,
                channel='qr')
        except UserError as exception:
            rollback()
            return ctx.render('unavailable.html',
                title=ctx._(ONLINE_PAYMENT), status=502,
                text=exception.message)
        payment, = Payment.create([{
                    'token': uuid.uuid4().hex,
                    'party': bill.party.id,
                    'compound': bill.compound.id, 'unit': bill.unit.id,
                    'bill': str(bill), 'kind': 'bill',
                    'amount': amount, 'provider': method,
                    'online': online.id,
                    'lines': [('create', [{
                                    'bill': i['bill'],
                                    'late_fee': i.get('late_fee'),
                                    'amount': i['amount']} for i in items])],
                    }])
    return ctx.redirect('/staff/cashier/payments/%s' % payment.token)


@staff_route('/staff/cashier', methods=('GET', 'POST'), service='bills')
def staff_cashier(ctx):
    """Cashier: look a unit up by code (GET, which writes nothing) and show
    its open bills, each with the ways to pay it; making a payment code
    is a POST (``bill``: signed reference of a posted bill the staff user
    may read; ``method``: wechat, alipay or the sandbox, the sandbox by
    default). WeChat Pay and Alipay open an order and go to its page; the
    sandbox's code is shown on the lookup it redirects to."""
    pool = ctx.pool
    Unit = pool.get('community.unit')
    Bill = pool.get('community.bill')
    provider_name = configured_provider_name()
    query = (ctx.request.values.get('unit') or '').strip()[:50]
    if ctx.request.method == 'POST':
        bill = ctx.get_or_404('community.bill', [
                ('id', '=', parse_ref('bill', ctx.request.form.get('bill'))),
                ('state', '=', 'posted'),
                ])
        methods = cashier_methods(ctx, bill.compound)
        method = ctx.request.form.get('method') or provider_name or (
            methods[0] if methods else None)
        if method not in methods:
            return ctx.render('unavailable.html', title=ctx._("Cashier"),
                text=unavailable_text(), status=409)
        if method in ONLINE_PROVIDERS:
            return start_online(ctx, bill, method)
        if (not bill.paid and bill.amount_to_pay > 0
                and not cashier_pending(pool, bill, method)):
            Payment = pool.get('community.portal.payment')
            with as_root():
                Payment.create([{
                            'compound': bill.compound.id,
                            'unit': bill.unit.id, 'party': bill.party.id,
                            'bill': str(bill), 'kind': 'bill',
                            'amount': bill.amount_to_pay,
                            'provider': method}])
        return ctx.redirect('/staff/cashier?' + urllib.parse.urlencode(
                {'unit': bill.unit.code}))
    units, cards = None, []
    provider = get_provider(provider_name) if provider_name else None
    offered = False
    if query:
        units = Unit.search([('code', '=', query)], limit=20)
        offered = any(cashier_methods(ctx, u.compound) for u in units)
        bills = Bill.search([
                ('unit', 'in', [u.id for u in units]),
                ('state', '=', 'posted'),
                ], limit=50) if units else []
        for bill in bills:
            if bill.paid:
                continue
            methods = cashier_methods(ctx, bill.compound)
            payment = provider and cashier_pending(pool, bill, provider_name)
            cards.append({
                    'bill': bill, 'ref': sign_ref('bill', bill.id),
                    'qr_text': provider.qr_text(payment, ctx.full_base)
                    if payment else None,
                    'methods': method_choices(ctx,
                        [m for m in methods if m in ONLINE_PROVIDERS]),
                    'sandbox': provider_name in methods,
                    })
    return ctx.render('staff/cashier.html', query=query, units=units,
        cards=cards, provider=provider, offered=offered,
        unavailable=unavailable_text())


def cashier_payment(ctx, token):
    """The portal payment ``token`` of a bill of the staff user's
    compounds (found by the staff user's record rules), else 404."""
    pool = ctx.pool
    Payment = pool.get('community.portal.payment')
    with as_root():
        found = Payment.search([
                ('token', '=', token),
                ('online', '!=', None),
                ], limit=1)
    if not found:
        abort(404)
    payment, = found
    # the staff user's own rules: a compound they do not see is not found
    ctx.get_or_404('community.compound', [
            ('id', '=', payment.compound.id)])
    return payment


@staff_route('/staff/cashier/payments/<token>', service='bills')
def staff_cashier_payment(ctx, token):
    """The QR code of an order the cashier opened, shown to the resident;
    it turns into the receipt once paid (payment.js polls its status)."""
    payment = cashier_payment(ctx, token)
    path = '/staff/cashier/payments/%s' % token
    ctx.nav()  # the staff user's navigation, before reading as root
    with as_root():
        if payment.state == 'paid':
            return ctx.render('staff/cashier_paid.html', payment=payment,
                **receipt_values(ctx, payment))
        online = payment.online
        qr_text = online.qr_code
        open_link = qr_text if qr_text and qr_text.startswith(
            ('http://', 'https://')) else None
        return ctx.render('payment.html', payment=payment, token=token,
            qr_text=qr_text, state=payment_state(payment),
            method=method_label(ctx, payment.provider),
            open_link=open_link, jsapi=None,
            page_url=ctx.base + path, status_url=ctx.base + path + '/status')


@staff_route('/staff/cashier/payments/<token>/status', service='bills')
def staff_cashier_payment_status(ctx, token):
    """The state of an order the cashier opened, as the portal's payment
    status (``{"state": ...}``, and once paid the receipt's HTML)."""
    payment = cashier_payment(ctx, token)
    with as_root():
        state = payment_state(payment)
        data = {'state': state}
        if state == 'paid':
            values = receipt_values(ctx, payment)
            data['receipt'] = environment(ctx.lang).get_template(
                'payment_done.html').render(ctx=ctx, base=ctx.base,
                lang=ctx.lang, payment=payment, **values)
            data['receipt_number'] = values['receipt_number']
    return ctx.response(json.dumps(data, ensure_ascii=False),
        content_type='application/json; charset=utf-8')
