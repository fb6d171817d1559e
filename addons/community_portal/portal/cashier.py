# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The staff cashier: a unit's open bills, each with the payment QR code
to show the resident."""
import urllib.parse

from trytond.transaction import Transaction

from ..payment_provider import configured_provider_name, get_provider
from .bills import unavailable_text
from .i18n import N_
from .nav import STAFF, register_nav
from .web import parse_ref, sign_ref, staff_route

register_nav('staff_cashier', N_("Cashier"), 'staff/cashier', order=20,
    audience=STAFF, service='bills')


def cashier_pending(pool, bill, provider):
    """The pending portal payment of the configured provider for what is
    left to pay of ``bill``, or None (read as root: staff have no access
    to portal payments of the portal's own making)."""
    Payment = pool.get('community.portal.payment')
    with Transaction().set_user(0), \
            Transaction().set_context(_check_access=False):
        pending = Payment.search([
                ('bill', '=', str(bill)),
                ('state', '=', 'pending'),
                ('provider', '=', provider),
                ('amount', '=', bill.amount_to_pay),
                ], limit=1)
    return pending[0] if pending else None


@staff_route('/staff/cashier', methods=('GET', 'POST'), service='bills')
def staff_cashier(ctx):
    """Cashier: look a unit up by code (GET, which writes nothing) and show
    its open bills, each with the payment QR code to show the resident
    once made; making it is a POST (``bill``: signed reference of a
    posted bill the staff user may read), which redirects to the lookup.
    """
    pool = ctx.pool
    Unit = pool.get('community.unit')
    Bill = pool.get('community.bill')
    provider_name = configured_provider_name()
    query = (ctx.request.values.get('unit') or '').strip()[:50]
    if ctx.request.method == 'POST':
        if not provider_name:
            return ctx.render('unavailable.html', title=ctx._("Cashier"),
                text=unavailable_text(), status=409)
        bill = ctx.get_or_404('community.bill', [
                ('id', '=', parse_ref('bill', ctx.request.form.get('bill'))),
                ('state', '=', 'posted'),
                ])
        if (not bill.paid and bill.amount_to_pay > 0
                and not cashier_pending(pool, bill, provider_name)):
            Payment = pool.get('community.portal.payment')
            with Transaction().set_user(0), \
                    Transaction().set_context(_check_access=False):
                Payment.create([{
                            'compound': bill.compound.id,
                            'unit': bill.unit.id, 'party': bill.party.id,
                            'bill': str(bill), 'kind': 'bill',
                            'amount': bill.amount_to_pay,
                            'provider': provider_name}])
        return ctx.redirect('/staff/cashier?' + urllib.parse.urlencode(
                {'unit': bill.unit.code}))
    units, cards = None, []
    provider = get_provider(provider_name) if provider_name else None
    if query:
        units = Unit.search([('code', '=', query)], limit=20)
        bills = Bill.search([
                ('unit', 'in', [u.id for u in units]),
                ('state', '=', 'posted'),
                ], limit=50) if units else []
        for bill in bills:
            if bill.paid:
                continue
            payment = provider and cashier_pending(pool, bill, provider_name)
            cards.append({
                    'bill': bill, 'ref': sign_ref('bill', bill.id),
                    'qr_text': provider.qr_text(payment, ctx.full_base)
                    if payment else None,
                    })
    return ctx.render('staff/cashier.html', query=query, units=units,
        cards=cards, provider=provider, unavailable=unavailable_text())
