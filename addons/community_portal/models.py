# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Resident portal accounts: web users with a mobile number, binding codes
issued by the property office, and portal payments."""
import datetime as dt
import hashlib
import secrets
import time
import uuid
from decimal import Decimal

from sql import Literal, Null
from sql.aggregate import Sum
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp
from sql.operators import Concat

from trytond import config
from trytond.exceptions import RateLimitException
from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, Unique, fields
from trytond.modules.community_base.party import compact_mobile, mask
from trytond.modules.community_base.tools import ensure_secret
from trytond.modules.community_base.unit import UnitCompoundMixin
from trytond.pool import Pool, PoolMeta
from trytond.res.user import PASSWORD_HASH
from trytond.transaction import Transaction, without_check_access

from .exceptions import BindingCodeError, PortalError, PortalRateLimitError

# Letters and digits that cannot be confused when read aloud or typed.
CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ'
CODE_LENGTH = 8
_DUMMY_HASH = []


def normalize_mobile(value):
    """Return the national significant number of a Chinese mobile number.

    ``value``: a string such as ``'138 0013 8000'`` or ``'+86 13800138000'``.
    Raises ValueError unless it is a valid mobile number of region CN
    (community_base's ``compact_mobile``: the one phone number wrapper).
    """
    e164 = compact_mobile(value)
    if not e164 or not e164.startswith('+86'):
        raise ValueError(value)
    return e164[3:]


def mask_mobile(value):
    "Return a mobile number with its middle digits hidden: 138****8000."
    return mask(value) or ''


def mask_identifier(value):
    "Return an ID number masked as everywhere else (community_base.mask)."
    return mask(value) or ''


def mask_email(value):
    "Return an email with its local part hidden but the first character."
    if not value or '@' not in value:
        return value or ''
    local, domain = value.split('@', 1)
    return local[:1] + '***@' + domain


class WebUser(metaclass=PoolMeta):
    """Portal account of a resident.

    A resident signs up with a mobile number (or an email) and a password;
    the account sees no unit until it is bound to a resident party, by a
    binding code issued by the property office or by staff setting
    ``party`` (approval). ``token`` identifies the account in URLs.
    """
    __name__ = 'web.user'
    mobile = fields.Char("Mobile")
    nickname = fields.Char("Nickname")
    portal_token = fields.Char("Portal Token", readonly=True, strip=False)
    portal_language = fields.Selection([
            (None, ""),
            ('zh_CN', "Chinese"),
            ('en', "English"),
            ], "Portal Language",
        help="The language of the portal's pages chosen by the resident; "
        "when empty, the browser's.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('mobile_unique', Unique(t, t.mobile),
                'community_portal.msg_portal_mobile_unique'),
            ]
        # An account made with a mobile number has no email
        cls.email.states = {}

    @staticmethod
    def default_portal_token():
        return uuid.uuid4().hex

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'email' in values and not values['email']:
            # '' would collide in the exclusion constraint on email
            values['email'] = None
        if mode == 'create' and not values.get('portal_token'):
            values['portal_token'] = cls.default_portal_token()
        if values.get('mobile'):
            try:
                values['mobile'] = normalize_mobile(values['mobile'])
            except ValueError:
                raise PortalError(gettext(
                        'community_portal.msg_portal_mobile_invalid',
                        mobile=values['mobile'])) from None
        return values

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        """A back-office user binds an account only to a party their record
        rules let them read (a resident of their compounds): approving an
        account is no way to take over a resident of another compound."""
        pool = Pool()
        Party = pool.get('party.party')
        super().check_modification(
            mode, records, values=values, external=external)
        if not external or mode not in {'create', 'write'}:
            return
        if mode == 'write':
            ids = {values['party']} if values.get('party') else set()
        else:
            ids = {r.party.id for r in records if r.party}
        if ids:
            with Transaction().set_context(_check_access=True):
                visible = {p.id for p in Party.search(
                            [('id', 'in', list(ids))])}
            if ids - visible:
                raise PortalError(gettext(
                        'community_portal.msg_portal_account_party'))

    @classmethod
    def find_login(cls, login):
        """Return the email or mobile key under which ``login`` is stored."""
        login = (login or '').strip()
        if '@' in login:
            return login.lower()
        try:
            return normalize_mobile(login)
        except ValueError:
            return login

    @classmethod
    def _client_attempts(cls, key, any_client=False, prefix=False):
        """Return the failed attempts of ``key`` (a login, or
        ``bind:<id>``) from the client's address (``[session]
        ip_network_4/6``) within ``[session] timeout``; of every client
        with ``any_client``; of every key starting with ``key`` with
        ``prefix``."""
        pool = Pool()
        Attempt = pool.get('web.user.authenticate.attempt')
        table = Attempt.__table__()
        cursor = Transaction().connection.cursor()
        _, network = Transaction().remote_address()
        network = str(network) if network else None
        where = table.create_date >= Attempt.delay()
        if prefix:
            where &= table.login.like(key + '%')
        else:
            where &= table.login == key[:Attempt.login.size]
        if not any_client:
            where &= (table.ip_network == network) if network else (
                table.ip_network == Null)
        cursor.execute(*table.select(Literal(1), where=where))
        return len(cursor.fetchall())

    @classmethod
    def _clear_client_attempts(cls, key):
        "Forget the failed attempts of ``key`` from the client's address."
        pool = Pool()
        Attempt = pool.get('web.user.authenticate.attempt')
        table = Attempt.__table__()
        cursor = Transaction().connection.cursor()
        _, network = Transaction().remote_address()
        network = str(network) if network else None
        cursor.execute(*table.delete(where=(
                    table.login == key[:Attempt.login.size])
                & ((table.ip_network == network) if network
                    else (table.ip_network == Null))))

    @classmethod
    def _dummy_hash(cls):
        "A password hash to verify against when the login is unknown."
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(PASSWORD_HASH.hash(secrets.token_hex(16)))
        return _DUMMY_HASH[0]

    @classmethod
    def authenticate(cls, email, password):
        """Authenticate by email or by mobile number; return the user or
        None.

        Failed attempts are counted per login *and* client address, so
        that wrong passwords sent from elsewhere never lock a resident out
        of their own phone (``[session] max_attempt`` per login and
        client, ``max_attempt_ip_network`` per client); every attempt
        verifies a password hash, a dummy one for an unknown login, so
        that the answer takes the same time whether the account exists.
        """
        pool = Pool()
        Attempt = pool.get('web.user.authenticate.attempt')
        login = cls.find_login(email)
        if Attempt.count_ip() > config.getint(
                'session', 'max_attempt_ip_network', default=300):
            # Do not add attempt as the goal is to prevent flooding
            raise RateLimitException()
        count = cls._client_attempts(login)
        if count > config.getint('session', 'max_attempt', default=5):
            Attempt.add(login)
            raise RateLimitException()
        # Slow brute force down (per client)
        Transaction().atexit(time.sleep, 2 ** count - 1)
        field = 'email' if '@' in login else 'mobile'
        users = cls.search([(field, '=', login)], limit=1)
        hash_ = (users[0].password_hash if users else None) or (
            cls._dummy_hash())
        valid, new_hash = cls.check_password(password, hash_)
        if users and valid and users[0].password_hash:
            user, = users
            if new_hash:
                with Transaction().new_transaction():
                    with without_check_access():
                        cls.write([cls(user.id)], {
                                'password_hash': new_hash})
            cls._clear_client_attempts(login)
            return user
        Attempt.add(login)

    @classmethod
    def sign_up_by_code(cls, mobile, code, password):
        """Create the account of ``mobile`` proven by its sign-up SMS
        ``code`` (``community.portal.sms_code``); return it.

        Raises SmsCodeError for a wrong, expired or used code (a wrong one
        is counted even though the caller rolls back) and PortalError when
        the number has an account already: told only to whom proved to
        hold the number."""
        SmsCode = Pool().get('community.portal.sms_code')
        mobile = SmsCode.check(mobile, 'signup', code)[3:]
        if cls.search([('mobile', '=', mobile)], limit=1):
            raise PortalError(gettext(
                    'community_portal.msg_portal_mobile_taken'))
        user, = cls.create([{'mobile': mobile, 'password': password}])
        return user

    @classmethod
    def reset_password_by_code(cls, mobile, code, password):
        """Set the password of the account of ``mobile`` proven by its
        reset SMS ``code`` and end its sessions; return the account.

        Raises SmsCodeError as ``sign_up_by_code``, PortalError when no account
        has the number (told only to whom proved to hold it)."""
        pool = Pool()
        SmsCode = pool.get('community.portal.sms_code')
        Session = pool.get('web.user.session')
        mobile = SmsCode.check(mobile, 'reset', code)[3:]
        users = cls.search([('mobile', '=', mobile)], limit=1)
        if not users:
            raise PortalError(gettext(
                    'community_portal.msg_portal_mobile_no_account'))
        user, = users
        cls.write([user], {'password': password})
        Session.delete(Session.search([('user', '=', user.id)]))
        return user

    @classmethod
    def bind_wechat(cls, user, openid):
        """Bind the WeChat user ``openid`` of the official account to the
        account ``user`` (its notifications then come by WeChat); raises
        PortalError when another account has it."""
        if cls.search([('wechat_openid', '=', openid),
                    ('id', '!=', user.id)], limit=1):
            raise PortalError(gettext(
                    'community_portal.msg_portal_wechat_taken'))
        cls.write([user], {'wechat_openid': openid})

    @classmethod
    def wechat_user(cls, openid):
        "The active account bound to the WeChat user ``openid``, or None."
        users = cls.search([
                ('wechat_openid', '=', openid), ('active', '=', True),
                ], limit=1)
        return users[0] if users else None

    def portal_parties(self):
        "Return the parties whose units the account may see (bound ones)."
        parties = []
        if self.party:
            parties.append(self.party)
        return parties


class StaffSession(ModelSQL):
    """Session of a staff user on the portal's staff pages.

    The cookie holds a random token; only its SHA-256 is stored, and it is
    no ``ir.session`` key: it opens the staff pages, never the JSON-RPC of
    the back office. Expires after ``[community_portal] staff_timeout``
    seconds (12 hours by default).
    """
    __name__ = 'community.portal.staff_session'
    key = fields.Char("Key", required=True, strip=False)
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__ = {}
        t = cls.__table__()
        cls._sql_constraints += [
            ('key_unique', Unique(t, t.key),
                'community_portal.msg_staff_session_unique'),
            ]

    @staticmethod
    def _hash(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def _expired(cls, table):
        return table.create_date < CurrentTimestamp() - dt.timedelta(
            seconds=config.getint(
                'community_portal', 'staff_timeout', default=12 * 60 * 60))

    @classmethod
    def new(cls, user_id):
        "Return the token of a new session of ``user_id``."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=cls._expired(table)))
        token = secrets.token_urlsafe(32)
        cls.create([{'key': cls._hash(token), 'user': user_id}])
        return token

    @classmethod
    def get_user(cls, token):
        "Return the id of the user of a valid ``token``, else None."
        if not token or len(token) > 100:
            return None
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.user, where=(
                    table.key == cls._hash(token))
                & ~cls._expired(table)))
        row = cursor.fetchone()
        return row[0] if row else None

    @classmethod
    def remove(cls, token):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.key == cls._hash(token)))


class BindingCode(UnitCompoundMixin, ModelSQL, ModelView):
    """Binding code (绑定码) issued by the property office.

    Single-use, for one party of one unit, valid until ``expires_at``
    (UTC). Redeemed by a portal account, which is then bound to the party.
    """
    __name__ = 'community.portal.binding_code'
    code = fields.Char("Code", required=True, readonly=True, strip=False)
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, ondelete='CASCADE')
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')
    expires_at = fields.Timestamp("Expires at", required=True)
    used_at = fields.Timestamp("Used at", readonly=True)
    used_by = fields.Many2One('web.user', "Used by", readonly=True,
        ondelete='SET NULL')
    issued_by = fields.Many2One('res.user', "Issued by", readonly=True)
    state = fields.Function(fields.Selection([
                ('valid', "Valid"),
                ('used', "Used"),
                ('expired', "Expired"),
                ], "State"), 'get_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'community_portal.msg_binding_code_unique'),
            ]
        cls._order.insert(0, ('expires_at', 'DESC'))

    @staticmethod
    def default_code():
        return ''.join(
            secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))

    @staticmethod
    def default_expires_at():
        return dt.datetime.now() + dt.timedelta(days=7)

    @staticmethod
    def default_issued_by():
        return Transaction().user or None

    @fields.depends('unit', '_parent_unit.compound')
    def on_change_unit(self):
        self.compound = self.unit.compound if self.unit else None

    @classmethod
    def validate_fields(cls, codes, field_names):
        super().validate_fields(codes, field_names)
        cls.check_resident(codes, field_names)

    @classmethod
    def check_resident(cls, codes, field_names=None):
        """A code names a resident of its own unit: a party with a
        residency of the unit that has not ended (a future tenant
        included). Checked on the server, whatever the client sends, so
        that no staff user can bind an account to a party of another unit
        or compound."""
        pool = Pool()
        Residency = pool.get('community.residency')
        Date = pool.get('ir.date')
        if field_names and not (field_names & {'unit', 'party'}):
            return
        today = Date.today()
        with without_check_access():
            residencies = Residency.search([
                    ('unit', 'in', list({c.unit.id for c in codes})),
                    ('party', 'in', list({c.party.id for c in codes})),
                    ['OR',
                        ('end_date', '=', None),
                        ('end_date', '>=', today),
                        ],
                    ])
            residents = {(r.unit.id, r.party.id) for r in residencies}
            for code in codes:
                if (code.unit.id, code.party.id) not in residents:
                    raise BindingCodeError(gettext(
                            'community_portal.msg_binding_code_not_resident',
                            unit=code.unit.rec_name))

    def get_state(self, name):
        if self.used_at:
            return 'used'
        if self.expires_at and self.expires_at < dt.datetime.now():
            return 'expired'
        return 'valid'

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('code'):
                values['code'] = cls.default_code()
        return super().create(vlist)

    @classmethod
    def _add_failed_attempt(cls, key):
        "Record a wrong code in its own transaction (kept on rollback)."
        Attempt = Pool().get('web.user.authenticate.attempt')
        transaction = Transaction()
        with transaction.new_transaction() as new:
            Attempt.add(key)
            new.commit()

    @classmethod
    def redeem(cls, code, web_user):
        """Bind ``web_user`` to the party of the valid binding ``code``.

        Raises PortalError if the code is unknown, used or expired, or if
        the account is already bound to another party; PortalRateLimitError
        after ``[community_portal] max_binding_attempt`` (default 5) wrong
        codes of the account, or of the client's address, within
        ``[session] timeout`` (a wrong code is counted even though the
        caller rolls back).
        """
        key = 'bind:%s' % web_user.id
        limit = config.getint(
            'community_portal', 'max_binding_attempt', default=5)
        WebUser = Pool().get('web.user')
        if (WebUser._client_attempts(key, any_client=True) >= limit
                or WebUser._client_attempts('bind:', prefix=True) >= limit):
            raise PortalRateLimitError(gettext(
                    'community_portal.msg_portal_too_many_attempts'))
        code = (code or '').strip().upper()
        codes = cls.search([('code', '=', code)], limit=1)
        if codes:
            record, = codes
            cls.lock([record])
        if (not codes or record.get_state(None) != 'valid'
                or (web_user.party and web_user.party != record.party)):
            cls._add_failed_attempt(key)
            raise PortalError(gettext(
                    'community_portal.msg_binding_code_invalid'))
        record.used_at = dt.datetime.now()
        record.used_by = web_user
        record.save()
        if not web_user.party:
            web_user.party = record.party
            web_user.save()
        return record


class PortalPayment(ModelSQL, ModelView):
    """Payment started from the resident portal through a provider.

    ``token`` is the merchant order reference shown in URLs and sent to the
    provider; ``state`` goes pending → paid (confirmed by the provider's
    callback) or failed. ``bill`` is the paid bill (when bills exist),
    ``unit`` the unit for a prepayment. Amounts in the company currency,
    2 decimals.
    """
    __name__ = 'community.portal.payment'
    token = fields.Char("Reference", required=True, readonly=True,
        strip=False)
    web_user = fields.Many2One('web.user', "Account", readonly=True,
        ondelete='SET NULL')
    party = fields.Many2One('party.party', "Payer", readonly=True)
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True)
    unit = fields.Many2One('community.unit', "Unit", readonly=True)
    bill = fields.Reference("Bill", selection='get_bills', readonly=True)
    kind = fields.Selection([
            ('bill', "Bill"),
            ('all', "All Open Bills and Late Fees"),
            ('prepayment', "Prepayment"),
            ], "Kind", required=True, readonly=True)
    lines = fields.One2Many('community.portal.payment.line', 'payment',
        "Lines", readonly=True,
        help="What the resident chose to pay: bills and late fees, with "
        "the amounts open when the payment started.")
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True)
    provider = fields.Char("Provider", required=True, readonly=True)
    provider_reference = fields.Char("Provider Reference", readonly=True)
    online = fields.Many2One('community.payment.online', "Online Payment",
        readonly=True, ondelete='RESTRICT',
        help="The order at WeChat Pay or Alipay (community_payment) that "
        "this portal payment opened; its notification books the money.")
    state = fields.Selection([
            ('pending', "Pending"),
            ('paid', "Paid"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True)
    paid_at = fields.Timestamp("Paid at", readonly=True)
    receipt_token = fields.Char("Receipt Reference", readonly=True,
        strip=False)
    settlement = fields.Reference("Settlement", selection='get_settlements',
        readonly=True,
        help="The posted counter payment (with its receipt) that settled "
        "this portal payment in the ledger.")

    @classmethod
    def bill_list(cls, bill_ids):
        """Return {bill id: dict} of what the portal's bill list shows, in
        one set-based query: ``unit``, ``period_start``, ``period_end``,
        ``due_date``, ``total_amount``, ``amount_to_pay`` (as
        ``community.bill.get_amount_to_pay``: 0 once cancelled or the
        receivable line is reconciled, else the total less the partial
        payments whose origin is the bill) and ``paid`` (nothing left to
        pay, or portal payments confirmed for the total)."""
        pool = Pool()
        Bill = pool.get('community.bill')
        MoveLine = pool.get('account.move.line')
        bill = Bill.__table__()
        receivable = MoveLine.__table__()
        partial = MoveLine.__table__()
        payment = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {}
        for i in range(0, len(bill_ids), 1000):
            ids = bill_ids[i:i + 1000]
            origins = ['community.bill,%s' % b for b in ids]
            partials = partial.select(partial.origin,
                Sum(partial.credit - partial.debit).as_('amount'),
                where=partial.origin.in_(origins)
                & (partial.reconciliation == Null) & (partial.credit > 0),
                group_by=[partial.origin])
            portal = payment.select(payment.bill,
                Sum(payment.amount).as_('amount'),
                where=payment.bill.in_(origins)
                & (payment.state == 'paid'),
                group_by=[payment.bill])
            origin = Concat('community.bill,', bill.id)
            cursor.execute(*bill
                .join(receivable, 'LEFT',
                    condition=receivable.id == bill.move_line)
                .join(partials, 'LEFT', condition=partials.origin == origin)
                .join(portal, 'LEFT', condition=portal.bill == origin)
                .select(bill.id, bill.unit, bill.period_start,
                    bill.period_end, bill.due_date, bill.total_amount,
                    bill.state, bill.move_line, receivable.reconciliation,
                    Coalesce(partials.amount, 0),
                    Coalesce(portal.amount, 0),
                    where=bill.id.in_(ids)))
            for (id_, unit, start, end, due, total, state, move_line,
                    reconciliation, partly, portal_paid) in cursor:
                total = Decimal(total)
                if (state == 'cancelled' or not move_line
                        or reconciliation):
                    remaining = Decimal(0)
                else:
                    remaining = total - Decimal(partly)
                result[id_] = {
                    'id': id_, 'unit': unit, 'period_start': start,
                    'period_end': end, 'due_date': due,
                    'total_amount': total, 'amount_to_pay': remaining,
                    'paid': remaining <= 0 or Decimal(portal_paid) >= total,
                    }
        return result
    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('token_unique', Unique(t, t.token),
                'community_portal.msg_portal_payment_token_unique'),
            ]
        cls._order.insert(0, ('create_date', 'DESC'))

    @staticmethod
    def default_token():
        return uuid.uuid4().hex

    @staticmethod
    def default_state():
        return 'pending'

    @staticmethod
    def default_kind():
        return 'bill'

    @classmethod
    def get_bills(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        models = []
        try:
            pool.get('community.bill')
            models.append('community.bill')
        except KeyError:
            pass
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in models]

    @classmethod
    def get_settlements(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        models = []
        try:
            pool.get('community.payment')
            models.append('community.payment')
        except KeyError:
            pass
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in models]

    # Payment method of the counter payment for each provider
    PROVIDER_METHODS = {
        'sandbox': 'wechat',
        'wechat': 'wechat',
        'alipay': 'alipay',
        }

    @classmethod
    def payable_items(cls, unit, party, bill=None):
        """What ``party`` may pay of ``unit`` from the portal, as counter
        payment line values (``community.payment.open_items``: posted bills
        with something left to pay, by due date, each followed by its open
        late fees; ``amount`` is what is left).

        A tenant pays the bills addressed to them; owners and household
        members the others. ``bill``: only that bill and its late fees."""
        pool = Pool()
        CounterPayment = pool.get('community.payment')
        Bill = pool.get('community.bill')
        Residency = pool.get('community.residency')
        residencies = Residency.search([('unit', '=', unit.id)])
        tenants = {r.party.id for r in residencies if r.role == 'tenant'}
        family = {r.party.id for r in residencies if r.role != 'tenant'}
        items = CounterPayment.open_items(unit)
        parties = {b.id: b.party.id for b in Bill.browse(
                list({i['bill'] for i in items}))}
        if party.id in family:
            # as the portal's bill list: not the bills of the tenants
            allowed = {b for b, p in parties.items()
                if p not in tenants - {party.id}}
        elif party.id in tenants:
            allowed = {b for b, p in parties.items() if p == party.id}
        else:
            allowed = set()
        if bill is not None:
            allowed &= {bill.id}
        return [i for i in items if i['bill'] in allowed]

    @classmethod
    def settle(cls, payment):
        """Post ``payment`` in the ledger through community_payment's one
        booking path (``community.payment.online.post_receipt``): a posted
        counter payment of the unit by the payer whose receipt number is
        the official receipt; what was paid beyond what is still open, or
        all of a prepayment, is kept as prepayment. Returns the counter
        payment.

        Raises BillingError when a bill is being paid by someone else at
        this moment: the provider's notification is answered with an error
        and sent again later.
        """
        OnlinePayment = Pool().get('community.payment.online')
        wanted = [(line.bill, line.late_fee, line.amount)
            for line in payment.lines]
        if not wanted and payment.bill:
            # portal payments started before payment lines existed
            wanted = [(payment.bill, None, payment.amount)]
        counter = OnlinePayment.post_receipt(payment.compound, payment.unit,
            payment.party,
            cls.PROVIDER_METHODS.get(payment.provider, 'wechat'),
            payment.provider_reference, payment.amount, wanted)
        payment.settlement = counter
        payment.save()
        return counter

    @classmethod
    def confirm(cls, payment, amount, provider_reference):
        """Mark ``payment`` paid by its provider (idempotent).

        Raises PortalError if the confirmed amount differs from the
        payment's. Then the payment is posted in the ledger (``settle``).
        """
        if payment.state == 'paid':
            return payment
        if amount != payment.amount:
            raise PortalError(gettext(
                    'community_portal.msg_portal_payment_amount'))
        payment.state = 'paid'
        payment.paid_at = dt.datetime.now()
        payment.provider_reference = provider_reference
        payment.receipt_token = uuid.uuid4().hex
        payment.save()
        cls.settle(payment)
        return payment


class PortalPaymentLine(ModelSQL, ModelView):
    """What a portal payment pays: a bill, or a late fee of the bill, with
    the amount open when the payment started (CNY, 2 decimals)."""
    __name__ = 'community.portal.payment.line'
    payment = fields.Many2One('community.portal.payment', "Payment",
        required=True, ondelete='CASCADE', readonly=True)
    bill = fields.Many2One('community.bill', "Bill", required=True,
        readonly=True)
    late_fee = fields.Many2One('community.late_fee', "Late Fee",
        readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True)


class PortalConfiguration(ModelSingleton, ModelSQL):
    """Portal Configuration: what the portal keeps per installation.

    ``sandbox_secret``: the key of the sandbox payment provider's
    signatures, 256 random bits generated once when the module is
    installed or updated (never derived from public data such as the
    database name). Nobody reads it through RPC (access denied to all
    groups); the portal reads it as root.
    """
    __name__ = 'community.portal.configuration'
    sandbox_secret = fields.Char("Sandbox Secret", readonly=True,
        strip=False)

    @classmethod
    def __register__(cls, module_name):
        super().__register__(module_name)
        ensure_secret(cls, 'sandbox_secret', cls.new_secret)

    @staticmethod
    def new_secret():
        return secrets.token_hex(32)

    @classmethod
    def get_sandbox_secret(cls):
        """Return the installation's sandbox key (created, under a table
        lock, if the row was removed)."""
        config = cls.get_singleton()
        if config and config.sandbox_secret:
            return config.sandbox_secret
        cls.lock()
        config = cls.get_singleton() or cls()
        if not config.sandbox_secret:
            config.sandbox_secret = cls.new_secret()
            config.save()
        return config.sandbox_secret
