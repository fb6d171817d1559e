# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Door groups (门组): the doors a rule opens."""
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pyson import Eval

from .sync import SyncMixin


class DoorGroup(SyncMixin, DeactivableMixin, ModelSQL, ModelView):
    "Door Group (门组)"
    __name__ = 'community.access.door.group'
    name = fields.Char("Name", required=True)
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT')
    doors = fields.Many2Many('community.access.door.group-door',
        'group', 'door', "Doors",
        domain=[('compound', '=', Eval('compound', -1))])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_uniq', Unique(t, t.compound, t.name),
                'community_access.msg_door_group_name_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))


class DoorGroupDoor(ModelSQL):
    "Door Group - Door"
    __name__ = 'community.access.door.group-door'
    group = fields.Many2One('community.access.door.group', "Group",
        required=True, ondelete='CASCADE')
    door = fields.Many2One('community.access.door', "Door",
        required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('door_uniq', Unique(t, t.group, t.door),
                'community_access.msg_door_group_door_unique'),
            ]
