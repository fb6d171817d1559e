# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Credentials (凭证): cards, PINs, resident QR codes and faces."""
import datetime as dt
import secrets

from sql.conditionals import Coalesce
from sql.operators import Equal

from trytond.i18n import gettext
from trytond.model import (
    Exclude, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import qr
from .exceptions import AccessError, AccessValidationError
from .sync import SYNCED_KINDS, SyncMixin

KINDS = [
    ('card', "Card"),
    ('pin', "PIN"),
    ('qr', "Resident QR Code"),
    ('face', "Face"),
    ]
STATES = [
    ('active', "Active"),
    ('suspended', "Suspended"),
    ('revoked', "Revoked"),
    ('expired', "Expired"),
    ]
#: states in which a credential holds its card UID or PIN
HOLDING = ['active', 'suspended']
PIN_DIGITS = 6


def normalize_card(value):
    "A card UID as readers send it: hex or decimal, any case, separators."
    return ''.join(c for c in str(value).strip().upper() if c.isalnum())


class Credential(SyncMixin, Workflow, ModelSQL, ModelView):
    """Credential (凭证): what a person presents at a door.

    A card by its UID, a face by the opaque person id sent to devices
    (never an ID or phone number), a PIN only as a keyed hash (generated
    with ``secrets``, unique among the compound's valid PINs), a resident
    QR code by a random reference (64 bits) that its short-lived signed
    codes carry (see qr.py), decided online. Valid over
    ``[valid_from, valid_to)`` while active.
    """
    __name__ = 'community.access.credential'
    _rec_name = 'number'
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT',
        states={'readonly': Eval('id', -1) >= 0})
    party = fields.Many2One('party.party', "Person", required=True,
        ondelete='RESTRICT',
        states={'readonly': Eval('id', -1) >= 0})
    kind = fields.Selection(KINDS, "Kind", required=True,
        states={'readonly': Eval('id', -1) >= 0})
    number = fields.Char("Number", readonly=True,
        help="A reference shown to staff; never the secret.")
    identifier = fields.Char("Card UID / Person Id",
        states={
            'invisible': ~Eval('kind').in_(['card', 'face']),
            'required': Eval('kind') == 'card',
            'readonly': Eval('state') != 'active',
            },
        help="The card's UID as the readers send it, or the opaque "
        "person id of a face on the devices.")
    secret_hash = fields.Char("Secret Hash", readonly=True, strip=False,
        states={'invisible': True})
    has_secret = fields.Function(fields.Boolean("Has Secret",
            states={'invisible': Eval('kind') != 'pin'}),
        'on_change_with_has_secret')
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    valid_from = fields.DateTime("Valid From",
        help="Included; empty for since always.")
    valid_to = fields.DateTime("Valid To",
        domain=[If(Eval('valid_from') & Eval('valid_to'),
                ('valid_to', '>', Eval('valid_from')), ())],
        help="Excluded; empty for no end.")
    face_consent = fields.Many2One('community.access.face_consent',
        "Face Consent", ondelete='RESTRICT',
        domain=[('party', '=', Eval('party', -1)),
            ('compound', '=', Eval('compound', -1)),
            ('state', '=', 'given')],
        states={
            'invisible': Eval('kind') != 'face',
            'required': Eval('kind') == 'face',
            'readonly': Eval('id', -1) >= 0,
            },
        help="The person's separate consent to the use of their face.")
    note = fields.Char("Note")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('identifier_exclude', Exclude(t,
                    (t.compound, Equal), (t.kind, Equal),
                    (t.identifier, Equal),
                    where=t.state.in_(HOLDING)
                    & (t.identifier != None)),  # noqa: E711
                'community_access.msg_credential_identifier_unique'),
            ('secret_exclude', Exclude(t,
                    (t.compound, Equal), (t.kind, Equal),
                    (t.secret_hash, Equal),
                    where=t.state.in_(HOLDING)
                    & (t.secret_hash != None)),  # noqa: E711
                'community_access.msg_credential_secret_unique'),
            ]
        # the ORM compares an optional Char as COALESCE(column, ''): the
        # lookups of a decision use these (an index on the bare column
        # served only compound and kind, reading all the compound's
        # credentials of the kind)
        cls._sql_indexes.update({
                Index(t, (t.compound, Index.Equality()),
                    (t.kind, Index.Equality()),
                    (Coalesce(t.identifier, ''), Index.Equality())),
                Index(t, (t.compound, Index.Equality()),
                    (t.kind, Index.Equality()),
                    (Coalesce(t.secret_hash, ''), Index.Equality())),
                })
        cls._order.insert(0, ('party', 'ASC'))
        cls._transitions |= {
            ('active', 'suspended'),
            ('suspended', 'active'),
            ('active', 'revoked'),
            ('suspended', 'revoked'),
            ('active', 'expired'),
            ('suspended', 'expired'),
            }
        cls._buttons.update({
                'suspend': {
                    'invisible': Eval('state') != 'active',
                    'icon': 'tryton-pause',
                    },
                'activate': {
                    'invisible': Eval('state') != 'suspended',
                    'icon': 'tryton-ok',
                    },
                'revoke': {
                    'invisible': ~Eval('state').in_(HOLDING),
                    'icon': 'tryton-cancel',
                    },
                'expire': {
                    'invisible': ~Eval('state').in_(HOLDING),
                    'icon': 'tryton-clear',
                    },
                'new_pin': {
                    'invisible': ((Eval('kind') != 'pin')
                        | (Eval('state') != 'active')),
                    'icon': 'tryton-refresh',
                    },
                })

    @staticmethod
    def default_state():
        return 'active'

    @classmethod
    def _sync_relevant(cls, credentials):
        # the cards and faces are in the devices' own lists
        return [c for c in credentials if c.kind in SYNCED_KINDS]

    @staticmethod
    def default_kind():
        return 'card'

    @fields.depends('secret_hash')
    def on_change_with_has_secret(self, name=None):
        return bool(self.secret_hash)

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('identifier'):
                values['identifier'] = normalize_card(values['identifier'])
            elif values.get('kind') in {'qr', 'face'}:
                # a random reference: a face's person id on the devices is
                # never an ID or phone number
                values['identifier'] = secrets.token_hex(8).upper()
            if not values.get('number'):
                values['number'] = secrets.token_hex(4).upper()
        return super().create(vlist)

    @classmethod
    def validate(cls, credentials):
        super().validate(credentials)
        cls.check_faces(credentials)

    @classmethod
    def check_faces(cls, credentials):
        """A face needs the person's consent (given) and another way in:
        an active card, PIN or QR credential of the person in the
        compound."""
        for credential in credentials:
            if credential.kind != 'face' or credential.state != 'active':
                continue
            consent = credential.face_consent
            if (not consent or consent.state != 'given'
                    or consent.party != credential.party
                    or consent.compound != credential.compound):
                raise AccessValidationError(gettext(
                        'community_access.msg_face_without_consent',
                        credential=credential.rec_name,
                        person=credential.party.rec_name))
            with Transaction().set_user(0), Transaction().set_context(
                    _check_access=False):
                others = cls.search([
                        ('compound', '=', credential.compound.id),
                        ('party', '=', credential.party.id),
                        ('kind', '!=', 'face'),
                        ('state', '=', 'active'),
                        ], limit=1)
            if not others:
                raise AccessValidationError(gettext(
                        'community_access.msg_face_only_credential',
                        person=credential.party.rec_name))

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args = []
        for records, values in zip(actions, actions):
            if values.get('identifier'):
                values = dict(values,
                    identifier=normalize_card(values['identifier']))
            args.extend((records, values))
        super().write(*args)

    @classmethod
    def copy(cls, credentials, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('number')
        default.setdefault('secret_hash')
        default.setdefault('identifier')
        default.setdefault('state', 'active')
        return super().copy(credentials, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('suspended')
    def suspend(cls, credentials):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def activate(cls, credentials):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('revoked')
    def revoke(cls, credentials):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('expired')
    def expire(cls, credentials):
        pass

    @classmethod
    def expire_ended(cls, now=None):
        """Expire the active and suspended credentials whose validity has
        ended (``valid_to`` excluded from the window); return them. The
        decisions already deny them; the state tells staff and the
        device sync."""
        now = now or dt.datetime.utcnow()
        credentials = cls.search([
                ('state', 'in', ['active', 'suspended']),
                ('valid_to', '!=', None),
                ('valid_to', '<=', now),
                ])
        if credentials:
            cls.expire(credentials)
        return credentials

    @classmethod
    @ModelView.button_action('community_access.wizard_credential_pin')
    def new_pin(cls, credentials):
        pass

    @classmethod
    def set_pins(cls, credentials):
        """Give each PIN credential a new random PIN from ``secrets``,
        unique among the valid PINs of its compound, store only its keyed
        hash and return {credential id: PIN} to show once."""
        pool = Pool()
        Configuration = pool.get('community.access.configuration')
        pins = {}
        cls.lock()
        for credential in credentials:
            if credential.kind != 'pin' or credential.state != 'active':
                raise AccessError(gettext(
                        'community_access.msg_credential_not_pin',
                        credential=credential.rec_name))
            while True:
                pin = ''.join(secrets.choice('0123456789')
                    for _ in range(PIN_DIGITS))
                digest = Configuration.hash_secret(
                    credential.compound.id, 'pin', pin)
                with Transaction().set_user(0):
                    taken = cls.search([
                            ('compound', '=', credential.compound.id),
                            ('kind', '=', 'pin'),
                            ('secret_hash', '=', digest),
                            ('state', 'in', HOLDING),
                            ], limit=1)
                if not taken:
                    break
            credential.secret_hash = digest
            credential.save()
            pins[credential.id] = pin
        return pins

    @classmethod
    def lookup(cls, compound, kind, value):
        """The credential of ``kind`` presented as ``value`` at a door of
        ``compound`` (a holding one first), or None."""
        pool = Pool()
        Configuration = pool.get('community.access.configuration')
        if value is None or value == '':
            return None
        domain = [('compound', '=', compound.id), ('kind', '=', kind)]
        if kind == 'pin':
            value = str(value).strip()
            if len(value) != PIN_DIGITS or not value.isdigit():
                return None
            domain.append(('secret_hash', '=',
                    Configuration.hash_secret(compound.id, 'pin', value)))
        elif kind in {'card', 'face'}:
            domain.append(('identifier', '=', normalize_card(value)))
        else:
            # resident QR codes: verify_qr
            return None
        credentials = cls.search(domain)
        credentials.sort(key=lambda c: (c.state not in HOLDING,
                c.state != 'active', -c.id))
        return credentials[0] if credentials else None

    def qr_code(self, at=None):
        """A new code of this active resident QR credential, issued at
        ``at`` (naive UTC, now by default), valid for qr.VALIDITY seconds.
        Not callable through RPC: the resident's portal page asks it."""
        Configuration = Pool().get('community.access.configuration')
        if self.kind != 'qr' or self.state != 'active':
            raise AccessError(gettext(
                    'community_access.msg_credential_not_qr',
                    credential=self.rec_name))
        return qr.encode(Configuration.qr_key(), self.compound.id,
            self.identifier, at or dt.datetime.utcnow())

    @classmethod
    def resident_qr(cls, party, compound):
        """The QR credential of ``party`` in ``compound`` for the portal:
        the active one, else the latest (suspended, revoked, expired:
        the page says so), else None."""
        credentials = cls.search([
                ('compound', '=', compound.id),
                ('party', '=', party.id),
                ('kind', '=', 'qr'),
                ], order=[('id', 'DESC')])
        for credential in credentials:
            if credential.state == 'active':
                return credential
        return credentials[0] if credentials else None

    @classmethod
    def open_resident_qr(cls, party, compound):
        """Open the QR credential of ``party`` in ``compound`` on first
        use: only for a current resident of the compound who never had
        one there (a suspended, revoked or expired credential is the
        property's decision: only staff issue another). The doors' rules
        still decide where it opens. Return the credential or None."""
        pool = Pool()
        Residency = pool.get('community.residency')
        Date = pool.get('ir.date')
        today = Date.today()
        if not Residency.search([
                    ('party', '=', party.id),
                    ('compound', '=', compound.id),
                    ('start_date', '<=', today),
                    ['OR', ('end_date', '=', None),
                        ('end_date', '>=', today)],
                    ], limit=1):
            return None
        cls.lock()
        credential = cls.resident_qr(party, compound)
        if credential:
            return credential if credential.state == 'active' else None
        credential, = cls.create([{
                    'compound': compound.id, 'party': party.id,
                    'kind': 'qr',
                    'note': gettext(
                        'community_access.msg_credential_qr_portal'),
                    }])
        return credential

    @classmethod
    def verify_qr(cls, compound, code, at):
        """(credential, refusal) of QR ``code`` shown at a door of
        ``compound`` at ``at``: the signature first (any changed bit:
        ``qr_invalid``), then its scope (``other_compound``), its age
        (``not_yet_valid``, ``qr_expired``) and the credential it names
        (``unknown_credential``); the credential's own state and validity
        are for the caller (``refusal``)."""
        Configuration = Pool().get('community.access.configuration')
        decoded = qr.decode(Configuration.qr_key(), code)
        if decoded is None:
            return None, 'qr_invalid'
        compound_id, reference, issued = decoded
        if compound_id != compound.id:
            return None, 'other_compound'
        reason = qr.refusal(issued, at)
        if reason:
            return None, reason
        credentials = cls.search([
                ('compound', '=', compound.id),
                ('kind', '=', 'qr'),
                ('identifier', '=', reference),
                ], order=[('id', 'DESC')], limit=1)
        if not credentials:
            return None, 'unknown_credential'
        return credentials[0], None

    def refusal(self, at):
        "None if the credential is good at ``at``, else the reason."
        if self.state != 'active':
            return self.state
        if self.valid_from and at < self.valid_from:
            return 'not_yet_valid'
        if self.valid_to and at >= self.valid_to:
            return 'expired'
        return None


class CredentialPinShow(ModelView):
    "New PIN"
    __name__ = 'community.access.credential.pin.show'
    pin = fields.Char("PIN", readonly=True,
        help="Shown only now: give it to the person; only its hash is "
        "kept.")


class CredentialPin(Wizard):
    "New PIN"
    __name__ = 'community.access.credential.pin'
    start = StateTransition()
    show = StateView('community.access.credential.pin.show',
        'community_access.credential_pin_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def transition_start(self):
        pins = self.model.set_pins([self.record])
        self._pin = pins[self.record.id]
        return 'show'

    def default_show(self, fields):
        return {'pin': getattr(self, '_pin', None)}
