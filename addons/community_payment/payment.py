# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Online payments (线上支付): an order at WeChat Pay or Alipay paying bills,
late fees or a prepayment of a unit (or, through ``origin``, another
module's document).

pending → paid (the provider's signed notification, or the query job when
the notification was lost) → partly refunded | refunded; pending → closed
(expired, or closed by staff) | failed. A paid payment is booked once: the
state changes from pending to paid by one conditional UPDATE, and only the
transaction that changed it queues its booking (``settle_paid``, after
commit: the notification is answered without waiting for the ledger); the
task posts the counter payment (``community.payment``, method WeChat Pay
or Alipay, with its receipt number) settling what it pays as the counter
does, in one transaction with the other payments paid meanwhile (the
receipt and move numbers are locked once for the batch); what is already
settled is kept as the payer's prepayment, never refused. Without a queue
worker, trytond runs the task right after the notification's commit,
before answering.
"""
import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal

from sql import Literal, Null
from sql.conditionals import Coalesce

from trytond.config import config
from trytond.i18n import gettext
from trytond.model import Check, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from trytond.modules.community_base.display import format_money
from trytond.modules.community_billing.arrears import local_today

from .exceptions import PaymentError, ProviderError
from .merchant import PROVIDERS
from .providers import ProviderFailure, get_provider, new_reference

logger = logging.getLogger(__name__)

STATES = [
    ('pending', "Pending"),
    ('paid', "Paid"),
    ('partly_refunded', "Partly Refunded"),
    ('refunded', "Refunded"),
    ('closed', "Closed"),
    ('failed', "Failed"),
    ]
CHANNELS = [
    ('qr', "QR Code"),
    ('jsapi', "In WeChat"),
    ('mobile', "Mobile Browser"),
    ]
#: how long after its creation a pending payment is first queried
QUERY_DELAY = dt.timedelta(minutes=3)
#: payments booked by one transaction of ``settle_paid``
SETTLE_BATCH = 200
#: how long a booking task waits for other payments paid meanwhile
SETTLE_DELAY = dt.timedelta(seconds=2)
#: a payment paid relies on a waiting booking task only when it starts at
#: least this much later (the payment's transaction has committed then)
SETTLE_MARGIN = dt.timedelta(seconds=1)


class OnlinePayment(Workflow, ModelSQL, ModelView):
    """Online Payment (线上支付): one order at a payment provider.

    ``reference`` is our order number (out_trade_no), ``transaction_id``
    the provider's. ``lines`` are the bills and late fees it pays with the
    amounts open when it started; without lines it is a prepayment.
    ``settlement`` is the posted counter payment (receipt) that booked it.
    """
    __name__ = 'community.payment.online'
    _rec_name = 'reference'
    _states = {'readonly': Eval('state') != 'pending'}
    reference = fields.Char("Order Number", required=True, readonly=True,
        strip=False)
    company = fields.Function(fields.Many2One('company.company', "Company"),
        'on_change_with_company', searcher='search_company')
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT', readonly=True)
    unit = fields.Many2One('community.unit', "Unit", required=True,
        ondelete='RESTRICT', readonly=True,
        domain=[('compound', '=', Eval('compound', -1))])
    party = fields.Many2One('party.party', "Payer", required=True,
        ondelete='RESTRICT', readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    merchant = fields.Many2One('community.payment.merchant',
        "Merchant Account", required=True, ondelete='RESTRICT',
        readonly=True)
    provider = fields.Selection(PROVIDERS, "Provider", required=True,
        readonly=True)
    description = fields.Char("Description", required=True, readonly=True)
    origin = fields.Reference("Origin", selection='get_origins',
        readonly=True,
        help="The document of another module this payment pays.")
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True)
    refunded_amount = fields.Numeric("Refunded", digits=(16, 2),
        required=True, readonly=True)
    lines = fields.One2Many('community.payment.online.line', 'payment',
        "Lines", readonly=True)
    refunds = fields.One2Many('community.payment.online.refund', 'payment',
        "Refunds", readonly=True)
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    qr_code = fields.Char("QR Code Content", readonly=True,
        help="WeChat Pay code_url or Alipay qr_code shown to the payer.")
    prepay_id = fields.Char("Prepay ID", readonly=True,
        help="WeChat Pay JSAPI: the order the payer's WeChat opens.")
    pay_url = fields.Char("Payment Page", readonly=True,
        help="WeChat Pay h5_url or Alipay wap pay address the payer's "
        "mobile browser opens.")
    transaction_id = fields.Char("Transaction ID", readonly=True)
    expire_at = fields.DateTime("Expires At", readonly=True)
    paid_at = fields.DateTime("Paid At", readonly=True)
    settlement = fields.Many2One('community.payment', "Receipt",
        readonly=True, ondelete='RESTRICT',
        help="The posted payment with its receipt number that booked the "
        "money on the ledger.")
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('reference_unique', Unique(t, t.reference),
                'community_payment.msg_online_payment_reference_unique'),
            ('amount_positive', Check(t, t.amount > 0),
                'community_payment.msg_online_payment_amount_positive'),
            ('settlement_unique', Unique(t, t.settlement),
                'community_payment.msg_online_payment_settlement_unique'),
            ('refunded_within_amount',
                Check(t, (t.refunded_amount >= 0)
                    & (t.refunded_amount <= t.amount)),
                'community_payment.msg_online_payment_refunded_amount'),
            ]
        cls._order[0:0] = [('create_date', 'DESC'), ('id', 'DESC')]
        cls.__access__.add('compound')
        cls._transitions |= {
            ('pending', 'closed'),
            }
        cls._buttons.update({
                'close': {
                    'invisible': Eval('state') != 'pending',
                    'depends': ['state'],
                    },
                'query': {
                    'invisible': Eval('state') != 'pending',
                    'depends': ['state'],
                    },
                'request_refund': {
                    'invisible': ~Eval('state').in_(
                        ['paid', 'partly_refunded']),
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_reference():
        return new_reference()

    @staticmethod
    def default_state():
        return 'pending'

    @staticmethod
    def default_channel():
        return 'qr'

    @staticmethod
    def default_refunded_amount():
        return Decimal(0)

    @fields.depends('compound')
    def on_change_with_company(self, name=None):
        return self.compound.company if self.compound else None

    @classmethod
    def search_company(cls, name, clause):
        return [('compound.company',) + tuple(clause[1:])]

    @classmethod
    def get_origins(cls):
        "Documents of other modules an online payment may pay."
        return [(None, '')]

    def get_rec_name(self, name):
        return '%s %s' % (self.reference, format_money(self.amount))

    # ------------------------------------------------------------ creation
    @classmethod
    def start(cls, compound, unit, party, provider, items=None,
            amount=None, description=None, origin=None, channel='qr',
            openid=None, client_ip=None, return_url=None):
        """Open an online payment of ``unit`` by ``party`` at ``provider``
        ('wechat' or 'alipay') and return it with what the payer opens.

        ``channel``: 'qr' (WeChat Native, Alipay precreate: ``qr_code``),
        'jsapi' (WeChat Pay inside WeChat, for the payer's ``openid``:
        ``prepay_id``, see ``jsapi_parameters``) or 'mobile' (a mobile
        browser: WeChat Pay H5 for the payer's ``client_ip``, Alipay wap
        pay returning to ``return_url``: ``pay_url``).

        ``items``: payment line values (``community.payment.open_items``:
        bill, late_fee, amount); ``amount`` defaults to their total; no
        items: a prepayment of ``amount``. Raises PaymentError when the
        compound has no merchant account for the provider, ProviderError
        when the provider refuses the order (nothing is kept then)."""
        pool = Pool()
        Merchant = pool.get('community.payment.merchant')
        merchant = Merchant.for_compound(compound, provider)
        if not merchant:
            raise PaymentError(gettext(
                    'community_payment.msg_no_merchant',
                    compound=compound.rec_name,
                    provider=dict(PROVIDERS)[provider]))
        items = items or []
        if amount is None:
            amount = sum((Decimal(i['amount']) for i in items), Decimal(0))
        now = dt.datetime.now().replace(microsecond=0)
        payment = cls(compound=compound, unit=unit, party=party,
            merchant=merchant, provider=provider, amount=amount,
            origin=origin, channel=channel,
            description=(description or '%s %s' % (
                    compound.name, unit.rec_name))[:120],
            expire_at=now + dt.timedelta(minutes=merchant.expire_minutes),
            lines=[{'bill': i['bill'], 'late_fee': i.get('late_fee'),
                    'amount': i['amount']} for i in items])
        payment.save()
        gateway = get_provider(merchant)
        try:
            if channel == 'jsapi' and provider == 'wechat':
                payment.prepay_id = gateway.create_jsapi(payment, openid)
            elif channel == 'mobile' and provider == 'wechat':
                payment.pay_url = gateway.create_h5(payment, client_ip)
            elif channel == 'mobile' and provider == 'alipay':
                payment.pay_url = gateway.create_wap(payment, return_url)
            elif channel == 'qr':
                payment.qr_code = gateway.create(payment)
            else:
                raise ProviderFailure('no %s channel' % channel)
        except ProviderFailure as exception:
            logger.warning("%s refused order %s: %s",
                provider, payment.reference, exception)
            raise ProviderError(gettext(
                    'community_payment.msg_provider_failure',
                    provider=dict(PROVIDERS)[provider]))
        payment.save()
        return payment

    def jsapi_parameters(self):
        """The signed parameters of WeixinJSBridge's getBrandWCPayRequest
        for a pending JSAPI payment (a new timestamp and nonce each
        time), else None."""
        if (self.channel != 'jsapi' or not self.prepay_id
                or self.state != 'pending'):
            return None
        return get_provider(self.merchant).jsapi_parameters(self.prepay_id)

    # -------------------------------------------------------- notification
    @classmethod
    def receive(cls, merchant, headers, body):
        """Verify a notification sent to ``merchant``'s URL and act on it
        once. Returns the payment (or refund) it concerns; raises
        ValueError for a forged, malformed or unknown notification and
        PaymentError when the amount differs: nothing is booked then."""
        provider = get_provider(merchant)
        notice = provider.parse(headers, body)
        if notice.kind == 'refund':
            try:
                Refund = Pool().get('community.payment.online.refund')
            except KeyError:
                raise ValueError("refunds are not handled")
            return Refund.confirm_notice(merchant, notice)
        payments = cls.search([
                ('reference', '=', notice.reference),
                ('merchant', '=', merchant.id),
                ], limit=1)
        if not payments:
            raise ValueError("unknown order %r" % notice.reference)
        payment, = payments
        if notice.state == 'paid':
            cls.confirm(payment, notice)
        return payment

    @classmethod
    def confirm(cls, payment, notice):
        """Mark ``payment`` paid as ``notice`` (verified) says, and book it,
        exactly once: the one transaction whose conditional UPDATE turns it
        paid posts it; any other (a duplicate, a concurrent retry, the
        query job) finds it paid and does nothing. A payment closed or
        failed meanwhile is paid all the same: the money arrived."""
        if notice.amount != payment.amount:
            logger.warning("order %s: notified amount %s, expected %s",
                payment.reference, notice.amount, payment.amount)
            raise PaymentError(gettext(
                    'community_payment.msg_notified_amount',
                    payment=payment.reference,
                    amount=format_money(notice.amount or 0)))
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = dt.datetime.now()
        cursor.execute(*table.update(
                [table.state, table.transaction_id, table.paid_at,
                    table.write_date, table.write_uid],
                ['paid', notice.transaction_id, now, now,
                    Transaction().user],
                where=(table.id == payment.id)
                & table.state.in_(['pending', 'closed', 'failed']),
                returning=[table.id]))
        if not cursor.fetchall():
            return False  # already paid: booked once before
        Transaction().counter += 1  # the record cache is stale
        # booked after commit, by the queue, with the other payments paid
        # meanwhile: the notification is answered without waiting for the
        # ledger's locks (receipt and move numbers)
        cls._queue_settle(payment)
        return True

    @classmethod
    def _queue_settle(cls, payment):
        """Queue the booking of ``payment``, just paid (``settle_paid``).

        With a queue worker, a burst of notifications shares its tasks: the
        task waits ``SETTLE_DELAY`` before it starts and books every
        payment paid until then; a payment paid while such a task still
        has more than ``SETTLE_MARGIN`` to wait queues none of its own (its
        transaction commits before the task reads). One paid and missed
        all the same (a commit slower than the margin) is booked by the
        next task or the query job."""
        pool = Pool()
        Queue = pool.get('ir.queue')
        context = {}
        if config.getboolean('queue', 'worker', default=False):
            now = dt.datetime.now()
            with without_check_access():
                waiting = Queue.search([
                        ('name', '=', 'default'),
                        ('dequeued_at', '=', None),
                        ('scheduled_at', '>', now + SETTLE_MARGIN),
                        ('data.model', '=', cls.__name__),
                        ('data.method', '=', 'settle_paid'),
                        ], limit=1)
            if waiting:
                return
            context['queue_scheduled_at'] = SETTLE_DELAY
        with Transaction().set_context(context):
            cls.__queue__.settle_paid([cls(payment.id)])

    @classmethod
    def settle_paid(cls, payments=None):
        """Book the payments paid and not yet booked (queued by ``confirm``;
        also run by the query job): ``payments`` and, in the same
        transaction, up to ``SETTLE_BATCH`` others waiting, oldest first.
        The rows are locked (SKIP LOCKED: a concurrent task books the
        others), so each payment is booked once."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [p.id for p in payments or []]
        waiting = ((table.settlement == Null)
            & table.state.in_(['paid', 'partly_refunded', 'refunded']))
        query = table.select(table.id, where=waiting,
            order_by=[table.id.in_(ids or [-1]).desc, table.id.asc],
            limit=SETTLE_BATCH)
        sql, params = tuple(query)
        # python-sql's For has no SKIP LOCKED
        cursor.execute(sql + ' FOR UPDATE SKIP LOCKED', params)
        todo = [r[0] for r in cursor]
        if todo:
            Transaction().counter += 1  # read them after the lock
            cls.settle(cls.browse(todo))
        if (len(todo) == SETTLE_BATCH
                and config.getboolean('queue', 'worker', default=False)):
            # more are waiting: the next batch in a task of its own
            cls.__queue__.settle_paid([cls(todo[-1])])

    @classmethod
    def settle(cls, payments):
        """Post the paid ``payments`` on the ledger together
        (``post_receipts``): for each a counter payment of its unit by its
        payer, method WeChat Pay or Alipay, the transaction id as
        reference, with a receipt number."""
        receipts = cls.post_receipts([(payment.compound, payment.unit,
                    payment.party, payment.provider,
                    payment.transaction_id or payment.reference,
                    payment.amount,
                    [(l.bill, l.late_fee, l.amount) for l in payment.lines])
                for payment in payments])
        # the claim: a payment gets its receipt only while it has none (a
        # UNIQUE constraint on the receipt is the last guard)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = dt.datetime.now()
        for payment, receipt in zip(payments, receipts):
            cursor.execute(*table.update(
                    [table.settlement, table.write_date, table.write_uid],
                    [receipt.id, now, Transaction().user],
                    where=(table.id == payment.id)
                    & (table.settlement == Null),
                    returning=[table.id]))
            if not cursor.fetchall():
                raise PaymentError(gettext(
                        'community_payment.msg_online_payment_booked',
                        payment=payment.reference))
            payment.settlement = receipt
        Transaction().counter += 1  # the record cache is stale

    @classmethod
    def post_receipt(cls, compound, unit, party, method, reference, amount,
            wanted):
        """Post one receipt (``post_receipts``); return the posted counter
        payment. Used by the portal's sandbox payments."""
        receipt, = cls.post_receipts([(compound, unit, party, method,
                    reference, amount, wanted)])
        return receipt

    @classmethod
    def post_receipts(cls, receipts):
        """The one path that books money received online: for each of
        ``receipts`` — (compound, unit, party, method, reference, amount,
        wanted) — a counter payment (``community.payment``, with its
        receipt number) of ``unit`` by ``party`` for ``amount``, dated the
        compound's local day, settling ``wanted`` — (bill, late fee or
        None, amount) — each up to what is still open now (the bills of
        all of them are locked first, in id order; receipts of one call
        paying the same bill share what is open); the rest, or all of a
        prepayment, is kept as the payer's prepayment: money received is
        never refused. The counter payments are posted by one
        ``community.payment.post`` call (its bulk path: receipt numbers
        taken together per compound, moves created, posted and the bills
        reconciled together). Returns the posted payments, in order."""
        pool = Pool()
        Counter = pool.get('community.payment')
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        if not receipts:
            return []
        targets = {}
        for receipt in receipts:
            for bill, fee, _ in receipt[6]:
                target = fee or bill
                targets[str(target)] = target
        Counter.lock_bills(sorted(targets.values(),
                key=lambda t: (t.__name__, t.id)))
        Transaction().counter += 1  # read the amounts after the lock
        bills = {b.id: b for b in Bill.browse(
                list({b.id for r in receipts for b, _, _ in r[6]}))}
        fees = {f.id: f for f in LateFee.browse(
                list({f.id for r in receipts for _, f, _ in r[6] if f}))}
        settled = defaultdict(Decimal)
        counters = []
        for compound, unit, party, method, reference, amount, wanted in (
                receipts):
            lines, left = [], amount
            for bill, fee, line_amount in wanted:
                bill = bills[bill.id]
                if bill.state != 'posted':
                    continue  # cancelled meanwhile: kept as prepayment
                target = fees[fee.id] if fee else bill
                open_ = target.amount_to_pay - settled[str(target)]
                line_amount = min(line_amount, open_, left)
                if line_amount > 0:
                    lines.append({'bill': bill.id, 'amount': line_amount,
                            'late_fee': fee.id if fee else None})
                    settled[str(target)] += line_amount
                    left -= line_amount
            counters.append(Counter(compound=compound, unit=unit,
                    party=party,
                    # the local day of the compound: its late fees due up
                    # to that day are charged when the payment is posted
                    date=local_today(compound.timezone),
                    method=method, reference=reference, amount=amount,
                    lines=lines))
        by_company = defaultdict(list)
        for counter in counters:
            by_company[counter.compound.company.id].append(counter)
        for company, c_counters in by_company.items():
            with Transaction().set_context(company=company):
                Counter.save(c_counters)
                Counter.post(c_counters)
        return Counter.browse([c.id for c in counters])

    # ------------------------------------------------------ query and close
    @classmethod
    @ModelView.button
    def query(cls, payments):
        """Ask the provider about pending payments: book those it says are
        paid (a lost notification), close those expired."""
        now = dt.datetime.now()
        for payment in payments:
            if payment.state != 'pending':
                continue
            provider = get_provider(payment.merchant)
            try:
                notice = provider.query(payment)
            except ProviderFailure as exception:
                logger.warning("query of order %s failed: %s",
                    payment.reference, exception)
                continue
            if notice.state == 'paid':
                cls.confirm(payment, notice)
            elif notice.state in {'closed', 'failed'} or (
                    payment.expire_at and payment.expire_at < now):
                try:
                    if notice.state not in {'closed', 'failed'}:
                        provider.close(payment)
                except ProviderFailure as exception:
                    logger.warning("close of order %s failed: %s",
                        payment.reference, exception)
                    continue
                cls._set_closed([payment])

    @classmethod
    @ModelView.button_action(
        'community_payment.wizard_online_refund_request')
    def request_refund(cls, payments):
        "Request a refund of the payment (退款): the refund request wizard."
        pass

    @classmethod
    def _set_closed(cls, payments):
        "pending → closed by a conditional UPDATE (a payment paid stays)."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.state], ['closed'],
                where=table.id.in_([p.id for p in payments])
                & (table.state == 'pending')))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, payments):
        "Close pending orders at their provider (the payer can no longer pay)."
        for payment in payments:
            try:
                get_provider(payment.merchant).close(payment)
            except ProviderFailure as exception:
                logger.warning("close of order %s failed: %s",
                    payment.reference, exception)
                raise ProviderError(gettext(
                        'community_payment.msg_provider_failure',
                        provider=payment.provider))

    @classmethod
    def query_pending(cls):
        """Scheduled action: query the pending payments older than a few
        minutes (their notification may be lost), book the paid ones and
        close the expired ones."""
        pending = cls.search([
                ('state', '=', 'pending'),
                ('create_date', '<', dt.datetime.now() - QUERY_DELAY),
                ], order=[('create_date', 'ASC')])
        cls.query(pending)
        # paid but not booked (a lost task): booked now
        cls.settle_paid()

    @classmethod
    def reserve_refund(cls, payment, amount):
        """Add ``amount`` to what ``payment`` has refunded if it stays within
        what was paid, in one conditional UPDATE (two concurrent refunds
        cannot both pass: the second waits for the row and re-checks).
        Returns True when reserved."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        refunded = Coalesce(table.refunded_amount, Literal(0))
        cursor.execute(*table.update(
                [table.refunded_amount], [refunded + amount],
                where=(table.id == payment.id)
                & table.state.in_(['paid', 'partly_refunded'])
                & (refunded + amount <= table.amount),
                returning=[table.id]))
        reserved = bool(cursor.fetchall())
        Transaction().counter += 1
        return reserved


class OnlinePaymentLine(ModelSQL, ModelView):
    """What an online payment pays: a bill, or a late fee of the bill, with
    the amount open when the payment started."""
    __name__ = 'community.payment.online.line'
    payment = fields.Many2One('community.payment.online', "Payment",
        required=True, ondelete='CASCADE', readonly=True)
    bill = fields.Many2One('community.bill', "Bill", required=True,
        ondelete='RESTRICT', readonly=True)
    late_fee = fields.Many2One('community.late_fee', "Late Fee",
        ondelete='RESTRICT', readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('payment')
