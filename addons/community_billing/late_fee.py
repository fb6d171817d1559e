# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Late fees (违约金) on overdue bills, and their waivers.

Terms are per compound (``community.late_fee.term``): a daily rate on the
overdue principal, grace days after the due date, a cap as a share of the
principal (never above 100 %) and whether late fees are charged at all.

A late-fee run (wizard ``community.late_fee.charge``) charges, as of a
date (by default today in the compound's time zone), every overdue bill
of the compound: one ``community.late_fee`` per bill for the local
calendar days from the day after the last day already charged (or the
first day after the grace period) to the run date, each posted as one
move (receivable of the payer / 6051 other revenue). The database refuses
two late fees of a bill starting the same day, so a re-run never charges
a day twice.

The scheduled action ``community.late_fee|charge_due`` runs every hour
at minute 5 and charges each compound whose terms are enabled once a day,
as of its local day, at the first run after its local midnight (00:05
Asia/Shanghai); ``charged_until`` on the terms records the day. Late fees
never wait for it: a counter payment (and so a portal payment, posted as
one) first charges what is due on the bills of its unit up to the
payment's date (``charge_units``), and the cashier's "pay all" lists them.
A late fee is paid at the counter like a bill
(``community.payment.line.late_fee``); ``amount_to_pay`` is what is left
after payments and waivers.

A waiver (``community.late_fee.waiver``) takes back all or part of a late
fee with a reason; only the groups granted its ``approve`` button may
approve it, which posts the reverse move and logs who and when.
"""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Sum

from trytond.i18n import gettext
from trytond.model import (
    ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateAction, StateView, Wizard

from trytond.modules.community_base.display import format_money

from .arrears import local_today
from .bill import _chunks, _revenue_lines
from .exceptions import BillingError
from .fee import round_money


def late_fee_amount(principal, rate, days, cap, charged=Decimal(0)):
    """Late fee for ``days`` days on ``principal`` at the daily ``rate``,
    half-up to the fen, limited so that ``charged`` (already charged on
    the same bill) plus the fee never exceeds ``cap`` × principal (cap ≤
    1). Returns a Decimal ≥ 0."""
    if principal <= 0 or days <= 0:
        return Decimal('0.00')
    amount = round_money(principal * rate * days)
    limit = round_money(principal * min(cap, Decimal(1)))
    return max(min(amount, limit - charged), Decimal('0.00'))


class LateFeeTerm(ModelSQL, ModelView):
    """Late Fee Terms (违约金条款)

    The contract terms of a compound."""
    __name__ = 'community.late_fee.term'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    enabled = fields.Boolean("Enabled",
        help="Charge late fees on the overdue bills of the compound.")
    daily_rate = fields.Numeric("Daily Rate", digits=(16, 6), required=True,
        domain=[('daily_rate', '>=', 0), ('daily_rate', '<=', 1)],
        help="Share of the overdue principal charged per day "
        "(0.0005 is 0.05 %).")
    grace_days = fields.Integer("Grace Days", required=True,
        domain=[('grace_days', '>=', 0)],
        help="Days after the due date without late fee.")
    cap = fields.Numeric("Cap", digits=(16, 4), required=True,
        domain=[('cap', '>=', 0), ('cap', '<=', 1)],
        help="Late fees of a bill never exceed this share of its "
        "principal (at most 1).")
    account = fields.Many2One('account.account', "Revenue Account",
        required=True, ondelete='RESTRICT',
        help="Other revenue (6051) credited with late fees.")
    charged_until = fields.Date("Charged Until", readonly=True,
        help="The local day up to which the scheduled action charged the "
        "late fees of the compound.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('compound_unique', Unique(t, t.compound),
                'community_billing.msg_late_fee_term_unique'),
            ]

    @staticmethod
    def default_enabled():
        return True

    @staticmethod
    def default_daily_rate():
        return Decimal('0.0005')

    @staticmethod
    def default_grace_days():
        return 0

    @staticmethod
    def default_cap():
        return Decimal(1)

    @classmethod
    def default_account(cls):
        "Other revenue (6051) of the company, when its chart has it."
        Account = Pool().get('account.account')
        company = Transaction().context.get('company')
        accounts = Account.search([
                ('code', '=', '6051'),
                ('company', '=', company),
                ], limit=1) if company else []
        return accounts[0].id if accounts else None

    def get_rec_name(self, name):
        return self.compound.rec_name


class LateFee(ModelSQL, ModelView):
    """Late Fee (违约金)"""
    __name__ = 'community.late_fee'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True)
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Payer", required=True, readonly=True)
    bill = fields.Many2One(
        'community.bill', "Bill", required=True, readonly=True,
        ondelete='RESTRICT')
    date = fields.Date("Date", required=True, readonly=True)
    date_from = fields.Date("From", required=True, readonly=True)
    days = fields.Integer("Days", readonly=True)
    principal = fields.Numeric(
        "Overdue Principal", digits=(16, 2), readonly=True)
    daily_rate = fields.Numeric("Daily Rate", digits=(16, 6), readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    waivers = fields.One2Many(
        'community.late_fee.waiver', 'late_fee', "Waivers", readonly=True)
    waived_amount = fields.Function(fields.Numeric(
            "Waived", digits=(16, 2)), 'get_waived_amount')
    move = fields.Many2One('account.move', "Move", readonly=True)
    move_line = fields.Many2One(
        'account.move.line', "Receivable Line", readonly=True)
    run = fields.Many2One('community.late_fee.run', "Late-Fee Run",
        readonly=True, ondelete='RESTRICT',
        help="The run that charged it; none when charged before a "
        "counter payment.")
    amount_to_pay = fields.Function(fields.Numeric(
            "Amount to Pay", digits=(16, 2)), 'get_amount_to_pay')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('bill_date_from_unique', Unique(t, t.bill, t.date_from),
                'community_billing.msg_late_fee_unique'),
            ]
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return '%s %s' % (self.bill.rec_name, self.date)

    @classmethod
    def search_rec_name(cls, name, clause):
        """Late fees by their bill's number or their unit's code as people
        type it (``1-2-301``, ``1栋2单元301``), as the front desk finds
        them for a waiver."""
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('bill.rec_name', operator, operand, *extra),
            ('unit.rec_name', operator, operand, *extra),
            ]

    def get_waived_amount(self, name):
        return sum((w.amount for w in self.waivers if w.state == 'done'),
            Decimal('0.00'))

    @classmethod
    def get_amount_to_pay(cls, fees, name):
        """What is left to pay of posted late fees: 0 once the receivable
        line is reconciled, else the amount less the payments and waivers
        (receivable credits whose origin is the late fee)."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        line = MoveLine.__table__()
        cursor = Transaction().connection.cursor()
        paid = defaultdict(Decimal)
        origins = {str(f): f.id for f in fees if f.move_line}
        for sub in _chunks(list(origins), 1000):
            cursor.execute(*line.select(line.origin,
                    Sum(line.credit - line.debit),
                    where=line.origin.in_(sub) & (line.reconciliation == Null)
                    & (line.credit > 0) & (line.party != Null),
                    group_by=[line.origin]))
            for origin, amount in cursor:
                paid[origins[origin]] += amount
        result = {}
        for fee in fees:
            if not fee.move_line or fee.move_line.reconciliation:
                result[fee.id] = Decimal(0)
            else:
                result[fee.id] = fee.amount - paid[fee.id]
        return result

    @classmethod
    def reconcile_paid(cls, fees):
        """Reconcile the receivable line of each late fee settled in full
        (payments and waivers) with the receivable credits whose origin is
        the late fee."""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        to_reconcile = []
        for fee in cls.browse(sorted({f.id for f in fees})):
            if not fee.move_line or fee.move_line.reconciliation:
                continue
            lines = MoveLine.search([
                    ('origin', '=', str(fee)),
                    ('reconciliation', '=', None),
                    ('account', '=', fee.move_line.account.id),
                    ('id', '!=', fee.move_line.id),
                    ])
            if sum(l.credit - l.debit for l in lines) == fee.amount:
                to_reconcile.append([fee.move_line] + lines)
        if to_reconcile:
            MoveLine.reconcile(*to_reconcile)

    @classmethod
    def charge_due(cls):
        """Scheduled action, every hour at minute 5: charge the late fees
        of every compound whose terms are enabled and whose local day has
        begun since its last charge (``charged_until``), as of that local
        day; so each compound is charged just after its local midnight,
        whatever its time zone. Idempotent (see ``charge``). Returns the
        new late fees."""
        pool = Pool()
        Term = pool.get('community.late_fee.term')
        fees = []
        for term in Term.search([('enabled', '=', True)]):
            compound = term.compound
            today = local_today(compound.timezone)
            if term.charged_until and term.charged_until >= today:
                continue
            with Transaction().set_context(company=compound.company.id):
                run = cls.charge_run(compound, today, origin='scheduled')
            fees.extend(run.late_fees)
            term.charged_until = today
            term.save()
        return fees

    @classmethod
    def charge_units(cls, units, date):
        """Charge the late fees due up to the local day ``date`` on the
        bills of ``units`` (before a payment of that day settles them:
        what is due does not wait for the scheduled action). The bills are
        locked first (``community.payment.lock_bills``): a bill another
        cashier is settling raises BillingError. Returns the new late
        fees."""
        by_compound = defaultdict(set)
        for unit in units:
            by_compound[unit.compound].add(unit.id)
        fees = []
        for compound, unit_ids in by_compound.items():
            with Transaction().set_context(company=compound.company.id):
                fees.extend(cls.charge(
                        compound, date, units=sorted(unit_ids), lock=True))
        return fees

    @classmethod
    def charge_run(cls, compound, date, origin='manual'):
        """Charge the late fees of ``compound`` as of ``date`` (see
        ``charge``) and record what was charged in a late-fee run (a run
        that charged nothing is recorded too: the accountant sees it ran).
        Returns the run."""
        Run = Pool().get('community.late_fee.run')
        fees = cls.charge(compound, date)
        run = Run(compound=compound, date=date, origin=origin,
            unit_count=len({f.unit.id for f in fees}),
            bill_count=len({f.bill.id for f in fees}),
            amount=sum((f.amount for f in fees), Decimal('0.00')))
        run.save()
        if fees:
            cls.write(fees, {'run': run.id})
        return run

    @classmethod
    def charge(cls, compound, date, units=None, lock=False):
        """Charge the late fees of the overdue bills of ``compound`` (of
        the unit ids ``units`` only, when given) as of the local calendar
        day ``date``; return the new late fees. ``lock``: lock the
        overdue bills first."""
        pool = Pool()
        Term = pool.get('community.late_fee.term')
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        terms = Term.search([('compound', '=', compound.id)])
        if not terms or not terms[0].enabled:
            return []
        term, = terms
        grace = dt.timedelta(days=term.grace_days)
        domain = [
            ('compound', '=', compound.id),
            ('state', '=', 'posted'),
            ('due_date', '<', date - grace),
            ]
        if units is not None:
            domain.append(('unit', 'in', units))
        bills = Bill.search(
            domain, order=[('due_date', 'ASC'), ('id', 'ASC')])
        if lock and bills:
            Payment.lock_bills(bills)
            Transaction().counter += 1  # read the amounts after the lock
            bills = Bill.browse(bills)
        previous = {}
        for sub in _chunks([b.id for b in bills], 1000):
            for fee in cls.search([('bill', 'in', sub)]):
                last, charged = previous.get(fee.bill.id, (None, 0))
                previous[fee.bill.id] = (
                    max(last or fee.date, fee.date), charged + fee.amount)
        fees = []
        for bill in bills:
            principal = bill.amount_to_pay
            if principal <= 0:
                continue
            last, charged = previous.get(bill.id, (None, Decimal(0)))
            start = bill.due_date + grace + dt.timedelta(days=1)
            if last:
                start = max(start, last + dt.timedelta(days=1))
            days = (date - start).days + 1
            amount = late_fee_amount(
                principal, term.daily_rate, days, term.cap, charged)
            if amount <= 0:
                continue
            fees.append(cls(compound=compound, unit=bill.unit,
                    party=bill.party, bill=bill, date=date, date_from=start,
                    days=days, principal=principal,
                    daily_rate=term.daily_rate, amount=amount))
        cls.save(fees)
        cls.post(fees, term)
        return fees

    @classmethod
    def post(cls, fees, term):
        "Post one move per late fee: receivable of the payer / revenue."
        pool = Pool()
        Move = pool.get('account.move')
        Period = pool.get('account.period')
        Config = pool.get('community.billing.configuration')
        config = Config(1)
        moves = []
        for fee in fees:
            company = fee.compound.company
            period = Period.find(company, date=fee.date)
            description = gettext('community_billing.msg_late_fee_description',
                bill=fee.bill.rec_name)
            journal = config.get_multivalue('journal', company=company.id)
            receivable = config.get_multivalue(
                'receivable_account', company=company.id)
            moves.append(Move(company=company, journal=journal,
                    period=period, date=fee.date, origin=fee,
                    description=description,
                    lines=[{
                            'account': receivable.id,
                            'party': fee.party.id,
                            'debit': fee.amount, 'credit': Decimal(0),
                            'maturity_date': fee.date,
                            'origin': str(fee),
                            }, {
                            'account': term.account.id,
                            'debit': Decimal(0), 'credit': fee.amount,
                            }]))
        Move.save(moves)
        Move.post(moves)
        for fee, move in zip(fees, moves):
            fee.move = move
            fee.move_line, = [l for l in move.lines if l.debit]
        cls.save(fees)


class LateFeeWaiver(Workflow, ModelSQL, ModelView):
    """Waiver (减免) of a late fee or of part of a bill

    Requested with a reason (the front desk, the cashier or the
    accountant), then approved or rejected by the groups granted the
    ``approve`` and ``reject`` buttons (the property manager, the
    headquarters). Approval posts the reduction: the receivable of the
    payer is credited (origin the late fee or the bill, so that its
    amount to pay drops) and the late-fee revenue, or the revenue and
    output VAT of the bill's fee items (shared in proportion to its
    lines), are debited. A rejected waiver posts nothing. Who decided and
    when is logged."""
    __name__ = 'community.late_fee.waiver'
    _states = {'readonly': Eval('state') != 'draft'}
    compound = fields.Many2One('community.compound', "Compound",
        required=True, readonly=True, ondelete='RESTRICT')
    kind = fields.Selection([
            ('late_fee', "Late Fee"),
            ('bill', "Bill"),
            ], "Waive", required=True, states=_states)
    late_fee = fields.Many2One('community.late_fee', "Late Fee",
        ondelete='RESTRICT',
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('kind') == 'late_fee',
            'invisible': Eval('kind') != 'late_fee',
            })
    bill = fields.Many2One('community.bill', "Bill", ondelete='RESTRICT',
        domain=[('state', '=', 'posted')],
        states={
            'readonly': (Eval('state') != 'draft')
            | (Eval('kind') == 'late_fee'),
            'required': Eval('kind') == 'bill',
            })
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        domain=[('amount', '>', 0)], states=_states)
    reason = fields.Text("Reason", required=True, states=_states)
    date = fields.Date("Date", required=True, states=_states)
    state = fields.Selection([
            ('draft', "To Approve"),
            ('done', "Approved"),
            ('rejected', "Rejected"),
            ], "State", required=True, readonly=True)
    requested_by = fields.Many2One('res.user', "Requested by",
        readonly=True)
    approved_by = fields.Many2One('res.user', "Reviewed by", readonly=True)
    approved_at = fields.Timestamp("Reviewed at", readonly=True)
    move = fields.Many2One('account.move', "Move", readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('draft', 'done'), ('draft', 'rejected')}
        cls._buttons.update({
                'approve': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def __register__(cls, module):
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        fee = Pool().get('community.late_fee').__table__()
        super().__register__(module)
        # waivers of late fees created before waivers of bills: their
        # compound and bill come from their late fee
        cursor.execute(*table.update(
                [table.compound, table.bill, table.kind],
                [fee.compound, fee.bill, 'late_fee'],
                from_=[fee],
                where=(table.late_fee == fee.id) & (table.compound == Null)))

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_kind():
        return 'late_fee'

    @classmethod
    def default_requested_by(cls):
        return Transaction().user

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @fields.depends('late_fee', 'kind', 'amount')
    def on_change_late_fee(self):
        if self.kind == 'late_fee' and self.late_fee:
            self.bill = self.late_fee.bill
            self.compound = self.late_fee.compound
            if self.amount is None:
                self.amount = self.late_fee.amount_to_pay

    @fields.depends('bill', 'kind')
    def on_change_bill(self):
        if self.bill:
            self.compound = self.bill.compound

    @fields.depends('kind', 'late_fee')
    def on_change_kind(self):
        if self.kind == 'bill':
            self.late_fee = None

    def get_rec_name(self, name):
        target = self.target
        return '%s %s' % (target.rec_name if target else '',
            format_money(self.amount) if self.amount is not None else '')

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        LateFee = pool.get('community.late_fee')
        Bill = pool.get('community.bill')
        values = super().preprocess_values(mode, values)
        if values.get('kind') == 'bill':
            values['late_fee'] = None
        if values.get('late_fee'):
            fee = LateFee(values['late_fee'])
            values['bill'] = fee.bill.id
            values['compound'] = fee.compound.id
        elif values.get('bill'):
            values['compound'] = Bill(values['bill']).compound.id
        return values

    @classmethod
    def check_modification(cls, mode, waivers, values=None, external=False):
        super().check_modification(
            mode, waivers, values=values, external=external)
        if mode in {'write', 'delete'}:
            for waiver in waivers:
                if waiver.state != 'draft' and (
                        mode == 'delete' or set(values or {}) - {
                            'approved_by', 'approved_at', 'move', 'state'}):
                    raise BillingError(gettext(
                            'community_billing.msg_late_fee_waiver_done',
                            waiver=waiver.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, waivers):
        "Refuse the waivers: nothing is posted, who and when is logged."
        cls.write(waivers, {
                'approved_by': Transaction().user,
                'approved_at': dt.datetime.now(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def approve(cls, waivers):
        pool = Pool()
        Move = pool.get('account.move')
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        Payment = pool.get('community.payment')
        transaction = Transaction()
        # like a payment: no cashier settles them meanwhile
        Payment.lock_bills([w.target for w in waivers])
        transaction.counter += 1
        moves = []
        waived = defaultdict(Decimal)
        for waiver in cls.browse(waivers):
            target = waiver.target
            left = target.amount_to_pay - waived[str(target)]
            if waiver.amount > left:
                raise BillingError(gettext(
                        'community_billing.msg_late_fee_waiver_amount',
                        waiver=waiver.rec_name, amount=format_money(left)))
            waived[str(target)] += waiver.amount
            moves.append(waiver._move())
        Move.save(moves)
        Move.post(moves)
        now = dt.datetime.now()
        for waiver, move in zip(waivers, moves):
            waiver.move = move
            waiver.approved_by = transaction.user
            waiver.approved_at = now
        cls.save(waivers)
        # settled in full (waivers and payments): reconcile
        LateFee.reconcile_paid(
            [w.late_fee for w in waivers if w.kind == 'late_fee'])
        Bill.reconcile_paid([w.bill for w in waivers if w.kind == 'bill'])

    @property
    def target(self):
        "The late fee or the bill the waiver reduces."
        return self.late_fee if self.kind == 'late_fee' else self.bill

    def _move(self):
        """The (unsaved) move of the approved waiver: the receivable of the
        payer credited, the revenue debited."""
        pool = Pool()
        Move = pool.get('account.move')
        Period = pool.get('account.period')
        Term = pool.get('community.late_fee.term')
        Config = pool.get('community.billing.configuration')
        config = Config(1)
        company = self.compound.company
        target = self.target
        description = self.reason[:100]
        lines = [{
                'account': target.move_line.account.id,
                'party': target.party.id,
                'debit': Decimal(0), 'credit': self.amount,
                'origin': str(target),
                'description': description,
                }]
        if self.kind == 'late_fee':
            term, = Term.search([('compound', '=', self.compound.id)])
            lines.append({
                    'account': term.account.id,
                    'debit': self.amount, 'credit': Decimal(0),
                    'description': description,
                    })
        else:
            for item, amount in self._bill_shares():
                for line in _revenue_lines(
                        item, amount, description, reverse=True):
                    if 'tax_lines' in line:
                        line['tax_lines'] = [
                            t for _, ts in line['tax_lines'] for t in ts]
                    lines.append(line)
        return Move(company=company,
            journal=config.get_multivalue('journal', company=company.id),
            period=Period.find(company, date=self.date),
            date=self.date, origin=self, description=description,
            lines=lines)

    def _bill_shares(self):
        """[(fee item, amount)] sharing the waived amount over the lines
        of the bill in proportion to their amounts (half-up to the fen,
        the rest on the last line)."""
        lines = [l for l in self.bill.lines if l.amount > 0]
        total = sum(l.amount for l in lines)
        shares, left = [], self.amount
        for i, line in enumerate(lines):
            if i == len(lines) - 1:
                amount = left
            else:
                amount = round_money(self.amount * line.amount / total)
            left -= amount
            if amount:
                shares.append((line.fee_item, amount))
        return shares


class LateFeeRun(ModelSQL, ModelView):
    """Late-Fee Run (违约金计提)

    What one charge of a compound's late fees charged as of a day: the
    units and bills, the total and a line per late fee."""
    __name__ = 'community.late_fee.run'
    compound = fields.Many2One('community.compound', "Compound",
        required=True, readonly=True, ondelete='RESTRICT')
    date = fields.Date("Date", required=True, readonly=True,
        help="Late fees are counted up to this day.")
    origin = fields.Selection([
            ('manual', "Manual"),
            ('scheduled', "Scheduled"),
            ], "Origin", required=True, readonly=True)
    unit_count = fields.Integer("Units", readonly=True)
    bill_count = fields.Integer("Bills", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    late_fees = fields.One2Many('community.late_fee', 'run', "Late Fees",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return '%s %s' % (self.compound.rec_name, self.date)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('community.late_fee|charge_due', "Charge Late Fees"))


class LateFeeChargeStart(ModelView):
    "Charge Late Fees"
    __name__ = 'community.late_fee.charge.start'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True)
    date = fields.Date("Date", required=True,
        help="Late fees are counted up to this day (local calendar day of "
        "the compound).")

    @fields.depends('compound')
    def on_change_compound(self):
        if self.compound:
            self.date = local_today(self.compound.timezone)


class LateFeeCharge(Wizard):
    "Charge Late Fees"
    __name__ = 'community.late_fee.charge'
    start = StateView('community.late_fee.charge.start',
        'community_billing.late_fee_charge_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Charge", 'charge', 'tryton-ok', default=True),
            ])
    charge = StateAction('community_billing.act_late_fee_run_form')

    def do_charge(self, action):
        "Charge, then show the run: what it charged, bill by bill."
        LateFee = Pool().get('community.late_fee')
        run = LateFee.charge_run(self.start.compound, self.start.date)
        action['views'].reverse()
        return action, {'res_id': [run.id]}
