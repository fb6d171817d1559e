# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""With community_notification: the owners of a unit are asked (inbox,
WeChat, SMS) to approve the goods release slip of its tenant or household
member; the applicant is told when the property approved or refused it."""
import datetime as dt

from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .goods_slip import local_today

#: the kind of the release messages (residents may unsubscribe from it)
KIND = ('release', "Goods Release")


class KindMixin:
    __slots__ = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        if KIND not in cls.kind.selection:
            # a new list: the selection is shared with the other models
            cls.kind.selection = cls.kind.selection + [KIND]


class Template(KindMixin, metaclass=PoolMeta):
    __name__ = 'community.notification.template'


class Preference(KindMixin, metaclass=PoolMeta):
    __name__ = 'community.notification.preference'


class Notification(KindMixin, metaclass=PoolMeta):
    __name__ = 'community.notification'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + ['community.release.goods_slip']


def _window(slip):
    last = slip.end - dt.timedelta(days=1)
    return (slip.start.isoformat() if last == slip.start
        else '%s~%s' % (slip.start.isoformat(), last.isoformat()))


def _params(slip):
    return {
        'applicant': slip.applicant.name,
        'compound': slip.compound.name,
        'unit': slip.unit.rec_name,
        'window': _window(slip),
        'items': '、'.join('%s×%s' % (line.item, line.quantity)
            for line in slip.lines),
        }


class GoodsSlip(metaclass=PoolMeta):
    __name__ = 'community.release.goods_slip'

    @classmethod
    def _notify_owners(cls, slips):
        super()._notify_owners(slips)
        pool = Pool()
        Residency = pool.get('community.residency')
        Notification = pool.get('community.notification')
        recipients, origins = [], []
        for slip in slips:
            with without_check_access(), Transaction().set_context(
                    date=local_today(slip.compound)):
                owners = sorted({r.party.id for r in Residency.search([
                                ('unit', '=', slip.unit.id),
                                ('role', '=', 'owner'),
                                ('active', '=', True),
                                ])} - {slip.applicant.id})
            params = _params(slip)
            for owner in owners:
                recipients.append((owner, slip.compound.id, params))
                origins.append(slip)
        if recipients:
            Notification.notify('release_owner_approval', recipients,
                origin=origins)

    @classmethod
    def _notify_applicants(cls, slips, outcome):
        super()._notify_applicants(slips, outcome)
        Notification = Pool().get('community.notification')
        recipients = [(slip.applicant.id, slip.compound.id,
                dict(_params(slip), reason=slip.rejection or '-'))
            for slip in slips]
        if recipients:
            Notification.notify('release_%s' % outcome, recipients,
                origin=list(slips))
