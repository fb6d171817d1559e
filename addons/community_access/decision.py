# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Decisions (通行记录): the answer to every attempt at a door."""
import datetime as dt

from sql import Literal
from sql.operators import Exists

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .credential import KINDS
from .door import DIRECTIONS

RESULTS = [
    ('allow', "Allow"),
    ('deny', "Deny"),
    ('needs_human', "Needs a Human"),
    ]
REASONS = [
    ('granted', "Granted"),
    ('anti_passback_soft', "Granted, Anti-Passback Flagged"),
    ('unknown_credential', "Unknown Credential"),
    ('bad_pin', "Wrong PIN"),
    ('pin_locked', "PIN Keypad Locked"),
    ('suspended', "Credential Suspended"),
    ('revoked', "Credential Revoked"),
    ('expired', "Credential Expired"),
    ('not_yet_valid', "Credential Not Yet Valid"),
    ('qr_invalid', "Invalid QR Code"),
    ('qr_expired', "QR Code Expired"),
    ('other_compound', "Credential of Another Compound"),
    ('no_rule', "No Access Rule"),
    ('outside_schedule', "Outside the Schedule"),
    ('anti_passback', "Anti-Passback"),
    ('door_inactive', "Door Out of Service"),
    ('remote_open', "Opened Remotely"),
    ]
#: what the attempt was: a credential, or a member of staff opening the
#: door from the back office
DECISION_KINDS = KINDS + [('remote', "Remote Opening")]


class Decision(ModelSQL, ModelView):
    """Access Decision (通行记录): allow, deny (with the reason) or needs a
    human, for one attempt at a door.

    Kept apart from the device's raw event (referenced when there is one)
    and from the command that opens the door. Whereabouts are sensitive
    personal data (PIPL art. 28): staff read only their compounds'.
    """
    __name__ = 'community.access.decision'
    compound = fields.Many2One('community.compound', "Compound",
        required=True, readonly=True, ondelete='RESTRICT')
    door = fields.Many2One('community.access.door', "Door", required=True,
        readonly=True, ondelete='RESTRICT')
    time = fields.DateTime("Time", required=True, readonly=True,
        help="When the credential was presented (UTC in the database).")
    kind = fields.Selection(DECISION_KINDS, "Credential Kind", required=True,
        readonly=True)
    credential = fields.Many2One('community.access.credential',
        "Credential", readonly=True, ondelete='RESTRICT')
    party = fields.Many2One('party.party', "Person", readonly=True,
        ondelete='RESTRICT')
    result = fields.Selection(RESULTS, "Result", required=True,
        readonly=True)
    reason = fields.Selection(REASONS, "Reason", required=True,
        readonly=True)
    direction = fields.Selection(DIRECTIONS, "Direction", readonly=True)
    zone = fields.Char("Zone", readonly=True)
    event = fields.Many2One('community.iot.event', "Device Event",
        readonly=True, ondelete='SET NULL')
    command = fields.Many2One('community.iot.command', "Open Command",
        readonly=True, ondelete='SET NULL',
        help="The command that opens the door (it expires within "
        "seconds: a late one is never executed).")
    user = fields.Many2One('res.user', "Opened By", readonly=True,
        ondelete='RESTRICT',
        states={'invisible': Eval('kind') != 'remote'})
    note = fields.Char("Reason Given", readonly=True,
        states={'invisible': Eval('kind') != 'remote'})
    device_result = fields.Selection([
            (None, ""),
            ('allow', "Let Through"),
            ('deny', "Refused"),
            ], "Device's Verdict", readonly=True,
        help="What a controller that decides from its own lists "
        "(Hikvision, ZKTeco) did; a verdict other than the decision's "
        "shows the device's lists are behind.")
    request = fields.Char("Device Request", readonly=True,
        help="The id a reader gave its online request: a retry of the "
        "same request within a short while gets the same decision.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.door, Index.Equality()),
                    (t.time, Index.Range(order='DESC'))),
                Index(t, (t.party, Index.Equality()),
                    (t.zone, Index.Equality()),
                    (t.time, Index.Range(order='DESC')),
                    where=t.zone != None),  # noqa: E711
                Index(t, (t.door, Index.Equality()),
                    (t.request, Index.Equality()),
                    where=t.request != None),  # noqa: E711
                })
        cls._order = [('time', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return '%s @ %s' % (self.door.rec_name, self.time)

    @classmethod
    def purge(cls, now=None):
        """Delete the decisions older than their compound's retention
        period (whereabouts kept no longer than needed, PIPL art. 19), in
        one statement; return how many. Rerunnable."""
        pool = Pool()
        Compound = pool.get('community.compound')
        table = cls.__table__()
        compound = Compound.__table__()
        cursor = Transaction().connection.cursor()
        now = now or dt.datetime.utcnow()
        day = Literal(dt.timedelta(days=1))
        old = compound.select(compound.id,
            where=(compound.id == table.compound)
            & (table.time < Literal(now)
                - compound.access_log_retention_days * day))
        cursor.execute(*table.delete(where=Exists(old)))
        return cursor.rowcount
