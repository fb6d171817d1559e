# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Refunds of online payments (线上退款) to the channel they came from.

draft (requested by staff) → approved (by the refund approval group, 退款
审批; the amount is reserved on the payment and the sending queued) →
processing (sent to WeChat Pay or Alipay through its SDK by the queue,
after the approval's commit) → succeeded (the provider confirmed: WeChat
Pay's REFUND.SUCCESS notification or the refund query — queued at once
when the provider answered that it refunded, as Alipay does —; then
posted on the ledger, in a transaction that never calls the provider's
refund) | failed (the provider refused: the reservation is released;
approving the refund again sends it again under the same refund number,
which both providers treat as the same request). A draft may be
cancelled.

Sending and posting are apart because a transaction may be run again
(trytond restarts one that waited on a lock, e.g. of a sequence): sending
again is harmless (same refund number), posting is done by the
transaction that moves the refund from processing to succeeded, once.

**Never more than was paid.** Approval adds the amount to the payment's
``refunded_amount`` by one conditional UPDATE (``reserve_refund``) that
passes only while the total stays within the amount paid: of two
concurrent approvals, the second waits for the first's row lock and then
fails (re-checked, or serialization failure), and a CHECK constraint on
the payment is the last guard. ``refunded_amount`` counts the refunds
approved, in progress and succeeded.

**Ledger** (one move per refund when it succeeds, journal 现金, origin the
refund): the money leaves the clearing account of the merchant (credit
1012 其他货币资金); the payer's prepayment (2203 预收账款) is debited as
far as the payer's prepayment balance goes at that moment; what exceeds
it — money that had settled bills — is debited to the payer's receivable
(1122 应收账款, party the payer, no bill): the bills stay settled, the
payer owes it again and the accountant collects or writes it off.

``provider_refund_id`` is the provider's id of the refund, as its
statements list it: WeChat Pay's ``refund_id``; Alipay has none of its own
and lists the refund by our request number (``out_request_no``, the
refund's ``reference``), so that is stored.
"""
import datetime as dt
import logging
from decimal import Decimal

from sql import Literal
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce

from trytond.i18n import gettext
from trytond.model import Check, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction
from trytond.wizard import Button, StateAction, StateView, Wizard

from trytond.modules.community_base.display import format_money

from .exceptions import PaymentError
from .merchant import PROVIDERS
from .providers import ProviderFailure, get_provider, new_reference

logger = logging.getLogger(__name__)

#: first key of the advisory lock taken per payer while posting a refund
REFUND_LOCK = 0x52464e44
STATES = [
    ('draft', "Draft"),
    ('approved', "Approved"),
    ('processing', "Processing"),
    ('succeeded', "Succeeded"),
    ('failed', "Failed"),
    ('cancelled', "Cancelled"),
    ]


class OnlinePaymentRefund(Workflow, ModelSQL, ModelView):
    """Online Payment Refund (线上退款): all or part of a paid online
    payment returned to the payer through the provider it was paid with."""
    __name__ = 'community.payment.online.refund'
    _rec_name = 'reference'
    _states = {'readonly': Eval('state') != 'draft'}
    reference = fields.Char("Refund Number", required=True, readonly=True,
        strip=False,
        help="Our refund number at the provider (WeChat Pay out_refund_no, "
        "Alipay out_request_no).")
    payment = fields.Many2One('community.payment.online', "Payment",
        required=True, ondelete='RESTRICT', states=_states,
        domain=[If(Eval('state') == 'draft',
                ('state', 'in', ['paid', 'partly_refunded']),
                ())])
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT', readonly=True)
    party = fields.Function(fields.Many2One('party.party', "Payer"),
        'on_change_with_party')
    provider = fields.Function(fields.Selection(PROVIDERS, "Provider"),
        'on_change_with_provider')
    refundable = fields.Function(fields.Numeric("Refundable",
            digits=(16, 2),
            help="What was paid less what is refunded or being refunded."),
        'on_change_with_refundable')
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        states=_states)
    reason = fields.Char("Reason", required=True, states=_states)
    provider_refund_id = fields.Char("Provider Refund ID", readonly=True,
        help="The provider's id of the refund, as its statement lists it "
        "(WeChat Pay refund_id; Alipay: the refund number).")
    requested_by = fields.Many2One('res.user', "Requested By",
        readonly=True)
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    approved_at = fields.DateTime("Approved At", readonly=True)
    sent_at = fields.DateTime("Sent At", readonly=True)
    refunded_at = fields.DateTime("Refunded At", readonly=True)
    failure = fields.Char("Failure", readonly=True,
        help="What the provider answered when it refused the refund.")
    move = fields.Many2One('account.move', "Move", readonly=True,
        ondelete='RESTRICT')
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('reference_unique', Unique(t, t.reference),
                'community_payment.msg_refund_reference_unique'),
            ('amount_positive', Check(t, t.amount > 0),
                'community_payment.msg_refund_amount_positive'),
            ]
        cls._order[0:0] = [('create_date', 'DESC'), ('id', 'DESC')]
        cls.__access__.add('payment')
        cls._transitions |= {
            ('draft', 'approved'),
            ('failed', 'approved'),
            ('draft', 'cancelled'),
            ('approved', 'processing'),
            ('processing', 'succeeded'),
            ('processing', 'failed'),
            }
        cls._buttons.update({
                'approve': {
                    'invisible': ~Eval('state').in_(['draft', 'failed']),
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'send': {
                    'invisible': Eval('state') != 'approved',
                    'depends': ['state'],
                    },
                'query': {
                    'invisible': Eval('state') != 'processing',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_reference():
        return new_reference()

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_requested_by():
        return Transaction().user

    @fields.depends('payment')
    def on_change_with_party(self, name=None):
        return self.payment.party if self.payment else None

    @fields.depends('payment')
    def on_change_with_provider(self, name=None):
        return self.payment.provider if self.payment else None

    @fields.depends('payment')
    def on_change_with_refundable(self, name=None):
        if self.payment and self.payment.amount is not None:
            return self.payment.amount - (
                self.payment.refunded_amount or Decimal(0))

    @fields.depends('payment', 'amount', methods=['on_change_with_refundable'])
    def on_change_payment(self):
        self.compound = self.payment.compound if self.payment else None
        if self.payment and self.amount is None:
            self.amount = self.on_change_with_refundable()

    def get_rec_name(self, name):
        return '%s %s' % (self.reference, format_money(self.amount))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('reference'):
            # a default is computed once per create call: one per refund
            values['reference'] = new_reference()
        if mode == 'create' and values.get('payment'):
            Payment = Pool().get('community.payment.online')
            values['compound'] = Payment(values['payment']).compound.id
        return values

    @classmethod
    def validate_fields(cls, refunds, field_names):
        super().validate_fields(refunds, field_names)
        if field_names & {'amount', 'payment'}:
            for refund in refunds:
                if refund.state == 'draft':
                    refund.check_refundable()

    def check_refundable(self):
        """Raise PaymentError when the payment cannot be refunded (any
        more) or not this amount (checked again, under lock, when the
        refund is approved)."""
        payment = self.payment
        if payment.state not in {'paid', 'partly_refunded'}:
            raise PaymentError(gettext(
                    'community_payment.msg_refund_not_paid',
                    payment=payment.rec_name))
        refundable = payment.amount - payment.refunded_amount
        if self.amount > refundable:
            raise PaymentError(gettext(
                    'community_payment.msg_refund_exceeds',
                    refund=self.rec_name, payment=payment.reference,
                    amount=format_money(refundable)))

    @classmethod
    def check_modification(cls, mode, refunds, values=None, external=False):
        super().check_modification(
            mode, refunds, values=values, external=external)
        if mode == 'delete':
            for refund in refunds:
                if refund.state not in {'draft', 'cancelled'}:
                    raise PaymentError(gettext(
                            'community_payment.msg_refund_delete',
                            refund=refund.rec_name))

    # ------------------------------------------------------------ workflow
    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, refunds):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, refunds):
        """Approve refunds: reserve each amount on its payment (one
        conditional UPDATE: never beyond what was paid less what is
        refunded, also against a concurrent approval), then queue their
        sending to the provider (``send_to_provider``, after commit)."""
        Payment = Pool().get('community.payment.online')
        for refund in refunds:
            if not Payment.reserve_refund(refund.payment, refund.amount):
                payment = Payment(refund.payment.id)
                raise PaymentError(gettext(
                        'community_payment.msg_refund_exceeds',
                        refund=refund.rec_name, payment=payment.reference,
                        amount=format_money(
                            payment.amount - payment.refunded_amount)))
        cls.write(refunds, {
                'approved_by': Transaction().user,
                'approved_at': dt.datetime.now(),
                'failure': None,
                })
        cls.__queue__.send_to_provider(refunds)

    @classmethod
    @ModelView.button
    def send(cls, refunds):
        """Queue the sending of approved refunds again (``send_to_provider``
        after commit), for one whose task was lost."""
        refunds = [r for r in refunds if r.state == 'approved']
        if refunds:
            cls.__queue__.send_to_provider(refunds)

    @classmethod
    def send_to_provider(cls, refunds):
        """Send approved refunds to the provider of their payment (a task
        queued by ``approve``). Nothing is posted here: the provider's
        confirmation posts it — WeChat Pay's notification, or the refund query
        (queued at once when the provider answers that it refunded, as Alipay
        does; else the scheduled query). A refusal marks the refund failed and
        releases its amount.

        approved → processing is a conditional UPDATE before the provider
        is asked: one task sends a refund. A transaction restarted after
        the provider was asked sends it again under the same refund
        number (WeChat Pay out_refund_no, Alipay out_request_no), which
        the provider answers as the same refund, never twice."""
        to_confirm = []
        for refund in refunds:
            if not cls._set_state(refund, 'processing',
                    {'sent_at': dt.datetime.now()}, from_='approved'):
                continue
            refund = cls(refund.id)
            payment = refund.payment
            try:
                state, refund_id = get_provider(payment.merchant).refund(
                    refund)
            except ProviderFailure as exception:
                logger.warning("refund %s of order %s refused: %s",
                    refund.reference, payment.reference, exception)
                cls._fail(refund, str(exception))
                continue
            if refund_id:
                cls.write([refund], {'provider_refund_id': refund_id})
            if state == 'refunded':
                to_confirm.append(refund)
            elif state == 'failed':
                cls._fail(refund, state)
        if to_confirm:
            # posted by a transaction of its own, after this one commits
            cls.__queue__.query(to_confirm)

    @classmethod
    @ModelView.button
    def query(cls, refunds):
        """Ask the provider about refunds in progress (a lost
        notification): post those it says succeeded, fail those it says
        failed."""
        for refund in refunds:
            if refund.state != 'processing':
                continue
            try:
                state, refund_id = get_provider(
                    refund.payment.merchant).query_refund(refund)
            except ProviderFailure as exception:
                logger.warning("query of refund %s failed: %s",
                    refund.reference, exception)
                continue
            if refund_id and not refund.provider_refund_id:
                cls.write([refund], {'provider_refund_id': refund_id})
            if state == 'refunded':
                cls.succeed(refund)
            elif state == 'failed':
                cls._fail(refund, state)

    @classmethod
    def query_processing(cls):
        """Scheduled action: query the refunds in progress; queue again the
        sending of refunds approved a while ago and still not sent (a lost
        task)."""
        before = dt.datetime.now() - dt.timedelta(minutes=3)
        cls.query(cls.search([
                    ('state', '=', 'processing'),
                    ('sent_at', '<', before),
                    ], order=[('sent_at', 'ASC')]))
        unsent = cls.search([
                ('state', '=', 'approved'),
                ('approved_at', '<', before),
                ], order=[('approved_at', 'ASC')])
        if unsent:
            cls.__queue__.send_to_provider(unsent)

    # ----------------------------------------------------- provider answer
    @classmethod
    def confirm_notice(cls, merchant, notice):
        """Act once on a verified refund notification of ``merchant``:
        post the refund it says succeeded, fail the one it says failed.
        Raises ValueError for an unknown refund, PaymentError when the
        amount is not the refund's."""
        refunds = cls.search([
                ('reference', '=', notice.refund_reference),
                ('payment.merchant', '=', merchant.id),
                ], limit=1)
        if not refunds:
            raise ValueError("unknown refund %r" % notice.refund_reference)
        refund, = refunds
        if notice.state == 'refunded':
            if notice.amount != refund.amount:
                logger.warning("refund %s: notified amount %s, expected %s",
                    refund.reference, notice.amount, refund.amount)
                raise PaymentError(gettext(
                        'community_payment.msg_refund_notified_amount',
                        refund=refund.reference,
                        amount=format_money(notice.amount or 0)))
            if notice.provider_refund_id and not refund.provider_refund_id:
                cls.write([refund],
                    {'provider_refund_id': notice.provider_refund_id})
            cls.succeed(refund)
        elif notice.state == 'failed':
            cls._fail(refund, 'notified')
        return refund

    @classmethod
    def _set_state(cls, refund, state, values=None, from_='processing'):
        """``from_`` → ``state`` by one conditional UPDATE; True for the
        one transaction that changed it (a duplicated notification or
        task, the query job or a concurrent retry finds it changed)."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        values = dict(values or {}, state=state,
            write_date=dt.datetime.now(), write_uid=Transaction().user)
        cursor.execute(*table.update(
                [getattr(table, k) for k in values], list(values.values()),
                where=(table.id == refund.id)
                & (table.state == from_),
                returning=[table.id]))
        changed = bool(cursor.fetchall())
        Transaction().counter += 1  # the record cache is stale
        return changed

    @classmethod
    def _fail(cls, refund, failure):
        "processing → failed, once, releasing the reserved amount."
        if not cls._set_state(refund, 'failed',
                {'failure': (failure or '')[:200]}):
            return False
        Payment = Pool().get('community.payment.online')
        table = Payment.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.refunded_amount],
                [table.refunded_amount - refund.amount],
                where=table.id == refund.payment.id))
        Transaction().counter += 1
        return True

    @classmethod
    def succeed(cls, refund):
        """processing → succeeded, once: post the refund on the ledger and
        mark its payment (partly) refunded."""
        if not cls._set_state(refund, 'succeeded',
                {'refunded_at': dt.datetime.now()}):
            return False
        refund = cls(refund.id)
        refund.move = refund._post_move()
        refund.save()
        Payment = Pool().get('community.payment.online')
        payment = Payment.__table__()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        succeeded = table.select(Coalesce(Sum(table.amount), Literal(0)),
            where=(table.payment == refund.payment.id)
            & (table.state == 'succeeded'))
        cursor.execute(*payment.update([payment.state], [Case(
                        (succeeded >= payment.amount, 'refunded'),
                        else_='partly_refunded')],
                where=(payment.id == refund.payment.id)
                & payment.state.in_(['paid', 'partly_refunded'])))
        Transaction().counter += 1
        return True

    def _post_move(self):
        """Post the refund's move: credit the merchant's clearing account;
        debit the payer's prepayment as far as its balance goes, the rest
        the payer's receivable."""
        pool = Pool()
        Move = pool.get('account.move')
        MoveLine = pool.get('account.move.line')
        Period = pool.get('account.period')
        Date = pool.get('ir.date')
        Counter = pool.get('community.payment')
        Configuration = pool.get('community.billing.configuration')
        config = Configuration(1)
        payment = self.payment
        company = payment.compound.company
        party = payment.party
        cursor = Transaction().connection.cursor()
        # two refunds of one payer posted at once read the same balance:
        # take turns per payer until commit
        cursor.execute('SELECT pg_advisory_xact_lock(%s, %s)',
            (REFUND_LOCK, party.id))
        Transaction().counter += 1
        balance = Counter.prepayment_balances([party]).get(
            party.id, Decimal(0))
        from_prepayment = min(self.amount, max(balance, Decimal(0)))
        rest = self.amount - from_prepayment
        description = '%s %s' % (payment.reference, self.reason)[:100]
        lines = [MoveLine(account=payment.merchant.get_clearing_account(),
                debit=Decimal(0), credit=self.amount,
                description=self.provider_refund_id or self.reference)]
        if from_prepayment:
            lines.append(MoveLine(
                    account=config.get_multivalue(
                        'prepayment_account', company=company.id),
                    party=party, debit=from_prepayment, credit=Decimal(0),
                    description=description))
        if rest:
            lines.append(MoveLine(
                    account=config.get_multivalue(
                        'receivable_account', company=company.id)
                    or party.account_receivable_used,
                    party=party, debit=rest, credit=Decimal(0),
                    description=description))
        with Transaction().set_context(company=company.id):
            date = Date.today()
        helper = Counter(compound=payment.compound, method=payment.provider)
        move = Move(company=company, journal=helper.journal(),
            period=Period.find(company, date=date), date=date, origin=self,
            description=description, lines=lines)
        move.save()
        Move.post([move])
        return move


class RefundRequestStart(ModelView):
    "Request a Refund of an Online Payment"
    __name__ = 'community.payment.online.refund.request.start'
    payment = fields.Many2One('community.payment.online', "Payment",
        readonly=True)
    refundable = fields.Numeric("Refundable", digits=(16, 2), readonly=True,
        help="What was paid less what is refunded or being refunded.")
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        domain=[
            ('amount', '>', 0),
            ('amount', '<=', Eval('refundable', 0)),
            ])
    reason = fields.Char("Reason", required=True)


class RefundRequest(Wizard):
    """Request a refund of the paid online payment at hand (退款, the
    payment form's button): what remains refundable is proposed; the
    refund is created as a draft, for the refund approval group to
    approve, and shown."""
    __name__ = 'community.payment.online.refund.request'
    start = StateView('community.payment.online.refund.request.start',
        'community_payment.online_refund_request_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Request", 'request', 'tryton-ok', default=True),
            ])
    request = StateAction('community_payment.act_online_refund_form')

    def default_start(self, fields):
        payment = self.record
        if payment.state not in {'paid', 'partly_refunded'}:
            raise PaymentError(gettext(
                    'community_payment.msg_refund_not_paid',
                    payment=payment.rec_name))
        refundable = payment.amount - payment.refunded_amount
        return {
            'payment': payment.id,
            'refundable': refundable,
            'amount': refundable,
            }

    def do_request(self, action):
        Refund = Pool().get('community.payment.online.refund')
        refund = Refund(payment=self.record, amount=self.start.amount,
            reason=self.start.reason)
        refund.save()
        # the form of the new refund first
        action['views'].reverse()
        return action, {'res_id': [refund.id]}
