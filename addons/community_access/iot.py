# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The device platform's side of access control: access attempts decoded
by the device adapters (MQTT JSON, Hikvision ISAPI) reach the doors, and
the open commands refer to their decision."""
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

#: the families whose devices keep a list of persons by default (a face
#: terminal decides offline; a generic MQTT JSON reader may ask online)
LIST_FAMILIES = {'dean'}


class Device(metaclass=PoolMeta):
    __name__ = 'community.iot.device'
    access_list = fields.Boolean("Holds a Credential List",
        states={'invisible': ~Eval('family').in_(['access', 'dean'])},
        help="The device decides from its own list of persons: the cards "
        "and faces of the persons who may pass its doors are sent to it "
        "(credential sync).")

    @fields.depends('family')
    def on_change_family(self):
        self.access_list = self.family in LIST_FAMILIES

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('access_list') is None:
                values['access_list'] = values.get('family') in LIST_FAMILIES
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        pool = Pool()
        Door = pool.get('community.access.door')
        super().write(*args)
        if any('access_list' in v for v in args[1::2]):
            ids = [d.id for records in args[::2] for d in records]
            from .sync import refresh_for
            refresh_for(Door.search([('device', 'in', ids)]))


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
