# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Notifications (通知) to residents: the portal inbox, WeChat and SMS.

A module tells a person something with ``Notification.notify(code,
recipients, origin)``: one notification per recipient, rendered from the
template ``code`` with the recipient's parameters, in the inbox at once;
the WeChat message or SMS goes out after commit through the queue
(``Notification.send``), recorded as an attempt per channel.
"""
import datetime as dt
import json
import math
import uuid
from collections import defaultdict
from zoneinfo import ZoneInfo

from sql import Cast, Column, Conflict, Literal, Null, Values
from sql.aggregate import Count
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp, Function
from sql.operators import Equal, Exists

from trytond.i18n import gettext
from trytond.model import Exclude, Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import reduce_ids
from trytond.transaction import Transaction, without_check_access

from .channels import Message, ProviderError, channel, option, send_many

KINDS = [
    ('billing', "Bills and Payments"),
    ('service', "Service Requests"),
    ('announcement', "Announcements"),
    ('alarm', "Alarms"),
    ('visitor', "Visitors"),
    ('account', "Account"),
    ('marketing', "Marketing"),
    ]
CHANNELS = [
    ('wechat', "WeChat"),
    ('sms', "SMS"),
    ]
ATTEMPT_STATES = [
    ('pending', "Pending"),
    ('sent', "Sent"),
    ('delivered', "Delivered"),
    ('failed', "Failed"),
    ('skipped', "Not Sent"),
    ]
#: the states of an attempt that count as the message of its channel: at
#: most one per notification and channel
LIVE = ['pending', 'sent', 'delivered']
#: notifications per queued sending task
SEND_BATCH = 250


class _Params(dict):
    "Parameters for str.format_map: an unknown name renders empty."

    def __missing__(self, key):
        return ''


def render(text, params):
    return (text or '').format_map(_Params(params or {}))


def chunks(items, size=1000):
    "``items`` in lists of at most ``size`` (the ids of one query)."
    items = list(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


class JsonToRecordset(Function):
    __slots__ = ()
    _function = 'JSON_TO_RECORDSET'


def insert(Model, names, rows, returning=None):
    """INSERT ``rows`` (the values of the fields ``names``) into the table
    of ``Model`` with SQL: the rows as one JSON parameter read by
    ``json_to_recordset`` (a query of one parameter however many rows:
    adapting a list per column cost more than the insert itself),
    ``ON CONFLICT DO NOTHING``; return the rows of the columns
    ``returning``. A value of a JSON field is its text (``sql_format``)."""
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    table = Model.__table__()
    keys = ['c%d' % i for i in range(len(names))]
    types = [Model._fields[n].sql_type().base for n in names]
    definitions = [(k, 'TEXT' if t in {'JSON', 'JSONB'} else t)
        for k, t in zip(keys, types)]
    result = []
    for sub in chunks(rows, 5000):
        records = JsonToRecordset(Cast(Literal(json.dumps(
                        [dict(zip(keys, r)) for r in sub],
                        ensure_ascii=False, default=str)), 'JSON'),
            columns_definitions=definitions)
        columns = [CurrentTimestamp(), Literal(transaction.user)] + [
            Cast(Column(records, k), t) if t in {'JSON', 'JSONB'}
            else Column(records, k) for k, t in zip(keys, types)]
        cursor.execute(*table.insert(
                [table.create_date, table.create_uid]
                + [Column(table, n) for n in names],
                records.select(*columns), on_conflict=Conflict(table),
                returning=[Column(table, n) for n in returning or []]
                or None))
        if returning:
            result.extend(cursor)
    return result


def _pairs(text):
    "'key1:param1 key2:param2' -> [('key1', 'param1'), …]"
    return [tuple(p.split(':', 1)) for p in (text or '').split() if ':' in p]


def retry_delay(tries):
    """Seconds before try ``tries + 1``: ``retry_delay`` (60) doubled at
    each try."""
    base = float(option('retry_delay', 60))
    return base * 2 ** max(tries - 1, 0)


def max_tries():
    return int(option('max_tries', 4))


def claim_seconds():
    """Seconds an attempt stays claimed by the task that sends it: an
    attempt of a task that died is tried again after them."""
    return float(option('claim_seconds', 600))


def message(name, address, template, title, parameters, token):
    "Return the ``Message`` of channel ``name`` to ``address``."
    params = dict(parameters or {}, title=title)
    if name == 'sms':
        return Message(address, template.sms_template,
            params=[params.get(p, '') for p in (
                    template.sms_params or '').split()])
    portal = option('portal_url')
    url = ('%s/notifications/%s' % (portal.rstrip('/'), token)
        if portal else None)
    return Message(address, template.wechat_template,
        data={k: params.get(p, '') for k, p in _pairs(
                template.wechat_data)}, url=url)


class Template(ModelSQL, ModelView):
    """Notification Template (通知模板).

    What happened, written once: the inbox title and text (``{name}``
    placeholders filled from the notification's parameters), the WeChat
    template id with its keywords (``first:title keyword1:number``) and
    the approved SMS template id with its parameters in order
    (``number amount``): SMS are never free text.
    """
    __name__ = 'community.notification.template'
    code = fields.Char("Code", required=True)
    name = fields.Char("Name", required=True)
    kind = fields.Selection(KINDS, "Kind", required=True)
    urgent = fields.Boolean("Urgent",
        help="Sent at any hour (alarms, SOS); others wait for the end of "
        "the compound's quiet hours before an SMS.")
    title = fields.Char("Title", required=True)
    body = fields.Text("Text", required=True)
    wechat_template = fields.Char("WeChat Template ID")
    wechat_data = fields.Char("WeChat Keywords",
        help="Keyword:parameter pairs separated by spaces, "
        "e.g. first:title keyword1:number keyword2:amount.")
    sms_template = fields.Char("SMS Template ID",
        help="The template approved by the SMS provider.")
    sms_params = fields.Char("SMS Parameters",
        help="The parameters of the approved template, in order, "
        "separated by spaces, e.g. number amount due_date.")
    rate_limit = fields.Integer("Messages per Day",
        help="At most this many WeChat messages or SMS of this template "
        "to one person within 24 hours (0: no limit); "
        "the inbox gets them all.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'community_notification.msg_template_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @staticmethod
    def default_urgent():
        return False

    @staticmethod
    def default_rate_limit():
        return 0

    @classmethod
    def get(cls, code):
        template, = cls.search([('code', '=', code)], limit=1)
        return template


class Notification(ModelSQL, ModelView):
    """Notification (通知): one message of a template to one person.

    In the person's portal inbox from its creation; ``attempts`` record
    the WeChat message or SMS sent for it.
    """
    __name__ = 'community.notification'
    template = fields.Many2One('community.notification.template',
        "Template", required=True, readonly=True, ondelete='RESTRICT')
    kind = fields.Selection(KINDS, "Kind", readonly=True, required=True)
    urgent = fields.Boolean("Urgent", readonly=True)
    party = fields.Many2One('party.party', "Recipient", readonly=True,
        ondelete='CASCADE')
    mobile = fields.Char("Mobile", readonly=True,
        help="The number an SMS goes to when there is no recipient "
        "(one-time codes).")
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True, ondelete='CASCADE')
    title = fields.Char("Title", readonly=True)
    body = fields.Text("Text", readonly=True)
    parameters = fields.Dict(None, "Parameters", readonly=True)
    origin = fields.Reference("Origin", selection='get_origins',
        readonly=True)
    token = fields.Char("Token", readonly=True, strip=False)
    once = fields.Boolean("Once per Record", readonly=True,
        help="At most one notification of its template about its record "
        "to its recipient (e.g. a bill issued).")
    read_date = fields.Timestamp("Read", readonly=True)
    attempts = fields.One2Many('community.notification.attempt',
        'notification', "Attempts", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._sql_constraints += [
            ('token_unique', Unique(t, t.token),
                'community_notification.msg_notification_token_unique'),
            ('once_exclude', Exclude(t, (t.template, Equal),
                    (t.origin, Equal), (Coalesce(t.party, -1), Equal),
                    where=t.once == Literal(True)),
                'community_notification.msg_notification_once'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.party, Index.Equality()),
                (t.read_date, Index.Equality())))
        cls._buttons.update({
                'resend': {
                    'invisible': ~Eval('id'),
                    'icon': 'tryton-refresh',
                    },
                })

    @classmethod
    def _get_origins(cls):
        "The models a notification links to (extended by the modules)."
        return []

    @classmethod
    def get_origins(cls):
        IrModel = Pool().get('ir.model')
        models = cls._get_origins()
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in models]

    def get_rec_name(self, name):
        return self.title or ''

    @classmethod
    def notify(cls, code, recipients, origin=None, once=False, queue=True):
        """Create the notifications of template ``code`` and queue their
        sending; return them.

        ``recipients``: [(party, compound, parameters)] or, for a message
        to a number without an account, [(None, compound, parameters)]
        with ``parameters['mobile']``. ``origin``: the record they are
        about (or a list of records, one per recipient). ``once``: a
        recipient already told of the origin with this template is not
        told again (a bill issued). ``queue``: False to send them
        otherwise (``send_secret``).
        """
        return cls.browse(cls._notify(code, recipients, origin, once, queue))

    @classmethod
    def _notify(cls, code, recipients, origin=None, once=False, queue=True):
        "``notify`` returning the ids (no records for thousands of them)."
        Template = Pool().get('community.notification.template')
        with without_check_access():
            template = Template.get(code)
        if not isinstance(origin, (list, tuple)):
            origin = [origin] * len(recipients)
        rows = []
        # read once, not for each of thousands of recipients
        template_id, kind, urgent = template.id, template.kind, template.urgent
        title, body = template.title, template.body
        once = bool(once)
        for (party, compound, params), record in zip(recipients, origin):
            params = {k: str(v) for k, v in (params or {}).items()}
            mobile = params.pop('mobile', None)
            rows.append([template_id, kind, urgent,
                    getattr(party, 'id', party), mobile,
                    getattr(compound, 'id', compound),
                    render(title, params), render(body, params),
                    # as fields.Dict stores it (its values are all text)
                    json.dumps(params, separators=(',', ':'),
                        sort_keys=True, ensure_ascii=False),
                    str(record) if record else None,
                    uuid.uuid4().hex, once])
        # a side effect of what the user did (a technician claiming a
        # request): created whatever the user's rights on notifications
        ids = cls._insert(rows)
        if ids and queue and (
                template.wechat_template or template.sms_template):
            with without_check_access(), Transaction().set_context(
                    queue_batch=SEND_BATCH):
                cls.__queue__.send(ids)
        return ids

    @classmethod
    def _insert(cls, rows):
        """Insert the notifications of ``rows`` with SQL, in bulk; return
        their ids (a notification ``once`` already there is not)."""
        return [r[0] for r in insert(cls, ['template', 'kind', 'urgent',
                    'party', 'mobile', 'compound', 'title', 'body',
                    'parameters', 'origin', 'token', 'once'], rows,
                returning=['id'])]

    @classmethod
    def send_secret(cls, code, mobile, params, secret, compound=None,
            origin=None):
        """Send at once by SMS to ``mobile`` (national number) the
        notification of template ``code`` that carries the one-time
        ``secret`` parameters (a verification code); return its attempt
        ('sent', 'failed' or 'skipped').

        Recorded as every notification (no recipient, so no inbox, no
        preference, no unsubscribe; the attempt counts in the SMS budget of
        ``compound`` when given) but the secret values are stored as
        ``*``: only the SMS carries them. Not queued and never retried:
        the secret is kept nowhere, and a late code is useless.
        """
        pool = Pool()
        Attempt = pool.get('community.notification.attempt')
        secret = {k: str(v) for k, v in secret.items()}
        masked = {k: '*' * len(v) for k, v in secret.items()}
        notification, = cls.notify(code, [(None, compound,
                    dict(params, mobile=mobile, **masked))],
            origin=origin, queue=False)
        with without_check_access():
            attempt, = Attempt.create(
                [notification._attempt('sms', mobile)])
            if not option('sms_app_id') or not (
                    notification.template.sms_template):
                attempt.state = 'failed'
                attempt.error = 'not configured'
                attempt.save()
                return attempt
            # created by this transaction, seen by no other: sent without
            # committing the claim (the request's work commits once)
            with Transaction().set_context(
                    notification_secrets={notification.id: secret}):
                Attempt.process([attempt], commit=False)
            # written with SQL: not what this transaction read before
            for cache in Transaction().cache.values():
                cache.pop(Attempt.__name__, None)
            return Attempt(attempt.id)

    @classmethod
    @ModelView.button
    def resend(cls, notifications):
        "Try the WeChat message or SMS again (after a failure)."
        with Transaction().set_context(queue_batch=SEND_BATCH):
            cls.__queue__.send(notifications, again=True)

    @classmethod
    def mark_read(cls, notifications):
        cls.write([n for n in notifications if not n.read_date], {
                'read_date': dt.datetime.now()})

    @classmethod
    def unsubscribe(cls, token):
        """Stop the WeChat messages and SMS of the kind of the notification
        of ``token`` (and its inbox messages for marketing); return the
        notification or None."""
        Preference = Pool().get('community.notification.preference')
        notifications = cls.search([('token', '=', token)], limit=1)
        if not notifications or not notifications[0].party:
            return None
        notification, = notifications
        channels = ['wechat', 'sms']
        if notification.kind == 'marketing':
            channels.append('inbox')
        Preference.set_enabled(
            notification.party, notification.kind, channels, False)
        return notification

    @classmethod
    def send(cls, notifications, again=False):
        """Choose the channel of each notification and send (queued after
        the commit of ``notify``, ``SEND_BATCH`` notifications a task); a
        notification already attempted is skipped, and with ``again`` one
        whose message is pending, sent or delivered."""
        pool = Pool()
        Attempt = pool.get('community.notification.attempt')
        Template = pool.get('community.notification.template')
        cursor = Transaction().connection.cursor()
        n = cls.__table__()
        a = Attempt.__table__()
        attempted = a.notification == n.id
        if again:
            attempted &= a.state.in_(LIVE)
        rows = []
        for sub in chunks([int(x) for x in notifications]):
            cursor.execute(*n.select(n.id, n.party, n.mobile, n.kind,
                    n.compound, n.template,
                    where=reduce_ids(n.id, sub)
                    & ~Exists(a.select(a.id, where=attempted)),
                    order_by=[n.id.asc]))
            rows.extend(cursor)
        if not rows:
            return
        templates = {t.id: t for t in Template.browse(
                {r[5] for r in rows})}
        parties = {r[1] for r in rows if r[1]}
        openids, mobiles = cls._addresses(parties)
        enabled = cls._enabled_map(parties)
        limited = cls._rate_limited(rows, templates)
        # a channel without an account in the configuration is not used
        configured = {name for name, key in [
                ('wechat', 'wechat_appid'), ('sms', 'sms_app_id')]
            if option(key)}
        now = dt.datetime.now()
        vlist = []
        for id_, party, mobile, kind, compound, template_id in rows:
            template = templates[template_id]

            if not party:
                if mobile and template.sms_template and 'sms' in configured:
                    vlist.append([id_, 'sms', mobile, compound, 'pending', 0,
                            now, None])
                continue
            for name, address in [
                    ('wechat', openids.get(party)),
                    ('sms', mobiles.get(party)),
                    ]:
                if (not address or name not in configured
                        or not getattr(template, name + '_template')
                        or not enabled(party, kind, name)):
                    continue
                if id_ in limited:
                    vlist.append([id_, name, address, compound, 'skipped', 0,
                            now, gettext(
                                'community_notification.msg_rate_limited')])
                else:
                    vlist.append([id_, name, address, compound, 'pending', 0,
                            now, None])
                break
        Attempt.process(Attempt._insert(vlist))

    def _attempt(self, name, address):
        return {
            'notification': self.id, 'channel': name, 'address': address,
            'compound': self.compound.id if self.compound else None,
            'state': 'pending', 'tries': 0,
            'next_try': dt.datetime.now(),
            }

    @classmethod
    def _addresses(cls, parties):
        """Return ({party: openid}, {party: mobile}) of the parties: the
        openid of a portal account bound through WeChat; the party's
        mobile, else its portal account's."""
        pool = Pool()
        WebUser = pool.get('web.user')
        Contact = pool.get('party.contact_mechanism')
        cursor = Transaction().connection.cursor()
        user = WebUser.__table__()
        contact = Contact.__table__()
        has_mobile = 'mobile' in WebUser._fields
        openids, mobiles, user_mobiles = {}, {}, {}
        for sub in chunks(parties):
            cursor.execute(*user.select(user.party, user.wechat_openid,
                    user.mobile if has_mobile else Literal(None),
                    where=reduce_ids(user.party, sub)
                    & (user.active == Literal(True)),
                    order_by=[user.id.asc]))
            for party, openid, mobile in cursor:
                if openid:
                    openids.setdefault(party, openid)
                if mobile:
                    user_mobiles.setdefault(party, mobile)
            cursor.execute(*contact.select(contact.party, contact.value,
                    where=reduce_ids(contact.party, sub)
                    & (contact.type == 'mobile')
                    & (contact.active == Literal(True)),
                    order_by=[contact.sequence.asc, contact.id.asc]))
            for party, value in cursor:
                number = (value or '').replace(' ', '')
                if number.startswith('+86'):
                    number = number[3:]
                mobiles.setdefault(party, number)
        for party, mobile in user_mobiles.items():
            mobiles.setdefault(party, mobile)
        return openids, mobiles

    @classmethod
    def _enabled_map(cls, parties):
        "Return a function (party, kind, channel) -> bool."
        Preference = Pool().get('community.notification.preference')
        cursor = Transaction().connection.cursor()
        p = Preference.__table__()
        stored = {}
        for sub in chunks(parties):
            cursor.execute(*p.select(p.party, p.kind, p.channel, p.enabled,
                    where=reduce_ids(p.party, sub)))
            stored.update({(party, kind, channel): enabled
                    for party, kind, channel, enabled in cursor})

        def enabled(party, kind, channel):
            return stored.get((party, kind, channel), kind != 'marketing')
        return enabled

    @classmethod
    def _rate_limited(cls, rows, templates):
        """Return the ids of the notifications of ``rows`` (id, party, …,
        template) over their template's limit of WeChat messages and SMS
        per person within 24 hours."""
        Attempt = Pool().get('community.notification.attempt')
        cursor = Transaction().connection.cursor()
        limits = {t.id: t.rate_limit for t in templates.values()
            if t.rate_limit}
        rows = [r for r in rows if r[1] and r[5] in limits]
        if not rows:
            return set()
        since = dt.datetime.now() - dt.timedelta(days=1)
        n = cls.__table__()
        a = Attempt.__table__()
        counts = defaultdict(int)
        for sub in chunks({r[1] for r in rows}):
            cursor.execute(*a.join(n, condition=a.notification == n.id
                    ).select(n.party, n.template, Count(a.id),
                    where=reduce_ids(n.party, sub)
                    & n.template.in_(list(limits))
                    & a.state.in_(LIVE) & (a.create_date >= since),
                    group_by=[n.party, n.template]))
            for party, template, count in cursor:
                counts[(party, template)] = count
        result = set()
        for id_, party, *_, template in sorted(rows):
            if counts[(party, template)] >= limits[template]:
                result.add(id_)
            counts[(party, template)] += 1
        return result

    def message(self, name, address):
        "Return the ``Message`` of channel ``name`` to ``address``."
        # the one-time values of ``send_secret``, never stored
        params = dict(self.parameters or {}, **(Transaction().context.get(
                    'notification_secrets') or {}).get(self.id, {}))
        return message(name, address, self.template, self.title,
            params, self.token)


class Attempt(ModelSQL, ModelView):
    """Notification Attempt (发送记录): a WeChat message or SMS of a
    notification, with the provider's answer."""
    __name__ = 'community.notification.attempt'
    notification = fields.Many2One('community.notification', "Notification",
        required=True, readonly=True, ondelete='CASCADE')
    compound = fields.Many2One('community.compound', "Compound",
        readonly=True, ondelete='CASCADE')
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    address = fields.Char("Address", readonly=True)
    address_masked = fields.Function(fields.Char("Address"),
        'get_address_masked')
    state = fields.Selection(ATTEMPT_STATES, "State", required=True,
        readonly=True)
    tries = fields.Integer("Tries", readonly=True)
    next_try = fields.Timestamp("Next Try", readonly=True)
    sent_at = fields.Timestamp("Sent", readonly=True)
    delivered_at = fields.Timestamp("Delivered", readonly=True)
    reference = fields.Char("Provider Reference", readonly=True)
    error = fields.Text("Error", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._sql_constraints += [
            ('notification_channel_exclude', Exclude(t,
                    (t.notification, Equal), (t.channel, Equal),
                    where=t.state.in_(LIVE)),
                'community_notification.msg_attempt_once'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    (t.next_try, Index.Range()),
                    where=t.state == 'pending'),
                Index(t, (t.reference, Index.Equality())),
                Index(t, (t.compound, Index.Equality()),
                    (t.channel, Index.Equality()),
                    (t.sent_at, Index.Range())),
                })

    def get_address_masked(self, name):
        from trytond.modules.community_base.party import mask
        if self.channel == 'sms':
            return mask(self.address)
        return (self.address or '')[:4] + '…'

    @classmethod
    def _insert(cls, rows):
        """Insert the attempts of ``rows`` [notification, channel,
        address, compound, state, tries, next try, error] with SQL; return
        the ids of the pending ones (none where the notification has its
        message of that channel already)."""
        return [i for i, state in insert(cls, ['notification', 'channel',
                    'address', 'compound', 'state', 'tries', 'next_try',
                    'error'], rows, returning=['id', 'state'])
            if state == 'pending']

    @classmethod
    def process(cls, attempts, commit=True):
        """Send the pending attempts that are due; schedule the others
        (quiet hours, retries).

        An attempt is claimed by a conditional UPDATE (still pending and
        due) that counts the try and moves its next try ``claim_seconds``
        ahead; the claim is committed before the providers are called, so
        a task run again, or at the same time, never sends it twice (the
        attempt of a task that died is tried again once its claim ends).
        Without ``commit``, for attempts that no other transaction sees
        (``send_secret``), nothing is committed.
        """
        pool = Pool()
        Notification = pool.get('community.notification')
        Template = pool.get('community.notification.template')
        Compound = pool.get('community.compound')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        a = cls.__table__()
        n = Notification.__table__()
        now = dt.datetime.now()
        due = (a.state == 'pending') & (
            (a.next_try == Null) | (a.next_try <= now))
        rows = []
        for sub in chunks([int(x) for x in attempts]):
            cursor.execute(*a.join(n, condition=a.notification == n.id
                    ).select(a.id, a.channel, a.address, a.compound,
                    n.urgent, n.template, n.title, n.parameters, n.token,
                    n.id,
                    where=reduce_ids(a.id, sub) & due,
                    order_by=[a.id.asc]))
            rows.extend(cursor)
        if not rows:
            return
        compounds = {c.id: c for c in Compound.browse(
                {r[3] for r in rows if r[3]})}
        quiet, delayed = {}, defaultdict(list)
        sms = defaultdict(list)
        todo = []
        for row in rows:
            id_, name, _, compound, urgent = row[:5]
            if name == 'sms' and compound:
                if not urgent:
                    if compound not in quiet:
                        quiet[compound] = compounds[compound].quiet_end_after(
                            now)
                    if quiet[compound]:
                        delayed[quiet[compound]].append(id_)
                        continue
                sms[compound].append(row)
            else:
                todo.append(row)
        for end, ids in delayed.items():
            cls._update(a, ids, [a.next_try], [end], where=due)
        for compound, group in sms.items():
            allowed = compounds[compound].sms_budget_allowance(len(group))
            todo.extend(group[:allowed])
            if group[allowed:]:
                cls._update(a, [r[0] for r in group[allowed:]],
                    [a.state, a.error], ['skipped', gettext(
                            'community_notification.msg_sms_budget_exhausted',
                            compound=compounds[compound].rec_name)],
                    where=due)
        # the claim
        lease = now + dt.timedelta(seconds=claim_seconds())
        tries = dict(cls._update(a, [r[0] for r in todo],
                [a.tries, a.next_try], [Coalesce(a.tries, 0) + 1, lease],
                where=due, returning=[a.id, a.tries]))
        if commit:
            transaction.commit()

        templates = {t.id: t for t in Template.browse(
                {r[5] for r in todo})}
        # the one-time values of ``send_secret``, never stored
        secrets = Transaction().context.get('notification_secrets') or {}
        by_channel = defaultdict(list)
        once = set()
        for (id_, name, address, _, _, template, title, params, token,
                notification) in todo:
            if id_ not in tries:
                continue
            if isinstance(params, str):
                params = json.loads(params)
            if notification in secrets:
                params = dict(params or {}, **secrets[notification])
                once.add(id_)
            by_channel[name].append((id_, message(name, address,
                        templates[template], title, params, token)))
        results = {}
        for name, messages in by_channel.items():
            results.update(send_many(name, messages))

        sent_at = dt.datetime.now()
        sent = [(id_, str(r)) for id_, r in results.items()
            if not isinstance(r, ProviderError)]
        for sub in chunks(sent):
            values = Values(list(sub))
            cursor.execute(*a.update(
                    [a.state, a.sent_at, a.reference, a.error, a.write_uid,
                        a.write_date],
                    ['sent', sent_at, Column(values, 'column2'), Null,
                        transaction.user, CurrentTimestamp()],
                    from_=[values],
                    where=a.id == Column(values, 'column1')))
        later = []
        for id_, error in results.items():
            if not isinstance(error, ProviderError):
                continue
            if (error.retry and tries[id_] < max_tries()
                    and id_ not in once):
                next_try = now + dt.timedelta(
                    seconds=retry_delay(tries[id_]))
                cls._update(a, [id_], [a.next_try, a.error],
                    [next_try, str(error)])
                later.append((id_, next_try))
            else:
                cls._update(a, [id_], [a.state, a.error],
                    ['failed', str(error)])
        later.extend((i, end) for end, ids in delayed.items() for i in ids)
        if later:
            delay = min(t for _, t in later) - now
            with Transaction().set_context(
                    queue_scheduled_at=max(delay, dt.timedelta(0))):
                cls.__queue__.process([i for i, _ in later])

    @classmethod
    def _update(cls, a, ids, columns, values, where=None, returning=None):
        """UPDATE the attempts of ``ids`` (with ``where``) of table ``a``;
        return the rows."""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        result = []
        for sub in chunks(ids):
            condition = reduce_ids(a.id, sub)
            if where is not None:
                condition &= where
            cursor.execute(*a.update(
                    columns + [a.write_uid, a.write_date],
                    values + [transaction.user, CurrentTimestamp()],
                    where=condition, returning=returning))
            if returning:
                result.extend(cursor)
        return result

    @classmethod
    def send_due(cls):
        "Send the pending attempts that are due (scheduled action)."
        cls.process(cls.search([
                    ('state', '=', 'pending'),
                    ('next_try', '<=', dt.datetime.now()),
                    ], limit=1000))

    @classmethod
    def pull_reports(cls):
        """Record the delivery reports of the SMS provider (scheduled
        action)."""
        if not option('sms_app_id'):
            return
        reports = channel('sms').pull_reports()
        if not reports:
            return
        now = dt.datetime.now()
        by_reference = {r: (ok, text) for r, ok, text in reports}
        attempts = cls.search([
                ('channel', '=', 'sms'),
                ('reference', 'in', list(by_reference)),
                ])
        for attempt in attempts:
            ok, text = by_reference[attempt.reference]
            if ok:
                attempt.state = 'delivered'
                attempt.delivered_at = now
            else:
                attempt.state = 'failed'
                attempt.error = text
        cls.save(attempts)


class Preference(ModelSQL, ModelView):
    """Notification Preference (通知偏好): whether a person wants the
    notifications of a kind over a channel. Without a preference every
    channel is on, except marketing, which needs an opt-in."""
    __name__ = 'community.notification.preference'
    party = fields.Many2One('party.party', "Person", required=True,
        ondelete='CASCADE')
    kind = fields.Selection(KINDS, "Kind", required=True)
    channel = fields.Selection(CHANNELS + [('inbox', "Portal Inbox")],
        "Channel", required=True)
    enabled = fields.Boolean("Enabled")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('party_kind_channel_unique',
                Unique(t, t.party, t.kind, t.channel),
                'community_notification.msg_preference_unique'),
            ]

    @staticmethod
    def default_enabled():
        return True

    @classmethod
    def enabled_map(cls, parties):
        "Return a function (party, kind, channel) -> bool."
        stored = {(p.party.id, p.kind, p.channel): p.enabled
            for p in cls.search([('party', 'in', list(parties))])}

        def enabled(party, kind, channel):
            return stored.get((party, kind, channel), kind != 'marketing')
        return enabled

    @classmethod
    def set_enabled(cls, party, kind, channels, enabled):
        existing = {p.channel: p for p in cls.search([
                    ('party', '=', party.id), ('kind', '=', kind),
                    ('channel', 'in', channels)])}
        records = []
        for name in channels:
            record = existing.get(name) or cls(
                party=party, kind=kind, channel=name)
            record.enabled = enabled
            records.append(record)
        cls.save(records)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('community.notification.attempt|send_due',
                    "Send Due Notifications"),
                ('community.notification.attempt|pull_reports',
                    "Pull SMS Delivery Reports"),
                ])


def local_now(timezone, now=None):
    now = now or dt.datetime.now()
    return now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(timezone))


def to_utc(local):
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def month_start_utc(timezone, now=None):
    "The start of the compound's local month, naive UTC."
    local = local_now(timezone, now)
    return to_utc(local.replace(
            day=1, hour=0, minute=0, second=0, microsecond=0))


def sms_count(compound, since):
    "SMS sent for ``compound`` since ``since``."
    Attempt = Pool().get('community.notification.attempt')
    t = Attempt.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*t.select(Count(t.id),
            where=(t.compound == compound.id) & (t.channel == 'sms')
            & t.state.in_(['sent', 'delivered']) & (t.sent_at >= since)))
    return cursor.fetchone()[0]


def warning_threshold(budget, percent):
    return math.ceil(budget * (percent or 0) / 100)

