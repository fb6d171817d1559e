# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Fixtures of community_portal's scenarios: what the sign-up and reset
pages do, from a client address, each run with community_notification's
``in_transaction`` (committed, as the page's transaction)."""
import datetime as dt

from trytond.pool import Pool
from trytond.transaction import Transaction


def _from(address):
    return Transaction().set_context(_request={'remote_addr': address})


def request_code(mobile, purpose='signup', address='127.0.0.1'):
    "Ask for a code as the page does from ``address``."
    SmsCode = Pool().get('community.portal.sms_code')
    with _from(address):
        return SmsCode.request(mobile, purpose)


def sign_up(mobile, code, password, address='127.0.0.1'):
    "Sign up as the page does; return the account's mobile."
    WebUser = Pool().get('web.user')
    with _from(address):
        return WebUser.sign_up_by_code(mobile, code, password).mobile


def reset_password(mobile, code, password, address='127.0.0.1'):
    WebUser = Pool().get('web.user')
    with _from(address):
        return WebUser.reset_password_by_code(mobile, code, password).mobile


def login(mobile, password):
    "Whether ``password`` opens the account of ``mobile``."
    WebUser = Pool().get('web.user')
    return bool(WebUser.authenticate(mobile, password))


def pass_time(minutes):
    "Make the codes ``minutes`` older (their interval and expiry pass)."
    SmsCode = Pool().get('community.portal.sms_code')
    table = SmsCode.__table__()
    delta = dt.timedelta(minutes=minutes)
    cursor = Transaction().connection.cursor()
    # the oldest first: the intervals of a number never overlap meanwhile
    # (its exclusion constraint is checked row by row)
    cursor.execute(*table.select(table.id,
            order_by=[table.create_date.asc, table.id.asc]))
    for id_, in cursor.fetchall():
        cursor.execute(*table.update(
                [table.create_date, table.resend_after, table.expires_at],
                [table.create_date - delta, table.resend_after - delta,
                    table.expires_at - delta],
                where=table.id == id_))


def stored_codes():
    "[(mobile, purpose, attempts, used, hash length)] of the stored codes."
    SmsCode = Pool().get('community.portal.sms_code')
    return [(c.mobile, c.purpose, c.attempts, bool(c.used_at),
            len(c.code_hash))
        for c in SmsCode.search([], order=[('id', 'ASC')])]
