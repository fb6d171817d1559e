# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Online payments (community_payment) opened from the portal: when one is
booked, the portal payment that opened it is paid with the same receipt."""
import datetime as dt
import uuid

from trytond.pool import Pool, PoolMeta


class OnlinePayment(metaclass=PoolMeta):
    __name__ = 'community.payment.online'

    @classmethod
    def settle(cls, payments):
        """Book as community_payment does, then mark the portal payments of
        ``payments`` paid: the resident's page turns into the receipt."""
        pool = Pool()
        PortalPayment = pool.get('community.portal.payment')
        super().settle(payments)
        by_online = {p.id: p for p in payments}
        portal = PortalPayment.search([
                ('online', 'in', list(by_online)),
                ('state', '=', 'pending'),
                ])
        for record in portal:
            online = by_online[record.online.id]
            record.state = 'paid'
            record.paid_at = online.paid_at or dt.datetime.now()
            record.provider_reference = (
                online.transaction_id or online.reference)
            record.receipt_token = uuid.uuid4().hex
            record.settlement = online.settlement
        PortalPayment.save(portal)
