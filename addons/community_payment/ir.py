# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('community.payment.online|query_pending',
                    "Query Pending Online Payments and Close Expired"),
                ('community.payment.online.refund|query_processing',
                    "Query Online Refunds in Progress"),
                ('community.payment.statement|reconcile_yesterday',
                    "Reconcile Yesterday's Provider Statements"),
                ])
