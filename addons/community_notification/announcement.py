# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A pinned announcement, when published, is sent to the residents it is
addressed to (with community_announcement)."""
import datetime as dt

from trytond.pool import Pool, PoolMeta


class Notification(metaclass=PoolMeta):
    __name__ = 'community.notification'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + ['community.announcement']


class Announcement(metaclass=PoolMeta):
    __name__ = 'community.announcement'

    @classmethod
    def publish(cls, announcements):
        super().publish(announcements)
        pool = Pool()
        Residency = pool.get('community.residency')
        Notification = pool.get('community.notification')
        today = dt.date.today()
        for announcement in announcements:
            if not announcement.pinned:
                continue
            domain = [
                ('unit.compound', '=', announcement.compound.id),
                ('start_date', '<=', today),
                ['OR', ('end_date', '=', None), ('end_date', '>=', today)],
                ]
            if announcement.building:
                domain.append(
                    ('unit.building', '=', announcement.building.id))
            if announcement.entrance:
                domain.append(
                    ('unit.entrance', '=', announcement.entrance.id))
            if announcement.audience == 'owners':
                domain.append(('role', '=', 'owner'))
            parties = sorted({r.party.id for r in Residency.search(domain)})
            Notification.notify('announcement_pinned', [
                    (p, announcement.compound.id, {
                            'title': announcement.title})
                    for p in parties], origin=announcement)
