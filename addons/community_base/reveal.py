# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Masking of resident ID numbers and phone numbers, and the logged reveal.

Through RPC reads (the web client, proteus, scripts) every user reads ID
numbers (``cn_ric`` identifiers) and phone numbers masked, keeping the last
4 characters (``5111**********1234``, ``138****5678``). Members of the group
"Community Reveal Sensitive Data" reveal them one party at a time with the
"Reveal" wizard; each reveal is logged in ``community.reveal.log`` (who,
when, which record, why). Server-side code (billing, imports, buttons,
wizards) works on the real values.
"""
import datetime

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateView, Wizard

from .access import (
    MASK_KEY, NO_NUMBER_SEARCH_KEY, SENSITIVE_FIELDS, mask_numbers)
from .exceptions import MaskedValueError, SensitiveSearchError
from .party import mask

PHONE_TYPES = {'phone', 'mobile', 'fax'}
MECHANISM_FIELDS = SENSITIVE_FIELDS['party.contact_mechanism']


def may_reveal():
    """Tell whether values may be returned in clear to the current call.

    Only calls that do not check access (server-side code, buttons and
    wizards, the root user) get clear values; every RPC read gets them
    masked, whatever the groups of the user: members of the reveal group
    see them in clear only through the logged "Reveal" wizard. Exports
    read under ``access.masking_context()`` and get them masked too.
    """
    transaction = Transaction()
    return (not transaction.check_access
        and not transaction.context.get(MASK_KEY))


def in_reveal_group():
    "Tell whether the current user belongs to the reveal group (or is root)."
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    transaction = Transaction()
    if transaction.user == 0:
        return True
    group = ModelData.get_id('community_base', 'group_community_reveal')
    return group in User.get_groups()


def log_lookups(entries, kind='lookup', parties=None):
    """Log exact look-ups of sensitive numbers: [(model, masked value)],
    or, with ``parties``, an export of their numbers (one line a party).

    Written in a transaction of its own when the current one is read-only
    (a search or a report through RPC)."""
    pool = Pool()
    transaction = Transaction()
    now = datetime.datetime.now()
    values = [{
            'user': transaction.user,
            'date': now,
            'kind': kind,
            'lookup': '%s: %s' % (model, value),
            } for model, value in entries]
    if parties is not None:
        values = [dict(v, party=p) for v in values for p in parties]
    if not values:
        return
    if transaction.readonly:
        with transaction.new_transaction() as new, \
                without_check_access():
            pool.get('community.reveal.log').create(values)
            new.commit()
    else:
        with without_check_access():
            pool.get('community.reveal.log').create(values)


def check_sensitive_search(leaves):
    """Refuse searches on sensitive fields other than by the exact value
    to users outside the reveal group; log the exact ones.

    ``leaves`` are (Model, (field, operator, value)) (see
    ``access.sensitive_leaves``). Searching ``like '5101%'`` would answer
    on the clear value and let a user recover a number one character at a
    time.
    """
    transaction = Transaction()
    if transaction.user == 0:
        return
    lookups = []
    for Model, (name, operator, value) in leaves:
        if operator == '=' and isinstance(value, str) and value:
            lookups.append((Model.__name__, mask(value)))
        elif (operator == 'in' and isinstance(value, (list, tuple))
                and all(isinstance(v, str) and v for v in value)):
            lookups.extend((Model.__name__, mask(v)) for v in value)
        elif not in_reveal_group():
            raise SensitiveSearchError(gettext(
                    'community_base.msg_sensitive_search',
                    field=name, operator=operator))
    if lookups:
        log_lookups(lookups)


def _keep_masked(cls, args, field, masker):
    """Return the ``write`` arguments of ``cls`` without masked values.

    A client that read ``field`` masked and sends it back unchanged (the
    user edited another field of the line) keeps the stored value; any
    other value with ``*`` is refused with ``MaskedValueError``, so a
    masked text never replaces a real number.
    """
    result = []
    actions = iter(args)
    for records, values in zip(actions, actions):
        value = values.get(field)
        if not value or '*' not in value:
            result.extend((records, values))
            continue
        with without_check_access():
            records = cls.browse(records)
            stored = {r.id: getattr(r, field) for r in records}
        rest = {k: v for k, v in values.items() if k != field}
        for record in records:
            if not stored[record.id] or masker(stored[record.id]) != value:
                raise MaskedValueError(
                    gettext('community_base.msg_masked_value', value=value))
        if rest:
            result.extend((list(records), rest))
    return result


def _mask_phone(value):
    if not value:
        return value
    digits = value.replace(' ', '').replace('-', '')
    if digits.startswith('+86'):
        digits = digits[3:]
    return mask(digits)


IDENTIFIER_SEARCH = {'code', 'code_compact', 'rec_name'}
MECHANISM_SEARCH = {'value', 'value_compact', 'rec_name', 'url'}


class Identifier(metaclass=PoolMeta):
    __name__ = 'party.identifier'

    @classmethod
    def write(cls, *args):
        if not may_reveal():
            args = _keep_masked(cls, args, 'code', mask)
            if not args:
                return
        super().write(*args)

    @classmethod
    def create(cls, vlist):
        if not may_reveal():
            for values in vlist:
                if '*' in (values.get('code') or ''):
                    raise MaskedValueError(gettext(
                            'community_base.msg_masked_value',
                            value=values['code']))
        return super().create(vlist)

    @classmethod
    def read(cls, ids, fields_names):
        result = super().read(ids, fields_names)
        names = {'code', 'code_compact', 'rec_name'} & set(fields_names)
        if names and not may_reveal():
            with without_check_access():
                types = {r['id']: r['type'] for r in super().read(
                        [r['id'] for r in result], ['type'])}
            for row in result:
                if types.get(row['id']) == 'cn_ric':
                    for name in names:
                        row[name] = mask(row[name])
        return result


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    @classmethod
    def write(cls, *args):
        if not may_reveal():
            args = _keep_masked(cls, args, 'value', _mask_phone)
            if not args:
                return
        super().write(*args)

    @classmethod
    def read(cls, ids, fields_names):
        result = super().read(ids, fields_names)
        names = MECHANISM_FIELDS & set(fields_names)
        if names and not may_reveal():
            with without_check_access():
                rows = {r['id']: r for r in super().read(
                        [r['id'] for r in result], ['type', 'value'])}
            for row in result:
                info = rows.get(row['id'])
                if info and info['type'] in PHONE_TYPES:
                    for name in names:
                        if name == 'rec_name':
                            row[name] = mask_numbers(row[name] or '')
                        elif name == 'url':
                            row[name] = None
                        else:
                            row[name] = _mask_phone(row[name])
        return result


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    @classmethod
    def search_rec_name(cls, name, clause):
        """Search parties by name (and code) only, for users who may not
        search numbers: the ID and phone numbers are searched by the exact
        value only (see ``check_sensitive_search``)."""
        domain = super().search_rec_name(name, clause)
        if (not Transaction().context.get(NO_NUMBER_SEARCH_KEY)
                or clause[1] == '='):
            return domain
        return [d for d in domain if not (
                    isinstance(d, (list, tuple)) and isinstance(d[0], str)
                    and d[0].split('.', 1)[0] in {
                        'identifiers', 'contact_mechanisms'})]

    @classmethod
    def read(cls, ids, fields_names):
        result = super().read(ids, fields_names)
        names = {'phone', 'mobile', 'fax'} & set(fields_names)
        if names and not may_reveal():
            for row in result:
                for name in names:
                    row[name] = _mask_phone(row[name])
        return result


class RevealLog(ModelSQL, ModelView):
    """Reveal log: who saw which sensitive value of which party, and when.

    Created only by the Reveal wizard; nobody may change or delete it.
    """
    __name__ = 'community.reveal.log'
    user = fields.Many2One('res.user', "User", readonly=True, required=True)
    date = fields.DateTime("Date", readonly=True, required=True)
    kind = fields.Selection([
            ('reveal', "Reveal"),
            ('lookup', "Exact Look-up"),
            ('export', "Export"),
            ], "Kind", readonly=True, required=True,
        help="Reveal: the Reveal wizard; exact look-up: a search by the "
        "whole number; export: a file with clear numbers.")
    party = fields.Many2One('party.party', "Party", readonly=True,
        ondelete='RESTRICT',
        states={'required': Eval('kind') == 'reveal'})
    record = fields.Reference("Record", selection=[
            (None, ""),
            ('party.identifier', "Identifier"),
            ('party.contact_mechanism', "Contact Mechanism"),
            ], readonly=True)
    lookup = fields.Char("Searched Value", readonly=True,
        help="The model and the number searched or exported, masked.")
    reason = fields.Char("Reason", readonly=True)

    @classmethod
    def default_kind(cls):
        return 'reveal'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('date', 'DESC'))


class Reveal(Wizard):
    "Reveal the ID numbers and phone numbers of a party (logged)."
    __name__ = 'community.reveal'
    start = StateView('community.reveal.start',
        'community_base.reveal_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reveal", 'show', 'tryton-ok', default=True),
            ])
    show = StateView('community.reveal.show',
        'community_base.reveal_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_show(self, fields):
        """Return the clear values of the party and log each of them."""
        pool = Pool()
        Log = pool.get('community.reveal.log')
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        group = ModelData.get_id('community_base', 'group_community_reveal')
        transaction = Transaction()
        if transaction.user != 0 and group not in User.get_groups():
            raise UserError(gettext('community_base.msg_reveal_denied'))
        party = self.record
        lines, logs = [], []
        now = datetime.datetime.now()
        for identifier in party.identifiers:
            if identifier.type == 'cn_ric':
                lines.append('%s: %s' % (
                        identifier.type_string, identifier.code))
                logs.append(str(identifier))
        for mechanism in party.contact_mechanisms:
            if mechanism.type in PHONE_TYPES:
                lines.append('%s: %s' % (
                        mechanism.type_string, mechanism.value))
                logs.append(str(mechanism))
        with without_check_access():
            Log.create([{
                        'user': transaction.user,
                        'date': now,
                        'party': party.id,
                        'record': record,
                        'reason': self.start.reason,
                        } for record in logs or [None]])
        return {'party': party.id, 'values': '\n'.join(lines)}


class RevealStart(ModelView):
    "Reveal Sensitive Data"
    __name__ = 'community.reveal.start'
    reason = fields.Char("Reason", required=True,
        help="Why the values are needed, e.g. 办理门禁卡.")


class RevealShow(ModelView):
    "Reveal Sensitive Data"
    __name__ = 'community.reveal.show'
    party = fields.Many2One('party.party', "Party", readonly=True)
    values = fields.Text("Revealed Value", readonly=True)
