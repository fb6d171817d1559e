# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Bills, payments and dunnings notify their payers (with
community_billing)."""
import datetime as dt

from trytond.modules.community_base.display import format_money
from trytond.pool import Pool, PoolMeta
from trytond.tools import reduce_ids

from .notification import chunks


def money(amount):
    "The amount as a message says it: 310.00 (half-up, never a float)."
    return format_money(amount)


class Notification(metaclass=PoolMeta):
    __name__ = 'community.notification'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + [
            'community.bill', 'community.payment', 'account.dunning']


class BillRun(metaclass=PoolMeta):
    __name__ = 'community.bill.run'

    def _insert_bills(self, sql, bills, due_date):
        """Notify the payers of the new bills (bill issued): their inbox
        notifications inserted in bulk with the bills, their sending
        queued."""
        pool = Pool()
        Bill = pool.get('community.bill')
        Unit = pool.get('community.unit')
        Notification = pool.get('community.notification')
        ids = super()._insert_bills(sql, bills, due_date)
        cursor = sql[0]
        bill = Bill.__table__()
        unit = Unit.__table__()
        period = '%s 至 %s' % (self.period_start, self.period_end)
        recipients, origins = [], []
        for sub in chunks(ids):
            cursor.execute(*bill.join(unit, condition=bill.unit == unit.id
                    ).select(bill.id, bill.party, bill.compound, bill.number,
                    unit.code, bill.total_amount, bill.due_date,
                    where=reduce_ids(bill.id, sub),
                    order_by=[bill.id.asc]))
            for id_, party, compound, number, code, total, due in cursor:
                recipients.append((party, compound, {
                            'number': number,
                            'unit': code,
                            'period': period,
                            'amount': money(total),
                            'due_date': due.isoformat(),
                            }))
                origins.append('community.bill,%s' % id_)
        Notification._notify('bill_issued', recipients, origin=origins,
            once=True)
        return ids


class Payment(metaclass=PoolMeta):
    __name__ = 'community.payment'

    @classmethod
    def _post(cls, payments):
        "Tell the payer the payment was received (payment received)."
        Notification = Pool().get('community.notification')
        super()._post(payments)
        # a prepayment applied to bills was told when it was deposited
        payments = [p for p in payments
            if p.party and p.method != 'prepayment']
        if payments:
            Notification.notify('payment_received', [
                    (p.party.id, p.compound.id, {
                            'amount': money(p.amount),
                            'unit': p.unit.rec_name if p.unit else '',
                            'date': p.date.isoformat(),
                            'number': p.receipt_number or '',
                            })
                    for p in payments], origin=list(payments))


class Dunning(metaclass=PoolMeta):
    __name__ = 'account.dunning'

    @classmethod
    def process(cls, dunnings):
        """The dunning letter as a reminder with the amount (dunning
        reminder), when a dunning of a bill is processed."""
        Notification = Pool().get('community.notification')
        todo = [d for d in dunnings if d.state == 'draft' and not d.blocked]
        super().process(dunnings)
        todo = [d for d in todo if d.bill and d.compound]
        if todo:
            Notification.notify('dunning_reminder', [
                    (d.party.id, d.compound.id, {
                            'number': d.bill.number,
                            'unit': d.bill.unit.rec_name,
                            'amount': money(d.amount),
                            'due_date': d.bill.due_date.isoformat(),
                            })
                    for d in todo], origin=todo)


class Bill(metaclass=PoolMeta):
    __name__ = 'community.bill'

    @classmethod
    def notify_due_soon(cls, days=3):
        """Remind the payers of the bills due in ``days`` days and still
        open (scheduled action, once a day)."""
        Notification = Pool().get('community.notification')
        due = dt.date.today() + dt.timedelta(days=days)
        bills = [b for b in cls.search([
                    ('state', '=', 'posted'), ('due_date', '=', due)])
            if not b.paid]
        if bills:
            Notification.notify('bill_due_soon', [
                    (b.party.id, b.compound.id, {
                            'number': b.number,
                            'unit': b.unit.rec_name,
                            'amount': money(b.amount_to_pay),
                            'due_date': b.due_date.isoformat(),
                            })
                    for b in bills], origin=bills)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('community.bill|notify_due_soon', "Remind Bills Due Soon"))
