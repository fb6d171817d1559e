# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Counter payments (收费), receipts (收据), prepayments (预存), refunds.

A payment settles one or several bills of a unit and their late fees
(违约金); what is paid beyond them is kept as a prepayment of the payer
(credit on the advance receipts account) and applied automatically to
bills as they fall due, oldest first. Each posted payment of money gets
a receipt number without gaps per compound (``ir.sequence.strict``); an
application of a prepayment gets none (its money was receipted when
deposited). Bills and late
fees are locked (``SELECT … FOR NO KEY UPDATE NOWAIT``) while a payment is
posted, so two cashiers can never settle the same bill or late fee twice.
"""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Sum

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, In
from trytond.report import Report
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import Button, StateReport, StateView, Wizard

from trytond.modules.community_base.display import format_money

from .exceptions import BillingError
from .fee import round_money

METHODS = [
    ('cash', "Cash"),
    ('bank', "Bank Transfer"),
    ('card', "Bank Card"),
    ('wechat', "WeChat Pay"),
    ('alipay', "Alipay"),
    ('prepayment', "Prepayment"),
    ]
REFERENCE_METHODS = ['bank', 'card', 'wechat', 'alipay']

DIGITS = '零壹贰叁肆伍陆柒捌玖'
SMALL_UNITS = ['', '拾', '佰', '仟']
BIG_UNITS = ['', '万', '亿', '万亿']


def _group_in_words(group):
    "Words of 1..9999 without leading zeros."
    text, zero = '', False
    for pos in range(3, -1, -1):
        digit = group // 10 ** pos % 10
        if not digit:
            zero = bool(text)
            continue
        if zero:
            text += '零'
            zero = False
        text += DIGITS[digit] + SMALL_UNITS[pos]
    return text


def amount_in_words(amount):
    """Chinese capital numerals (大写金额) of an amount in yuan.

    Rounded half-up to the fen first. Follows the writing rules of the
    People's Bank of China (《支付结算办法》附件《正确填写票据和结算凭证的
    基本规定》): one 零 for a run of zeros inside the number, 整 after 元 or
    角 when there is no 分, e.g. 1234.50 → 壹仟贰佰叁拾肆元伍角整,
    1004.05 → 壹仟零肆元零伍分, 100010 → 壹拾万零壹拾元整, 0 → 零元整;
    a negative amount is prefixed with 负.
    """
    amount = round_money(Decimal(amount))
    sign = '负' if amount < 0 else ''
    fen_total = int(abs(amount) * 100)
    integer, cents = divmod(fen_total, 100)
    jiao, fen = divmod(cents, 10)
    if not integer and not cents:
        return '零元整'
    text = ''
    if integer:
        groups = []
        n = integer
        while n:
            groups.append(n % 10000)
            n //= 10000
        zero = False
        for i in range(len(groups) - 1, -1, -1):
            group = groups[i]
            if not group:
                zero = bool(text)
                continue
            if text and (zero or group < 1000):
                text += '零'
            text += _group_in_words(group) + BIG_UNITS[i]
            zero = False
        text += '元'
    if jiao:
        text += DIGITS[jiao] + '角'
    elif fen and integer:
        text += '零'
    if fen:
        text += DIGITS[fen] + '分'
    else:
        text += '整'
    return sign + text


class Compound(metaclass=PoolMeta):
    __name__ = 'community.compound'
    receipt_sequence = fields.Many2One(
        'ir.sequence.strict', "Receipt Sequence", ondelete='RESTRICT',
        help="Gapless numbering of the receipts of the compound.")

    def get_receipt_sequence(self):
        "Return the receipt sequence, created on first use."
        pool = Pool()
        Sequence = pool.get('ir.sequence.strict')
        ModelData = pool.get('ir.model.data')
        if not self.receipt_sequence:
            sequence, = Sequence.create([{
                        'name': '%s 收据' % self.name,
                        'company': self.company.id,
                        'prefix': '%s-${year}-' % self.code,
                        'padding': 6,
                        'sequence_type': ModelData.get_id(
                            'community_billing', 'sequence_type_receipt'),
                        }])
            self.receipt_sequence = sequence
            self.save()
        return self.receipt_sequence


class _PostLookups:
    """What posting payments looks up once per company (method, date,
    compound) for a whole call of ``Payment._post``."""

    def __init__(self, config):
        self.config = config
        self.debit_accounts, self.journals, self.periods = {}, {}, {}
        self.prepayment_accounts, self.sequences = {}, {}

    def prepayment_account(self, payment):
        "The advance receipts account of the payment's company."
        company = payment.compound.company
        if company.id not in self.prepayment_accounts:
            self.prepayment_accounts[company.id] = (
                payment.prepayment_account(self.config))
        return self.prepayment_accounts[company.id]

    def debit_account(self, payment):
        "The account receiving the money of the payment's method."
        key = (payment.compound.company.id, payment.method)
        if key not in self.debit_accounts:
            self.debit_accounts[key] = payment.debit_account(self.config)
        return self.debit_accounts[key]

    def journal(self, payment):
        "The cash journal of the payment's company."
        company = payment.compound.company
        if company.id not in self.journals:
            self.journals[company.id] = payment.journal()
        return self.journals[company.id]

    def period(self, payment):
        "The accounting period of the payment's date."
        Period = Pool().get('account.period')
        company = payment.compound.company
        if (company.id, payment.date) not in self.periods:
            self.periods[company.id, payment.date] = Period.find(
                company, date=payment.date)
        return self.periods[company.id, payment.date]

    def receipt_number(self, payment):
        "The next number of the compound's receipt sequence."
        compound = payment.compound
        if compound.id not in self.sequences:
            self.sequences[compound.id] = compound.get_receipt_sequence()
        with Transaction().set_context(company=compound.company.id):
            return self.sequences[compound.id].get()


class Payment(Workflow, ModelSQL, ModelView):
    """Payment at the counter (收费) for a unit.

    ``amount`` received by ``method`` (a transaction reference is required
    for bank, card, WeChat and Alipay) is allocated to the bills of
    ``lines``; the rest is kept as a prepayment of ``party``. Posting
    creates the ledger move (cash/bank debit, receivable credit per bill,
    advance receipts credit) and the receipt number.
    """
    __name__ = 'community.payment'
    _rec_name = 'receipt_number'
    _states = {'readonly': Eval('state') != 'draft'}
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT', states=_states)
    unit = fields.Many2One('community.unit', "Unit", required=True,
        ondelete='RESTRICT', states=_states,
        domain=[('compound', '=', Eval('compound', -1))])
    party = fields.Many2One('party.party', "Payer", required=True,
        ondelete='RESTRICT', states=_states)
    date = fields.Date("Date", required=True, states=_states)
    method = fields.Selection(METHODS, "Method", required=True,
        states=_states)
    reference = fields.Char("Transaction Reference", states={
            'readonly': Eval('state') != 'draft',
            'required': In(Eval('method'), REFERENCE_METHODS),
            })
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        states=_states)
    lines = fields.One2Many('community.payment.line', 'payment', "Bills",
        states=_states)
    prepayment_amount = fields.Numeric("Prepayment", digits=(16, 2),
        readonly=True, help="Amount kept as a prepayment of the payer.")
    receipt_number = fields.Char("Receipt Number", readonly=True)
    move = fields.Many2One('account.move', "Move", readonly=True,
        ondelete='RESTRICT')
    cashier = fields.Many2One('res.user', "Cashier", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('posted', "Posted"),
            ], "State", required=True, readonly=True)
    amount_in_words = fields.Function(
        fields.Char("Amount in Words"), 'get_amount_in_words')
    method_string = method.translated('method')
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[0:0] = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('draft', 'posted')}
        cls._buttons.update({
                'post': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'pay_open': {
                    'invisible': Eval('state') != 'draft',
                    'readonly': ~Eval('unit'),
                    'depends': ['state', 'unit'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_method():
        return 'cash'

    @staticmethod
    def default_date():
        return Pool().get('ir.date').today()

    def get_amount_in_words(self, name):
        return amount_in_words(self.amount) if self.amount is not None else ''

    def get_rec_name(self, name):
        if self.receipt_number:
            return self.receipt_number
        return ' '.join(filter(None, [
                    self.unit.rec_name if self.unit else None,
                    str(self.date) if self.date else None]))

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('receipt_number',) + tuple(clause[1:])]

    @classmethod
    def check_modification(cls, mode, payments, values=None, external=False):
        super().check_modification(
            mode, payments, values=values, external=external)
        if mode in {'delete', 'write'}:
            for payment in payments:
                if payment.state == 'posted':
                    raise BillingError(gettext(
                            'community_billing.msg_payment_posted',
                            payment=payment.rec_name))

    @classmethod
    def lock_bills(cls, bills):
        """Lock the rows of bills or late fees (FOR NO KEY UPDATE NOWAIT:
        payment lines referencing them can still be inserted), then touch
        them (a no-op UPDATE): a concurrent transaction whose snapshot
        predates our commit then fails to serialize on its own lock and
        is retried, instead of reading an open amount that is no longer
        true (trytond runs at REPEATABLE READ, and a row only locked, not
        updated, raises no conflict).

        Raises BillingError naming the record when another cashier holds
        it; a serialization failure is raised as is (DatabaseOperational
        Error: trytond retries the request)."""
        cursor = Transaction().connection.cursor()
        for bill in bills:
            # python-sql's For knows only UPDATE and SHARE; the table name
            # is a constant of the model, the id a parameter.
            table = bill.__class__._table
            cursor.execute('SAVEPOINT community_lock_bill')
            try:
                cursor.execute('SELECT id FROM "%s" WHERE id = %%s '
                    'FOR NO KEY UPDATE NOWAIT' % table, (bill.id,))
            except backend.DatabaseOperationalError as exception:
                if getattr(exception, 'sqlstate', None) == '40001':
                    raise
                cursor.execute('ROLLBACK TO SAVEPOINT community_lock_bill')
                raise BillingError(gettext(
                        'community_billing.msg_bill_locked',
                        bill=bill.rec_name))
            cursor.execute('RELEASE SAVEPOINT community_lock_bill')
            cursor.execute('UPDATE "%s" SET write_date = write_date '
                'WHERE id = %%s' % table, (bill.id,))

    @classmethod
    def open_items(cls, unit):
        """What the unit owes, as payment line values: its posted bills
        with something left to pay, by due date, each followed by its open
        late fees; ``amount`` is what is left to pay. Late fees are those
        charged (``pay_open`` and ``post`` charge those due up to the
        payment's date first)."""
        pool = Pool()
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        bills = Bill.search([
                ('unit', '=', unit.id),
                ('state', '=', 'posted'),
                ], order=[('due_date', 'ASC'), ('id', 'ASC')])
        fees = defaultdict(list)
        for fee in LateFee.search([
                    ('bill', 'in', [b.id for b in bills]),
                    ], order=[('date', 'ASC'), ('id', 'ASC')]):
            fees[fee.bill.id].append(fee)
        items = []
        for bill in bills:
            if bill.amount_to_pay > 0:
                items.append({'bill': bill.id, 'amount': bill.amount_to_pay})
            for fee in fees[bill.id]:
                if fee.amount_to_pay > 0:
                    items.append({'bill': bill.id, 'late_fee': fee.id,
                            'amount': fee.amount_to_pay})
        return items

    @classmethod
    @ModelView.button
    def pay_open(cls, payments):
        """Replace the lines of draft payments by the open bills and late
        fees of their unit (``open_items``); the amount becomes their
        total."""
        pool = Pool()
        PaymentLine = pool.get('community.payment.line')
        PaymentLine.delete([l for p in payments for l in p.lines])
        cls.charge_late_fees(payments)
        to_create = []
        for payment in payments:
            items = cls.open_items(payment.unit)
            to_create.extend(dict(i, payment=payment.id) for i in items)
            payment.amount = sum((i['amount'] for i in items), Decimal(0))
        PaymentLine.create(to_create)
        cls.save(payments)

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, payments):
        """Post payments: one move each (the lines it settles credited to
        their receivable account, the rest to advance receipts, the money
        debited to the method's account), a receipt number from the
        compound's strict sequence, then reconciliation of the bills and
        late fees paid in full.

        The bills and late fees are locked first and their open amounts
        read after the lock; several payments of one call settling the
        same bill share its open amount. The moves of all the payments
        are created and posted together (Tryton validates them as one
        batch), by slices of 100: Tryton's records of a long list cost
        quadratic time. Raises BillingError when a line pays more than is
        open, something already paid, or a bill another cashier holds.

        The late fees due up to each payment's date on the bills of its
        unit are charged first (``charge_late_fees``)."""
        cls.charge_late_fees(payments)
        for sub in grouped_slice([p.id for p in payments], cls._post_slice):
            cls._post(cls.browse(list(sub)))

    _post_slice = 100

    @classmethod
    def charge_late_fees(cls, payments):
        """Charge the late fees due on the bills of the payments' units up
        to each payment's date (its local calendar day), so that what is
        due does not depend on when the scheduled action last ran: a bill
        paid in the first hours of its first overdue day has its late fee
        for that day. Returns the new late fees."""
        LateFee = Pool().get('community.late_fee')
        by_date = defaultdict(list)
        for payment in payments:
            if payment.unit and payment.date:
                by_date[payment.date].append(payment.unit)
        fees = []
        for date, units in sorted(by_date.items()):
            fees.extend(LateFee.charge_units(units, date))
        return fees

    @classmethod
    def _post(cls, payments):
        "Post a slice of the payments of ``post``."
        pool = Pool()
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        Move = pool.get('account.move')
        PaymentLine = pool.get('community.payment.line')
        Configuration = pool.get('community.billing.configuration')
        lookups = _PostLookups(Configuration(1))
        user = Transaction().user
        payment_lines = []
        moves = []
        # what the slice allocates to each target before its moves are
        # saved (then the open amounts include it)
        settled = defaultdict(Decimal)
        for payment in payments:
            lines = list(payment.lines)
            payment_lines.extend(lines)
            targets = cls._locked_targets(lines)
            move_lines = [payment._settle_line(line, target, settled)
                for line, target in zip(lines, targets)]
            prepayment = payment._prepayment(
                sum((l.amount for l in lines), Decimal(0)))
            move_lines.extend(payment._money_move_lines(prepayment, lookups))
            moves.append(payment._move(move_lines, lookups))
            payment.prepayment_amount = prepayment
            payment.cashier = user
            if payment.method != 'prepayment':
                # money already receipted when it was deposited
                payment.receipt_number = lookups.receipt_number(payment)
        Move.save(moves)
        Move.post(moves)
        for payment, move in zip(payments, moves):
            payment.move = move
        PaymentLine.save(payment_lines)
        cls.save(payments)
        # Reconcile the bills and late fees paid in full
        Bill.reconcile_paid(list({l.bill for p in payments for l in p.lines
                    if not l.late_fee}))
        LateFee.reconcile_paid(list({l.late_fee for p in payments
                    for l in p.lines if l.late_fee}))

    @classmethod
    def _locked_targets(cls, lines):
        """What each line settles (its late fee, else its bill), locked
        and read again after the lock."""
        pool = Pool()
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        targets = [l.late_fee or l.bill for l in lines]
        cls.lock_bills(targets)
        # Read the amounts after the lock: a concurrent payment that
        # committed meanwhile is seen here.
        Transaction().counter += 1
        fresh = {str(r): r for r in Bill.browse(
                [t.id for t in targets if not isinstance(t, LateFee)])}
        fresh.update((str(r), r) for r in LateFee.browse(
                [t.id for t in targets if isinstance(t, LateFee)]))
        return [fresh[str(t)] for t in targets]

    def _settle_line(self, line, target, settled):
        """Check and set the amount of ``line`` paying ``target``; return
        the move line crediting the target's receivable."""
        pool = Pool()
        LateFee = pool.get('community.late_fee')
        MoveLine = pool.get('account.move.line')
        to_pay = target.amount_to_pay - settled[str(target)]
        amount = line.amount if line.amount is not None else to_pay
        if isinstance(target, LateFee):
            posted = bool(target.move_line)
            wrong = target.bill != line.bill
            description = gettext(
                'community_billing.msg_late_fee_description',
                bill=target.bill.rec_name)
        else:
            posted = target.state == 'posted'
            wrong = False
            description = target.number
        if not posted or to_pay <= 0 or amount <= 0:
            raise BillingError(gettext(
                    'community_billing.msg_payment_bill_paid',
                    bill=target.rec_name))
        if amount > to_pay or wrong or target.unit != self.unit:
            raise BillingError(gettext(
                    'community_billing.msg_payment_line_amount',
                    bill=target.rec_name,
                    amount=format_money(to_pay)))
        line.amount = amount
        settled[str(target)] += amount
        return MoveLine(
            account=target.move_line.account,
            party=target.party, debit=Decimal(0), credit=amount,
            origin=target, description=description)

    def _prepayment(self, allocated):
        """What the payment keeps as prepayment beyond the ``allocated``
        amount of its lines; raise BillingError when that is negative, or
        positive on a payment from prepayment."""
        if self.amount <= 0 or allocated > self.amount:
            raise BillingError(gettext(
                    'community_billing.msg_payment_amount',
                    payment=self.rec_name or self.unit.rec_name,
                    amount=format_money(allocated)))
        prepayment = self.amount - allocated
        if prepayment and self.method == 'prepayment':
            raise BillingError(gettext(
                    'community_billing.msg_payment_amount',
                    payment=self.unit.rec_name,
                    amount=format_money(allocated)))
        return prepayment

    def _money_move_lines(self, prepayment, lookups):
        """The move lines of the money: the prepayment credited to advance
        receipts, the amount debited to the method's account."""
        MoveLine = Pool().get('account.move.line')
        move_lines = []
        if prepayment:
            move_lines.append(MoveLine(
                    account=lookups.prepayment_account(self),
                    party=self.party, debit=Decimal(0),
                    credit=prepayment, description=self.reference))
        move_lines.append(MoveLine(
                account=lookups.debit_account(self),
                party=(self.party if self.method == 'prepayment' else None),
                debit=self.amount, credit=Decimal(0),
                description=self.reference))
        return move_lines

    def _move(self, move_lines, lookups):
        "The (unsaved) move of the payment with ``move_lines``."
        Move = Pool().get('account.move')
        company = self.compound.company
        return Move(company=company, journal=lookups.journal(self),
            period=lookups.period(self), date=self.date, origin=self,
            description=self.reference, lines=move_lines)

    def debit_account(self, config):
        "The account receiving the money for the method."
        pool = Pool()
        Account = pool.get('account.account')
        codes = {'cash': '1001', 'bank': '1002', 'card': '1002',
            'wechat': '1012', 'alipay': '1012'}
        if self.method == 'prepayment':
            return self.prepayment_account(config)
        account, = Account.search([
                ('code', '=', codes[self.method]),
                ('company', '=', self.compound.company.id)], limit=1)
        return account

    def prepayment_account(self, config):
        "The advance receipts account of the compound's company."
        return config.get_multivalue(
            'prepayment_account', company=self.compound.company.id)

    def journal(self):
        pool = Pool()
        Journal = pool.get('account.journal')
        journals = Journal.search([('type', '=', 'cash')], limit=1)
        return journals[0]

    @classmethod
    def prepayment_balances(cls, parties=None):
        """Return {party id: credit balance} of the advance receipts
        account (never negative by construction)."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        Value = pool.get('community.billing.configuration.company')
        accounts = sorted({v.prepayment_account.id for v in Value.search([
                        ('prepayment_account', '!=', None)])})
        if not accounts:
            return {}
        line = MoveLine.__table__()
        cursor = Transaction().connection.cursor()
        where = line.account.in_(accounts) & (line.party != Null)
        if parties is not None:
            where &= line.party.in_([p.id for p in parties] or [-1])
        cursor.execute(*line.select(line.party,
                Sum(line.credit - line.debit), where=where,
                group_by=[line.party]))
        return {p: a for p, a in cursor if a > 0}

    @classmethod
    def apply_prepayments(cls, date=None, parties=None):
        """Apply the prepayments of parties to their bills that are due by
        ``date`` (today by default), oldest due first; each application
        is a payment with method 'prepayment' (and its receipt). Returns
        the created payments."""
        pool = Pool()
        Bill = pool.get('community.bill')
        Date = pool.get('ir.date')
        date = date or Date.today()
        balances = cls.prepayment_balances(parties)
        payments = []
        for party_id, balance in sorted(balances.items()):
            bills = Bill.search([
                    ('party', '=', party_id),
                    ('state', '=', 'posted'),
                    ('period_start', '<=', date),
                    ], order=[('due_date', 'ASC'), ('id', 'ASC')])
            by_unit = defaultdict(list)
            for bill in bills:
                if balance <= 0:
                    break
                to_pay = bill.amount_to_pay
                if to_pay <= 0:
                    continue
                amount = min(to_pay, balance)
                balance -= amount
                by_unit[bill.unit].append((bill, amount))
            for unit, bill_amounts in by_unit.items():
                payments.append(cls(compound=unit.compound, unit=unit,
                        party=party_id, date=date, method='prepayment',
                        amount=sum(a for _, a in bill_amounts),
                        lines=[{'bill': b.id, 'amount': a}
                            for b, a in bill_amounts]))
        # by slices: Tryton's records of a long list cost quadratic time
        for sub in grouped_slice(payments, 100):
            sub = list(sub)
            cls.save(sub)
            cls.post(sub)
        return payments

    @classmethod
    def apply_prepayments_cron(cls):
        "Scheduled action: apply prepayments to due bills."
        cls.apply_prepayments()


class PaymentLine(ModelSQL, ModelView):
    """Payment Line: the part of a payment that settles a bill, or a late
    fee of the bill when ``late_fee`` is set."""
    __name__ = 'community.payment.line'
    payment = fields.Many2One('community.payment', "Payment", required=True,
        ondelete='CASCADE')
    bill = fields.Many2One('community.bill', "Bill", required=True,
        ondelete='RESTRICT',
        domain=[
            ('unit', '=', Eval('_parent_payment.unit', -1)),
            ('state', '=', 'posted'),
            ])
    late_fee = fields.Many2One('community.late_fee', "Late Fee",
        ondelete='RESTRICT',
        domain=[('bill', '=', Eval('bill', -1))],
        help="Set to pay this late fee of the bill instead of the bill.")
    amount = fields.Numeric("Amount", digits=(16, 2),
        help="Leave empty to pay what remains of the bill or late fee.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('payment')

    @fields.depends('late_fee', 'bill')
    def on_change_late_fee(self):
        if self.late_fee:
            self.bill = self.late_fee.bill


class Bill(metaclass=PoolMeta):
    __name__ = 'community.bill'

    @classmethod
    def reconcile_paid(cls, bills):
        """Reconcile the receivable line of each fully paid bill with the
        payment lines whose origin is the bill."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        to_reconcile = []
        for bill in cls.browse(sorted({b.id for b in bills})):
            if bill.move_line.reconciliation:
                continue
            lines = MoveLine.search([
                    ('origin', '=', str(bill)),
                    ('reconciliation', '=', None),
                    ('account', '=', bill.move_line.account.id),
                    ('id', '!=', bill.move_line.id),
                    ])
            if sum(l.credit - l.debit for l in lines) == bill.total_amount:
                to_reconcile.append([bill.move_line] + lines)
        if to_reconcile:
            MoveLine.reconcile(*to_reconcile)


class Refund(Workflow, ModelSQL, ModelView):
    """Refund of a prepayment to a payer (退款).

    Requested by a cashier, approved by an accountant or the
    headquarters (button access), then paid out: each step records who
    and when (audit trail). The amount cannot exceed the prepayment
    balance of the party.
    """
    __name__ = 'community.refund'
    _states = {'readonly': Eval('state') != 'draft'}
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT', states=_states)
    party = fields.Many2One('party.party', "Party", required=True,
        ondelete='RESTRICT', states=_states)
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        states=_states)
    method = fields.Selection(METHODS[:5], "Method", required=True,
        states=_states)
    reason = fields.Text("Reason", required=True, states=_states)
    state = fields.Selection([
            ('draft', "Draft"),
            ('approved', "Approved"),
            ('done', "Done"),
            ('refused', "Refused"),
            ], "State", required=True, readonly=True)
    requested_by = fields.Many2One('res.user', "Requested By", readonly=True)
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    approved_at = fields.DateTime("Approved At", readonly=True)
    done_by = fields.Many2One('res.user', "Paid By", readonly=True)
    move = fields.Many2One('account.move', "Move", readonly=True,
        ondelete='RESTRICT')
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._transitions |= {
            ('draft', 'approved'),
            ('draft', 'refused'),
            ('approved', 'done'),
            }
        cls._buttons.update({
                'approve': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'refuse': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'do': {
                    'invisible': Eval('state') != 'approved',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_method():
        return 'cash'

    @staticmethod
    def default_requested_by():
        return Transaction().user

    def get_rec_name(self, name):
        return '%s %s' % (self.party.rec_name, format_money(self.amount))

    def check_balance(self):
        Payment = Pool().get('community.payment')
        balance = Payment.prepayment_balances([self.party]).get(
            self.party.id, Decimal(0))
        if self.amount <= 0 or self.amount > balance:
            raise BillingError(gettext(
                    'community_billing.msg_refund_amount',
                    refund=self.rec_name, balance=format_money(balance)))

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, refunds):
        for refund in refunds:
            refund.check_balance()
        cls.write(refunds, {
                'approved_by': Transaction().user,
                'approved_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('refused')
    def refuse(cls, refunds):
        cls.write(refunds, {'approved_by': Transaction().user})

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def do(cls, refunds):
        pool = Pool()
        Move = pool.get('account.move')
        MoveLine = pool.get('account.move.line')
        Period = pool.get('account.period')
        Date = pool.get('ir.date')
        Payment = pool.get('community.payment')
        Configuration = pool.get('community.billing.configuration')
        config = Configuration(1)
        for refund in refunds:
            refund.check_balance()
            company = refund.compound.company
            with Transaction().set_context(company=company.id):
                date = Date.today()
            helper = Payment(compound=refund.compound, method=refund.method)
            move = Move(company=company, journal=helper.journal(),
                period=Period.find(company, date=date), date=date,
                origin=refund, description=refund.reason[:100], lines=[
                    MoveLine(account=helper.prepayment_account(config),
                        party=refund.party, debit=refund.amount,
                        credit=Decimal(0)),
                    MoveLine(account=helper.debit_account(config),
                        debit=Decimal(0), credit=refund.amount),
                    ])
            move.save()
            Move.post([move])
            refund.move = move
            refund.done_by = Transaction().user
        cls.save(refunds)


class ReceiptReport(Report):
    """Receipt (收据): compound header, unit, payer, periods, items and
    amounts in figures and in Chinese capital numerals, the method in the
    user's language, the cashier, three copies (联次: 存根, 交款人, 记账)
    with the stamp and signature area; printed as PDF (Tryton converts
    the HTML with weasyprint; the Chinese glyphs come from the system's
    fonts through fontconfig, e.g. fonts-wqy-microhei). Payments by
    prepayment have no receipt (the deposit's receipt stands) and are
    left out."""
    __name__ = 'community.payment.receipt'
    COPIES = ['第一联 存根', '第二联 交款人', '第三联 记账']

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        context['records'] = [r for r in context['records']
            if r.method != 'prepayment']
        context['copies'] = cls.COPIES
        context['amount_in_words'] = amount_in_words
        context['format_money'] = format_money
        context['method_label'] = lambda payment: payment.method_string
        return context


class ReceiptBatchStart(ModelView):
    "Print Receipts by Building"
    __name__ = 'community.payment.receipt.batch.start'
    compound = fields.Many2One('community.compound', "Compound",
        required=True)
    building = fields.Many2One('community.building', "Building",
        required=True, domain=[('compound', '=', Eval('compound', -1))])
    from_date = fields.Date("From Date", required=True,
        domain=[('from_date', '<=', Eval('to_date', None))])
    to_date = fields.Date("To Date", required=True)

    @classmethod
    def default_from_date(cls):
        return Pool().get('ir.date').today().replace(day=1)

    @classmethod
    def default_to_date(cls):
        return Pool().get('ir.date').today()

    @fields.depends('building', 'compound')
    def on_change_building(self):
        if self.building:
            self.compound = self.building.compound


class ReceiptBatch(Wizard):
    """Print Receipts by Building (按楼栋批量打印收据): the receipts of the
    payments of a building's units dated in a range, in one PDF, by unit
    (natural order) then date and number."""
    __name__ = 'community.payment.receipt.batch'
    start = StateView('community.payment.receipt.batch.start',
        'community_billing.receipt_batch_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Print", 'print_', 'tryton-print', default=True),
            ])
    print_ = StateReport('community.payment.receipt')

    def default_start(self, fields):
        if self.model and self.model.__name__ == 'community.building' \
                and self.record:
            return {'building': self.record.id,
                'compound': self.record.compound.id}
        return {}

    def payments(self):
        "The posted payments with a receipt of the building in the range."
        Payment = Pool().get('community.payment')
        return Payment.search([
                ('unit.building', '=', self.start.building.id),
                ('state', '=', 'posted'),
                ('receipt_number', '!=', None),
                ('date', '>=', self.start.from_date),
                ('date', '<=', self.start.to_date),
                ], order=[('unit', 'ASC'), ('date', 'ASC'),
                ('receipt_number', 'ASC')])

    def do_print_(self, action):
        payments = self.payments()
        if not payments:
            raise BillingError(gettext(
                    'community_billing.msg_receipt_batch_none',
                    building=self.start.building.rec_name,
                    from_date=self.start.from_date,
                    to_date=self.start.to_date))
        ids = [p.id for p in payments]
        return action, {'id': ids[0], 'ids': ids,
            'model': 'community.payment'}
