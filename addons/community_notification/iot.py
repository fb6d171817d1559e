# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A device alarm in a unit tells the unit's residents (with community_iot):
the template is urgent, so quiet hours do not hold its SMS."""
import datetime as dt
from zoneinfo import ZoneInfo

from trytond.pool import Pool, PoolMeta


class Notification(metaclass=PoolMeta):
    __name__ = 'community.notification'

    @classmethod
    def _get_origins(cls):
        return super()._get_origins() + ['community.iot.alarm']


class Alarm(metaclass=PoolMeta):
    __name__ = 'community.iot.alarm'

    @classmethod
    def raise_(cls, event, severity, title, rule=None):
        "A new alarm of a device in a unit notifies the unit's residents."
        alarm, new = super().raise_(event, severity, title, rule=rule)
        if new and alarm.unit and alarm.severity != 'info':
            cls.notify_residents([alarm])
        return alarm, new

    @classmethod
    def notify_residents(cls, alarms):
        """Tell the current residents of each alarm's unit (owners, tenants,
        household members) with the urgent template ``device_alarm``."""
        pool = Pool()
        Residency = pool.get('community.residency')
        Notification = pool.get('community.notification')
        alarms = [a for a in alarms if a.unit]
        if not alarms:
            return []
        residents = {}
        for residency in Residency.search([
                    ('unit', 'in', [a.unit.id for a in alarms]),
                    ('active', '=', True),
                    ], order=[('id', 'ASC')]):
            parties = residents.setdefault(residency.unit.id, [])
            if residency.party not in parties:
                parties.append(residency.party)
        recipients, origins = [], []
        for alarm in alarms:
            compound = alarm.compound or alarm.unit.compound
            raised = (alarm.raised or dt.datetime.utcnow()).replace(
                tzinfo=dt.timezone.utc).astimezone(
                ZoneInfo(compound.timezone or 'Asia/Shanghai'))
            params = {
                'unit': alarm.unit.rec_name,
                'device': alarm.device.rec_name if alarm.device else '',
                'alarm': alarm.name,
                'time': raised.strftime('%Y-%m-%d %H:%M'),
                }
            for party in residents.get(alarm.unit.id, []):
                recipients.append((party.id, compound.id, params))
                origins.append(alarm)
        if not recipients:
            return []
        return Notification.notify('device_alarm', recipients,
            origin=origins)
