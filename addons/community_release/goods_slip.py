# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Goods release slips (物品放行条).

A resident of a unit (the applicant: an owner, a tenant or a household
member, their relation read from their residency) applies for a slip
listing the goods that will leave the compound (item, declared quantity),
an optional vehicle plate and a window of local days ``[start, end)`` of
the compound's calendar. When the applicant is not an owner, an owner of
the unit approves first (in the portal: ``owner_approve``); then the
property approves in the back office. The approved slip is a single-use
QR code: a random token (``secrets.token_urlsafe(24)``, 192 bits) of which
only the SHA-256 hash is stored; showing the code again draws a new token
(the previous copy stops working). At the gate the guard releases it with
one conditional UPDATE on the database's clock (``GoodsSlip.redeem``): a
copied code cannot release the goods twice, and the refusals (unknown,
not approved, not yet valid, expired, already released) are told apart.
The guard records the quantities that actually leave and photos
(``ir.attachment``). The unit's arrears are shown to the guard as a
warning only: they never block a release (民法典 第944条).

Vehicles released at the sentry (``community.release.vehicle``) will join
this module later.
"""
import datetime as dt
import hashlib
import secrets
from zoneinfo import ZoneInfo

from sql import Cast, Literal
from sql.functions import AtTimeZone, Function

from trytond.i18n import gettext
from trytond.model import (
    Check, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateView, Wizard

from trytond.modules.community_base.unit import UnitCompoundMixin

from .exceptions import ReleaseError, SlipError

STATES = [
    ('draft', "Draft"),
    ('submitted', "Submitted"),
    ('owner_ok', "Owner Approved"),
    ('approved', "Approved"),
    ('released', "Released"),
    ('rejected', "Rejected"),
    ('expired', "Expired"),
    ('cancelled', "Cancelled"),
    ]
RELATIONS = [
    (None, ""),
    ('owner', "Owner"),
    ('tenant', "Tenant"),
    ('member', "Household Member"),
    ]
#: gate refusal reasons and their messages
REASONS = {
    'unknown': 'community_release.msg_release_unknown',
    'not_approved': 'community_release.msg_release_not_approved',
    'not_yet': 'community_release.msg_release_not_yet',
    'expired': 'community_release.msg_release_expired',
    'released': 'community_release.msg_release_released',
    }
#: states a slip may still be released or approved in, expired at its end
OPEN_STATES = ('submitted', 'owner_ok', 'approved')
DEFAULT_TIMEZONE = 'Asia/Shanghai'


class StatementTimestamp(Function):
    "The database's clock at the start of the statement (timestamptz)."
    __slots__ = ()
    _function = 'STATEMENT_TIMESTAMP'


def db_now():
    "The database's clock as a naive UTC timestamp (SQL expression)."
    return AtTimeZone(StatementTimestamp(), 'UTC')


def db_local_today(timezone):
    "The database's clock as a date of ``timezone``'s calendar (SQL)."
    return Cast(AtTimeZone(StatementTimestamp(), timezone), 'DATE')


def hash_token(token):
    "SHA-256 hex digest of a slip token, as stored."
    return hashlib.sha256(token.encode('utf-8')).hexdigest()


def new_token():
    "A fresh slip token: 24 random bytes (192 bits), URL-safe."
    return secrets.token_urlsafe(24)


def local_today(compound):
    "Today in the calendar of the compound."
    zone = ZoneInfo(compound.timezone or DEFAULT_TIMEZONE)
    return dt.datetime.now(zone).date()


class GoodsSlip(UnitCompoundMixin, Workflow, ModelSQL, ModelView):
    """Goods release slip (物品放行条): goods of a unit that leave the
    compound within a window of days, approved by the owner (for a tenant
    or a household member) and the property, released once at the gate."""
    __name__ = 'community.release.goods_slip'
    _states = {'readonly': Eval('state') != 'draft'}

    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True,
        ondelete='RESTRICT')
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, ondelete='RESTRICT',
        states=_states)
    applicant = fields.Many2One(
        'party.party', "Applicant", required=True, ondelete='RESTRICT',
        states=_states,
        help="The resident of the unit whose goods leave.")
    relation = fields.Selection(RELATIONS, "Relation", readonly=True,
        help="The applicant's relation to the unit, from their residency: "
        "an owner's slip needs no owner approval.")
    lines = fields.One2Many(
        'community.release.goods_slip.line', 'slip', "Items",
        states=_states)
    plate = fields.Char("Plate", states=_states,
        help="The vehicle carrying the goods, if any.")
    start = fields.Date("From", required=True, states=_states,
        help="First day the goods may leave (compound's calendar).")
    end = fields.Date("Until (Excluded)", required=True, states=_states,
        domain=[If(Eval('start') & Eval('end'),
                ('end', '>', Eval('start')), ())],
        help="The day from which the slip is no longer valid.")
    note = fields.Text("Note", states=_states)
    owner_approved_by = fields.Many2One(
        'party.party', "Owner Approval", readonly=True,
        ondelete='RESTRICT')
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    rejection = fields.Char("Rejection Reason",
        states={'readonly': ~Eval('state').in_(list(OPEN_STATES))})
    token_hash = fields.Char("Token Hash", readonly=True, strip=False)
    released_by = fields.Many2One('res.user', "Released By", readonly=True)
    released_at = fields.DateTime("Released At", readonly=True)
    release_date = fields.Function(
        fields.Char("Release Time"), 'get_release_date')
    arrears = fields.Function(fields.Numeric(
            "Arrears", digits=(16, 2),
            states={'invisible': ~Bool(Eval('arrears'))},
            help="What the unit owes, shown as a warning only: arrears "
            "never block a release (Civil Code art. 944)."),
        'get_arrears')
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)

    del _states
    #: fields only the server sets (not given by a client on creation)
    _server_fields = {'state', 'relation', 'owner_approved_by',
        'approved_by', 'released_by', 'released_at', 'token_hash'}

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('token_hash_uniq', Unique(t, t.token_hash),
                'community_release.msg_slip_token_unique'),
            ('window_ordered', Check(t, t.end > t.start),
                'community_release.msg_slip_window'),
            ]
        cls._order = [('start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'submitted'),
            ('submitted', 'owner_ok'),
            ('submitted', 'approved'),
            ('owner_ok', 'approved'),
            ('submitted', 'rejected'),
            ('owner_ok', 'rejected'),
            ('draft', 'cancelled'),
            ('submitted', 'cancelled'),
            ('owner_ok', 'cancelled'),
            ('approved', 'cancelled'),
            ('rejected', 'draft'),
            ('cancelled', 'draft'),
            }
        cls._buttons.update({
                'submit': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'approve': {
                    'invisible': ~((Eval('state') == 'owner_ok')
                        | ((Eval('state') == 'submitted')
                            & (Eval('relation') == 'owner'))),
                    'depends': ['state', 'relation'],
                    },
                'reject': {
                    'invisible': ~Eval('state').in_(['submitted',
                            'owner_ok']),
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(['draft', 'submitted',
                            'owner_ok', 'approved']),
                    'depends': ['state'],
                    },
                'draft': {
                    'invisible': ~Eval('state').in_(['rejected',
                            'cancelled']),
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'show_token': {
                    'invisible': Eval('state') != 'approved',
                    'depends': ['state'],
                    },
                })
        cls.__rpc__.update({
                'redeem': RPC(readonly=False, result=int),
                'release': RPC(readonly=False, result=int),
                })

    @staticmethod
    def default_state():
        return 'draft'

    @fields.depends('unit', '_parent_unit.compound')
    def on_change_unit(self):
        self.compound = self.unit.compound if self.unit else None

    def get_rec_name(self, name):
        return '%s · %s · %s' % (self.unit.rec_name,
            self.applicant.rec_name, self.start)

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        bool_op = 'AND' if operator.startswith('!') else 'OR'
        return [bool_op,
            ('unit.rec_name', *clause[1:]),
            ('applicant.rec_name', *clause[1:]),
            ]

    def get_release_date(self, name):
        "When the slip was released, in the compound's time zone."
        if not self.released_at:
            return None
        zone = ZoneInfo(self.compound.timezone or DEFAULT_TIMEZONE)
        return (self.released_at.replace(tzinfo=dt.UTC).astimezone(zone)
            .strftime('%Y-%m-%d %H:%M'))

    @classmethod
    def get_arrears(cls, slips, name):
        "None: community_billing tells the arrears when it is activated."
        return {s.id: None for s in slips}

    @classmethod
    def relations(cls, unit, party, day):
        """The roles of ``party`` in ``unit`` on ``day`` (its active
        residencies)."""
        Residency = Pool().get('community.residency')
        with without_check_access(), \
                Transaction().set_context(date=day):
            return {r.role for r in Residency.search([
                        ('unit', '=', unit.id),
                        ('party', '=', party.id),
                        ('active', '=', True),
                        ])}

    @classmethod
    def relation_of(cls, unit, party, day):
        "The relation of ``party`` to ``unit`` on ``day`` (owner first)."
        roles = cls.relations(unit, party, day)
        for role in ['owner', 'tenant', 'member']:
            if role in roles:
                return role
        return None

    @classmethod
    def _with_relation(cls, values, slip=None):
        "values with the relation of the applicant set by the server."
        pool = Pool()
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        if not ({'unit', 'applicant', 'start'} & values.keys()):
            return values
        unit = Unit(values['unit']) if 'unit' in values else (
            slip.unit if slip else None)
        party = Party(values['applicant']) if 'applicant' in values else (
            slip.applicant if slip else None)
        start = values['start'] if 'start' in values else (
            slip.start if slip else None)
        relation = (cls.relation_of(unit, party, start)
            if unit and party and start else None)
        return dict(values, relation=relation)

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            # tokens are drawn by show_token, never given
            values.pop('token_hash', None)
            if Transaction().check_access:
                for name in cls._server_fields:
                    values.pop(name, None)
        return super().create([cls._with_relation(v) for v in vlist])

    @classmethod
    def write(cls, *args):
        args = list(args)
        actions = iter(args)
        new_args = []
        for slips, values in zip(actions, actions):
            if {'unit', 'applicant', 'start'} & values.keys():
                for slip in slips:
                    new_args.extend(([slip], cls._with_relation(values, slip)))
            else:
                new_args.extend((slips, values))
        super().write(*new_args)

    @classmethod
    def copy(cls, slips, default=None):
        default = default.copy() if default is not None else {}
        for name in ['token_hash', 'owner_approved_by', 'approved_by',
                'released_by', 'released_at', 'rejection']:
            default.setdefault(name, None)
        default.setdefault('state', 'draft')
        return super().copy(slips, default=default)

    @classmethod
    def validate_fields(cls, slips, field_names):
        super().validate_fields(slips, field_names)
        if field_names & {'unit', 'applicant', 'compound', 'start',
                'relation'}:
            cls.check_applicant(slips)

    @classmethod
    def check_applicant(cls, slips):
        "The applicant must be a resident of the unit on the first day."
        for slip in slips:
            if slip.compound != slip.unit.compound:
                raise SlipError(gettext(
                        'community_release.msg_slip_compound',
                        slip=slip.rec_name))
            if not slip.relation:
                raise SlipError(gettext(
                        'community_release.msg_slip_not_resident',
                        applicant=slip.applicant.rec_name,
                        unit=slip.unit.rec_name))

    @classmethod
    def check_modification(cls, mode, slips, values=None, external=False):
        super().check_modification(
            mode, slips, values=values, external=external)
        if mode == 'delete':
            for slip in slips:
                if slip.state not in {'draft', 'cancelled'}:
                    raise AccessError(gettext(
                            'community_release.msg_slip_delete',
                            slip=slip.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, slips):
        cls.write(slips, {'owner_approved_by': None, 'approved_by': None,
                'token_hash': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('submitted')
    def submit(cls, slips):
        for slip in slips:
            if not slip.lines:
                raise SlipError(gettext(
                        'community_release.msg_slip_no_lines',
                        slip=slip.rec_name))
        cls._notify_owners([s for s in slips if s.relation != 'owner'])

    @classmethod
    def _notify_owners(cls, slips):
        """Ask the owners of the units to approve the slips of their
        tenants and household members (community_notification)."""
        pass

    @classmethod
    def _notify_applicants(cls, slips, outcome):
        """Tell the applicants the property's ``outcome`` ('approved' or
        'rejected') of their slips (community_notification)."""
        pass

    @classmethod
    def _check_owner(cls, slips, owner):
        "Raise unless ``owner`` owns the unit of each slip today."
        for slip in slips:
            today = local_today(slip.compound)
            if 'owner' not in cls.relations(slip.unit, owner, today):
                raise SlipError(gettext(
                        'community_release.msg_slip_not_owner',
                        party=owner.rec_name, unit=slip.unit.rec_name))

    @classmethod
    @Workflow.transition('owner_ok')
    def owner_approve(cls, slips, owner):
        """An owner of the unit approves the slips of its tenants and
        household members (the portal)."""
        cls._check_owner(slips, owner)
        for slip in slips:
            if slip.relation == 'owner':
                raise SlipError(gettext(
                        'community_release.msg_slip_owner_own',
                        slip=slip.rec_name))
        cls.write(slips, {'owner_approved_by': owner.id})

    @classmethod
    def owner_reject(cls, slips, owner, reason=None):
        "An owner of the unit refuses slips waiting for their approval."
        cls._check_owner(slips, owner)
        for slip in slips:
            if slip.state != 'submitted' or slip.relation == 'owner':
                raise SlipError(gettext(
                        'community_release.msg_slip_owner_own',
                        slip=slip.rec_name))
        if reason:
            cls.write(slips, {'rejection': reason})
        cls.reject(slips)

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, slips):
        "The property approves: after the owner, unless an owner applied."
        for slip in slips:
            if slip.state == 'submitted' and slip.relation != 'owner':
                raise SlipError(gettext(
                        'community_release.msg_slip_owner_first',
                        slip=slip.rec_name))
        cls.write(slips, {'approved_by': Transaction().user or None})
        cls._notify_applicants(slips, 'approved')

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, slips):
        cls._notify_applicants(slips, 'rejected')

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, slips):
        cls.write(slips, {'token_hash': None})

    @classmethod
    @ModelView.button_action('community_release.wizard_goods_slip_token')
    def show_token(cls, slips):
        "Draw the slip's token and show it once (wizard)."
        pass

    @classmethod
    def issue_tokens(cls, slips):
        """Draw a new token for each approved slip, store its hash and
        return {slip id: token}: the only time the token is known; the
        previous token of the slip stops working."""
        for slip in slips:
            if slip.state != 'approved':
                raise SlipError(gettext(
                        'community_release.msg_slip_token_state',
                        slip=slip.rec_name))
        tokens = {s.id: new_token() for s in slips}
        to_write = []
        for slip in slips:
            to_write.extend(([slip], {
                        'token_hash': hash_token(tokens[slip.id])}))
        if to_write:
            with without_check_access():
                cls.write(*to_write)
        return tokens

    @classmethod
    def _check_gate_access(cls, compound_id):
        "Gate staff may release at the compounds they may read."
        pool = Pool()
        Compound = pool.get('community.compound')
        ModelAccess = pool.get('ir.model.access')
        transaction = Transaction()
        if not transaction.check_access or transaction.user == 0:
            return True
        ModelAccess.check(cls.__name__, 'write')
        return bool(Compound.search([('id', '=', compound_id)]))

    @classmethod
    def find_by_token(cls, token):
        """The slip of ``token`` among those the user may read, else None
        (for the guard's page; releasing is ``redeem``)."""
        if not token or not isinstance(token, str):
            return None
        found = cls.search([('token_hash', '=', hash_token(token))],
            limit=1)
        return found[0] if found else None

    @classmethod
    def redeem(cls, token, compound, at=None):
        """Release the goods of the slip of ``token`` at ``compound``.

        One conditional UPDATE on the database's clock: it succeeds only
        for an approved slip of that compound, not yet released, whose
        window of local days holds today. Returns the slip; raises
        ``ReleaseError`` with the reason otherwise (a slip of another
        compound is as unknown as a wrong token). ``at`` (naive UTC)
        replaces the database's clock for server code and root only: a
        client's clock is never trusted.
        """
        slip_id, reason = cls.try_redeem(token, compound, at=at)
        if slip_id is None:
            raise ReleaseError(reason, gettext(REASONS[reason]))
        return cls(slip_id)

    @classmethod
    def _gate_day(cls, token, compound, at):
        """(compound id, today as an SQL expression in the compound's
        calendar, at) for the gate, or None when the user may not release
        at the compound or the token is no string."""
        pool = Pool()
        Compound = pool.get('community.compound')
        transaction = Transaction()
        compound_id = getattr(compound, 'id', compound)
        if at is not None and transaction.check_access and transaction.user:
            at = None
        if (not token or not isinstance(token, str)
                or not isinstance(compound_id, int)
                or not cls._check_gate_access(compound_id)):
            return None
        with without_check_access():
            compounds = Compound.search([('id', '=', compound_id)])
        if not compounds:
            return None
        timezone = compounds[0].timezone or DEFAULT_TIMEZONE
        if at is not None:
            today = Literal(at.replace(tzinfo=dt.UTC).astimezone(
                    ZoneInfo(timezone)).date())
        else:
            today = db_local_today(timezone)
        return compound_id, today, at

    @classmethod
    def try_redeem(cls, token, compound, at=None):
        "Like redeem but return (slip id, None) or (None, reason)."
        transaction = Transaction()
        gate = cls._gate_day(token, compound, at)
        if gate is None:
            return None, 'unknown'
        compound_id, today, at = gate
        digest = hash_token(token)
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        now = Literal(at) if at is not None else db_now()
        cursor.execute(*table.update(
                [table.state, table.released_at, table.released_by,
                    table.write_uid, table.write_date],
                ['released', now, transaction.user or None,
                    transaction.user, db_now()],
                where=((table.token_hash == digest)
                    & (table.compound == compound_id)
                    & (table.state == 'approved')
                    & (today >= table.start)
                    & (today < table.end)),
                returning=[table.id]))
        row = cursor.fetchone()
        if row:
            cls._clear_caches(row[0])
            return row[0], None
        # released by a concurrent gate after this statement started
        return None, (cls._refusal(digest, compound_id, today) or 'released')

    @classmethod
    def refusal(cls, token, compound, at=None):
        """Why the slip of ``token`` would be refused at ``compound`` now
        (a reason of REASONS), None when it would be released; reads only
        (the guard's page before the release)."""
        gate = cls._gate_day(token, compound, at)
        if gate is None:
            return 'unknown'
        compound_id, today, _ = gate
        return cls._refusal(hash_token(token), compound_id, today)

    @classmethod
    def _clear_caches(cls, slip_id):
        # the UPDATE bypassed the ORM: drop what the transaction cached
        for cache in Transaction().cache.values():
            if cls.__name__ in cache:
                cache[cls.__name__].pop(slip_id, None)

    @classmethod
    def _refusal(cls, digest, compound_id, today):
        "The reason why the slip of digest is not released today, or None."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.state, today < table.start, today >= table.end,
                where=(table.token_hash == digest)
                & (table.compound == compound_id)))
        row = cursor.fetchone()
        if not row:
            return 'unknown'
        state, early, late = row
        if state == 'released':
            return 'released'
        if state == 'expired' or (state == 'approved' and late):
            return 'expired'
        if state != 'approved':
            return 'not_approved'
        if early:
            return 'not_yet'
        return None

    @classmethod
    def release(cls, token, compound, quantities=None, at=None):
        """The gate: release the slip of ``token`` (``redeem``) and record
        the quantities that leave, ``quantities`` {line id: quantity}
        (the declared quantity for a line not given). Returns the slip."""
        Line = Pool().get('community.release.goods_slip.line')
        slip = cls.redeem(token, compound, at=at)
        # line ids arrive as strings through JSON-RPC
        quantities = {int(k): v for k, v in (quantities or {}).items()}
        to_write = []
        for line in slip.lines:
            quantity = quantities.get(line.id, line.quantity)
            if not isinstance(quantity, int) or quantity < 0:
                raise SlipError(gettext(
                        'community_release.msg_slip_line_quantity',
                        item=line.item))
            to_write.extend(([line], {'released_quantity': quantity}))
        if to_write:
            with without_check_access():
                Line.write(*to_write)
        return slip

    @classmethod
    def expire(cls):
        """Mark as expired the open slips whose window has ended in the
        calendar of their compound; rerunnable."""
        pool = Pool()
        Compound = pool.get('community.compound')
        table = cls.__table__()
        compound = Compound.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*compound.select(compound.timezone, distinct=True))
        for timezone, in cursor.fetchall():
            zone = timezone or DEFAULT_TIMEZONE
            compounds = compound.select(compound.id,
                where=(compound.timezone == timezone) if timezone
                else (compound.timezone == None))  # noqa: E711
            cursor.execute(*table.update(
                    [table.state, table.write_date],
                    ['expired', db_now()],
                    where=table.state.in_(OPEN_STATES)
                    & (table.end <= db_local_today(zone))
                    & table.compound.in_(compounds)))
        for cache in Transaction().cache.values():
            cache.pop(cls.__name__, None)


class GoodsSlipLine(ModelSQL, ModelView):
    "Goods Release Slip Item"
    __name__ = 'community.release.goods_slip.line'
    slip = fields.Many2One('community.release.goods_slip', "Slip",
        required=True, ondelete='CASCADE')
    item = fields.Char("Item", required=True,
        states={'readonly': Eval('slip_state', 'draft') != 'draft'})
    quantity = fields.Integer("Declared Quantity", required=True,
        domain=[('quantity', '>', 0)],
        states={'readonly': Eval('slip_state', 'draft') != 'draft'})
    released_quantity = fields.Integer("Released Quantity", readonly=True,
        help="Counted by the guard at the gate.")
    slip_state = fields.Function(fields.Selection(STATES, "Slip State"),
        'on_change_with_slip_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('slip')
        t = cls.__table__()
        cls._sql_constraints += [
            ('quantity_positive', Check(t, t.quantity > 0),
                'community_release.msg_slip_line_quantity_positive'),
            ('released_quantity_positive',
                Check(t, t.released_quantity >= 0),
                'community_release.msg_slip_line_quantity_positive'),
            ]

    @fields.depends('slip', '_parent_slip.state')
    def on_change_with_slip_state(self, name=None):
        return self.slip.state if self.slip else None

    def get_rec_name(self, name):
        return '%s × %s' % (self.item, self.quantity)


class GoodsSlipToken(Wizard):
    "Show the token of an approved slip once (a new one each time)."
    __name__ = 'community.release.goods_slip.token'
    start_state = 'show'
    show = StateView('community.release.goods_slip.token.show',
        'community_release.goods_slip_token_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_show(self, fields):
        GoodsSlip = Pool().get('community.release.goods_slip')
        tokens = GoodsSlip.issue_tokens([self.record])
        return {'slip': self.record.id, 'token': tokens[self.record.id]}


class GoodsSlipTokenShow(ModelView):
    "Goods Release Slip Token"
    __name__ = 'community.release.goods_slip.token.show'
    slip = fields.Many2One(
        'community.release.goods_slip', "Slip", readonly=True)
    token = fields.Char("Token", readonly=True,
        help="Give it to the resident now: it is shown only once; showing "
        "it again replaces it.")


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('community.release.goods_slip|expire',
                "Expire Goods Release Slips"))
