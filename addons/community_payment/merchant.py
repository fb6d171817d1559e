# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Merchant accounts (商户号) of the payment providers.

One per company and provider, or per compound when a compound has its own
merchant account. The secrets (the merchant's or application's private
key, the WeChat Pay APIv3 key) are written through the form and never read
back: they are stored in columns no group may read (``ir.model.field
.access``), the form shows only whether they are set, and nothing logs
them.
"""
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .providers import DEFAULT_GATEWAYS

PROVIDERS = [
    ('wechat', "WeChat Pay"),
    ('alipay', "Alipay"),
    ]
SECRETS = ['private_key', 'apiv3_key']


class Merchant(DeactivableMixin, ModelSQL, ModelView):
    """Merchant Account (商户号): the credentials of a company, or of one of
    its compounds, at a payment provider."""
    __name__ = 'community.payment.merchant'
    name = fields.Char("Name", required=True)
    company = fields.Many2One('company.company', "Company", required=True,
        ondelete='RESTRICT')
    compound = fields.Many2One('community.compound', "Compound",
        ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))],
        help="Leave empty for the account of every compound of the company "
        "without an account of its own.")
    provider = fields.Selection(PROVIDERS, "Provider", required=True)
    app_id = fields.Char("App ID", required=True,
        help="WeChat: the AppID bound to the merchant; Alipay: the APPID "
        "of the application.")
    mch_id = fields.Char("Merchant ID",
        states={
            'required': Eval('provider') == 'wechat',
            'invisible': Eval('provider') != 'wechat',
            },
        help="WeChat Pay merchant number (商户号).")
    serial_no = fields.Char("Certificate Serial Number",
        states={
            'required': Eval('provider') == 'wechat',
            'invisible': Eval('provider') != 'wechat',
            },
        help="Serial number of the merchant API certificate.")
    public_key_id = fields.Char("Platform Public Key ID",
        states={
            'required': Eval('provider') == 'wechat',
            'invisible': Eval('provider') != 'wechat',
            },
        help="WeChat Pay platform public key ID (PUB_KEY_ID_…).")
    provider_public_key = fields.Text("Provider Public Key", required=True,
        help="PEM public key of the provider that signs its answers and "
        "notifications (WeChat Pay platform public key, Alipay public key).")
    gateway_url = fields.Char("Gateway URL", required=True,
        help="The provider's API address; the official one by default.")
    notify_url = fields.Char("Notification URL", required=True,
        help="Public HTTPS address of this system where the provider sends "
        "its notifications: https://<host>/<database>/community_payment/"
        "notify/<merchant id>.")
    expire_minutes = fields.Integer("Order Validity (minutes)",
        required=True,
        domain=[('expire_minutes', '>=', 1)],
        help="An order unpaid after this delay is closed.")
    fee_account = fields.Many2One('account.account', "Fee Account",
        ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))],
        help="Expense account of the provider's fees (手续费).")
    # the secrets: written here, never read back
    private_key = fields.Function(fields.Text("Private Key",
            help="PEM private key of the merchant API certificate (WeChat) "
            "or of the application (Alipay). Stored, never shown: leave "
            "empty to keep the stored key."),
        'get_secret_field', setter='set_secret_field')
    apiv3_key = fields.Function(fields.Char("APIv3 Key",
            states={'invisible': Eval('provider') != 'wechat'},
            help="WeChat Pay APIv3 key (32 characters). Stored, never "
            "shown: leave empty to keep the stored key."),
        'get_secret_field', setter='set_secret_field')
    private_key_stored = fields.Text("Stored Private Key", readonly=True)
    apiv3_key_stored = fields.Char("Stored APIv3 Key", readonly=True)
    secrets_set = fields.Function(fields.Char("Secrets Set"),
        'get_secrets_set')

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @staticmethod
    def default_provider():
        return 'wechat'

    @staticmethod
    def default_expire_minutes():
        return 30

    @fields.depends('provider', 'gateway_url')
    def on_change_provider(self):
        if self.provider and (not self.gateway_url
                or self.gateway_url in DEFAULT_GATEWAYS.values()):
            self.gateway_url = DEFAULT_GATEWAYS[self.provider]

    @classmethod
    def default_gateway_url(cls):
        return DEFAULT_GATEWAYS[cls.default_provider()]

    def get_secret_field(self, name):
        # never shown back
        return None

    @classmethod
    def set_secret_field(cls, merchants, name, value):
        if not value:
            return  # empty: keep the stored secret
        with without_check_access():
            cls.write(merchants, {'%s_stored' % name: value.strip()})

    def get_secrets_set(self, name):
        "Which secrets are set, by name (not their values)."
        labels = {'private_key': "私钥", 'apiv3_key': "APIv3密钥"}
        return ' '.join(labels[s] for s in SECRETS
            if getattr(self, '%s_stored' % s))

    def get_secret(self, name):
        """The stored secret ``name`` (server side only: no group may read
        the stored columns)."""
        with without_check_access():
            merchant, = self.__class__.read(
                [self.id], ['%s_stored' % name])
        return merchant['%s_stored' % name] or None

    @classmethod
    def for_compound(cls, compound, provider):
        """The active merchant account of ``provider`` for ``compound``: the
        compound's own, else its company's; None without one."""
        for domain in [[('compound', '=', compound.id)],
                [('compound', '=', None),
                    ('company', '=', compound.company.id)]]:
            found = cls.search(domain + [('provider', '=', provider)],
                order=[('id', 'ASC')], limit=1)
            if found:
                return found[0]
        return None

    def get_clearing_account(self):
        """The account of the money received through this merchant account:
        the one of the counter's WeChat Pay and Alipay payments (1012
        其他货币资金)."""
        pool = Pool()
        Account = pool.get('account.account')
        account, = Account.search([
                ('code', '=', '1012'),
                ('company', '=', self.company.id)], limit=1)
        return account
