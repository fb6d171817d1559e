# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Billing configuration: ledger accounts, journal, due date and run day."""
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields


class BillingConfiguration(ModelSingleton, ModelSQL, ModelView):
    """Billing Configuration (收费设置).

    One record per database (single property company). ``due_days``: days
    after the end of the billed period when a bill falls due;
    ``run_day``: day of the month (1-28) on which the scheduled action
    ``community.bill.run|run_due`` bills the current month.
    """
    __name__ = 'community.billing.configuration'
    journal = fields.Many2One(
        'account.journal', "Journal", ondelete='RESTRICT',
        help="Journal of the bill moves.")
    receivable_account = fields.Many2One(
        'account.account', "Receivable Account", ondelete='RESTRICT',
        domain=[('type.receivable', '=', True)])
    prepayment_account = fields.Many2One(
        'account.account', "Prepayment Account", ondelete='RESTRICT',
        help="Advance receipts (预收账款) credited to payers.")
    due_days = fields.Integer("Due Days",
        help="Days after the end of the period when a bill falls due.")
    run_day = fields.Integer("Run Day",
        domain=['OR', ('run_day', '=', None),
            [('run_day', '>=', 1), ('run_day', '<=', 28)]],
        help="Day of the month on which the scheduled bill run starts.")
    batch_size = fields.Integer("Batch Size",
        help="Units per ledger move of a bill run.")

    @staticmethod
    def default_due_days():
        return 0

    @staticmethod
    def default_run_day():
        return 1

    @staticmethod
    def default_batch_size():
        return 2000
