# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Daily reconciliation (对账) of a merchant account against its
provider's statement (对账单).

A statement is one merchant account and one day (Beijing time, the
providers' day). Reconciling it:

1. loads its lines once: from the file the accountant uploaded, else
   downloaded from the provider (WeChat Pay's trade bill, Alipay's 业务明细),
   the file kept on the statement;
2. matches every line to our online payment by the provider's
   transaction id (or our order number), every refund line to our online
   refund by the provider's refund id (or our refund number), and compares
   the amounts;
3. books the provider's fees (手续费) of the day in one move (fee expense
   account / the merchant's clearing account 1012), once: a statement has
   at most one move, and a rerun finds it;
4. lists every mismatch (missing on our side, missing on the provider's,
   amount differs) for the accountant to resolve with a note. A rerun adds
   only new mismatches, closes by itself those that disappeared (e.g. a
   lost notification since recovered) and keeps the accountant's notes.

The scheduled action reconciles yesterday for every active merchant
account once the statements are made (WeChat Pay: about 10:00 the next
day), from 10:30 Beijing time, hourly until it succeeds.
"""
import datetime as dt
import logging
import zipfile
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import (
    ModelSQL, ModelView, Unique, Workflow, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, TransactionError

from trytond.modules.community_base.display import format_money

from .exceptions import PaymentError, ProviderError
from .merchant import PROVIDERS
from .providers import (
    BEIJING, PROVIDERS as PROVIDER_CLASSES, ProviderFailure,
    StatementNotReady, get_provider)

logger = logging.getLogger(__name__)

#: the account of the providers' fees when the merchant account names none
FEE_ACCOUNT_CODE = '6603.01'
#: when the providers' statements of a day are made, the next day
#: (Beijing time); the scheduled action starts half an hour later
STATEMENT_READY = dt.time(10, 0)
RECONCILE_FROM = dt.time(10, 30)
#: the states of an online payment whose money the provider holds
PAID_STATES = ['paid', 'partly_refunded', 'refunded']
#: the states of an online refund sent to the provider
REFUND_STATES = ['processing', 'succeeded']

LINE_KINDS = [
    ('payment', "Payment"),
    ('refund', "Refund"),
    ]
LINE_STATUSES = [
    (None, ''),
    ('matched', "Matched"),
    ('missing', "Missing on Our Side"),
    ('amount', "Amount Differs"),
    ]
MISMATCH_KINDS = [
    ('missing_ours', "Missing on Our Side"),
    ('missing_theirs', "Missing on Provider's Side"),
    ('amount', "Amount Differs"),
    ]


def beijing_today():
    return dt.datetime.now(BEIJING).date()


def day_bounds(date):
    "The start and end of ``date`` (Beijing time) as naive UTC datetimes."
    start = dt.datetime.combine(date, dt.time(0), BEIJING).astimezone(
        dt.timezone.utc).replace(tzinfo=None)
    return start, start + dt.timedelta(days=1)


class Statement(Workflow, ModelSQL, ModelView):
    """Provider Statement (对账单): a merchant account's statement of a day
    at its provider, its lines matched to our payments."""
    __name__ = 'community.payment.statement'
    _states = {'readonly': Eval('state') != 'draft'}
    merchant = fields.Many2One('community.payment.merchant',
        "Merchant Account", required=True, ondelete='RESTRICT',
        states=_states)
    company = fields.Function(fields.Many2One('company.company', "Company"),
        'on_change_with_company', searcher='search_merchant_field')
    compound = fields.Function(
        fields.Many2One('community.compound', "Compound"),
        'on_change_with_compound', searcher='search_merchant_field')
    provider = fields.Function(fields.Selection(PROVIDERS, "Provider"),
        'on_change_with_provider')
    date = fields.Date("Date", required=True, states=_states,
        help="The day of the statement, in Beijing time as the providers "
        "make them.")
    source = fields.Selection([
            (None, ''),
            ('download', "Downloaded"),
            ('import', "Imported"),
            ], "Source", readonly=True)
    file = fields.Binary("Statement File", filename='file_name',
        states=_states,
        help="The provider's statement file (WeChat Pay trade bill, Alipay "
        "bill zip or its 业务明细 CSV) to reconcile instead of downloading "
        "it.")
    file_name = fields.Char("File Name", states=_states)
    lines = fields.One2Many('community.payment.statement.line', 'statement',
        "Lines", readonly=True)
    mismatches = fields.One2Many('community.payment.statement.mismatch',
        'statement', "Mismatches", readonly=True)
    payment_amount = fields.Numeric("Payments", digits=(16, 2),
        readonly=True)
    refund_amount = fields.Numeric("Refunds", digits=(16, 2), readonly=True)
    fee_amount = fields.Numeric("Provider Fees", digits=(16, 2),
        readonly=True)
    open_mismatches = fields.Function(fields.Integer("Open Mismatches"),
        'get_open_mismatches')
    move = fields.Many2One('account.move', "Fee Move", readonly=True,
        ondelete='RESTRICT')
    reconciled_at = fields.DateTime("Reconciled At", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('reconciled', "Reconciled"),
            ], "State", required=True, readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('merchant_date_unique', Unique(t, t.merchant, t.date),
                'community_payment.msg_statement_unique'),
            ('move_unique', Unique(t, t.move),
                'community_payment.msg_statement_move_unique'),
            ]
        cls._order[0:0] = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'reconciled'),
            ('reconciled', 'reconciled'),
            }
        cls._buttons.update({
                'reconcile': {
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @classmethod
    def default_date(cls):
        return beijing_today() - dt.timedelta(days=1)

    @fields.depends('merchant')
    def on_change_with_company(self, name=None):
        return self.merchant.company if self.merchant else None

    @fields.depends('merchant')
    def on_change_with_compound(self, name=None):
        return self.merchant.compound if self.merchant else None

    @fields.depends('merchant')
    def on_change_with_provider(self, name=None):
        return self.merchant.provider if self.merchant else None

    @classmethod
    def search_merchant_field(cls, name, clause):
        return [('merchant.' + clause[0],) + tuple(clause[1:])]

    def get_rec_name(self, name):
        return '%s %s' % (self.merchant.rec_name, self.date)

    @classmethod
    def get_open_mismatches(cls, statements, name):
        pool = Pool()
        Mismatch = pool.get('community.payment.statement.mismatch')
        counts = dict.fromkeys([s.id for s in statements], 0)
        for mismatch in Mismatch.search([
                    ('statement', 'in', [s.id for s in statements]),
                    ('state', '=', 'open'),
                    ]):
            counts[mismatch.statement.id] += 1
        return counts

    @classmethod
    def copy(cls, statements, default=None):
        if statements:
            raise PaymentError(gettext(
                    'community_payment.msg_statement_copy'))
        return super().copy(statements, default=default)

    @classmethod
    def check_modification(cls, mode, statements, values=None,
            external=False):
        super().check_modification(
            mode, statements, values=values, external=external)
        if mode == 'delete':
            for statement in statements:
                if statement.state != 'draft':
                    raise PaymentError(gettext(
                            'community_payment.msg_statement_delete',
                            statement=statement.rec_name))

    # ------------------------------------------------------ reconciliation
    @classmethod
    @ModelView.button
    @Workflow.transition('reconciled')
    def reconcile(cls, statements):
        """Load (once), match, book the fees (once) and list the
        mismatches of each statement; rerunning changes nothing booked."""
        cls.lock(statements)
        Transaction().counter += 1  # read them after the lock
        for statement in cls.browse(statements):
            if not statement.lines and statement.source is None:
                statement.load()
            statement = cls(statement.id)
            statement.match()
            statement.book_fees()
            statement.list_mismatches()
        cls.write(statements, {'reconciled_at': dt.datetime.now()})

    def load(self):
        """Read the uploaded file, else download the provider's statement,
        and create the lines."""
        pool = Pool()
        Line = pool.get('community.payment.statement.line')
        merchant = self.merchant
        if self.file:
            source, data = 'import', bytes(self.file)
        else:
            source = 'download'
            try:
                data = get_provider(merchant).download_statement(self.date)
            except StatementNotReady as exception:
                if (dt.datetime.now(BEIJING).replace(tzinfo=None)
                        < dt.datetime.combine(self.date + dt.timedelta(
                                days=1), STATEMENT_READY)):
                    logger.info("statement of %s for merchant %s not ready: "
                        "%s", self.date, merchant.id, exception)
                    raise PaymentError(gettext(
                            'community_payment.msg_statement_not_ready',
                            merchant=merchant.rec_name, date=self.date))
                # the day is over and the statement made: no trade
                data = b''
            except ProviderFailure as exception:
                logger.warning("statement of %s for merchant %s: %s",
                    self.date, merchant.id, exception)
                raise ProviderError(gettext(
                        'community_payment.msg_provider_failure',
                        provider=dict(PROVIDERS)[merchant.provider]))
        rows = []
        if data:
            try:
                rows = PROVIDER_CLASSES[merchant.provider].parse_statement(
                    data)
            except (ValueError, OSError, EOFError,
                    zipfile.BadZipFile) as exception:
                logger.info("statement file of merchant %s refused: %s",
                    merchant.id, exception)
                raise PaymentError(gettext(
                        'community_payment.msg_statement_file_invalid',
                        provider=dict(PROVIDERS)[merchant.provider],
                        error=str(exception)))
        Line.save([Line(statement=self, sequence=i, **row._asdict())
                for i, row in enumerate(rows, 1)])
        zero = Decimal(0)
        self.source = source
        if source == 'download' and data:
            self.file = data
            self.file_name = '%s_%s_%s.%s' % (merchant.provider,
                merchant.mch_id or merchant.app_id, self.date.isoformat(),
                'zip' if data[:2] == b'PK' else 'csv')
        self.payment_amount = sum(
            (r.amount for r in rows if r.kind == 'payment'), zero)
        self.refund_amount = sum(
            (r.amount for r in rows if r.kind == 'refund'), zero)
        self.fee_amount = sum((r.fee for r in rows), zero)
        self.save()

    def match(self):
        """Link each line to our online payment (by the provider's
        transaction id, else our order number) and set its status."""
        pool = Pool()
        Payment = pool.get('community.payment.online')
        Refund = pool.get('community.payment.online.refund')
        Line = pool.get('community.payment.statement.line')
        lines = list(self.lines)
        if not lines:
            return
        payments = Payment.search([
                ('merchant', '=', self.merchant.id),
                ['OR',
                    ('transaction_id', 'in',
                        list({l.transaction_id for l in lines})),
                    ('reference', 'in', list({l.reference for l in lines})),
                    ],
                ])
        by_transaction = {p.transaction_id: p for p in payments
            if p.transaction_id}
        by_reference = {p.reference: p for p in payments}
        refund_lines = [l for l in lines if l.kind == 'refund']
        refunds = Refund.search([
                ('payment.merchant', '=', self.merchant.id),
                ['OR',
                    ('provider_refund_id', 'in',
                        list({l.refund_id for l in refund_lines
                                if l.refund_id})),
                    ('reference', 'in',
                        list({l.refund_reference for l in refund_lines
                                if l.refund_reference})),
                    ],
                ]) if refund_lines else []
        refunds_by_id = {r.provider_refund_id: r for r in refunds
            if r.provider_refund_id}
        refunds_by_reference = {r.reference: r for r in refunds}
        for line in lines:
            payment = (by_transaction.get(line.transaction_id)
                or by_reference.get(line.reference))
            line.payment = payment
            if line.kind == 'refund':
                refund = (refunds_by_id.get(line.refund_id)
                    or refunds_by_reference.get(line.refund_reference))
                line.refund = refund
                if not refund or refund.state not in REFUND_STATES:
                    line.status = 'missing'
                elif refund.amount != line.amount:
                    line.status = 'amount'
                else:
                    line.status = 'matched'
            elif not payment or payment.state not in PAID_STATES:
                line.status = 'missing'
            elif payment.amount != line.amount:
                line.status = 'amount'
            else:
                line.status = 'matched'
        Line.save(lines)

    def fee_account(self):
        "The expense account of the provider's fees."
        pool = Pool()
        Account = pool.get('account.account')
        if self.merchant.fee_account:
            return self.merchant.fee_account
        accounts = Account.search([
                ('code', '=', FEE_ACCOUNT_CODE),
                ('company', '=', self.merchant.company.id),
                ], limit=1)
        if not accounts:
            raise PaymentError(gettext(
                    'community_payment.msg_no_fee_account',
                    merchant=self.merchant.rec_name))
        return accounts[0]

    def book_fees(self):
        """Post the provider's fees of the statement in one move: fee
        expense / the merchant's clearing account (given back on refunds:
        the other way). Once: nothing when the statement has its move."""
        pool = Pool()
        Move = pool.get('account.move')
        Line = pool.get('account.move.line')
        Period = pool.get('account.period')
        Journal = pool.get('account.journal')
        if self.move or not self.fee_amount:
            return
        company = self.merchant.company
        fee = self.fee_amount
        expense, clearing = self.fee_account(), (
            self.merchant.get_clearing_account())
        zero = Decimal(0)
        with Transaction().set_context(company=company.id):
            journal, = Journal.search([('type', '=', 'cash')], limit=1)
            move = Move(company=company, journal=journal,
                period=Period.find(company, date=self.date),
                date=self.date, origin=self,
                description=gettext(
                    'community_payment.msg_fee_move_description',
                    merchant=self.merchant.rec_name, date=self.date),
                lines=[
                    Line(account=expense, debit=max(fee, zero),
                        credit=max(-fee, zero)),
                    Line(account=clearing, debit=max(-fee, zero),
                        credit=max(fee, zero)),
                    ])
            move.save()
            Move.post([move])
        self.move = move
        self.save()

    def list_mismatches(self):
        """Create the mismatches not yet listed, resolve by themselves the
        open ones that disappeared."""
        pool = Pool()
        Payment = pool.get('community.payment.online')
        Refund = pool.get('community.payment.online.refund')
        Line = pool.get('community.payment.statement.line')
        Mismatch = pool.get('community.payment.statement.mismatch')
        found = {}
        for line in self.lines:
            if line.status == 'matched':
                continue
            kind = 'amount' if line.status == 'amount' else 'missing_ours'
            key = '%s:%s:%s' % (kind, line.kind,
                line.refund_id or line.refund_reference
                or line.transaction_id)
            ours = line.refund if line.kind == 'refund' else line.payment
            found[key] = Mismatch(statement=self, key=key, kind=kind,
                line=line, payment=line.payment, refund=line.refund,
                reference=line.refund_reference or line.reference,
                transaction_id=line.refund_id or line.transaction_id,
                our_amount=ours.amount if kind == 'amount' else None,
                their_amount=line.amount)
        # ours, that day, in no statement of this merchant account
        start, end = day_bounds(self.date)
        paid = Payment.search([
                ('merchant', '=', self.merchant.id),
                ('state', 'in', PAID_STATES),
                ('paid_at', '>=', start),
                ('paid_at', '<', end),
                ])
        listed = {l.payment.id for l in Line.search([
                    ('payment', 'in', [p.id for p in paid]),
                    ('kind', '=', 'payment'),
                    ('statement.merchant', '=', self.merchant.id),
                    ])}
        for payment in paid:
            if payment.id in listed:
                continue
            key = 'missing_theirs:payment:%s' % payment.reference
            found[key] = Mismatch(statement=self, key=key,
                kind='missing_theirs', payment=payment,
                reference=payment.reference,
                transaction_id=payment.transaction_id,
                our_amount=payment.amount)
        succeeded = Refund.search([
                ('payment.merchant', '=', self.merchant.id),
                ('state', '=', 'succeeded'),
                ('refunded_at', '>=', start),
                ('refunded_at', '<', end),
                ])
        listed = {l.refund.id for l in Line.search([
                    ('refund', 'in', [r.id for r in succeeded]),
                    ('statement.merchant', '=', self.merchant.id),
                    ])}
        for refund in succeeded:
            if refund.id in listed:
                continue
            key = 'missing_theirs:refund:%s' % refund.reference
            found[key] = Mismatch(statement=self, key=key,
                kind='missing_theirs', payment=refund.payment,
                refund=refund, reference=refund.reference,
                transaction_id=refund.provider_refund_id,
                our_amount=refund.amount)
        existing = {m.key: m for m in self.mismatches}
        Mismatch.save([m for k, m in found.items() if k not in existing])
        gone = [m for k, m in existing.items()
            if k not in found and m.state == 'open']
        if gone:
            Mismatch.write(gone, {
                    'state': 'resolved',
                    'note': gettext(
                        'community_payment.msg_mismatch_gone'),
                    'resolved_at': dt.datetime.now(),
                    })

    @classmethod
    def reconcile_day(cls, merchant, date):
        """The statement of ``merchant`` for ``date``, created if needed,
        and reconciled."""
        statements = cls.search([
                ('merchant', '=', merchant.id),
                ('date', '=', date),
                ], limit=1)
        if statements:
            statement, = statements
        else:
            statement, = cls.create([{
                        'merchant': merchant.id, 'date': date}])
        cls.reconcile([statement])
        return statement

    @classmethod
    def reconcile_yesterday(cls):
        """Scheduled action: from 10:30 Beijing time, reconcile yesterday's
        statement of every active merchant account not yet reconciled (an
        account whose statement fails is retried at the next run)."""
        pool = Pool()
        Merchant = pool.get('community.payment.merchant')
        now = dt.datetime.now(BEIJING)
        if now.time() < RECONCILE_FROM:
            return
        date = now.date() - dt.timedelta(days=1)
        done = {s.merchant.id for s in cls.search([
                    ('date', '=', date),
                    ('state', '=', 'reconciled'),
                    ])}
        cls.reconcile_merchants(
            Merchant.search([('id', 'not in', list(done))]), date)

    @classmethod
    def reconcile_merchants(cls, merchants, date):
        """Reconcile ``date`` for each merchant account, each in its own
        transaction, committed (started again when it must first lock its
        statement); a failure is logged and the others go on. Returns the
        ids of the statements reconciled."""
        pool = Pool()
        Merchant = pool.get('community.payment.merchant')
        transaction = Transaction()
        reconciled = []
        for merchant_id, company_id in [
                (m.id, m.company.id) for m in merchants]:
            extras = {}
            while True:
                try:
                    with transaction.new_transaction(**extras) as sub, \
                            sub.set_context(company=company_id):
                        statement = cls.reconcile_day(
                            Merchant(merchant_id), date)
                        reconciled.append(statement.id)
                except TransactionError as exception:
                    exception.fix(extras)
                    continue
                except Exception:
                    logger.warning(
                        "reconciliation of %s for merchant %s failed",
                        date, merchant_id, exc_info=True)
                break
        return reconciled


class StatementLine(sequence_ordered(), ModelSQL, ModelView):
    """Provider Statement Line (对账单明细): a trade or refund as the
    provider's statement says, and our payment it matches."""
    __name__ = 'community.payment.statement.line'
    statement = fields.Many2One('community.payment.statement', "Statement",
        required=True, ondelete='CASCADE', readonly=True)
    kind = fields.Selection(LINE_KINDS, "Kind", required=True, readonly=True)
    time = fields.DateTime("Time", readonly=True)
    transaction_id = fields.Char("Transaction ID", required=True,
        readonly=True, strip=False)
    reference = fields.Char("Order Number", readonly=True, strip=False)
    refund_id = fields.Char("Provider Refund ID", readonly=True,
        strip=False)
    refund_reference = fields.Char("Refund Number", readonly=True,
        strip=False)
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True)
    fee = fields.Numeric("Provider Fee", digits=(16, 2), required=True,
        readonly=True,
        help="Positive: charged; negative: given back on a refund.")
    payment = fields.Many2One('community.payment.online', "Online Payment",
        readonly=True, ondelete='RESTRICT')
    refund = fields.Many2One('community.payment.online.refund',
        "Online Refund", readonly=True, ondelete='RESTRICT')
    status = fields.Selection(LINE_STATUSES, "Status", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('statement')


class Mismatch(Workflow, ModelSQL, ModelView):
    """Reconciliation Mismatch (对账差异): a difference between the provider's
    statement and our payments, open until the accountant resolves it
    with a note."""
    __name__ = 'community.payment.statement.mismatch'
    statement = fields.Many2One('community.payment.statement', "Statement",
        required=True, ondelete='CASCADE', readonly=True)
    date = fields.Function(fields.Date("Date"), 'on_change_with_date',
        searcher='search_statement_field')
    merchant = fields.Function(fields.Many2One(
            'community.payment.merchant', "Merchant Account"),
        'on_change_with_merchant', searcher='search_statement_field')
    key = fields.Char("Key", required=True, readonly=True, strip=False)
    kind = fields.Selection(MISMATCH_KINDS, "Kind", required=True,
        readonly=True)
    line = fields.Many2One('community.payment.statement.line',
        "Statement Line", readonly=True, ondelete='CASCADE')
    payment = fields.Many2One('community.payment.online', "Online Payment",
        readonly=True, ondelete='RESTRICT')
    refund = fields.Many2One('community.payment.online.refund',
        "Online Refund", readonly=True, ondelete='RESTRICT')
    reference = fields.Char("Order Number", readonly=True, strip=False,
        help="Our order number, or refund number for a refund.")
    transaction_id = fields.Char("Transaction ID", readonly=True,
        strip=False)
    our_amount = fields.Numeric("Our Amount", digits=(16, 2), readonly=True)
    their_amount = fields.Numeric("Provider's Amount", digits=(16, 2),
        readonly=True)
    note = fields.Text("Note",
        states={'readonly': Eval('state') != 'open'},
        help="What was found and done (required to resolve).")
    resolved_by = fields.Many2One('res.user', "Resolved By", readonly=True)
    resolved_at = fields.DateTime("Resolved At", readonly=True)
    state = fields.Selection([
            ('open', "Open"),
            ('resolved', "Resolved"),
            ], "State", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('statement_key_unique', Unique(t, t.statement, t.key),
                'community_payment.msg_mismatch_unique'),
            ]
        cls.__access__.add('statement')
        cls._order[0:0] = [('id', 'DESC')]
        cls._transitions |= {
            ('open', 'resolved'),
            ('resolved', 'open'),
            }
        cls._buttons.update({
                'resolve': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'resolved',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'open'

    @fields.depends('statement', '_parent_statement.date')
    def on_change_with_date(self, name=None):
        return self.statement.date if self.statement else None

    @fields.depends('statement', '_parent_statement.merchant')
    def on_change_with_merchant(self, name=None):
        return self.statement.merchant if self.statement else None

    @classmethod
    def search_statement_field(cls, name, clause):
        return [('statement.' + clause[0],) + tuple(clause[1:])]

    def get_rec_name(self, name):
        kinds = dict(self.fields_get(['kind'])['kind']['selection'])
        return '%s %s %s' % (kinds.get(self.kind, ''),
            self.reference or self.transaction_id or '',
            format_money(self.their_amount if self.their_amount is not None
                else self.our_amount))

    @classmethod
    @ModelView.button
    @Workflow.transition('resolved')
    def resolve(cls, mismatches):
        for mismatch in mismatches:
            if not (mismatch.note or '').strip():
                raise PaymentError(gettext(
                        'community_payment.msg_mismatch_note_required',
                        mismatch=mismatch.rec_name))
        cls.write(mismatches, {
                'resolved_by': Transaction().user,
                'resolved_at': dt.datetime.now(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def reopen(cls, mismatches):
        cls.write(mismatches, {'resolved_by': None, 'resolved_at': None})
