# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Dunning (催缴) of overdue bills through Tryton's ``account_dunning``.

The receivable line of a bill (party = payer, maturity date = due date) is
dunned by Tryton's standard "Create Dunnings" / "Process Dunning" flow
with the procedure of the payer (by default the account configuration's
``default_dunning_procedure``, see ``create_dunning_procedure``). This
module adds:

- no dunning for a bill with nothing left to pay (a bill settled by a
  prepayment is reconciled; "Create Dunnings" first applies the payers'
  prepayments to their due bills), nor for a bill whose dunning is
  suspended (``community.bill.dunning_blocked``, 暂停催缴);
- the dunned ``amount`` of a partly paid bill is what remains to pay, not
  the whole receivable line;
- late fees are not dunned on their own: the letter of their bill lists
  the open ones;
- the compound of the dunning (record rules per compound);
- the dunning letter (催缴通知单), an HTML report grouped per payer and
  unit: overdue bills with periods and open amounts, open late fees,
  total in figures and in Chinese capital numerals.
"""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.report import Report
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, check_access

from .payment import amount_in_words

# Days overdue (after the due date) of the levels of the default procedure:
# 1st reminder, 2nd reminder, final notice. The levels are ordinary
# records: edit them in Accounting ▸ Configuration ▸ Dunning Procedures.
DUNNING_LEVELS = [15, 45, 90]
DUNNING_PROCEDURE_NAME = "物业费催缴"
LEVEL_NAMES = ["第一次催缴", "第二次催缴", "最后催告"]


def create_dunning_procedure(company):
    """Return the default dunning procedure (物业费催缴), created with the
    levels of ``DUNNING_LEVELS`` on first use and set as the account
    configuration's ``default_dunning_procedure`` of ``company`` when it
    has none (new parties get it by default)."""
    pool = Pool()
    Procedure = pool.get('account.dunning.procedure')
    AccountConfiguration = pool.get('account.configuration')
    procedures = Procedure.search([
            ('name', '=', DUNNING_PROCEDURE_NAME)], limit=1)
    if procedures:
        procedure, = procedures
    else:
        procedure, = Procedure.create([{
                    'name': DUNNING_PROCEDURE_NAME,
                    'levels': [('create', [{
                                    'sequence': i,
                                    'overdue': dt.timedelta(days=days),
                                    } for i, days in enumerate(
                                    DUNNING_LEVELS, 1)])],
                    }])
    config = AccountConfiguration(1)
    if not config.get_multivalue(
            'default_dunning_procedure', company=company.id):
        config.default_dunning_procedure = procedure
        config.save()
    return procedure


def assign_dunning_procedure(procedure, parties):
    "Give ``procedure`` to those of ``parties`` without a procedure."
    Party = Pool().get('party.party')
    parties = [p for p in Party.browse(parties) if not p.dunning_procedure]
    if parties:
        Party.write(parties, {'dunning_procedure': procedure.id})
    return parties


def level_name(index):
    "The name of the dunning level at ``index`` (0: the first)."
    if index < len(LEVEL_NAMES):
        return LEVEL_NAMES[index]
    return '第%s次催缴' % (index + 1)


class Level(metaclass=PoolMeta):
    __name__ = 'account.dunning.level'

    def get_rec_name(self, name):
        """The level as the office says it, "第一次催缴 (物业费催缴)",
        rather than Tryton's "0@物业费催缴"."""
        return '%s (%s)' % (level_name(self.procedure.levels.index(self)),
            self.procedure.rec_name)


class Dunning(metaclass=PoolMeta):
    __name__ = 'account.dunning'
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True, ondelete='RESTRICT',
        help="The compound of the dunned bill.")
    bill = fields.Function(fields.Many2One('community.bill', "Bill"),
        'get_bill')

    def get_bill(self, name):
        Bill = Pool().get('community.bill')
        if isinstance(self.line.origin, Bill):
            return self.line.origin.id

    @classmethod
    def create(cls, vlist):
        """Create by slices of 500: Create Dunnings saves every new
        dunning in one call, and Tryton's records of a long list cost
        quadratic time (validation reads the related records of the whole
        list for each one)."""
        records = []
        for sub in grouped_slice(vlist, 500):
            records.extend(super().create(list(sub)))
        return records

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        Bill = pool.get('community.bill')
        values = super().preprocess_values(mode, values)
        if values.get('line') and not values.get('compound'):
            origin = MoveLine(values['line']).origin
            if isinstance(origin, Bill):
                values['compound'] = origin.compound.id
        return values

    def get_amount(self, name):
        """The open amount: for the receivable line of a bill not yet
        reconciled, what remains to pay of the bill."""
        pool = Pool()
        Bill = pool.get('community.bill')
        amount = super().get_amount(name)
        origin = self.line.origin
        if isinstance(origin, Bill) and not self.line.reconciliation:
            amount = min(amount, origin.amount_to_pay)
        return amount

    @classmethod
    def generate_dunnings(cls, date=None):
        """Apply the payers' prepayments to their due bills (as of
        ``date`` but never in the future), then create the dunnings.

        A compound's accountant does not read the ledger (no access to
        ``account.move.line``): the dunnings are then created and moved to
        their next level for the bills of the user's compounds only."""
        pool = Pool()
        Date = pool.get('ir.date')
        Payment = pool.get('community.payment')
        ModelAccess = pool.get('ir.model.access')
        User = pool.get('res.user')
        transaction = Transaction()
        today = Date.today()
        Payment.apply_prepayments(date=min(date or today, today))
        with check_access():
            ledger = ModelAccess.check(
                'account.move.line', 'read', raise_exception=False)
        if ledger:
            super().generate_dunnings(date=date)
        else:
            compounds = list(User.get_compounds())
            with transaction.set_context(
                    _community_dunning_compounds=compounds), \
                    transaction.set_user(0):
                super().generate_dunnings(date=date)

    @classmethod
    def search(cls, domain, *args, **kwargs):
        compounds = Transaction().context.get('_community_dunning_compounds')
        if compounds is not None:
            # generate_dunnings for a compound's accountant, see above
            domain = [domain, ('compound', 'in', compounds)]
        return super().search(domain, *args, **kwargs)

    @classmethod
    def _overdue_line_domain(cls, date):
        domain = super()._overdue_line_domain(date)
        compounds = Transaction().context.get('_community_dunning_compounds')
        if compounds is not None:
            domain.append(
                ('origin.compound', 'in', compounds, 'community.bill'))
        return domain

    @classmethod
    def _get_dunning(cls, line, date):
        pool = Pool()
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        origin = line.origin
        if isinstance(origin, LateFee):
            # listed on the letter of its bill
            return
        if isinstance(origin, Bill) and (
                origin.dunning_blocked or origin.amount_to_pay <= 0):
            return
        dunning = super()._get_dunning(line, date)
        if dunning and isinstance(origin, Bill):
            dunning.compound = origin.compound
        return dunning


class Bill(metaclass=PoolMeta):
    __name__ = 'community.bill'
    dunning_blocked = fields.Boolean("Dunning Blocked",
        help="No dunning for the bill (e.g. disputed): none is created and "
        "those already created are blocked.")

    @staticmethod
    def default_dunning_blocked():
        return False

    @classmethod
    def on_modification(cls, mode, bills, field_names=None):
        pool = Pool()
        Dunning = pool.get('account.dunning')
        super().on_modification(mode, bills, field_names=field_names)
        if mode == 'write' and 'dunning_blocked' in (field_names or ()):
            to_write = []
            for blocked in [True, False]:
                lines = [b.move_line.id for b in bills
                    if b.move_line and bool(b.dunning_blocked) == blocked]
                dunnings = Dunning.search([('line', 'in', lines)])
                if dunnings:
                    to_write.extend((dunnings, {'blocked': blocked}))
            if to_write:
                Dunning.write(*to_write)


class DunningLetter(Report):
    """Dunning letter (催缴通知单), one page per payer and unit: the overdue
    bills (number, period, due date, total, open amount, level), the open
    late fees of the unit's bills, the total in figures and in words."""
    __name__ = 'community.dunning.letter'

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        context['letters'] = cls.letters(records)
        context['amount_in_words'] = amount_in_words
        return context

    @classmethod
    def letters(cls, dunnings):
        """Return a list of dicts (``compound``, ``unit``, ``party``,
        ``date``, ``rows``, ``total``) per payer and unit, ``rows`` being
        dicts ``label``, ``period``, ``due_date``, ``total``, ``amount``,
        ``level`` in order of due date (bills) then late fees."""
        pool = Pool()
        Bill = pool.get('community.bill')
        LateFee = pool.get('community.late_fee')
        Date = pool.get('ir.date')
        today = Date.today()
        groups = defaultdict(list)
        for dunning in dunnings:
            bill = dunning.line.origin
            if not isinstance(bill, Bill):
                continue
            groups[(bill.party, bill.unit)].append((bill, dunning))
        letters = []
        for (party, unit), items in sorted(groups.items(),
                key=lambda i: (i[0][1].rec_name, i[0][0].rec_name)):
            items.sort(key=lambda i: (i[0].due_date, i[0].id))
            rows = []
            for bill, dunning in items:
                levels = list(dunning.procedure.levels)
                index = levels.index(dunning.level)
                rows.append({
                        'label': bill.number,
                        'period': '%s ~ %s' % (
                            bill.period_start, bill.period_end),
                        'due_date': bill.due_date,
                        'total': bill.total_amount,
                        'amount': dunning.amount,
                        'level': level_name(index),
                        })
            fees = LateFee.search([
                    ('bill', 'in', [b.id for b, _ in items]),
                    ('party', '=', party.id),
                    ], order=[('date', 'ASC'), ('id', 'ASC')])
            for fee in fees:
                if fee.amount_to_pay <= 0:
                    continue
                rows.append({
                        'label': '违约金 (账单 %s)' % fee.bill.number,
                        'period': '%s ~ %s' % (fee.date_from, fee.date),
                        'due_date': fee.date,
                        'total': fee.amount,
                        'amount': fee.amount_to_pay,
                        'level': '',
                        })
            letters.append({
                    'compound': unit.compound,
                    'unit': unit,
                    'party': party,
                    'date': today,
                    'rows': rows,
                    'total': sum((r['amount'] for r in rows), Decimal(0)),
                    })
        return letters
