# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Announcements (公告) to the residents of a compound, building or
entrance."""
import datetime as dt
import uuid

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If

from .exceptions import AnnouncementError

AUDIENCES = [
    ('residents', "All Residents"),
    ('owners', "Owners"),
    ]


class Announcement(Workflow, ModelSQL, ModelView):
    """Announcement (公告).

    Addressed to a compound, or to one building or one entrance of it, and
    to all residents or only owners. Residents see it from
    ``publish_date`` until ``expiry_date`` (UTC timestamps, expiry
    excluded) once published; pinned ones come first. The searcher of
    ``resident`` finds the announcements a party sees now through its
    active residencies. ``receipts`` records who read it (once per party).
    """
    __name__ = 'community.announcement'
    token = fields.Char("Token", readonly=True, required=True, strip=False)
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE',
        states={'readonly': Eval('state') != 'draft'})
    building = fields.Many2One(
        'community.building', "Building", ondelete='CASCADE',
        domain=[('compound', '=', Eval('compound', -1))],
        states={'readonly': Eval('state') != 'draft'},
        help="Leave empty for the whole compound.")
    entrance = fields.Many2One(
        'community.entrance', "Entrance", ondelete='CASCADE',
        domain=[('building', '=', Eval('building', -1))],
        states={
            'readonly': Eval('state') != 'draft',
            'invisible': ~Eval('building'),
            },
        help="Leave empty for the whole building.")
    audience = fields.Selection(AUDIENCES, "Audience", required=True,
        states={'readonly': Eval('state') != 'draft'})
    title = fields.Char("Title", required=True,
        states={'readonly': Eval('state') != 'draft'})
    body = fields.Text("Body", states={'readonly': Eval('state') != 'draft'})
    publish_date = fields.Timestamp("Publish Date", required=True,
        states={'readonly': Eval('state') != 'draft'})
    expiry_date = fields.Timestamp("Expiry Date",
        domain=[If(Eval('expiry_date') & Eval('publish_date'),
                ('expiry_date', '>', Eval('publish_date')),
                ())])
    pinned = fields.Boolean("Pinned")
    receipts = fields.One2Many(
        'community.announcement.receipt', 'announcement', "Read Receipts",
        readonly=True)
    read_count = fields.Function(fields.Integer("Read"), 'get_read_count')
    resident = fields.Function(
        fields.Many2One('party.party', "Resident"),
        'get_resident', searcher='search_resident')
    state = fields.Selection([
            ('draft', "Draft"),
            ('published', "Published"),
            ('withdrawn', "Withdrawn"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('token_unique', Unique(t, t.token),
                'community_announcement.msg_announcement_token_unique'),
            ]
        cls._order = [
            ('pinned', 'DESC'), ('publish_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'published'),
            ('published', 'withdrawn'),
            ('published', 'draft'),
            ('withdrawn', 'draft'),
            }
        cls._buttons.update({
                'publish': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    },
                'withdraw': {
                    'invisible': Eval('state') != 'published',
                    'icon': 'tryton-cancel',
                    },
                'draft': {
                    'invisible': Eval('state') == 'draft',
                    'icon': 'tryton-undo',
                    },
                })

    @staticmethod
    def default_token():
        return uuid.uuid4().hex

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_audience():
        return 'residents'

    @staticmethod
    def default_pinned():
        return False

    @staticmethod
    def default_publish_date():
        return dt.datetime.now()

    @fields.depends('building', 'entrance')
    def on_change_building(self):
        if self.entrance and self.entrance.building != self.building:
            self.entrance = None

    @classmethod
    def get_read_count(cls, announcements, name):
        Receipt = Pool().get('community.announcement.receipt')
        result = {a.id: 0 for a in announcements}
        for receipt in Receipt.search([
                    ('announcement', 'in', [a.id for a in announcements]),
                    ]):
            result[receipt.announcement.id] += 1
        return result

    def get_resident(self, name):
        return None

    @classmethod
    def visible_domain(cls, residencies, now=None):
        """Return the domain of announcements shown through ``residencies``.

        ``residencies``: active community.residency records of one party;
        owners also see owner-only announcements of their unit's compound,
        building and entrance.
        """
        now = now or dt.datetime.now()
        clauses = []
        for residency in residencies:
            unit = residency.unit
            audiences = ['residents']
            if residency.role == 'owner':
                audiences.append('owners')
            clauses.append([
                    ('compound', '=', unit.compound.id),
                    ['OR',
                        ('building', '=', None),
                        ('building', '=', unit.building.id),
                        ],
                    ['OR',
                        ('entrance', '=', None),
                        ('entrance', '=',
                            unit.entrance.id if unit.entrance else -1),
                        ],
                    ('audience', 'in', audiences),
                    ])
        if not clauses:
            return [('id', '=', -1)]
        return [
            ('state', '=', 'published'),
            ('publish_date', '<=', now),
            ['OR', ('expiry_date', '=', None), ('expiry_date', '>', now)],
            ['OR'] + clauses,
            ]

    @classmethod
    def search_resident(cls, name, clause):
        pool = Pool()
        Residency = pool.get('community.residency')
        _, operator, value = clause
        if operator not in {'=', 'in'}:
            return [('id', '=', -1)]
        parties = value if isinstance(value, (list, tuple)) else [value]
        residencies = Residency.search([
                ('party', 'in', [p for p in parties if p is not None]),
                ('active', '=', True),
                ])
        return cls.visible_domain(residencies)

    @classmethod
    def validate_fields(cls, announcements, field_names):
        super().validate_fields(announcements, field_names)
        if field_names & {'compound', 'building', 'entrance'}:
            for announcement in announcements:
                building = announcement.building
                entrance = announcement.entrance
                if ((building and building.compound != announcement.compound)
                        or (entrance and entrance.building != building)):
                    raise AnnouncementError(gettext(
                            'community_announcement.msg_announcement_place',
                            announcement=announcement.rec_name))

    @classmethod
    def copy(cls, announcements, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('token', None)
        default.setdefault('receipts', None)
        return super().copy(announcements, default=default)

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('token'):
                values['token'] = cls.default_token()
        return super().create(vlist)

    @classmethod
    @ModelView.button
    @Workflow.transition('published')
    def publish(cls, announcements):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('withdrawn')
    def withdraw(cls, announcements):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, announcements):
        pass

    @classmethod
    def mark_read(cls, announcements, party):
        """Record that ``party`` read ``announcements`` (idempotent)."""
        Receipt = Pool().get('community.announcement.receipt')
        done = {r.announcement.id for r in Receipt.search([
                    ('announcement', 'in', [a.id for a in announcements]),
                    ('party', '=', party.id),
                    ])}
        Receipt.create([{
                    'announcement': a.id, 'party': party.id,
                    } for a in announcements if a.id not in done])


class AnnouncementReceipt(ModelSQL, ModelView):
    "Read receipt of an announcement by a resident."
    __name__ = 'community.announcement.receipt'
    announcement = fields.Many2One(
        'community.announcement', "Announcement", required=True,
        ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Resident", required=True, ondelete='CASCADE')
    read_at = fields.Timestamp("Read at", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('announcement_party_unique', Unique(t, t.announcement, t.party),
                'community_announcement.msg_announcement_receipt_unique'),
            ]
        cls._order.insert(0, ('read_at', 'DESC'))

    @staticmethod
    def default_read_at():
        return dt.datetime.now()
