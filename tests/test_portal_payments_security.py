"""Portal payments against forged and concurrent confirmations, malformed
amounts and writing GETs, over HTTP against the running trytond of
portal_server.py (sandbox enabled) and, for the tests of a production
configuration, a second trytond on the same database with the sandbox off
and no payment provider.

The resident is 李强 (co-owner of 3-2-1201): his payments are prepayments
(nothing the other tests assert on changes); 孙丽's and 赵磊's bills stay
open."""
import concurrent.futures
import hashlib
import hmac
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from portal_client import PortalClient
from portal_server import PASSWORD, PortalServer, free_port, wait_ready

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
import devdb  # noqa: E402

UNAVAILABLE = "暂不支持在线支付"


def resident(server, key):
    client = PortalClient(server.url)
    client.login(server.data['accounts'][key], PASSWORD)
    return client


def database_name(server):
    return server.url.rstrip('/').rsplit('/', 2)[-2]


def query(server, sql, params=()):
    "Rows of ``sql`` run on the portal's database (psycopg, autocommit)."
    import psycopg
    uri = devdb.database_uri('pg-test')
    with psycopg.connect(devdb.dsn(uri, database_name(server)),
            autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def payment_row(server, token):
    "(state, provider, settlement) of the portal payment ``token``."
    rows = query(server, 'SELECT state, provider, settlement '
        'FROM community_portal_payment WHERE token = %s', (token,))
    return rows[0] if rows else None


def counter_payments(server, reference):
    return query(server, 'SELECT id, state FROM community_payment '
        'WHERE reference = %s', (reference,))


def sandbox_key(server):
    """The installation's sandbox key as stored in the database (the
    table of the portal configuration; before it existed, the key derived
    from the database name, so that this test ran before the fix too)."""
    exists = query(server, "SELECT to_regclass("
        "'community_portal_configuration') IS NOT NULL")[0][0]
    if exists:
        return query(server, 'SELECT sandbox_secret '
            'FROM community_portal_configuration')[0][0]
    return 'sandbox-' + database_name(server)


def notification(token, amount, key):
    body = json.dumps({'out_trade_no': token, 'amount': amount,
            'transaction_id': 'SANDBOX-' + token[:12].upper()},
        sort_keys=True).encode()
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return body, {'X-Sandbox-Signature': signature}


def post_callback(server, provider, body, headers):
    "POST a provider notification; (status, text)."
    base = server.url.rsplit('/portal', 1)[0]
    request = urllib.request.Request(
        base + '/portal/payment/callback/' + provider, data=body,
        headers=headers, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def unit_ref(client):
    page = client.get('/prepay')
    assert page.status == 200, page.text
    match = re.search(r'<option value="([0-9]+\.[0-9a-f]+)"', page.text)
    return match.group(1) if match else None


def start_prepayment(server, client, amount):
    "A pending prepayment of ``client``'s unit; its token."
    started = client.post('/prepay', {
            'unit': unit_ref(client), 'amount': amount})
    assert started.status == 303, started.text
    token = started.location.rsplit('/', 1)[1]
    assert payment_row(server, token)[0] == 'pending'
    return token


class SecondServer:
    """Another trytond on the fixture's database with its own
    ``[community_portal]`` section."""

    def __init__(self, main, portal_conf):
        self.database = database_name(main)
        self.helper = PortalServer(self.database)  # its paths and env
        self.portal_conf = portal_conf
        self.data = main.data
        self.proc = None

    def start(self):
        local = self.helper.local
        env = dict(self.helper.env(), TRYTOND_LOGGING_LEVEL='30')
        for _ in range(5):
            self.port = free_port()
            conf = local / ('trytond-%s.conf' % self.port)
            conf.write_text(
                '[database]\npath = %s\nlanguage = zh_CN\n'
                '[web]\nlisten = 127.0.0.1:%s\n'
                '[session]\nweb_timeout = 3600\nmax_attempt = 2\n'
                '[community_portal]\nsecret = portal-test-secret\n%s'
                % (local / 'data', self.port, self.portal_conf))
            self.log = open(local / ('trytond-%s.log' % self.port), 'w')
            self.proc = subprocess.Popen(
                [str(pathlib.Path(sys.executable).parent / 'trytond'),
                    '-c', str(conf), '-d', self.database],
                env=env, start_new_session=True, stdout=self.log,
                stderr=subprocess.STDOUT)
            if wait_ready(self.proc, self.port, self.url + '/login'):
                return self
            self.log.close()
        raise RuntimeError("trytond exited")

    @property
    def url(self):
        return 'http://127.0.0.1:%s/%s/portal' % (self.port, self.database)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope='module')
def production(portal_server):
    "The portal as configured in production: no sandbox, no provider."
    if not portal_server.data.get('bills'):
        pytest.skip("no billing models")
    server = SecondServer(portal_server, 'sandbox = False\n').start()
    try:
        yield server
    finally:
        server.stop()


def test_sandbox_routes_are_404_when_disabled(portal_server, production):
    "With the sandbox off, its wallet and its callback do not exist"
    li = resident(portal_server, 'li')
    token = start_prepayment(portal_server, li, '1.00')
    body, headers = notification(token, '1.00', sandbox_key(portal_server))
    assert PortalClient(production.url).get(
        '/sandbox/%s' % token).status == 404
    status, _ = post_callback(production, 'sandbox', body, headers)
    assert status == 404
    assert payment_row(portal_server, token)[0] == 'pending'
    assert counter_payments(
        portal_server, 'SANDBOX-' + token[:12].upper()) == []


def test_no_online_payment_without_provider(portal_server, production):
    "Without a provider, paying says so and creates no payment"
    count = query(portal_server,
        'SELECT count(*) FROM community_portal_payment')[0][0]
    li = resident(production, 'li')
    page = li.get('/prepay')
    assert page.status == 200 and UNAVAILABLE in page.text
    assert 'name="amount"' not in page.text
    refused = li.post('/prepay', {
            'unit': unit_ref(resident(portal_server, 'li')),
            'amount': '5.00'})
    assert refused.status == 409 and UNAVAILABLE in refused.text
    # 赵磊's bill stays open in the other tests
    zhao = resident(production, 'zhao')
    listing = zhao.get('/bills').text
    assert '¥120.00' in listing and UNAVAILABLE in listing
    assert '缴清全部' not in listing
    bill_ref = re.findall(r'/bills/([0-9]+\.[0-9a-f]+)"', listing)[0]
    detail = zhao.get('/bills/%s' % bill_ref).text
    assert UNAVAILABLE in detail and '立即缴费' not in detail
    pay = zhao.post('/bills/%s/pay' % bill_ref)
    assert pay.status == 409 and UNAVAILABLE in pay.text
    unit_ref_ = re.search(r'/units/([0-9]+\.[0-9a-f]+)/pay"', resident(
            portal_server, 'zhao').get('/bills').text).group(1)
    pay_all = zhao.post('/units/%s/pay' % unit_ref_)
    assert pay_all.status == 409 and UNAVAILABLE in pay_all.text
    tech = PortalClient(production.url)
    tech.staff_login('tech_jz', PASSWORD)
    cashier = tech.get('/staff/cashier?unit=3-2-1202')
    assert cashier.status == 200 and UNAVAILABLE in cashier.text
    assert query(portal_server,
        'SELECT count(*) FROM community_portal_payment')[0][0] == count


def test_sandbox_key_is_not_derived_from_the_database_name(portal_server):
    "A confirmation signed with a key anyone can guess is refused"
    li = resident(portal_server, 'li')
    token = start_prepayment(portal_server, li, '2.00')
    guessed = 'sandbox-' + database_name(portal_server)
    assert sandbox_key(portal_server) != guessed
    for key in [guessed, 'portal-test-secret', '']:
        body, headers = notification(token, '2.00', key)
        status, text = post_callback(portal_server, 'sandbox', body, headers)
        assert (status, text) == (400, 'FAIL'), key
    assert payment_row(portal_server, token)[0] == 'pending'
    assert counter_payments(
        portal_server, 'SANDBOX-' + token[:12].upper()) == []
    assert '支付成功' not in li.get('/payments/%s' % token).text


def test_sandbox_key_is_random_and_stored(portal_server):
    "The key is 256 random bits stored once in the database"
    key = sandbox_key(portal_server)
    assert re.fullmatch(r'[0-9a-f]{64}', key)
    assert query(portal_server,
        'SELECT count(*) FROM community_portal_configuration')[0][0] == 1


def test_confirmation_of_another_provider_is_refused(portal_server):
    "A valid sandbox signature for a payment of another provider is refused"
    li = resident(portal_server, 'li')
    token = start_prepayment(portal_server, li, '3.00')
    query(portal_server, "UPDATE community_portal_payment "
        "SET provider = 'wechat' WHERE token = %s", (token,))
    try:
        body, headers = notification(token, '3.00', sandbox_key(portal_server))
        status, _ = post_callback(portal_server, 'sandbox', body, headers)
        assert status == 400
        assert payment_row(portal_server, token)[0] == 'pending'
        # an unknown provider does not exist
        status, _ = post_callback(portal_server, 'wechat', body, headers)
        assert status == 404
        assert payment_row(portal_server, token)[0] == 'pending'
    finally:
        query(portal_server, "UPDATE community_portal_payment "
            "SET state = 'failed' WHERE token = %s", (token,))


def test_concurrent_confirmations_post_once(portal_server):
    """Five identical notifications at once (three payments in a row): no
    server error, each posted once"""
    li = resident(portal_server, 'li')
    for amount in ['4.00', '4.01', '4.02']:
        token = start_prepayment(portal_server, li, amount)
        body, headers = notification(
            token, amount, sandbox_key(portal_server))
        barrier = threading.Barrier(5)

        def confirm(_, barrier=barrier, body=body, headers=headers):
            barrier.wait()
            return post_callback(portal_server, 'sandbox', body, headers)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            results = list(pool.map(confirm, range(5)))
        statuses = sorted(status for status, _ in results)
        assert all(s in {200, 409} for s in statuses), results
        assert statuses[0] == 200, results
        assert all(text == 'SUCCESS' for s, text in results if s == 200)
        state, _, settlement = payment_row(portal_server, token)
        assert state == 'paid'
        counters = counter_payments(
            portal_server, 'SANDBOX-' + token[:12].upper())
        assert len(counters) == 1 and counters[0][1] == 'posted'
        assert settlement == 'community.payment,%s' % counters[0][0]
        (paid,), = query(portal_server, 'SELECT amount '
            'FROM community_payment WHERE id = %s', (counters[0][0],))
        assert Decimal(paid) == Decimal(amount)
        # and again, later: answered as done, nothing more posted
        assert post_callback(portal_server, 'sandbox', body, headers) == (
            200, 'SUCCESS')
        assert len(counter_payments(
                    portal_server, 'SANDBOX-' + token[:12].upper())) == 1


@pytest.mark.parametrize('amount', [
        'NaN', '-NaN', 'sNaN', 'Infinity', '-Infinity', '1e999', '1E+999',
        'abc', '-5', '0', '', '12.3.4', '1e-999'])
def test_malformed_prepayment_amount_is_400(portal_server, amount):
    "A malformed amount is refused with 400 and creates nothing"
    li = resident(portal_server, 'li')
    count = query(portal_server,
        'SELECT count(*) FROM community_portal_payment')[0][0]
    response = li.post('/prepay', {'unit': unit_ref(li), 'amount': amount})
    assert response.status == 400, (amount, response.status)
    assert '请输入0.01至100000之间的金额' in response.text
    assert query(portal_server,
        'SELECT count(*) FROM community_portal_payment')[0][0] == count


@pytest.mark.parametrize('field,value', [
        ('value', 'NaN'), ('value', 'Infinity'), ('value', '1e999'),
        ('value', '-1'), ('value', 'abc'), ('start_value', '1e999'),
        ('start_value', 'sNaN')])
def test_malformed_meter_reading_is_400(portal_server, field, value):
    "A malformed reading is refused with 400 and saves nothing"
    if not portal_server.data.get('meters'):
        pytest.skip("no meter models")
    tech = PortalClient(portal_server.url)
    tech.staff_login('tech_bj', PASSWORD)
    listing = tech.get('/staff/meters').text
    ref = re.search(r'/staff/meters/([0-9]+\.[0-9a-f]+)">[^<]*9栋<',
        listing).group(1)
    walk = tech.get('/staff/meters/%s' % ref).text
    bref, mref = re.search(
        r'action="[^"]*/staff/meters/([^/"]+)/([^/"]+)"', walk).groups()
    readings = query(portal_server,
        'SELECT count(*) FROM community_meter_reading')[0][0]
    form = {'value': '150', 'reason': 'replacement'}
    form[field] = value
    response = tech.post('/staff/meters/%s/%s' % (bref, mref), form)
    assert response.status == 400, (field, value, response.status)
    assert '请输入有效的读数' in response.text
    assert query(portal_server,
        'SELECT count(*) FROM community_meter_reading')[0][0] == readings


def test_cashier_get_does_not_write(portal_server):
    "Looking a unit up creates nothing; its QR code is made by a POST"
    if not portal_server.data.get('bills'):
        pytest.skip("no billing models")
    tech = PortalClient(portal_server.url)
    tech.staff_login('tech_jz', PASSWORD)

    def pending():
        return query(portal_server, "SELECT count(*) "
            "FROM community_portal_payment p JOIN community_unit u "
            "ON u.id = p.unit WHERE u.code = '3-2-1202' "
            "AND p.state = 'pending'")[0][0]
    # another test (the cashier lookup of test_portal_security) may have
    # left a pending payment of this unit: fail it, as an expired QR code
    query(portal_server, "UPDATE community_portal_payment SET state = "
        "'failed' WHERE state = 'pending' AND unit IN (SELECT id FROM "
        "community_unit WHERE code = '3-2-1202')")
    before = pending()
    assert before == 0
    page = tech.get('/staff/cashier?unit=3-2-1202')
    assert page.status == 200 and '¥120.00' in page.text
    assert pending() == before
    if before == 0:
        assert '<svg' not in page.text
    match = re.search(r'<form method="post" [^>]*action="([^"]*/staff/'
        r'cashier)"', page.text)
    assert match, page.text
    bill = re.search(r'name="bill" value="([0-9]+\.[0-9a-f]+)"', page.text)
    assert bill
    # no CSRF token: refused, nothing created
    refused = tech.post('/staff/cashier', {
            'unit': '3-2-1202', 'bill': bill.group(1)}, csrf=False)
    assert refused.status == 403 and pending() == before
    created = tech.post('/staff/cashier', {
            'unit': '3-2-1202', 'bill': bill.group(1)})
    assert created.status == 303
    assert pending() == max(before, 1)
    shown = tech.get(created.location)
    assert '<svg' in shown.text and '¥120.00' in shown.text
    # again: the same pending payment, not a second one
    tech.post('/staff/cashier', {'unit': '3-2-1202', 'bill': bill.group(1)})
    assert pending() == max(before, 1)
    # a bill of another compound is not found
    other = PortalClient(portal_server.url)
    other.staff_login('tech_bj', PASSWORD)
    other.get('/staff/cashier')
    assert other.post('/staff/cashier', {
            'unit': '3-2-1202', 'bill': bill.group(1)}).status == 404
    assert pending() == max(before, 1)
