"""An existing database survives the update to the current code.

``tests/data/previous_main.sql.gz`` is a database created and filled by
an earlier main (which one: ``tests/data/previous_main.json``, "made";
how: ``tests/data/make_previous_main_dump.py``). The test restores it
into a fresh database, updates it with the current code as ``make demo``
does (``trytond-admin -u`` every module of addons/, zh_CN), checks that
the register, bills, payments, late fees, ledger, portal accounts and
device data are still there with their values, that a new bill run and a
counter payment still work, and that a resident of the old database still
logs in to the portal.
"""
import datetime as dt
import gzip
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / 'tests' / 'data'
sys.path.insert(0, str(ROOT / 'scripts'))
sys.path.insert(0, str(ROOT / 'tests'))
import devdb  # noqa: E402

DATABASE = 'test_upgrade'
BIN = pathlib.Path(sys.executable).parent
PASSWORD = 'Secret-pass-123'    # the portal fixture's password


def modules():
    "Every module of addons/, as ``make demo`` updates them."
    return sorted(p.name for p in (ROOT / 'addons').iterdir()
        if (p / 'tryton.cfg').exists())


def pg_bin(name):
    import pgserver
    return pathlib.Path(pgserver.__file__).parent / 'pginstall' / 'bin' / name


class UpgradedServer:
    "The restored and updated database, then trytond serving it."

    def __init__(self):
        self.fixture = json.loads(
            (DATA / 'previous_main.json').read_text())
        self.local = ROOT / '.local' / 'upgrade-test'
        self.uri = devdb.database_uri('pg-test')
        self.env = dict(os.environ, TRYTOND_DATABASE__URI=self.uri)
        self.env.setdefault('TRYTOND_EMAIL__FROM', 'noreply@example.com')
        self.proc = None
        self.port = None

    def execute(self, sql):
        import psycopg
        with psycopg.connect(devdb.dsn(self.uri), autocommit=True) as conn:
            conn.execute(sql)

    def restore(self):
        self.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)
        self.execute('CREATE DATABASE "%s" ENCODING \'UTF8\' '
            'TEMPLATE template0' % DATABASE)
        sql = gzip.decompress((DATA / 'previous_main.sql.gz').read_bytes())
        subprocess.run([str(pg_bin('psql')), '-X', '-q',
                '-v', 'ON_ERROR_STOP=1', '-d', devdb.dsn(self.uri, DATABASE)],
            input=sql, check=True, capture_output=True)

    def snapshot(self):
        """The records of the XML ids and the group memberships, read with
        SQL: {module.fs_id: db id}, {login: [module.fs_id of its
        groups]}."""
        import psycopg
        with psycopg.connect(devdb.dsn(self.uri, DATABASE)) as conn:
            records = {'%s.%s' % (m, f): i for m, f, i in conn.execute(
                    "SELECT module, fs_id, db_id FROM ir_model_data "
                    "WHERE module LIKE 'community_%%' "
                    "AND model IN ('res.group', 'ir.sequence.type', "
                    "'ir.ui.menu', 'ir.message', 'ir.action', "
                    "'ir.cron', 'ir.rule.group')")}
            members = {}
            for login, module, fs_id in conn.execute(
                    'SELECT u.login, d.module, d.fs_id '
                    'FROM "res_user-res_group" ug '
                    'JOIN res_user u ON u.id = ug."user" '
                    "JOIN ir_model_data d ON d.model = 'res.group' "
                    'AND d.db_id = ug."group" '
                    "WHERE d.module LIKE 'community_%%'"):
                members.setdefault(login, []).append(
                    '%s.%s' % (module, fs_id))
        return records, {k: sorted(v) for k, v in members.items()}

    def config(self):
        from portal_server import free_port
        self.port = free_port()
        (self.local / 'data').mkdir(parents=True, exist_ok=True)
        conf = self.local / 'trytond.conf'
        conf.write_text(
            '[database]\npath = %s\nlanguage = zh_CN\n'
            '[web]\nlisten = 127.0.0.1:%s\n'
            '[session]\nweb_timeout = 3600\n'
            '[community_portal]\nsecret = portal-test-secret\n'
            'sandbox = True\n' % (self.local / 'data', self.port))
        return conf

    def update(self, conf):
        "``trytond-admin -u`` as scripts/demo.py runs it on every start."
        return subprocess.run([str(BIN / 'trytond-admin'), '-c', str(conf),
                '-d', DATABASE, '-v', '--activate-dependencies',
                '-l', 'zh_CN', '-u', *modules()],
            env=self.env, capture_output=True, text=True)

    def check(self, conf):
        "Run ``check`` below in a process of its own; returns its JSON."
        out = subprocess.run([sys.executable, __file__, 'check', str(conf),
                DATABASE, self.fixture['made']['date']],
            env=self.env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-4000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    @property
    def url(self):
        return 'http://127.0.0.1:%s/%s/portal' % (self.port, DATABASE)

    def serve(self, conf):
        self.log = open(self.local / 'trytond.log', 'w')
        self.proc = subprocess.Popen([str(BIN / 'trytond'), '-c', str(conf),
                '-d', DATABASE], env=self.env, start_new_session=True,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + '/login', timeout=5)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                assert self.proc.poll() is None, "trytond exited"
                time.sleep(0.5)
        raise AssertionError("trytond did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        self.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)


@pytest.fixture(scope='module')
def upgraded():
    server = UpgradedServer()
    try:
        server.restore()
        server.before = server.snapshot()
        conf = server.config()
        server.updated = server.update(conf)
        assert server.updated.returncode == 0, (
            server.updated.stdout[-2000:] + server.updated.stderr[-4000:])
        server.after = server.snapshot()
        server.result = server.check(conf)
        server.serve(conf)
        yield server
    finally:
        server.stop()


def test_update_succeeds(upgraded):
    "trytond-admin -u of every module on the old database: all activated"
    assert upgraded.result['modules'] == {m: 'activated' for m in modules()}


def test_records_and_groups_survive_the_split(upgraded):
    """The records community_base created from the XML that moved to
    community_billing, community_service… are the same records (same
    ids) under their new module; the users keep their groups."""
    (before, members_before), (after, members_after) = (
        upgraded.before, upgraded.after)
    moved = {
        'community_billing.group_community_cashier',
        'community_billing.sequence_type_receipt',
        'community_billing.menu_billing',
        'community_billing.msg_bill_locked',
        'community_service.menu_service_request_form',
        'community_service.msg_service_request_claimed',
        'community_announcement.menu_announcement_form',
        }
    for name in moved:
        old = 'community_base.' + name.split('.', 1)[1]
        assert old in before and old not in after, name
        assert after[name] == before[old], name
    # the shared groups stay in community_base with their members
    assert 'community_base.group_community_staff' in members_after['tech_jz']
    assert 'community_base.group_community_staff' in members_after['tech_bj']
    renamed = {login: sorted(
            g.replace('community_base.group_community_cashier',
                'community_billing.group_community_cashier')
            for g in groups)
        for login, groups in members_before.items()}
    assert members_after == renamed
    assert 'community_billing.group_community_cashier' in (
        members_after['admin'])


def test_register_survives(upgraded):
    "Compounds, units, residencies, binding codes, requests, staff"
    result = upgraded.result
    assert result['compounds'] == [['BJHY', "滨江花园"], ['JZHY', "嘉州花园"]]
    assert result['units'] == [
        ['3-2-1201', 'JZHY', '3'], ['3-2-1202', 'JZHY', '3'],
        ['9-1-101', 'BJHY', '9']]
    assert result['residencies'] == [
        ['3-2-1201', "李强", 'owner', '40.00'],
        ['3-2-1201', "王芳", 'owner', '60.00'],
        ['3-2-1202', "孙丽", 'tenant', None],
        ['3-2-1202', "赵磊", 'owner', '100.00'],
        ['9-1-101', "周敏", 'owner', '100.00']]
    # masked for the admin (no reveal group); the clear number is stored
    mobile = result['mobiles']["王芳"]
    assert mobile.startswith('138') and mobile.endswith('8001')
    assert '*' in mobile
    assert [m.replace(' ', '') for m in result['clear_mobiles']] == [
        '+8613800138001', '+8613800138002', '+8613800138003',
        '+8613800138004', '+8613800138005']
    assert sorted(result['codes']) == sorted(
        upgraded.fixture['codes'].values())
    assert result['requests'] == sorted(
        upgraded.fixture['requests'].values())
    assert result['staff'] == {'tech_bj': ['BJHY'], 'tech_jz': ['JZHY']}
    assert result['accounts'] == sorted(
        upgraded.fixture['accounts'].values())


def test_billing_survives(upgraded):
    "Bills, payments, receipts, late fees, meters and the ledger"
    result = upgraded.result
    # before the new bill run of test_new_bill_run_and_payment
    assert result['bills'] == {
        '3-2-1201': ['posted', '120.00', '120.00'],
        '3-2-1202': ['posted', '120.00', '0.00'],
        '9-1-101': ['posted', '120.00', '120.00']}
    assert result['payments'] == [
        ['JZHY-2026-000001', '3-2-1202', '120.00', 'posted', '0.00'],
        ['JZHY-2026-000002', '3-2-1201', '300.00', 'posted', '300.00']]
    assert result['late_fees'] == [['9-1-101', '0.60', 10, '0.60']]
    assert result['meters'] == [
        ['W-101', '120.00'], ['W-1201', '100.00'], ['W-1202', '110.00']]
    ledger = result['ledger']
    assert ledger['debit'] == ledger['credit'] == '780.60'
    assert ledger['balances']['6001.01'] == '-360.60'
    # receivable: three bills of 120.00 and 0.60 of late fee, 120.00 paid
    assert ledger['balances']['1122'] == '240.60'
    # cash: the payment and the prepayment
    assert ledger['balances']['1001'] == '420.00'
    assert ledger['balances']['2203'] == '-300.00'


def test_iot_survives(upgraded):
    "Devices, their messages and events"
    iot = upgraded.result['iot']
    assert iot['devices'] == [
        ['3/2/1201/door', 'zigbee2mqtt', '3-2-1201'],
        ['lobby_plug', 'tasmota', None]]
    assert iot['events'] == {
        '3/2/1201/door': ['door_closed', 'door_opened', 'door_closed'],
        'lobby_plug': ['power', 'energy']}
    assert iot['messages'] == 5


def test_new_bill_run_and_payment(upgraded):
    "The next month's bill run and a counter payment on the old data"
    new = upgraded.result['new']
    made = dt.date.fromisoformat(upgraded.fixture['made']['date'])
    start = (made.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    # the run applies 王芳's prepayment (300.00) to the bills of 3-2-1201
    # that have started by today: the old one, and the new one once its
    # month has begun (the fixture's next month, today or later)
    today = dt.datetime.now(ZoneInfo('Asia/Shanghai')).date()
    assert new['bills'] == {
        '3-2-1201': ['posted', '120.00',
            '0.00' if start <= today else '120.00'],
        '3-2-1202': ['posted', '120.00', '120.00']}
    assert new['old_bills'] == {
        '3-2-1201': ['posted', '0.00'], '3-2-1202': ['posted', '0.00'],
        '9-1-101': ['posted', '0.00']}
    # 9-1-101's bill at the counter: 滨江花园's first receipt
    assert new['payment'] == ['BJHY-2026-000001', 'posted', '120.00', '0.00']
    assert new['ledger_balanced'] is True


def test_resident_logs_in_to_portal(upgraded):
    "Portal accounts of the old database log in and see their bills"
    from portal_client import PortalClient
    accounts = upgraded.fixture['accounts']
    # 赵磊, owner of 3-2-1202: the new bill run's 120.00 is due
    zhao = PortalClient(upgraded.url)
    zhao.login(accounts['zhao'], PASSWORD)
    page = zhao.get('/bills')
    assert page.status == 200
    assert '3-2-1202' in page.text and '¥120.00' in page.text
    # 周敏 paid 9-1-101's bill at the counter (check): nothing is due
    zhou = PortalClient(upgraded.url)
    zhou.login(accounts['zhou'], PASSWORD)
    page = zhou.get('/bills')
    assert page.status == 200
    assert '¥120.00' not in page.text and '3-2-1202' not in page.text


def check(conf, database, made):
    """In the updated database (proteus): print as JSON what the tests
    assert, then run the month after the fixture's month and pay a bill
    at the counter."""
    from proteus import Model
    from proteus import config as pconfig
    cfg = pconfig.set_trytond(database=database, config_file=conf)
    made = dt.date.fromisoformat(made)

    result = {}
    Module = Model.get('ir.module')
    result['modules'] = {m.name: m.state for m in Module.find(
            [('name', 'in', modules())])}
    Company = Model.get('company.company')
    company, = Company.find([])
    with cfg.set_context(company=company.id):
        Compound = Model.get('community.compound')
        Unit = Model.get('community.unit')
        Residency = Model.get('community.residency')
        Party = Model.get('party.party')
        result['compounds'] = sorted(
            [c.code, c.name] for c in Compound.find([]))
        result['units'] = sorted([u.code, u.compound.code, u.building.code]
            for u in Unit.find([]))
        result['residencies'] = sorted(
            [r.unit.code, r.party.name, r.role, text(r.share)]
            for r in Residency.find([]))
        result['mobiles'] = {p.name: c.value for p in Party.find([])
            for c in p.contact_mechanisms if c.type == 'mobile'}
        result['clear_mobiles'] = clear_mobiles(database)
        result['codes'] = [c.code for c in Model.get(
                'community.portal.binding_code').find([])]
        result['requests'] = sorted(r.token for r in Model.get(
                'community.service.request').find([]))
        result['staff'] = {u.login: [c.code for c in u.compounds]
            for u in Model.get('res.user').find(
                [('login', 'in', ['tech_jz', 'tech_bj'])])}
        # only the mobile: nobody reads the tokens of web.user
        result['accounts'] = sorted(r['mobile']
            for r in Model.get('web.user')._proxy.search_read(
                [], 0, None, None, ['mobile'], {}))

        Bill = Model.get('community.bill')
        result['bills'] = {b.unit.code: [b.state, text(b.total_amount),
                text(b.amount_to_pay)] for b in Bill.find([])}
        Payment = Model.get('community.payment')
        result['payments'] = sorted([p.receipt_number or '', p.unit.code,
                text(p.amount), p.state, text(p.prepayment_amount)]
            for p in Payment.find([]))
        result['late_fees'] = [[f.unit.code, text(f.amount), f.days,
                text(f.amount_to_pay)]
            for f in Model.get('community.late_fee').find([])]
        result['meters'] = sorted([m.number, text(r.value)]
            for m in Model.get('community.meter').find([])
            for r in Model.get('community.meter.reading').find(
                [('meter', '=', m.id)]))
        result['ledger'] = ledger(Model)
        result['iot'] = iot(Model)
        result['new'] = new_run_and_payment(Model, company, made)
    print(json.dumps(result))


def text(value):
    "Numbers with two decimals (a stored 40 and 40.00 are equal)"
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal('0.01')))


def clear_mobiles(database):
    "The mobile numbers as stored (SQL, past the masking)."
    import psycopg
    uri = os.environ['TRYTOND_DATABASE__URI']
    with psycopg.connect(devdb.dsn(uri, database)) as conn:
        return sorted(r[0] for r in conn.execute(
                "SELECT value FROM party_contact_mechanism "
                "WHERE type = 'mobile'"))


def ledger(Model):
    "Total debit and credit of posted moves, balance per account code."
    Line = Model.get('account.move.line')
    debit = credit = Decimal(0)
    balances = {}
    for line in Line.find([('move.state', '=', 'posted')]):
        debit += line.debit
        credit += line.credit
        code = line.account.code
        balances[code] = balances.get(code, Decimal(0)) + (
            line.debit - line.credit)
    return {'debit': str(debit), 'credit': str(credit),
        'balances': {k: str(v) for k, v in balances.items()}}


def iot(Model):
    try:
        Device = Model.get('community.iot.device')
    except Exception:
        return {}
    Event = Model.get('community.iot.event')
    devices = Device.find([], order=[('key', 'ASC')])
    return {
        'devices': [[d.key, d.family, d.unit.code if d.unit else None]
            for d in devices],
        'events': {d.key: [e.kind for e in Event.find(
                        [('device', '=', d.id)], order=[('id', 'ASC')])]
            for d in devices},
        'messages': len(Model.get('community.iot.message').find([])),
        }


def new_run_and_payment(Model, company, made):
    """The bill run of the month after the fixture's month in 嘉州花园
    (a fiscal year created when missing; the bill run applies 3-2-1201's
    prepayment), then 9-1-101's old bill paid at the counter on the
    fixture's date."""
    from trytond.modules.account.tests.tools import create_fiscalyear
    start = (made.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(
        days=1)
    FiscalYear = Model.get('account.fiscalyear')
    if not FiscalYear.find([('start_date', '<=', start),
                ('end_date', '>=', end)]):
        create_fiscalyear(company, (dt.date(start.year, 1, 1),
                dt.date(start.year, 12, 31))).click('create_period')
    Compound = Model.get('community.compound')
    jz, = Compound.find([('code', '=', 'JZHY')])
    BillRun = Model.get('community.bill.run')
    run = BillRun(compound=jz, period_start=start, period_end=end)
    run.click('process')
    Bill = Model.get('community.bill')
    bills = Bill.find([('period_start', '=', start)])
    Unit = Model.get('community.unit')
    Payment = Model.get('community.payment')
    unit, = Unit.find([('code', '=', '9-1-101')])
    bill, = Bill.find([('unit', '=', unit.id)])
    party, = [r.party for r in unit.residencies]
    payment = Payment(compound=unit.compound, unit=unit, party=party,
        date=made, method='cash', amount=bill.amount_to_pay)
    payment.lines.new(bill=bill, amount=bill.amount_to_pay)
    payment.click('post')
    bill.reload()
    balanced = ledger(Model)
    return {
        'bills': {b.unit.code: [b.state, text(b.total_amount),
                text(b.amount_to_pay)] for b in bills},
        'old_bills': {b.unit.code: [b.state, text(b.amount_to_pay)]
            for b in Bill.find([('period_end', '<', start)])},
        'payment': [payment.receipt_number, payment.state,
            text(payment.amount), text(bill.amount_to_pay)],
        'ledger_balanced': balanced['debit'] == balanced['credit'],
        }


if __name__ == '__main__':
    if sys.argv[1] == 'check':
        check(sys.argv[2], sys.argv[3], sys.argv[4])
