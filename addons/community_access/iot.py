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
        # the ingestion hands access attempts to apply (not stale ones)
        return super().listened_kinds() | {'access'}

    @classmethod
    def apply(cls, events):
        Door = Pool().get('community.access.door')
        attempts = [e for e in events if e.kind == 'access']
        if attempts:
            Door.attempt_events(attempts)
        return super().apply(events)


class Command(metaclass=PoolMeta):
    __name__ = 'community.iot.command'

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        return super().get_origin() + [('community.access.decision',
                IrModel.get_name('community.access.decision'))]
