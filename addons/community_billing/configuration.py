# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Billing configuration: ledger accounts and journal per company, due date,
run day and batch size."""
from trytond import backend
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.company.model import (
    CompanyMultiValueMixin, CompanyValueMixin)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

COMPANY_FIELDS = {'journal', 'receivable_account', 'prepayment_account'}


class BillingConfiguration(
        ModelSingleton, ModelSQL, ModelView, CompanyMultiValueMixin):
    """Billing Configuration (收费设置).

    ``journal``, ``receivable_account`` and ``prepayment_account`` depend
    on the company (``community.billing.configuration.company``): read
    them with ``get_multivalue(name, company=company id)`` (the context's
    company by default). ``due_days``: days after the end of the billed
    period when a bill falls due; ``run_day``: day of the month (1-28) on
    which the scheduled action ``community.bill.run|run_due`` bills the
    current month; ``batch_size``: units per ledger move of a bill run.
    """
    __name__ = 'community.billing.configuration'
    journal = fields.MultiValue(fields.Many2One(
            'account.journal', "Journal", ondelete='RESTRICT',
            help="Journal of the bill moves."))
    receivable_account = fields.MultiValue(fields.Many2One(
            'account.account', "Receivable Account", ondelete='RESTRICT',
            domain=[
                ('type.receivable', '=', True),
                ('company', '=', Eval('context', {}).get('company', -1)),
                ]))
    prepayment_account = fields.MultiValue(fields.Many2One(
            'account.account', "Prepayment Account", ondelete='RESTRICT',
            domain=[
                ('company', '=', Eval('context', {}).get('company', -1)),
                ],
            help="Advance receipts (预收账款) credited to payers."))
    due_days = fields.Integer("Due Days",
        help="Days after the end of the period when a bill falls due.")
    run_day = fields.Integer("Run Day",
        domain=['OR', ('run_day', '=', None),
            [('run_day', '>=', 1), ('run_day', '<=', 28)]],
        help="Day of the month on which the scheduled bill run starts.")
    batch_size = fields.Integer("Batch Size",
        help="Units per ledger move of a bill run.")

    @classmethod
    def multivalue_model(cls, field):
        pool = Pool()
        if field in COMPANY_FIELDS:
            return pool.get('community.billing.configuration.company')
        return super().multivalue_model(field)

    @staticmethod
    def default_due_days():
        return 0

    @staticmethod
    def default_run_day():
        return 1

    @staticmethod
    def default_batch_size():
        return 2000


class BillingConfigurationCompany(ModelSQL, CompanyValueMixin):
    "Billing Configuration per Company"
    __name__ = 'community.billing.configuration.company'
    journal = fields.Many2One(
        'account.journal', "Journal", ondelete='RESTRICT')
    receivable_account = fields.Many2One(
        'account.account', "Receivable Account", ondelete='RESTRICT',
        domain=[
            ('type.receivable', '=', True),
            ('company', '=', Eval('company', -1)),
            ])
    prepayment_account = fields.Many2One(
        'account.account', "Prepayment Account", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ])

    @classmethod
    def __register__(cls, module_name):
        pool = Pool()
        Configuration = pool.get('community.billing.configuration')
        Account = pool.get('account.account')
        exist = backend.TableHandler.table_exist(cls._table)
        super().__register__(module_name)
        if exist:
            return
        # Migration: the single record's accounts become those of the
        # company of its receivable account.
        config_h = Configuration.__table_handler__(module_name)
        if not config_h.column_exist('receivable_account'):
            return
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        config = Configuration.__table__()
        account = Account.__table__()
        cursor.execute(*table.insert(
                [table.company, table.journal, table.receivable_account,
                    table.prepayment_account],
                config.join(account,
                    condition=config.receivable_account == account.id
                    ).select(account.company, config.journal,
                    config.receivable_account, config.prepayment_account)))
