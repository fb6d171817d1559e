# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The device platform's side of access control: access attempts decoded
by the device adapters (MQTT JSON, Hikvision ISAPI) reach the doors, and
the open commands refer to their decision."""
from trytond.pool import Pool, PoolMeta


class Rule(metaclass=PoolMeta):
    __name__ = 'community.iot.rule'

    @classmethod
    def listened_kinds(cls):
        # the ingestion hands access attempts to apply (not stale ones),
        # and devices coming back online (their credential sync)
        return super().listened_kinds() | {'access', 'online'}

    @classmethod
    def apply(cls, events):
        pool = Pool()
        Door = pool.get('community.access.door')
        Sync = pool.get('community.access.sync')
        attempts = [e for e in events if e.kind == 'access']
        if attempts:
            Door.attempt_events(attempts)
        online = {e.device for e in events
            if e.kind == 'online' and e.device}
        if online:
            Sync.devices_online(list(online))
        return super().apply(events)


class Command(metaclass=PoolMeta):
    __name__ = 'community.iot.command'

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        return super().get_origin() + [
            (m, IrModel.get_name(m)) for m in [
                'community.access.decision', 'community.access.sync']]
