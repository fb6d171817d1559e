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
import math
import uuid
from collections import defaultdict
from zoneinfo import ZoneInfo

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .channels import Message, ProviderError, channel, option

KINDS = [
    ('billing', "Bills and Payments"),
    ('service', "Service Requests"),
    ('announcement', "Announcements"),
    ('alarm', "Alarms"),
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


class _Params(dict):
    "Parameters for str.format_map: an unknown name renders empty."

    def __missing__(self, key):
        return ''


def render(text, params):
    return (text or '').format_map(_Params(params or {}))


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
    def notify(cls, code, recipients, origin=None, queue=True):
        """Create the notifications of template ``code`` and queue their
        sending; return them.

        ``recipients``: [(party, compound, parameters)] or, for a message
        to a number without an account, [(None, compound, parameters)]
        with ``parameters['mobile']``. ``origin``: the record they are
        about (or a list of records, one per recipient). ``queue``: False
        to send them otherwise (``send_secret``).
        """
        Template = Pool().get('community.notification.template')
        with without_check_access():
            template = Template.get(code)
        if not isinstance(origin, (list, tuple)):
            origin = [origin] * len(recipients)
        vlist = []
        for (party, compound, params), record in zip(recipients, origin):
            params = {k: str(v) for k, v in (params or {}).items()}
            vlist.append({
                    'template': template.id,
                    'kind': template.kind,
                    'urgent': template.urgent,
                    'party': getattr(party, 'id', party),
                    'mobile': params.pop('mobile', None),
                    'compound': getattr(compound, 'id', compound),
                    'title': render(template.title, params),
                    'body': render(template.body, params),
                    'parameters': params,
                    'origin': str(record) if record else None,
                    'token': uuid.uuid4().hex,
                    })
        # a side effect of what the user did (a technician claiming a
        # request): created whatever the user's rights on notifications
        with without_check_access():
            notifications = cls.create(vlist)
            if queue and (template.wechat_template or template.sms_template):
                with Transaction().set_context(queue_batch=True):
                    cls.__queue__.send(notifications)
        return cls.browse(notifications)

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
            with Transaction().set_context(
                    notification_secrets={notification.id: secret}):
                Attempt.process([attempt])
            return Attempt(attempt.id)

    @classmethod
    @ModelView.button
    def resend(cls, notifications):
        "Try the WeChat message or SMS again (after a failure)."
        cls.send(notifications, again=True)

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
        the commit of ``notify``); a notification already attempted is
        skipped unless ``again``."""
        pool = Pool()
        Attempt = pool.get('community.notification.attempt')
        Preference = pool.get('community.notification.preference')
        if not again:
            notifications = [n for n in notifications if not n.attempts]
        if not notifications:
            return
        parties = {n.party.id for n in notifications if n.party}
        openids, mobiles = cls._addresses(parties)
        enabled = Preference.enabled_map(parties)
        limited = cls._rate_limited(notifications)
        # a channel without an account in the configuration is not used
        configured = {name for name, key in [
                ('wechat', 'wechat_appid'), ('sms', 'sms_app_id')]
            if option(key)}
        vlist = []
        for n in notifications:
            template = n.template
            party = n.party.id if n.party else None
            if not party:
                if n.mobile and template.sms_template and 'sms' in configured:
                    vlist.append(n._attempt('sms', n.mobile))
                continue
            for name, address in [
                    ('wechat', openids.get(party)),
                    ('sms', mobiles.get(party)),
                    ]:
                if (not address or name not in configured
                        or not getattr(template, name + '_template')
                        or not enabled(party, n.kind, name)):
                    continue
                values = n._attempt(name, address)
                if n.id in limited:
                    values.update(state='skipped', error=gettext(
                            'community_notification.msg_rate_limited'))
                vlist.append(values)
                break
        Attempt.process(Attempt.create(vlist))

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
        parties = list(parties)
        openids, mobiles = {}, {}
        users = WebUser.search([('party', 'in', parties)])
        for user in users:
            if user.wechat_openid:
                openids.setdefault(user.party.id, user.wechat_openid)
        for contact in Contact.search([
                    ('party', 'in', parties), ('type', '=', 'mobile')],
                order=[('sequence', 'ASC'), ('id', 'ASC')]):
            number = (contact.value or '').replace(' ', '')
            if number.startswith('+86'):
                number = number[3:]
            mobiles.setdefault(contact.party.id, number)
        if 'mobile' in WebUser._fields:
            for user in users:
                if user.mobile:
                    mobiles.setdefault(user.party.id, user.mobile)
        return openids, mobiles

    @classmethod
    def _rate_limited(cls, notifications):
        """Return the ids of the notifications over their template's
        limit of WeChat messages and SMS per person within 24 hours."""
        Attempt = Pool().get('community.notification.attempt')
        result = set()
        since = dt.datetime.now() - dt.timedelta(days=1)
        groups = defaultdict(list)
        for n in notifications:
            if n.party and n.template.rate_limit:
                groups[(n.party.id, n.template)].append(n)
        for (party, template), group in groups.items():
            count = Attempt.search_count([
                    ('notification.party', '=', party),
                    ('notification.template', '=', template.id),
                    ('state', 'in', ['pending', 'sent', 'delivered']),
                    ('create_date', '>=', since),
                    ])
            for n in sorted(group, key=lambda n: n.id):
                if count >= template.rate_limit:
                    result.add(n.id)
                count += 1
        return result

    def message(self, name, address):
        "Return the ``Message`` of channel ``name`` to ``address``."
        template = self.template
        params = dict(self.parameters or {}, title=self.title)
        # the one-time values of ``send_secret``, never stored
        params.update((Transaction().context.get(
                    'notification_secrets') or {}).get(self.id, {}))
        portal = option('portal_url')
        url = ('%s/notifications/%s' % (portal.rstrip('/'), self.token)
            if portal else None)
        if name == 'sms':
            return Message(address, template.sms_template,
                params=[params.get(p, '') for p in (
                        template.sms_params or '').split()])
        return Message(address, template.wechat_template,
            data={k: params.get(p, '') for k, p in _pairs(
                    template.wechat_data)}, url=url)


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
    def process(cls, attempts):
        """Send the pending attempts that are due; schedule the others
        (quiet hours, retries)."""
        if not attempts:
            return
        now = dt.datetime.now()
        cls.lock(attempts)
        attempts = cls.browse([a.id for a in attempts])
        channels = {}
        later = []
        sms_sent = defaultdict(int)  # per compound, not yet saved
        secrets = Transaction().context.get('notification_secrets') or {}
        for attempt in attempts:
            if attempt.state != 'pending':
                continue
            if attempt.next_try and attempt.next_try > now:
                continue
            notification = attempt.notification
            compound = attempt.compound
            if attempt.channel == 'sms' and compound:
                if not notification.urgent:
                    quiet_end = compound.quiet_end_after(now)
                    if quiet_end:
                        attempt.next_try = quiet_end
                        later.append(attempt)
                        continue
                if not compound.sms_budget_allows(sms_sent[compound.id]):
                    attempt.state = 'skipped'
                    attempt.error = gettext(
                        'community_notification.msg_sms_budget_exhausted',
                        compound=compound.rec_name)
                    continue
            if attempt.channel not in channels:
                channels[attempt.channel] = channel(attempt.channel)
            attempt.tries = (attempt.tries or 0) + 1
            try:
                attempt.reference = channels[attempt.channel].send(
                    notification.message(attempt.channel, attempt.address))
            except ProviderError as e:
                attempt.error = str(e)
                if (e.retry and attempt.tries < max_tries()
                        and notification.id not in secrets):
                    attempt.next_try = now + dt.timedelta(
                        seconds=retry_delay(attempt.tries))
                    later.append(attempt)
                else:
                    attempt.state = 'failed'
                continue
            attempt.state = 'sent'
            attempt.sent_at = dt.datetime.now()
            attempt.error = None
            if attempt.channel == 'sms' and compound:
                sms_sent[compound.id] += 1
        cls.save(attempts)
        if later:
            delay = min(a.next_try for a in later) - now
            with Transaction().set_context(
                    queue_scheduled_at=max(delay, dt.timedelta(0))):
                cls.__queue__.process(later)

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

