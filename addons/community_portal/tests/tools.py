# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Fixtures of community_portal's tests: what the sign-up and reset pages
do, from a client address, each run with community_notification's
``in_transaction`` (committed, as the page's transaction) in the
scenarios; residents with portal accounts and what the route tests do on
the portal's pages (``PortalPages``)."""
import datetime as dt
import re
from decimal import Decimal

from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

ZH = {'Accept-Language': 'zh-CN,zh;q=0.9'}
EN = {'Accept-Language': 'en-US,en;q=0.9'}


def create_residents(building, residents, password,
        start_date=dt.date(2020, 1, 1)):
    """One unit of ``building`` per resident, the resident its owner and a
    portal account with ``password``; ``residents``: (unit code, name,
    mobile). Return (units, parties)."""
    pool = Pool()
    Unit = pool.get('community.unit')
    Party = pool.get('party.party')
    Residency = pool.get('community.residency')
    WebUser = pool.get('web.user')
    units = Unit.create([{'building': building.id, 'code': code}
            for code, _, _ in residents])
    parties = Party.create([{'name': name} for _, name, _ in residents])
    Residency.create([{
                'unit': u.id, 'party': p.id, 'role': 'owner',
                'share': Decimal(100), 'start_date': start_date}
            for u, p in zip(units, parties)])
    WebUser.create([{'mobile': mobile, 'party': p.id, 'password': password}
            for (_, _, mobile), p in zip(residents, parties)])
    return units, parties


class PortalPages:
    """What the route tests (RouteTestCase) do on the portal's pages: its
    paths, the CSRF token of a form, logging a resident or a staff user in
    with the test case's ``password``."""
    password = None

    def url(self, path):
        return '/%s/portal%s' % (DB_NAME, path)

    def csrf(self, response):
        return re.search(r'name="csrf" value="([0-9a-f]+)"',
            response.get_data(as_text=True)).group(1)

    def login(self, mobile, client=None):
        "A client logged in as the resident of ``mobile``."
        client = client or self.client()
        page = client.get(self.url('/login'), headers=ZH)
        response = client.post(self.url('/login'), data={
                'login': mobile, 'password': self.password,
                'csrf': self.csrf(page)})
        self.assertEqual(response.status_code, 303)
        return client

    def staff_login(self, login):
        "A client logged in on the staff pages as user ``login``."
        client = self.client()
        page = client.get(self.url('/staff/login'))
        response = client.post(self.url('/staff/login'), data={
                'login': login, 'password': self.password,
                'csrf': self.csrf(page)})
        self.assertEqual(response.status_code, 303)
        return client


def catalogue_gaps(module):
    """(messages, untranslated) of the portal texts of the module at path
    ``module``: every msgid of its templates and routes, and those without
    a zh_CN translation in its portal/locale/zh_CN.po, sorted."""
    from babel.messages.pofile import read_po

    from trytond.modules.community_portal.portal import i18n
    with open(module / 'portal' / 'locale' / 'zh_CN.po', 'rb') as fp:
        translated = {m.id for m in read_po(fp, locale='zh_CN')
            if m.id and m.string and not m.fuzzy}
    messages = i18n.extract(module)
    return messages, sorted(set(messages) - translated)


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
