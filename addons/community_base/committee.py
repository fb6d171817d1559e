# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Committees of a compound: owners' (业委会) and residents' (居委会)."""
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pyson import Eval


COMMITTEE_KINDS = [
    ('owners', "Owners' Committee"),
    ('residents', "Residents' Committee"),
    ]
MEMBER_ROLES = [
    ('director', "Director"),
    ('deputy', "Deputy Director"),
    ('member', "Member"),
    ('secretary', "Secretary"),
    ('grid', "Grid Worker"),
    ]


class Committee(ModelSQL, ModelView):
    """Committee of a compound: a party linked to the compound.

    The owners' committee (业主委员会) is elected by the owners; the
    residents' committee (居民委员会) is the neighbourhood body of the
    street office. Members are parties with a role and dates.
    """
    __name__ = 'community.compound.committee'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    kind = fields.Selection(COMMITTEE_KINDS, "Kind", required=True)
    party = fields.Many2One('party.party', "Party", required=True,
        ondelete='RESTRICT', help="The committee as a party.")
    start_date = fields.Date("Start Date")
    end_date = fields.Date("End Date",
        domain=['OR',
            ('end_date', '=', None),
            ('end_date', '>=', Eval('start_date', None)),
            ])
    members = fields.One2Many(
        'community.compound.committee.member', 'committee', "Members")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('party_uniq', Unique(t, t.compound, t.kind, t.party),
                'community_base.msg_committee_unique'),
            ]

    @staticmethod
    def default_kind():
        return 'owners'

    def get_rec_name(self, name):
        return self.party.rec_name


class CommitteeMember(ModelSQL, ModelView):
    "Member of a committee with a role over a period."
    __name__ = 'community.compound.committee.member'
    committee = fields.Many2One('community.compound.committee', "Committee",
        required=True, ondelete='CASCADE')
    compound = fields.Function(fields.Many2One(
            'community.compound', "Compound"), 'get_compound',
        searcher='search_compound')
    party = fields.Many2One('party.party', "Party", required=True,
        ondelete='RESTRICT')
    role = fields.Selection(MEMBER_ROLES, "Role", required=True)
    start_date = fields.Date("Start Date")
    end_date = fields.Date("End Date",
        domain=['OR',
            ('end_date', '=', None),
            ('end_date', '>=', Eval('start_date', None)),
            ])

    @staticmethod
    def default_role():
        return 'member'

    def get_compound(self, name):
        return self.committee.compound.id

    @classmethod
    def search_compound(cls, name, clause):
        return [('committee.' + clause[0],) + tuple(clause[1:])]
