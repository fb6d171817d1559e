# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Visitor passes (访客通行证).

A resident (the host) invites a visitor for a window ``[start, end)``
stored in UTC and shown in the compound's time zone. Activating a pass
draws its token (``secrets.token_urlsafe(24)``, 192 bits), which is
returned once; only its SHA-256 hash is stored. The gate redeems the
token with one conditional UPDATE on the database's clock
(``Pass.redeem``), so that two gates scanning the same single-use pass at
once let exactly one visitor in.

The visitor's phone is personal information (PIPL): it is read masked
(``138****0000``) by everybody but the staff who registered or approved the
pass, exported masked, and erased with the name and plate by a scheduled
action a number of days (per compound) after the window ended.
"""
import datetime as dt
import hashlib
import secrets
from zoneinfo import ZoneInfo

from sql import Literal, Null, Select
from sql.conditionals import Case
from sql.functions import AtTimeZone, Function
from sql.operators import Exists

from trytond.i18n import gettext
from trytond.model import (
    Check, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateView, Wizard

from trytond.modules.community_base.access import SENSITIVE_FIELDS
from trytond.modules.community_base.unit import UnitCompoundMixin
from trytond.modules.community_base.reveal import (
    _keep_masked, _mask_phone, may_reveal)

from .exceptions import PassError, RedeemError

# the visitor's phone is read and exported masked like residents' phones
SENSITIVE_FIELDS['community.visitor.pass'] = {'visitor_phone'}

STATES = [
    ('draft', "Draft"),
    ('waiting', "Waiting for Host"),
    ('escalated', "Needs a Person"),
    ('active', "Active"),
    ('used', "Used"),
    ('expired', "Expired"),
    ('revoked', "Revoked"),
    ('rejected', "Rejected"),
    ]
KINDS = [
    ('invite', "Invitation"),
    ('walk_in', "Walk-in"),
    ]
#: redeem failure reasons and their messages
REASONS = {
    'unknown': 'community_visitor.msg_redeem_unknown',
    'not_yet': 'community_visitor.msg_redeem_not_yet',
    'expired': 'community_visitor.msg_redeem_expired',
    'used': 'community_visitor.msg_redeem_used',
    'revoked': 'community_visitor.msg_redeem_revoked',
    'not_answered': 'community_visitor.msg_redeem_not_answered',
    'rejected': 'community_visitor.msg_redeem_rejected',
    }
ANONYMOUS = '*'


class StatementTimestamp(Function):
    "The database's clock at the start of the statement (timestamptz)."
    __slots__ = ()
    _function = 'STATEMENT_TIMESTAMP'


def db_now():
    "The database's clock as a naive UTC timestamp (SQL expression)."
    return AtTimeZone(StatementTimestamp(), 'UTC')


def hash_token(token):
    "SHA-256 hex digest of a pass token, as stored."
    return hashlib.sha256(token.encode('utf-8')).hexdigest()


def new_token():
    "A fresh pass token: 24 random bytes (192 bits), URL-safe."
    return secrets.token_urlsafe(24)


class Pass(UnitCompoundMixin, Workflow, ModelSQL, ModelView):
    """Visitor pass (访客通行证): a visitor invited by a resident of a unit
    for a window of time and a number of entries."""
    __name__ = 'community.visitor.pass'
    _states = {'readonly': Eval('state') != 'draft'}

    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True,
        ondelete='RESTRICT')
    unit = fields.Many2One(
        'community.unit', "Host Unit", required=True, ondelete='RESTRICT',
        states=_states)
    host = fields.Many2One(
        'party.party', "Host", required=True, ondelete='RESTRICT',
        states=_states,
        help="The resident of the unit who invites the visitor.")
    kind = fields.Selection(KINDS, "Kind", required=True, states=_states)
    visitor_name = fields.Char(
        "Visitor Name", required=True, states=_states)
    visitor_phone = fields.Char(
        "Visitor Phone", states=_states,
        help="Shown masked to everybody but the staff who registered or "
        "approved the pass.")
    plate = fields.Char("Plate", states=_states)
    start = fields.DateTime("Start", required=True, states=_states,
        help="Beginning of the window (included).")
    end = fields.DateTime("End", required=True, states=_states,
        domain=[If(Eval('start') & Eval('end'),
                ('end', '>', Eval('start')), ())],
        help="End of the window (excluded).")
    start_local = fields.Function(
        fields.Char("Start (Local Time)"), 'get_local')
    end_local = fields.Function(
        fields.Char("End (Local Time)"), 'get_local')
    early_minutes = fields.Integer("Early Arrival (min)", required=True,
        states=_states,
        domain=[('early_minutes', '>=', 0)],
        help="Minutes before the start the visitor may already enter; "
        "by default the compound's allowance.")
    uses_allowed = fields.Integer("Entries Allowed", required=True,
        states=_states,
        domain=[('uses_allowed', '>=', 1)])
    uses = fields.Integer("Entries Used", readonly=True)
    last_use = fields.DateTime("Last Entry", readonly=True)
    token_hash = fields.Char("Token Hash", readonly=True, strip=False)
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    people = fields.Integer("People", required=True, states=_states,
        domain=[('people', '>=', 1)],
        help="How many people come in with this pass (the visitor "
        "included).")
    confirm_deadline = fields.DateTime("Host Answer Deadline", readonly=True,
        help="A walk-in visitor's host must answer before it; after it the "
        "visitor waits for a person (never let in automatically).")
    answered_by = fields.Many2One('party.party', "Answered By",
        readonly=True, ondelete='RESTRICT',
        help="The resident of the host unit who let the walk-in visitor "
        "in or refused them.")
    answered_at = fields.DateTime("Answered At", readonly=True)
    anonymised = fields.Boolean("Anonymised", readonly=True,
        help="The visitor's name, phone and plate were erased after the "
        "retention period.")
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)

    del _states
    #: fields only the server sets (not given by a client on creation)
    _server_fields = {'state', 'uses', 'last_use', 'approved_by',
        'anonymised', 'confirm_deadline', 'answered_by', 'answered_at'}

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('token_hash_uniq', Unique(t, t.token_hash),
                'community_visitor.msg_pass_token_unique'),
            ('uses_le_allowed', Check(t, t.uses <= t.uses_allowed),
                'community_visitor.msg_pass_uses_exceeded'),
            ('uses_positive', Check(t, t.uses >= 0),
                'community_visitor.msg_pass_uses_exceeded'),
            ('window_ordered', Check(t, t.end > t.start),
                'community_visitor.msg_pass_window'),
            ]
        cls._order = [('start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'active'),
            ('draft', 'rejected'),
            ('draft', 'waiting'),
            ('waiting', 'escalated'),
            ('escalated', 'active'),
            ('escalated', 'rejected'),
            ('active', 'revoked'),
            }
        cls._buttons.update({
                'issue': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': (~Eval('state').in_(
                            ['draft', 'escalated'])
                        | (Eval('kind') != 'walk_in')),
                    'depends': ['state', 'kind'],
                    },
                'approve': {
                    'invisible': Eval('state') != 'escalated',
                    'depends': ['state'],
                    },
                'revoke': {
                    'invisible': Eval('state') != 'active',
                    'depends': ['state'],
                    },
                })
        cls.__rpc__.update({
                'redeem': RPC(readonly=False, result=int),
                'register_walk_in': RPC(readonly=False, result=int),
                'admit': RPC(readonly=False, instantiate=0),
                'escalate_unanswered': RPC(readonly=False, result=list),
                })

    @staticmethod
    def default_kind():
        return 'invite'

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_uses():
        return 0

    @staticmethod
    def default_uses_allowed():
        return 1

    @staticmethod
    def default_people():
        return 1

    @staticmethod
    def default_anonymised():
        return False

    @fields.depends('unit', '_parent_unit.compound')
    def on_change_unit(self):
        self.compound = self.unit.compound if self.unit else None
        if self.compound:
            self.early_minutes = self.compound.visitor_early_minutes

    def get_rec_name(self, name):
        return '%s → %s' % (self.visitor_name, self.unit.rec_name)

    @classmethod
    def get_local(cls, passes, names):
        "The window in the compound's time zone, as 'YYYY-MM-DD HH:MM'."
        result = {n: {} for n in names}
        for pass_ in passes:
            zone = ZoneInfo(pass_.compound.timezone or 'UTC')
            for name in names:
                value = getattr(pass_, name[:-len('_local')])
                result[name][pass_.id] = (value.replace(tzinfo=dt.UTC)
                    .astimezone(zone).strftime('%Y-%m-%d %H:%M')
                    if value else None)
        return result

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Unit = pool.get('community.unit')
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('unit'):
                unit = Unit(values['unit'])
                if values.get('early_minutes') is None:
                    values['early_minutes'] = (
                        unit.compound.visitor_early_minutes)
            # tokens are drawn by activate, never given
            values.pop('token_hash', None)
            if Transaction().check_access:
                # a pass starts as a draft with nothing used; its state,
                # entries and approver change only through its methods
                for name in cls._server_fields:
                    values.pop(name, None)
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        if not may_reveal():
            args = _keep_masked(cls, args, 'visitor_phone', _mask_phone)
            if not args:
                return
        super().write(*args)

    @classmethod
    def copy(cls, passes, default=None):
        default = default.copy() if default is not None else {}
        for name in ['token_hash', 'last_use', 'approved_by',
                'confirm_deadline', 'answered_by', 'answered_at']:
            default.setdefault(name, None)
        default.setdefault('uses', 0)
        default.setdefault('state', 'draft')
        return super().copy(passes, default=default)

    @classmethod
    def read(cls, ids, fields_names):
        result = super().read(ids, fields_names)
        if 'visitor_phone' in fields_names and not may_reveal():
            user = Transaction().user
            with without_check_access():
                readers = {r['id']: {r['create_uid'], r['approved_by']}
                    for r in super().read([r['id'] for r in result],
                        ['create_uid', 'approved_by'])}
            for row in result:
                if user not in readers.get(row['id'], ()):
                    row['visitor_phone'] = _mask_phone(row['visitor_phone'])
        return result

    @classmethod
    def validate_fields(cls, passes, field_names):
        super().validate_fields(passes, field_names)
        if field_names & {'unit', 'host', 'compound', 'start'}:
            cls.check_host(passes)

    @classmethod
    def check_host(cls, passes):
        "The host must be a resident of the unit on the day of the visit."
        Residency = Pool().get('community.residency')
        for pass_ in passes:
            if pass_.compound != pass_.unit.compound:
                raise PassError(gettext(
                        'community_visitor.msg_pass_compound',
                        visitor=pass_.visitor_name))
            zone = ZoneInfo(pass_.compound.timezone or 'UTC')
            day = pass_.start.replace(tzinfo=dt.UTC).astimezone(zone).date()
            with without_check_access(), \
                    Transaction().set_context(date=day):
                residencies = Residency.search([
                        ('unit', '=', pass_.unit.id),
                        ('party', '=', pass_.host.id),
                        ('active', '=', True),
                        ], limit=1)
            if not residencies:
                raise PassError(gettext(
                        'community_visitor.msg_pass_host_not_resident',
                        host=pass_.host.rec_name,
                        unit=pass_.unit.rec_name))

    @classmethod
    def check_modification(cls, mode, passes, values=None, external=False):
        super().check_modification(
            mode, passes, values=values, external=external)
        if mode == 'delete':
            for pass_ in passes:
                if pass_.state != 'draft':
                    raise AccessError(gettext(
                            'community_visitor.msg_pass_delete_draft',
                            visitor=pass_.rec_name))

    @classmethod
    def issue_tokens(cls, passes):
        """Draw a new token for each pass, store its hash and return
        {pass id: token}; the only time the token is known."""
        tokens = {p.id: new_token() for p in passes}
        to_write = []
        for pass_ in passes:
            to_write.extend(([pass_], {
                        'token_hash': hash_token(tokens[pass_.id])}))
        if to_write:
            with without_check_access():
                cls.write(*to_write)
        return tokens

    @classmethod
    @ModelView.button_action('community_visitor.wizard_pass_issue')
    def issue(cls, passes):
        "Activate the pass and show its token once (wizard)."
        pass

    @classmethod
    @Workflow.transition('active')
    def activate(cls, passes):
        """Activate the passes and return {pass id: token}: the token is
        known only now, only its hash is kept."""
        user = Transaction().user
        cls.write(passes, {'approved_by': user or None})
        return cls.issue_tokens(passes)

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, passes):
        for pass_ in passes:
            if pass_.kind != 'walk_in':
                raise PassError(gettext(
                        'community_visitor.msg_pass_reject_invite',
                        visitor=pass_.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('revoked')
    def revoke(cls, passes):
        pass

    @classmethod
    def invite(cls, values):
        """Create an active invitation from values (unit, host, visitor
        name…) and return (pass, token)."""
        values = dict(values, kind='invite')
        pass_, = cls.create([values])
        tokens = cls.activate([pass_])
        return pass_, tokens[pass_.id]

    @classmethod
    def register_walk_in(cls, values):
        """Register a visitor who came to the gate unannounced (staff):
        the pass waits for an answer of a resident of the host unit until
        ``confirm_deadline`` (now + the compound's answer time), the
        residents are told; return the pass's id. A walk-in is never let in
        before a resident of the unit or a person answered."""
        pool = Pool()
        Unit = pool.get('community.unit')
        values = dict(values, kind='walk_in')
        unit = Unit(values['unit'])
        now = cls._db_now()
        values.setdefault('start', now)
        values.setdefault('end', now + dt.timedelta(
                minutes=unit.compound.visitor_walk_in_minutes))
        values.setdefault('uses_allowed', 1)
        values.setdefault('early_minutes', 0)
        if not values.get('host'):
            values['host'] = cls._default_host(unit, now)
        pass_, = cls.create([values])
        cls.wait_for_host([pass_])
        return pass_.id

    @classmethod
    def _default_host(cls, unit, at):
        """The resident the pass names as host when the guard names none:
        the unit's owner, else its first resident (any of them may
        answer)."""
        Residency = Pool().get('community.residency')
        zone = ZoneInfo(unit.compound.timezone or 'UTC')
        day = at.replace(tzinfo=dt.UTC).astimezone(zone).date()
        with without_check_access(), Transaction().set_context(date=day):
            residencies = Residency.search([
                    ('unit', '=', unit.id),
                    ('active', '=', True),
                    ])
        if not residencies:
            raise PassError(gettext(
                    'community_visitor.msg_walk_in_no_resident',
                    unit=unit.rec_name))
        residencies.sort(key=lambda r: (r.role != 'owner', r.id))
        return residencies[0].party.id

    @classmethod
    def _db_now(cls):
        "The database's clock as a naive UTC datetime."
        cursor = Transaction().connection.cursor()
        cursor.execute(*Select([db_now()]))
        return cursor.fetchone()[0]

    @classmethod
    @Workflow.transition('waiting')
    def wait_for_host(cls, passes):
        "Ask the residents of the host unit; set the deadline of the answer."
        now = cls._db_now()
        for pass_ in passes:
            if pass_.kind != 'walk_in':
                raise PassError(gettext(
                        'community_visitor.msg_pass_walk_in_only',
                        visitor=pass_.rec_name))
            minutes = pass_.compound.visitor_confirm_minutes
            pass_.confirm_deadline = now + dt.timedelta(minutes=minutes)
        with without_check_access():
            cls.save(passes)
        cls._notify_hosts(passes)

    @classmethod
    def _notify_hosts(cls, passes):
        "Tell the residents of the host units (community_notification)."
        pass

    @classmethod
    def answer(cls, pass_id, party, accept, at=None):
        """The answer of resident ``party`` to the walk-in of ``pass_id``:
        let in (active) or refused (rejected). One conditional UPDATE: it
        holds only while the pass waits and before its deadline, so an
        answer racing the deadline's escalation or another resident's
        answer loses cleanly. The caller checks that ``party`` lives in
        the unit. Return the new state, or None when it came too late or
        after another answer."""
        transaction = Transaction()
        if at is not None and transaction.check_access and transaction.user:
            at = None
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        now = Literal(at) if at is not None else db_now()
        state = 'active' if accept else 'rejected'
        cursor.execute(*table.update(
                [table.state, table.answered_by, table.answered_at,
                    table.write_date],
                [state, getattr(party, 'id', party), now, db_now()],
                where=(table.id == pass_id)
                & (table.kind == 'walk_in')
                & (table.state == 'waiting')
                & (now < table.confirm_deadline),
                returning=[table.id]))
        row = cursor.fetchone()
        if not row:
            return None
        cls._clear_caches(pass_id)
        return state

    @classmethod
    def escalate_unanswered(cls, at=None):
        """Hand the walk-ins nobody answered in time to a person (state
        ``escalated``: the headquarters' queue); return their ids. Also run
        by the guard's page, so the guard sees it at once."""
        transaction = Transaction()
        if at is not None and transaction.check_access and transaction.user:
            at = None
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        now = Literal(at) if at is not None else db_now()
        cursor.execute(*table.update(
                [table.state, table.write_date],
                ['escalated', db_now()],
                where=(table.state == 'waiting')
                & (table.confirm_deadline <= now),
                returning=[table.id]))
        ids = [r[0] for r in cursor]
        for pass_id in ids:
            cls._clear_caches(pass_id)
        return ids

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def approve(cls, passes):
        """A person (the guard's manager, the headquarters) lets in a walk-in
        whose host did not answer, having checked it otherwise."""
        cls.write(passes, {'approved_by': Transaction().user or None})

    @classmethod
    def admit(cls, passes, at=None):
        """The guard lets the walk-in visitor of an active pass in: one
        entry used in the same conditional UPDATE as a token's redeem.
        Raise RedeemError with the reason when it cannot be used."""
        for pass_ in passes:
            pass_id, reason = cls._use(
                lambda table, id_=pass_.id: table.id == id_,
                pass_.compound.id, at)
            if pass_id is None:
                raise RedeemError(reason, gettext(REASONS[reason]))

    @classmethod
    def _check_gate_access(cls, compound_id):
        "Gate staff may redeem at the compounds they may read."
        pool = Pool()
        Compound = pool.get('community.compound')
        ModelAccess = pool.get('ir.model.access')
        transaction = Transaction()
        if not transaction.check_access or transaction.user == 0:
            return True
        ModelAccess.check(cls.__name__, 'write')
        return bool(Compound.search([('id', '=', compound_id)]))

    @classmethod
    def redeem(cls, token, compound, at=None):
        """Use one entry of the pass of ``token`` at ``compound``.

        One conditional UPDATE on the database's clock: it succeeds only
        for an active pass of that compound with an entry left whose
        window (opened ``early_minutes`` before its start) holds the
        moment. Returns the pass; raises ``RedeemError`` with the reason
        otherwise (a pass of another compound is as unknown as a wrong
        token). ``at`` (naive UTC) replaces the database's clock for
        server code and root only: a client's clock is never trusted.
        """
        pass_id, reason = cls.try_redeem(token, compound, at=at)
        if pass_id is None:
            raise RedeemError(reason, gettext(REASONS[reason]))
        return cls(pass_id)

    @classmethod
    def try_redeem(cls, token, compound, at=None):
        "Like redeem but return (pass id, None) or (None, reason)."
        transaction = Transaction()
        compound_id = getattr(compound, 'id', compound)
        if at is not None and transaction.check_access and transaction.user:
            at = None
        if not token or not isinstance(token, str):
            return None, 'unknown'
        digest = hash_token(token)
        return cls._use(
            lambda table: table.token_hash == digest, compound_id, at)

    @classmethod
    def _use(cls, key, compound_id, at):
        """Use one entry of the pass found by ``key(table)`` at the
        compound: (pass id, None) or (None, reason). ``at`` (naive UTC)
        replaces the database's clock for server code and root only."""
        transaction = Transaction()
        if at is not None and transaction.check_access and transaction.user:
            at = None
        if (not isinstance(compound_id, int)
                or not cls._check_gate_access(compound_id)):
            return None, 'unknown'
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        now = Literal(at) if at is not None else db_now()
        minute = Literal(dt.timedelta(minutes=1))
        cursor.execute(*table.update(
                [table.uses, table.state, table.last_use,
                    table.write_uid, table.write_date],
                [table.uses + 1,
                    Case((table.uses + 1 >= table.uses_allowed, 'used'),
                        else_='active'),
                    now, transaction.user, db_now()],
                where=(key(table)
                    & (table.compound == compound_id)
                    & (table.state == 'active')
                    & (table.uses < table.uses_allowed)
                    & (now >= table.start - table.early_minutes * minute)
                    & (now < table.end)),
                returning=[table.id]))
        row = cursor.fetchone()
        if row:
            cls._clear_caches(row[0])
            return row[0], None
        return None, cls._redeem_refusal(key, compound_id, now)

    @classmethod
    def _clear_caches(cls, pass_id):
        # the UPDATE bypassed the ORM: drop what the transaction cached
        transaction = Transaction()
        for cache in transaction.cache.values():
            if cls.__name__ in cache:
                cache[cls.__name__].pop(pass_id, None)

    @classmethod
    def _redeem_refusal(cls, key, compound_id, now):
        "The reason why the pass of ``key`` was not redeemed at now."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        minute = Literal(dt.timedelta(minutes=1))
        cursor.execute(*table.select(
                table.state,
                table.uses >= table.uses_allowed,
                now < table.start - table.early_minutes * minute,
                now >= table.end,
                where=key(table)
                & (table.compound == compound_id)))
        row = cursor.fetchone()
        if not row:
            return 'unknown'
        state, exhausted, early, late = row
        if state == 'revoked':
            return 'revoked'
        if state == 'rejected':
            return 'rejected'
        if state == 'used' or exhausted:
            return 'used'
        if state == 'expired' or late:
            return 'expired'
        if early:
            return 'not_yet'
        if state in {'draft', 'waiting', 'escalated'}:
            return 'not_answered'
        # a pass changed by a
        # concurrent redeem after this statement started reads as used
        return 'used' if state == 'active' else 'unknown'

    @classmethod
    def expire(cls):
        "Mark as expired the active passes whose window has ended."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.state, table.write_date],
                ['expired', db_now()],
                where=(table.state == 'active') & (table.end <= db_now())))

    @classmethod
    def anonymise_ended(cls):
        """Erase the visitor's name, phone and plate of the passes whose
        window ended more days ago than their compound's retention period;
        expire the active passes that have ended first. Rerunnable."""
        pool = Pool()
        Compound = pool.get('community.compound')
        cls.expire()
        table = cls.__table__()
        compound = Compound.__table__()
        cursor = Transaction().connection.cursor()
        day = Literal(dt.timedelta(days=1))
        ended = compound.select(compound.id,
            where=(compound.id == table.compound)
            & (table.end
                < db_now() - compound.visitor_retention_days * day))
        cursor.execute(*table.update(
                [table.visitor_name, table.visitor_phone, table.plate,
                    table.anonymised, table.write_date],
                [ANONYMOUS, Null, Null, True, db_now()],
                where=(table.anonymised == Literal(False))
                & Exists(ended)))
        # ORM caches hold the values from before
        for cache in Transaction().cache.values():
            cache.pop(cls.__name__, None)


class PassIssue(Wizard):
    "Issue a visitor pass: activate it and show its token once."
    __name__ = 'community.visitor.pass.issue'
    start_state = 'show'
    show = StateView('community.visitor.pass.issue.show',
        'community_visitor.pass_issue_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_show(self, fields):
        pool = Pool()
        Pass = pool.get('community.visitor.pass')
        pass_ = self.record
        if pass_.state != 'draft':
            raise PassError(gettext(
                    'community_visitor.msg_pass_issued',
                    visitor=pass_.rec_name))
        tokens = Pass.activate([pass_])
        return {'pass_': pass_.id, 'token': tokens[pass_.id]}


class PassIssueShow(ModelView):
    "Visitor Pass Issued"
    __name__ = 'community.visitor.pass.issue.show'
    pass_ = fields.Many2One(
        'community.visitor.pass', "Visitor Pass", readonly=True)
    token = fields.Char("Token", readonly=True,
        help="Give it to the visitor now: it is shown only once and "
        "cannot be read again.")


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('community.visitor.pass|anonymise_ended',
                    "Expire and Anonymise Visitor Passes"),
                ('community.visitor.pass|escalate_unanswered',
                    "Hand Unanswered Walk-in Visitors to a Person"),
                ])
