# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Access rules (通行权限): who may open which doors when."""
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields)
from trytond.modules.community_base.residency import ROLES
from trytond.pool import Pool
from trytond.pyson import Eval, If

from .sync import SyncMixin

SUBJECTS = [
    ('residents', "Residents"),
    ('party', "Named Person"),
    ('staff', "Staff of a Group"),
    ]


class Rule(SyncMixin, DeactivableMixin, ModelSQL, ModelView):
    """Access Rule (通行权限): the residents of a unit, an entrance, a
    building or the compound with the given roles, a named person or the
    staff of a group open the doors of a door group within a schedule,
    over ``[valid_from, valid_to)``."""
    __name__ = 'community.access.rule'
    name = fields.Char("Name", required=True)
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT')
    subject = fields.Selection(SUBJECTS, "Who", required=True)
    building = fields.Many2One('community.building', "Building",
        domain=[('compound', '=', Eval('compound', -1))],
        states={'invisible': Eval('subject') != 'residents'},
        help="Leave building, entrance and unit empty for the residents "
        "of the whole compound.")
    entrance = fields.Many2One('community.entrance', "Entrance",
        domain=[
            ('compound', '=', Eval('compound', -1)),
            If(Eval('building'),
                ('building', '=', Eval('building', -1)), ()),
            ],
        states={'invisible': Eval('subject') != 'residents'})
    unit = fields.Many2One('community.unit', "Unit",
        domain=[('compound', '=', Eval('compound', -1))],
        states={'invisible': Eval('subject') != 'residents'})
    roles = fields.MultiSelection(ROLES, "Roles",
        states={'invisible': Eval('subject') != 'residents'},
        help="Leave empty for every role.")
    party = fields.Many2One('party.party', "Person",
        states={
            'invisible': Eval('subject') != 'party',
            'required': Eval('subject') == 'party',
            })
    group = fields.Many2One('res.group', "Group",
        states={
            'invisible': Eval('subject') != 'staff',
            'required': Eval('subject') == 'staff',
            },
        help="The employees of the users in this group.")
    door_group = fields.Many2One('community.access.door.group',
        "Door Group", required=True, ondelete='RESTRICT',
        domain=[('compound', '=', Eval('compound', -1))])
    schedule = fields.Many2One('community.access.schedule', "Schedule",
        ondelete='RESTRICT',
        domain=[('compound', '=', Eval('compound', -1))],
        help="Leave empty for at any time.")
    valid_from = fields.DateTime("Valid From",
        help="Included; empty for since always.")
    valid_to = fields.DateTime("Valid To",
        domain=[If(Eval('valid_from') & Eval('valid_to'),
                ('valid_to', '>', Eval('valid_from')), ())],
        help="Excluded; empty for no end.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @staticmethod
    def default_subject():
        return 'residents'

    def valid_at(self, at):
        return ((not self.valid_from or self.valid_from <= at)
            and (not self.valid_to or at < self.valid_to))

    def concerns(self, party, date):
        "Whether the rule's subject includes ``party`` on ``date``."
        pool = Pool()
        Residency = pool.get('community.residency')
        if self.subject == 'party':
            return self.party == party
        if self.subject == 'staff':
            return party.id in self._staff_parties()
        domain = [('party', '=', party.id)] + self._residency_domain(date)
        return bool(Residency.search(domain, limit=1))

    def parties(self, date):
        """The ids of the persons the rule's subject includes on ``date``
        (the device sync: who a device must know)."""
        Residency = Pool().get('community.residency')
        if self.subject == 'party':
            return {self.party.id} if self.party else set()
        if self.subject == 'staff':
            return self._staff_parties()
        return {r.party.id
            for r in Residency.search(self._residency_domain(date))}

    def _staff_parties(self):
        User = Pool().get('res.user')
        users = User.search([('groups', '=', self.group.id)])
        return {e.party.id for u in users
            for e in getattr(u, 'employees', [])}

    def _residency_domain(self, date):
        domain = [
            ('compound', '=', self.compound.id),
            ('start_date', '<=', date),
            ['OR', ('end_date', '=', None), ('end_date', '>=', date)],
            ]
        if self.unit:
            domain.append(('unit', '=', self.unit.id))
        elif self.entrance:
            domain.append(('unit.entrance', '=', self.entrance.id))
        elif self.building:
            domain.append(('unit.building', '=', self.building.id))
        if self.roles:
            domain.append(('role', 'in', list(self.roles)))
        return domain

    @classmethod
    def refusal(cls, party, door, local, at):
        """None when a rule lets ``party`` through ``door`` at ``at``
        (``local`` in the compound's time), else the reason of the
        refusal: ``no_rule`` or ``outside_schedule``."""
        rules = cls.search([
                ('compound', '=', door.compound.id),
                ('door_group.doors', '=', door.id),
                ('door_group.active', '=', True),
                ('active', '=', True),
                ])
        rules = [r for r in rules
            if r.valid_at(at) and r.concerns(party, local.date())]
        if not rules:
            return 'no_rule'
        if any(not r.schedule or r.schedule.allows(local) for r in rules):
            return None
        return 'outside_schedule'
