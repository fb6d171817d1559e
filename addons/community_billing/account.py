# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Extensions of Tryton accounting and the chart of a property company.

``create_property_chart(company)`` creates, from the account templates
of ``account_chart.xml`` (as Tryton's create chart wizard does), the small
chart of accounts of a Chinese property-management company following the
account codes of the Accounting Standards for Business Enterprises
(企业会计准则 应用指南, 财政部 2006): 1001 cash, 1002 bank, 1012 other
monetary funds, 1122 receivables, 2203 advance receipts, 2241 other
payables (deposits), 2221 output VAT, 6001 revenue by fee type, 6051
other revenue. Output VAT on property services is 6 % (财税〔2016〕36号);
3 % is the simple-method rate of small-scale taxpayers. It is used by the
tests, the benchmark and the demo, and returns the created records by key.
"""
import datetime as dt
from decimal import Decimal

from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .dunning import create_dunning_procedure

# key of create_property_chart's result → code of the account; the
# accounts themselves are the templates of account_chart.xml
# (account_template_property_<key>)
ACCOUNTS = [
    ('cash', '1001'),
    ('bank', '1002'),
    ('wallet', '1012'),
    ('receivable', '1122'),
    ('payable', '2202'),
    ('prepayment', '2203'),
    ('vat', '2221.01'),
    ('deposit', '2241.01'),
    ('revenue_service', '6001.01'),
    ('revenue_parking', '6001.02'),
    ('revenue_garbage', '6001.03'),
    ('revenue_water', '6001.04'),
    ('revenue_apportion', '6001.05'),
    ('revenue_decoration', '6001.06'),
    ('revenue_other', '6051'),
    ('expense', '6401'),
    ]


def create_property_chart(company):
    """Create the chart, taxes, journals and billing configuration.

    ``company``: a company.company record (its currency should be CNY).
    Returns a dict: account keys of ``ACCOUNTS`` → account.account,
    ``'vat6'``/``'vat3'`` → account.tax, ``'journal'``/``'cash_journal'``
    → account.journal, ``'dunning_procedure'`` → the default dunning
    procedure (see ``dunning.create_dunning_procedure``). Idempotent:
    accounts found by code are reused.
    """
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    AccountTemplate = pool.get('account.account.template')
    TaxTemplate = pool.get('account.tax.template')
    Account = pool.get('account.account')
    Tax = pool.get('account.tax')
    Journal = pool.get('account.journal')
    AccountConfiguration = pool.get('account.configuration')
    Configuration = pool.get('community.billing.configuration')

    result = {}
    existing = {a.code: a for a in Account.search([
                ('company', '=', company.id)])}
    if '1122' not in existing:
        # as Tryton's create chart wizard does with the template
        template = AccountTemplate(ModelData.get_id(
                'community_billing', 'account_template_property_root'))
        with Transaction().set_context(company=company.id):
            template2type, template2account, template2tax = {}, {}, {}
            template.type.create_type(
                company.id, template2type=template2type)
            template.create_account(company.id,
                template2account=template2account,
                template2type=template2type)
            TaxTemplate.create_tax(template.id, company.id,
                template2account=template2account,
                template2tax=template2tax)
            template.update_account2(template2account, template2tax)
        existing = {a.code: a for a in Account.search([
                    ('company', '=', company.id)])}
    for key, code in ACCOUNTS:
        result[key] = existing[code]

    taxes = {t.name: t for t in Tax.search([('company', '=', company.id)])}
    for key, name, rate in [
            ('vat6', "增值税 6%", Decimal('0.06')),
            ('vat3', "增值税 3% 简易计税", Decimal('0.03'))]:
        if name not in taxes:
            taxes[name], = Tax.create([{
                        'name': name, 'description': name,
                        'company': company.id, 'type': 'percentage',
                        'rate': rate,
                        'invoice_account': result['vat'].id,
                        'credit_note_account': result['vat'].id,
                        }])
        result[key] = taxes[name]

    journals = {j.code: j for j in Journal.search([])}
    for key, code, name, type_ in [
            ('journal', 'BILL', "物业账单", 'revenue'),
            ('cash_journal', 'CASH', "收费", 'cash')]:
        if code not in journals:
            journals[code], = Journal.create([{
                        'code': code, 'name': name, 'type': type_}])
        result[key] = journals[code]

    account_config = AccountConfiguration(1)
    if not account_config.get_multivalue(
            'default_account_receivable', company=company.id):
        account_config.default_account_receivable = result['receivable']
        account_config.default_account_payable = result['payable']
        account_config.save()

    result['dunning_procedure'] = create_dunning_procedure(company)

    if not Configuration.get_singleton():
        # The form shows the company values of an existing record only.
        Configuration.create([{}])
    config = Configuration(1)
    if (not config.get_multivalue('journal', company=company.id)
            or not config.get_multivalue(
                'receivable_account', company=company.id)):
        for name, key in [('journal', 'journal'),
                ('receivable_account', 'receivable'),
                ('prepayment_account', 'prepayment')]:
            config.set_multivalue(name, result[key], company=company.id)
    return result


def create_fiscal_year(company, year):
    """Create (or return) the calendar fiscal year ``year`` with monthly
    periods and its strict move sequence."""
    pool = Pool()
    FiscalYear = pool.get('account.fiscalyear')
    Sequence = pool.get('ir.sequence.strict')
    SequenceType = pool.get('ir.sequence.type')
    ModelData = pool.get('ir.model.data')
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    years = FiscalYear.search([
            ('company', '=', company.id),
            ('start_date', '=', start)])
    if years:
        return years[0]
    sequence_type = SequenceType(ModelData.get_id(
            'account', 'sequence_type_account_move'))
    sequence, = Sequence.create([{
                'name': str(year), 'sequence_type': sequence_type.id,
                'company': company.id}])
    fiscalyear, = FiscalYear.create([{
                'name': str(year), 'start_date': start, 'end_date': end,
                'company': company.id, 'move_sequence': sequence.id}])
    FiscalYear.create_period([fiscalyear])
    return fiscalyear


class Move(metaclass=PoolMeta):
    __name__ = 'account.move'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'community.bill.run', 'community.bill', 'community.payment',
            'community.refund', 'community.late_fee',
            'community.late_fee.waiver']

    @classmethod
    def validate_move(cls, moves):
        # Writing only the reconciliation of lines cannot unbalance their
        # moves: skip re-summing and re-writing every line of the move
        # (a bill run's batch move has one line per bill, so it cost
        # O(batch) per payment). See MoveLine.on_modification.
        if Transaction().context.get('_community_reconciliation_only'):
            return
        super().validate_move(moves)


class MoveLine(metaclass=PoolMeta):
    __name__ = 'account.move.line'

    @classmethod
    def on_modification(cls, mode, lines, field_names=None):
        if (mode == 'write' and field_names is not None
                and field_names <= {'reconciliation'}):
            with Transaction().set_context(
                    _community_reconciliation_only=True):
                super().on_modification(
                    mode, lines, field_names=field_names)
        else:
            super().on_modification(mode, lines, field_names=field_names)

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'community.bill', 'community.late_fee']

    @property
    def dunning_procedure(self):
        """The payer's dunning procedure; for the receivable line of a
        bill whose payer has none, the account configuration's default."""
        pool = Pool()
        Bill = pool.get('community.bill')
        Configuration = pool.get('account.configuration')
        procedure = super().dunning_procedure
        if not procedure and isinstance(self.origin, Bill):
            procedure = Configuration(1).get_multivalue(
                'default_dunning_procedure',
                company=self.move.company.id)
        return procedure


class CreateChartStart(ModelView):
    "Create Property Chart"
    __name__ = 'community.billing.create_chart.start'
    company = fields.Many2One('company.company', "Company", required=True)

    @staticmethod
    def default_company():
        return Transaction().context.get('company')


class CreateChart(Wizard):
    """Create the chart of accounts, taxes and journals of a property
    company (see ``create_property_chart``) and set the billing
    configuration."""
    __name__ = 'community.billing.create_chart'
    start = StateView('community.billing.create_chart.start',
        'community_billing.create_chart_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Create", 'create_', 'tryton-ok', default=True),
            ])
    create_ = StateTransition()

    def transition_create_(self):
        with Transaction().set_context(company=self.start.company.id):
            create_property_chart(self.start.company)
        return 'end'
