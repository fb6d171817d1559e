# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""One-time SMS codes (短信验证码) proving a mobile number: a portal
account for a number exists only once the code sent to it was entered."""
import datetime as dt
import hashlib
import hmac
import secrets

from sql import Cast, Literal, Null, Select
from sql.aggregate import Count
from sql.functions import CurrentTimestamp, Substring
from sql.operators import Exists, Less

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import Check, Exclude, Index, ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.sql.functions import Range, TSRange
from trytond.sql.operators import RangeOverlap
from trytond.transaction import Transaction

from .exceptions import SmsCodeError, SmsCodeRateLimitError
from .models import normalize_mobile

SECTION = 'community_portal'
PURPOSES = [
    ('signup', "Sign-up"),
    ('reset', "Password Reset"),
    ]


def option(name, default):
    return config.getint(SECTION, name, default=default)


class Int8Range(Range):
    "PostgreSQL int8range(lower, upper, bounds)."
    __slots__ = ()
    _function = 'INT8RANGE'


class SmsCode(ModelSQL):
    """SMS Code (短信验证码): a one-time code sent to a mobile number for a
    sign-up or a password reset.

    Only a keyed hash of the code is stored. A code is valid
    ``[community_portal] sms_code_ttl`` seconds (300), for
    ``sms_code_attempts`` tries (5), once; the latest code of a number and
    purpose is the only one that counts. A number gets one code per
    ``sms_code_interval`` seconds (60, an exclusion constraint on the
    number and the interval guards it against concurrent requests) and
    ``sms_code_per_day`` codes a day (10); a client (its address network)
    ``sms_code_per_client`` codes an hour (20). Rows are erased a day
    after their creation (scheduled action).
    """
    __name__ = 'community.portal.sms_code'
    mobile = fields.Char("Mobile", required=True, readonly=True,
        help="In E.164 (+8613800138000).")
    purpose = fields.Selection(PURPOSES, "Purpose", required=True,
        readonly=True)
    code_hash = fields.Char("Code Hash", required=True, readonly=True,
        strip=False)
    salt = fields.Char("Salt", required=True, readonly=True, strip=False)
    client = fields.Char("Client", readonly=True,
        help="The network of the address that requested the code.")
    expires_at = fields.Timestamp("Expires at", required=True,
        readonly=True)
    resend_after = fields.Timestamp("Resend after", required=True,
        readonly=True)
    attempts = fields.Integer("Attempts", required=True, readonly=True)
    used_at = fields.Timestamp("Used at", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__ = {}
        t = cls.__table__()
        number = Cast(Substring(t.mobile, 2), 'BIGINT')
        cls._sql_constraints += [
            # one code per number and interval, whatever concurrent
            # requests do (equality as overlap of one-value ranges: no
            # btree_gist needed)
            ('mobile_interval_exclude', Exclude(t,
                    (Int8Range(number, number, '[]'), RangeOverlap),
                    (TSRange(t.create_date, t.resend_after, '[)'),
                        RangeOverlap)),
                'community_portal.msg_sms_code_too_soon_constraint'),
            ('attempts_positive', Check(t, t.attempts >= 0),
                'community_portal.msg_sms_code_attempts_positive'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.mobile, Index.Equality()),
                    (t.create_date, Index.Range())),
                Index(t, (t.client, Index.Equality()),
                    (t.create_date, Index.Range())),
                })

    @classmethod
    def _key(cls):
        """The key of the codes' hashes: ``[community_portal] secret``,
        else the installation's random key."""
        Configuration = Pool().get('community.portal.configuration')
        value = config.get(SECTION, 'secret', default='')
        return (value or Configuration.get_sandbox_secret()).encode()

    @classmethod
    def _hash(cls, salt, mobile, purpose, code):
        return hmac.new(cls._key(),
            ('%s:%s:%s:%s' % (salt, mobile, purpose, code)).encode(),
            hashlib.sha256).hexdigest()

    @staticmethod
    def e164(mobile):
        "The number in E.164, or raise SmsCodeError."
        try:
            return '+86' + normalize_mobile(mobile)
        except ValueError:
            raise SmsCodeError(gettext(
                    'community_portal.msg_sms_code_mobile_invalid')) from None

    @staticmethod
    def _client():
        _, network = Transaction().remote_address()
        return str(network) if network else None

    @classmethod
    def request(cls, mobile, purpose, compound=None):
        """Create a code of ``purpose`` for ``mobile`` and send it by SMS
        (template ``mobile_code``, urgent); return the number in E.164.

        One conditional insert checks the limits (and the exclusion
        constraint the interval, against concurrent requests); raises
        SmsCodeRateLimitError beyond them, SmsCodeError when the number is
        not a mobile number or the SMS could not be sent.
        """
        pool = Pool()
        Notification = pool.get('community.notification')
        mobile = cls.e164(mobile)
        client = cls._client()
        code = '%06d' % secrets.randbelow(10 ** 6)
        salt = secrets.token_hex(8)
        ttl = option('sms_code_ttl', 300)
        interval = option('sms_code_interval', 60)
        table = cls.__table__()
        other = cls.__table__()
        now = CurrentTimestamp()
        per_number = other.select(Count(Literal(1)),
            where=(other.mobile == mobile)
            & (other.create_date > now - dt.timedelta(days=1)))
        recent = other.select(Literal(1),
            where=(other.mobile == mobile) & (other.resend_after > now))
        where = ~Exists(recent) & Less(
            per_number, option('sms_code_per_day', 10))
        if client:
            per_client = other.select(Count(Literal(1)),
                where=(other.client == client)
                & (other.create_date > now - dt.timedelta(hours=1)))
            where &= Less(per_client, option('sms_code_per_client', 20))
        # INSERT … SELECT <values> WHERE <the limits are not reached>
        values = Select([Literal(0), now, Literal(mobile), Literal(purpose),
                Literal(cls._hash(salt, mobile, purpose, code)),
                Literal(salt), Literal(client),
                now + dt.timedelta(seconds=ttl),
                now + dt.timedelta(seconds=interval), Literal(0)],
            where=where)
        cursor = Transaction().connection.cursor()
        try:
            cursor.execute(*table.insert([
                        table.create_uid, table.create_date, table.mobile,
                        table.purpose, table.code_hash, table.salt,
                        table.client, table.expires_at, table.resend_after,
                        table.attempts],
                    values, returning=[table.id]))
            row = cursor.fetchone()
        except backend.DatabaseIntegrityError:
            # a concurrent request of the same number won
            Transaction().rollback()
            row = None
        if not row:
            cls._raise_limit(mobile, client)
        attempt = Notification.send_secret('mobile_code', mobile[3:],
            {'minutes': str(ttl // 60)}, {'code': code}, compound=compound)
        if attempt.state != 'sent':
            raise SmsCodeError(gettext(
                    'community_portal.msg_sms_code_not_sent'))
        return mobile

    @classmethod
    def _raise_limit(cls, mobile, client):
        "Raise the error of the limit that refused a code."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = CurrentTimestamp()
        cursor.execute(*table.select(table.resend_after,
                where=(table.mobile == mobile) & (table.resend_after > now),
                order_by=[table.resend_after.desc], limit=1))
        row = cursor.fetchone()
        if row or not client:
            # read again after a concurrent insert (or no row visible yet)
            seconds = option('sms_code_interval', 60)
            if row:
                seconds = max(1, int((row[0] - dt.datetime.now())
                        .total_seconds()) + 1)
            raise SmsCodeRateLimitError(gettext(
                    'community_portal.msg_sms_code_too_soon',
                    seconds=seconds))
        cursor.execute(*table.select(Count(Literal(1)),
                where=(table.mobile == mobile)
                & (table.create_date > now - dt.timedelta(days=1))))
        if cursor.fetchone()[0] >= option('sms_code_per_day', 10):
            raise SmsCodeRateLimitError(gettext(
                    'community_portal.msg_sms_code_per_day'))
        raise SmsCodeRateLimitError(gettext(
                'community_portal.msg_sms_code_per_client'))

    @classmethod
    def check(cls, mobile, purpose, code):
        """Use the code of ``purpose`` sent to ``mobile``; return the
        number in E.164.

        Raises SmsCodeError when there is no live code (none requested,
        used, expired, or its tries used up) or the code is wrong; a wrong
        code is counted in a transaction of its own (kept when the caller
        rolls back). The right code is marked used by a conditional update:
        a second use, even concurrent, is refused.
        """
        mobile = cls.e164(mobile)
        code = (code or '').strip()
        max_attempts = option('sms_code_attempts', 5)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, table.salt, table.code_hash,
                table.attempts, table.used_at,
                table.expires_at <= CurrentTimestamp(),
                where=(table.mobile == mobile) & (table.purpose == purpose),
                order_by=[table.create_date.desc, table.id.desc], limit=1))
        row = cursor.fetchone()
        if not row or row[4] or row[3] >= max_attempts:
            raise SmsCodeError(gettext(
                    'community_portal.msg_sms_code_invalid'))
        id_, salt, code_hash, attempts, _, expired = row
        if expired:
            raise SmsCodeError(gettext(
                    'community_portal.msg_sms_code_expired'))
        live = ((table.id == id_) & (table.used_at == Null)
            & (table.attempts < max_attempts)
            & (table.expires_at > CurrentTimestamp()))
        if hmac.compare_digest(
                cls._hash(salt, mobile, purpose, code), code_hash):
            cursor.execute(*table.update(
                    [table.used_at, table.attempts],
                    [CurrentTimestamp(), table.attempts + 1],
                    where=live))
            if cursor.rowcount != 1:
                raise SmsCodeError(gettext(
                        'community_portal.msg_sms_code_invalid'))
            return mobile
        with Transaction().new_transaction() as transaction:
            transaction.connection.cursor().execute(*table.update(
                    [table.attempts], [table.attempts + 1], where=live))
            transaction.commit()
        raise SmsCodeError(gettext('community_portal.msg_sms_code_wrong',
                remaining=max(max_attempts - attempts - 1, 0)))

    @classmethod
    def clean(cls):
        "Erase the codes older than a day (scheduled action)."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.create_date
                < CurrentTimestamp() - dt.timedelta(days=1)))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('community.portal.sms_code|clean', "Erase Old SMS Codes"))
