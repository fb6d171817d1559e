# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The cashier desk (收银台): one screen per unit.

It shows what the unit owes (its bills and their late fees, oldest
first), the payer's prepaid balance and who usually pays; the cashier
enters the amount received and the method and sees the change (找零) or
what goes to prepayment; one button posts and prints the receipt. The
money is posted by ``community.payment`` (``open_items``, ``post``): the
desk only chooses the lines. A part paid from the prepaid balance is a
payment by prepayment, without receipt: the deposit's receipt stands.
"""
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, In
from trytond.transaction import Transaction
from trytond.wizard import (
    Button, StateReport, StateTransition, StateView, Wizard)

from trytond.modules.community_base.display import format_money

from .arrears import local_today
from .exceptions import BillingError
from .fee import round_money
from .payment import METHODS, REFERENCE_METHODS

ZERO = Decimal('0.00')


def allocate(items, amount):
    """Split payment line values ``items`` (oldest first) by ``amount``:
    return (the items it pays, in part for the last one; what is left)."""
    taken, rest = [], []
    for item in items:
        part = min(item['amount'], amount)
        if part > 0:
            taken.append(dict(item, amount=part))
            amount -= part
        if part < item['amount']:
            rest.append(dict(item, amount=item['amount'] - max(part, ZERO)))
    return taken, rest


def desk_amounts(due, balance, use_prepayment, received, method,
        keep_change):
    """What the desk posts: (paid from the prepaid balance, left to
    collect, amount of the payment, change given back, kept as
    prepayment). Cash beyond what is owed is given back unless
    ``keep_change``; other methods keep it as prepayment."""
    used = min(balance or ZERO, due) if use_prepayment else ZERO
    to_collect = due - used
    received = round_money(received or ZERO)
    if method == 'cash' and not keep_change:
        paid = min(received, to_collect)
    else:
        paid = received
    change = received - paid
    to_prepayment = max(paid - to_collect, ZERO)
    return used, to_collect, paid, change, to_prepayment


class CashierStart(ModelView):
    "Cashier Desk"
    __name__ = 'community.cashier.start'
    unit = fields.Many2One('community.unit', "Unit", required=True)
    compound = fields.Many2One(
        'community.compound', "Compound", readonly=True)
    date = fields.Date("Date", readonly=True)
    payer = fields.Many2One('party.party', "Payer", required=True,
        help="Who usually pays for the unit; the prepayment is theirs.")
    bills = fields.Many2Many(
        'community.bill', None, None, "Bills Owed", readonly=True)
    late_fees = fields.Many2Many(
        'community.late_fee', None, None, "Late Fees Owed", readonly=True)
    total_due = fields.Numeric(
        "Total Owed", digits=(16, 2), readonly=True)
    prepayment_balance = fields.Numeric(
        "Prepaid Balance", digits=(16, 2), readonly=True)
    use_prepayment = fields.Boolean("Pay from Prepayment",
        states={'readonly': ~Eval('prepayment_balance')})
    prepayment_used = fields.Numeric(
        "From Prepayment", digits=(16, 2), readonly=True)
    to_collect = fields.Numeric(
        "To Collect", digits=(16, 2), readonly=True)
    method = fields.Selection(METHODS[:5], "Method", required=True)
    received = fields.Numeric("Amount Received", digits=(16, 2))
    reference = fields.Char("Transaction Reference", states={
            'required': In(Eval('method'), REFERENCE_METHODS),
            'invisible': Eval('method') == 'cash',
            })
    keep_change = fields.Boolean("Keep Change as Prepayment",
        states={'invisible': Eval('method') != 'cash'})
    change = fields.Numeric("Change", digits=(16, 2), readonly=True)
    to_prepayment = fields.Numeric(
        "To Prepayment", digits=(16, 2), readonly=True)
    payment = fields.Many2One('community.payment', "Payment", readonly=True)

    @classmethod
    def default_method(cls):
        return 'cash'

    _amount_fields = ['total_due', 'prepayment_balance', 'use_prepayment',
        'received', 'method', 'keep_change']

    def _set_amounts(self):
        used, to_collect, _, change, to_prepayment = desk_amounts(
            self.total_due or ZERO, self.prepayment_balance,
            self.use_prepayment, self.received, self.method,
            self.keep_change)
        self.prepayment_used = used
        self.to_collect = to_collect
        self.change = change
        self.to_prepayment = to_prepayment

    def _set_balance(self):
        Payment = Pool().get('community.payment')
        self.prepayment_balance = round_money(Payment.prepayment_balances(
                [self.payer]).get(self.payer.id, ZERO)
            if self.payer else ZERO)
        self.use_prepayment = bool(self.prepayment_balance)

    @fields.depends('unit', 'payer', *_amount_fields)
    def on_change_unit(self):
        values = Cashier.unit_values(self.unit) if self.unit else {
            'compound': None, 'date': None, 'payer': None, 'bills': [],
            'late_fees': [], 'total_due': ZERO}
        for name in ['compound', 'date', 'payer', 'total_due']:
            setattr(self, name, values[name])
        self._set_balance()
        self._set_amounts()

    # lists as on_change_with: a form that is no record cannot return
    # them as changes
    @fields.depends('unit')
    def on_change_with_bills(self):
        return Cashier.unit_values(self.unit)['bills'] if self.unit else []

    @fields.depends('unit')
    def on_change_with_late_fees(self):
        return (Cashier.unit_values(self.unit)['late_fees']
            if self.unit else [])

    @fields.depends('payer', *_amount_fields)
    def on_change_payer(self):
        self._set_balance()
        self._set_amounts()

    @fields.depends(*_amount_fields)
    def on_change_use_prepayment(self):
        self._set_amounts()

    @fields.depends(*_amount_fields)
    def on_change_received(self):
        self._set_amounts()

    @fields.depends(*_amount_fields)
    def on_change_method(self):
        self._set_amounts()

    @fields.depends(*_amount_fields)
    def on_change_keep_change(self):
        self._set_amounts()


class Cashier(Wizard):
    """Cashier Desk (收银台): take a unit's payment and print its receipt
    in one go; opened from the menu, a unit or a bill."""
    __name__ = 'community.cashier'
    start = StateView('community.cashier.start',
        'community_billing.cashier_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Collect and Print", 'pay', 'tryton-print',
                default=True),
            ])
    pay = StateTransition()
    print_ = StateReport('community.payment.receipt')

    @classmethod
    def unit_values(cls, unit):
        """What the desk shows of ``unit``: its compound's local day, the
        usual payer, the bills and late fees owed and their total."""
        pool = Pool()
        Payment = pool.get('community.payment')
        items = Payment.open_items(unit)
        bills, fees = [], []
        for item in items:
            if item.get('late_fee'):
                fees.append(item['late_fee'])
            elif item['bill'] not in bills:
                bills.append(item['bill'])
        return {
            'compound': unit.compound.id,
            'date': local_today(unit.compound.timezone),
            'payer': cls.usual_payer(unit),
            'bills': bills,
            'late_fees': fees,
            'total_due': round_money(
                sum((i['amount'] for i in items), ZERO)),
            }

    @classmethod
    def usual_payer(cls, unit):
        """Who pays for ``unit``: the payer of its last payment, else of
        its last bill, else its owner marked as payer."""
        pool = Pool()
        Payment = pool.get('community.payment')
        Bill = pool.get('community.bill')
        Residency = pool.get('community.residency')
        for Model, order in [
                (Payment, [('date', 'DESC'), ('id', 'DESC')]),
                (Bill, [('period_start', 'DESC'), ('id', 'DESC')])]:
            records = Model.search([('unit', '=', unit.id)],
                order=order, limit=1)
            if records:
                return records[0].party.id
        residencies = Residency.search([
                ('unit', '=', unit.id), ('role', '=', 'owner'),
                ], order=[('payer', 'DESC'), ('id', 'ASC')], limit=1)
        return residencies[0].party.id if residencies else None

    def default_start(self, fields):
        pool = Pool()
        Bill = pool.get('community.bill')
        Unit = pool.get('community.unit')
        LateFee = pool.get('community.late_fee')
        context = Transaction().context
        model, active_id = context.get('active_model'), context.get(
            'active_id')
        unit = None
        if model == 'community.unit' and active_id:
            unit = Unit(active_id)
        elif model == 'community.bill' and active_id:
            unit = Bill(active_id).unit
        if unit is None:
            return {'method': 'cash'}
        # what is due up to today is charged before it is shown
        LateFee.charge_units([unit], local_today(unit.compound.timezone))
        Start = pool.get('community.cashier.start')
        start = Start(unit=unit, method='cash')
        start.on_change_unit()
        start.bills = start.on_change_with_bills()
        start.late_fees = start.on_change_with_late_fees()
        values = {}
        for name in fields:
            value = getattr(start, name, None)
            if isinstance(value, (list, tuple)):
                value = [getattr(r, 'id', r) for r in value]
            elif hasattr(value, 'id'):
                value = value.id
            values[name] = value
        return values

    def transition_pay(self):
        pool = Pool()
        Payment = pool.get('community.payment')
        LateFee = pool.get('community.late_fee')
        start = self.start
        unit, date = start.unit, local_today(start.unit.compound.timezone)
        LateFee.charge_units([unit], date)
        items = Payment.open_items(unit)
        due = sum((i['amount'] for i in items), ZERO)
        if due != (start.total_due or ZERO):
            raise BillingError(gettext(
                    'community_billing.msg_cashier_due_changed',
                    unit=unit.rec_name, amount=format_money(due)))
        balance = Payment.prepayment_balances([start.payer]).get(
            start.payer.id, ZERO)
        used, to_collect, paid, _, _ = desk_amounts(due, balance,
            start.use_prepayment, start.received, start.method,
            start.keep_change)
        payments = []
        if used:
            lines, items = allocate(items, used)
            payments.append(Payment(method='prepayment', amount=used,
                    lines=lines))
        cash = None
        if paid:
            lines, _ = allocate(items, paid)
            cash = Payment(method=start.method, amount=paid,
                reference=start.reference, lines=lines)
            payments.append(cash)
        if not payments:
            raise BillingError(gettext(
                    'community_billing.msg_cashier_nothing',
                    unit=unit.rec_name))
        for payment in payments:
            payment.compound = unit.compound
            payment.unit = unit
            payment.party = start.payer
            payment.date = date
        Payment.save(payments)
        Payment.post(payments)
        if cash:
            self.start.payment = cash
            return 'print_'
        return 'end'

    def do_print_(self, action):
        return action, {
            'id': self.start.payment.id,
            'ids': [self.start.payment.id],
            'model': 'community.payment',
            }
