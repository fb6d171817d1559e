# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A visitor registered at the gate: the residents of the host unit are
asked at once (inbox, WeChat, SMS) to let them in or not (with
community_notification)."""
import datetime as dt
from zoneinfo import ZoneInfo

from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access


class Notification(metaclass=PoolMeta):
    __name__ = 'community.notification'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + ['community.visitor.pass']


class Pass(metaclass=PoolMeta):
    __name__ = 'community.visitor.pass'

    @classmethod
    def _notify_hosts(cls, passes):
        super()._notify_hosts(passes)
        pool = Pool()
        Residency = pool.get('community.residency')
        Notification = pool.get('community.notification')
        recipients, origins = [], []
        for pass_ in passes:
            zone = ZoneInfo(pass_.compound.timezone or 'Asia/Shanghai')
            deadline = pass_.confirm_deadline.replace(
                tzinfo=dt.UTC).astimezone(zone)
            with without_check_access(), Transaction().set_context(
                    date=deadline.date()):
                parties = sorted({r.party.id for r in Residency.search([
                                ('unit', '=', pass_.unit.id),
                                ('active', '=', True),
                                ])})
            params = {
                'visitor': pass_.visitor_name,
                'people': pass_.people,
                'compound': pass_.compound.name,
                'unit': pass_.unit.rec_name,
                'deadline': deadline.strftime('%H:%M'),
                }
            for party in parties:
                recipients.append((party, pass_.compound.id, params))
                origins.append(pass_)
        if recipients:
            Notification.notify('visitor_at_gate', recipients, origin=origins)
