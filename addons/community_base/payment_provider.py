# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Payment providers for the resident portal.

A provider turns a pending ``community.portal.payment`` into something the
payer scans (``qr_text``) and, when the payer has paid, calls back the
portal at ``/<db>/portal/payment/callback/<provider>`` with a signed
notification. ``verify`` checks that notification and returns the payment
reference, the amount paid and the provider's own reference.

Only the sandbox exists now; WeChat Pay and Alipay providers come later
behind the same interface (register them in ``PROVIDERS``).
"""
import hashlib
import hmac
import json
from decimal import Decimal

from trytond import config


class PaymentProvider:
    "Interface of a payment provider."
    name = None

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
    HMAC-SHA256 in the ``X-Sandbox-Signature`` header. The key is
    ``[community_portal] sandbox_secret`` of the configuration, else one
    derived from the database name (fine for a sandbox only).
    """
    name = 'sandbox'

    def __init__(self, database_name):
        self.database_name = database_name

    @property
    def secret(self):
        secret = config.get('community_portal', 'sandbox_secret', default='')
        if not secret:
            secret = 'sandbox-' + self.database_name
        return secret.encode()

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
        data = json.loads(body)
        return (str(data['out_trade_no']), Decimal(data['amount']),
            str(data['transaction_id']))


PROVIDERS = {
    'sandbox': SandboxProvider,
    }


def get_provider(name, database_name):
    "Return the provider instance called ``name``; KeyError if unknown."
    return PROVIDERS[name](database_name)
