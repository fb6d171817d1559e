# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Service requests notify their requester of each change of state (with
community_service)."""
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

NOTIFIED_STATES = {'assigned', 'in_progress', 'done', 'cancelled'}


class Notification(metaclass=PoolMeta):
    __name__ = 'community.notification'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + ['community.service.request']


class ServiceRequest(metaclass=PoolMeta):
    __name__ = 'community.service.request'

    @classmethod
    def on_modification(cls, mode, requests, field_names=None):
        super().on_modification(mode, requests, field_names=field_names)
        if mode != 'write' or 'state' not in (field_names or ()):
            return
        Notification = Pool().get('community.notification')
        requests = [r for r in requests
            if r.requester and r.state in NOTIFIED_STATES]
        if not requests:
            return
        with Transaction().set_context(language='zh_CN'), \
                without_check_access():
            labels = dict(cls.fields_get(['state'])['state']['selection'])
        states = {r.id: labels.get(r.state, r.state) for r in requests}
        Notification.notify('request_state', [
                (r.requester.id, r.compound.id, {
                        'number': r.number or '',
                        'title': r.title,
                        'state': states[r.id],
                        'technician': (r.assigned_to.name
                            if r.assigned_to else ''),
                        })
                for r in requests], origin=requests)
