# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Payment providers for the resident portal.

A provider turns a pending ``community.portal.payment`` into something the
payer scans (``qr_text``) and, when the payer has paid, calls back the
portal at ``/<db>/portal/payment/callback/<provider>`` with a signed
notification. ``verify`` checks that notification and returns the payment
reference, the amount paid and the provider's own reference.

The sandbox is offered by ``[community_portal] provider`` (``sandbox``)
with ``sandbox = True``; off by default, as in production. WeChat Pay and
Alipay are not providers of this file: a compound offers them when it has
a merchant account of ``community_payment``, whose orders and
notifications they use (portal/bills.py). A confirmed sandbox payment is
booked by community_payment's one booking path
(``community.payment.online.post_receipt``) as theirs are.
"""
import hashlib
import hmac
import json
import logging
from decimal import Decimal

from trytond import config
from trytond.pool import Pool

from .portal.i18n import N_

logger = logging.getLogger(__name__)


class PaymentProvider:
    "Interface of a payment provider."
    name = None
    #: the payment method printed on receipts (a msgid of the portal)
    label = None

    def qr_text(self, payment, base_url):
        """Return the text to encode in the QR code shown to the payer.

        ``base_url``: the portal root URL, e.g. ``http://host/db/portal``.
        """
        raise NotImplementedError

    def verify(self, body, headers):
        """Check a callback and return (token, amount, provider_reference).

        ``body``: the raw request bytes; ``headers``: a mapping.
        Raises ValueError when the signature or the payload is invalid.
        """
        raise NotImplementedError


class SandboxProvider(PaymentProvider):
    """Sandbox provider for tests and demonstrations.

    The QR code opens a sandbox "wallet" page of the portal; its confirm
    button produces the notification a real provider would send: JSON
    ``{"out_trade_no", "amount", "transaction_id"}`` signed with
    HMAC-SHA256 in the ``X-Sandbox-Signature`` header. The key is random
    per installation, stored in ``community.portal.configuration``
    (``secret``: that key, read when first needed).
    """
    name = 'sandbox'
    label = N_("Sandbox (test payment)")

    def __init__(self, secret=None):
        self._secret = secret

    @property
    def secret(self):
        if self._secret is None:
            Configuration = Pool().get('community.portal.configuration')
            self._secret = Configuration.get_sandbox_secret()
        secret = self._secret
        return secret.encode() if isinstance(secret, str) else secret

    def qr_text(self, payment, base_url):
        return '%s/sandbox/%s' % (base_url, payment.token)

    def sign(self, body):
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def notification(self, payment):
        "Return (body, headers) of the callback confirming ``payment``."
        body = json.dumps({
                'out_trade_no': payment.token,
                'amount': str(payment.amount),
                'transaction_id': 'SANDBOX-' + payment.token[:12].upper(),
                }, sort_keys=True).encode()
        return body, {'X-Sandbox-Signature': self.sign(body)}

    def verify(self, body, headers):
        signature = headers.get('X-Sandbox-Signature', '')
        if not hmac.compare_digest(self.sign(body), signature):
            raise ValueError("bad signature")
        try:
            data = json.loads(body)
            token = str(data['out_trade_no'])
            amount = Decimal(str(data['amount']))
            reference = str(data['transaction_id'])
        except (ValueError, KeyError, TypeError, ArithmeticError):
            raise ValueError("malformed notification") from None
        if not amount.is_finite() or amount <= 0:
            raise ValueError("malformed amount")
        return token, amount, reference


PROVIDERS = {
    'sandbox': SandboxProvider,
    }


def sandbox_enabled():
    """The sandbox provider and its pages (wallet, callback) exist only with
    ``[community_portal] sandbox = True`` (default False)."""
    return config.getboolean('community_portal', 'sandbox', default=False)


def configured_provider_name():
    """Return the provider of new portal payments, or None.

    ``[community_portal] provider``, by default ``sandbox`` when the sandbox
    is enabled; None when it names no usable provider (unknown, or the
    sandbox while it is disabled): no online payment then."""
    name = config.get('community_portal', 'provider', default='') or ''
    name = name.strip() or ('sandbox' if sandbox_enabled() else '')
    if not name:
        return None
    if name not in PROVIDERS or (name == 'sandbox' and not sandbox_enabled()):
        logger.warning("payment provider %r is not available", name)
        return None
    return name


def get_provider(name):
    """Return the provider instance called ``name``, or None when there is
    no such provider or it is the sandbox while disabled."""
    if name not in PROVIDERS:
        return None
    if name == 'sandbox' and not sandbox_enabled():
        return None
    return PROVIDERS[name]()
