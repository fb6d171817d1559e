"""A trytond server with a prepared portal database, for the top-level
portal tests (security, browser) and the portal benchmark.

``PortalServer().start()``: creates database ``test_portal`` on the
PostgreSQL of TRYTOND_DATABASE__URI (or the project-local one), activates
the portal's modules (PORTAL_MODULES), loads the fixture of
``prepare_data`` through proteus, starts ``trytond`` on a free port in
8200-8299 and waits for it.
``stop()`` ends the server's process group.
"""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
# the portal shows bills, payments, service requests and announcements
# (community_portal: the portal itself, once it is a module of its own)
PORTAL_MODULES = [m for m in ['community_billing', 'community_service',
        'community_announcement', 'community_portal',
        # the visitor pages, the devices of the resident's home
        'community_visitor', 'community_iot', 'community_release',
        'community_access']
    if (ROOT / 'addons' / m / 'tryton.cfg').exists()]
#: the Tasmota plug in 3-2-1201 (its topics under the bridge's root)
HOME_PLUG = 'home_plug_1201'
sys.path.insert(0, str(ROOT / 'scripts'))
import devdb  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
ADMIN_PASSWORD = 'admin-portal-test'
PASSWORD = 'Secret-pass-123'


def free_port():
    for port in range(8200, 8300):
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8200-8299")


def listening(proc, port):
    """Whether ``proc`` or one of its children listens on ``port`` (and not
    another program that took the port meanwhile)."""
    import psutil
    try:
        parent = psutil.Process(proc.pid)
        for process in [parent] + parent.children(recursive=True):
            for conn in process.net_connections(kind='tcp'):
                if (conn.status == psutil.CONN_LISTEN
                        and conn.laddr.port == port):
                    return True
    except psutil.Error:
        pass
    return False


def wait_ready(proc, port, url, timeout=60):
    """Wait until ``proc`` listens on ``port`` and answers ``url``; False
    when it exited first (e.g. its port was in use)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if listening(proc, port):
            try:
                urllib.request.urlopen(url, timeout=5)
                return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
        time.sleep(0.2)
    raise RuntimeError("trytond did not answer")


class PortalServer:

    def __init__(self, database='test_portal', workers=0,
            notification=None, modules=None):
        self.database = database
        # the modules activated (PORTAL_MODULES by default)
        self.modules = modules or PORTAL_MODULES
        # the [community_notification] options: the providers' emulators
        self.notification = notification or {}
        # workers > 0: serve trytond's WSGI application with gunicorn (N
        # processes, threads each) instead of the threaded ``trytond``
        self.workers = workers
        self.local = ROOT / '.local' / ('portal-test'
            if database == 'test_portal' else database)
        self.proc = None
        self.port = None
        self.data = None

    @property
    def url(self):
        return 'http://127.0.0.1:%s/%s/portal' % (self.port, self.database)

    def env(self):
        uri = devdb.database_uri('pg-test')
        env = dict(os.environ, TRYTOND_DATABASE__URI=uri)
        env.setdefault('TRYTOND_EMAIL__FROM', 'noreply@example.com')
        return env

    def config(self):
        self.local.mkdir(parents=True, exist_ok=True)
        (self.local / 'data').mkdir(exist_ok=True)
        conf = self.local / 'trytond.conf'
        conf.write_text(
            '[database]\npath = %s\nlanguage = zh_CN\n'
            '[web]\nlisten = 127.0.0.1:%s\n'
            '[session]\nweb_timeout = 3600\nmax_attempt = 2\n'
            '[community_portal]\nsecret = portal-test-secret\n'
            'sandbox = True\nprovider = sandbox\nsms_code_per_client = 6\n'
            % (self.local / 'data', self.port)
            + ''.join('%s\n' % line for line in (
                    ['[community_notification]'] + [
                        '%s = %s' % item
                        for item in self.notification.items()]
                    if self.notification else [])))
        return conf

    def create_database(self, env):
        import psycopg
        uri = env['TRYTOND_DATABASE__URI']
        dsn = devdb.dsn(uri)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.database)
            conn.execute(
                'CREATE DATABASE "%s" ENCODING \'UTF8\'' % self.database)

    def start(self):
        self.port = free_port()
        env = self.env()
        conf = self.config()
        self.create_database(env)
        passfile = self.local / 'admin-password'
        passfile.write_text(ADMIN_PASSWORD + '\n')
        env['TRYTONPASSFILE'] = str(passfile)
        subprocess.run([str(BIN / 'trytond-admin'), '-c', str(conf),
                '-d', self.database, '--activate-dependencies',
                '-u', *self.modules, '-l', 'zh_CN',
                '--email', 'admin@example.com'],
            env=env, check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run([sys.executable, __file__, 'prepare',
                str(conf), self.database], env=env,
            capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError("fixture failed:\n" + out.stderr[-4000:])
        self.data = json.loads(out.stdout.strip().splitlines()[-1])
        self.after_prepare(conf, env)
        self.log = open(self.local / 'trytond.log', 'w')
        # the port may be taken between free_port and the server's bind
        # (other test runs on the machine): then another one
        for attempt in range(5):
            if attempt:
                self.port = free_port()
                conf = self.config()
            if self.workers:
                env['TRYTOND_CONFIG'] = str(conf)
                env['TRYTOND_DATABASE_NAMES'] = self.database
                command = [str(BIN / 'gunicorn'), '--workers',
                    str(self.workers), '--worker-class', 'gthread',
                    '--threads', '4', '--bind', '127.0.0.1:%s' % self.port,
                    'trytond.application:app']
            else:
                command = [str(BIN / 'trytond'), '-c', str(conf),
                    '-d', self.database]
            self.proc = subprocess.Popen(command, env=env,
                start_new_session=True, stdout=self.log,
                stderr=subprocess.STDOUT)
            if wait_ready(self.proc, self.port, self.url + '/login'):
                return self
        raise RuntimeError("trytond exited")

    def after_prepare(self, conf, env):
        "More fixture, before the server starts (for subclasses)."

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)


def prepare_data(conf, database):
    """Two compounds; units with owners (co-owners), a tenant; binding
    codes; staff users per compound; a service request per resident.
    Bills when the billing models exist. Prints the fixture as JSON."""
    import datetime as dt
    from decimal import Decimal

    from proteus import Model
    from proteus import config as pconfig
    cfg = pconfig.set_trytond(database=database, config_file=conf)
    from trytond.modules.company.tests.tools import create_company
    create_company()
    Company = Model.get('company.company')
    company, = Company.find([])
    Compound = Model.get('community.compound')
    Building = Model.get('community.building')
    Unit = Model.get('community.unit')
    Party = Model.get('party.party')
    Code = Model.get('community.portal.binding_code')
    WebUser = Model.get('web.user')
    Request = Model.get('community.service.request')
    User = Model.get('res.user')
    Group = Model.get('res.group')
    data = {'codes': {}, 'requests': {}, 'accounts': {}}
    start = dt.date(2020, 1, 1)

    jz = Compound(name="嘉州花园", code="JZHY")
    jz.save()
    bj = Compound(name="滨江花园", code="BJHY")
    bj.save()
    b3 = Building(compound=jz, code='3', name="3栋")
    b3.entrances.new(code='2')
    b3.save()
    b9 = Building(compound=bj, code='9', name="9栋")
    b9.save()
    u1 = Unit(building=b3, entrance=b3.entrances[0], code='3-2-1201')
    u1.save()
    u2 = Unit(building=b3, entrance=b3.entrances[0], code='3-2-1202')
    u2.save()
    u3 = Unit(building=b9, code='9-1-101')
    u3.save()

    def party(name, mobile):
        p = Party(name=name)
        p.contact_mechanisms.new(type='mobile', value='+86' + mobile)
        p.save()
        return p
    wang = party("王芳", '13800138001')   # owner of u1 (60 %)
    li = party("李强", '13800138002')     # co-owner of u1 (40 %)
    zhao = party("赵磊", '13800138003')   # owner of u2
    sun = party("孙丽", '13800138004')    # tenant of u2
    zhou = party("周敏", '13800138005')   # owner in the other compound
    for unit, members in [
            (u1, [(wang, 'owner', 60), (li, 'owner', 40)]),
            (u2, [(zhao, 'owner', 100), (sun, 'tenant', None)]),
            (u3, [(zhou, 'owner', 100)])]:
        for p, role, share in members:
            r = unit.residencies.new(party=p, role=role, start_date=start)
            if share:
                r.share = Decimal(share)
        unit.save()
    for key, unit, p in [('wang', u1, wang), ('li', u1, li),
            ('zhao', u2, zhao), ('sun', u2, sun), ('zhou', u3, zhou)]:
        code = Code(unit=unit, party=p)
        code.save()
        data['codes'][key] = code.code
    # Pre-bound accounts (bound as staff approval would do)
    for key, p, mobile in [('li', li, '13900139002'),
            ('zhao', zhao, '13900139003'), ('sun', sun, '13900139004'),
            ('zhou', zhou, '13900139005')]:
        account = WebUser(mobile=mobile, party=p)
        account.password = PASSWORD
        account.save()
        data['accounts'][key] = mobile
    unverified = WebUser(mobile='13900139009')
    unverified.password = PASSWORD
    unverified.save()
    data['accounts']['unverified'] = '13900139009'
    # Service requests
    for key, unit, p in [('zhao', u2, zhao), ('zhou', u3, zhou),
            ('li', u1, li)]:
        req = Request(unit=unit, requester=p, title="报修 %s" % key,
            channel='portal')
        req.save()
        data['requests'][key] = req.token
    # Staff: a technician per compound
    ModelData = Model.get('ir.model.data')
    staff_group = Group(ModelData.get_id(
            'community_base', 'group_community_staff', cfg.context))
    for login, compound in [('tech_jz', jz), ('tech_bj', bj)]:
        user = User(login=login, name=login)
        user.password = PASSWORD
        user.groups.append(Group(staff_group.id))
        user.compounds.append(Compound(compound.id))
        user.companies.append(Company(company.id))
        user.company = Company(company.id)
        user.save()
    # the property manager of 嘉州花园 (approves in the back office)
    manager_group = Group(ModelData.get_id(
            'community_base', 'group_community_manager', cfg.context))
    manager = User(login='manager_jz', name="嘉州物业经理")
    manager.password = PASSWORD
    manager.groups.append(Group(manager_group.id))
    manager.compounds.append(Compound(jz.id))
    manager.companies.append(Company(company.id))
    manager.company = Company(company.id)
    manager.save()
    data['portals'] = prepare_portals(Model, jz, bj, b3, b9)
    data['accounts']['qian'] = '13900139006'
    data['bench'] = prepare_bench(Model, b3,
        int(os.environ.get('PORTAL_BENCH_RESIDENTS') or 0))
    with cfg.set_context(language='en'):  # account tools find by name
        data['bills'] = prepare_bills(
            Model, [u1, u2, u3], Company(company.id))
        data['buildings'] = {'3': b3.id, '9': b9.id}
        data['meters'] = prepare_meters(Model, [u1, u2, u3])
    data['devices'] = prepare_devices(Model, jz, u1)
    print(json.dumps(data))


def prepare_devices(Model, compound, unit):
    """With community_iot: a Tasmota plug in the living room of 3-2-1201
    (the bridge's topic roots come from its configuration)."""
    try:
        Device = Model.get('community.iot.device')
    except Exception:
        return {}
    plug = Device(name="客厅插座", family='tasmota', key=HOME_PLUG,
        compound=compound, unit=unit)
    plug.capabilities = ['switch', 'power']
    plug.save()
    return {'plug': plug.id}


def prepare_portals(Model, jz, bj, b3, b9):
    """Each compound its own portal: 嘉州花园 red with bills, repairs and
    notices; 滨江花园 green with a logo, repairs first and no bills. 钱多
    owns a unit in each compound (the compound switcher)."""
    import datetime as dt
    import io
    from decimal import Decimal

    from PIL import Image
    Portal = Model.get('community.portal.compound')
    Unit = Model.get('community.unit')
    Party = Model.get('party.party')
    WebUser = Model.get('web.user')
    logo = io.BytesIO()
    image = Image.new('RGB', (64, 64), (255, 255, 255))
    image.paste((17, 122, 101), (12, 12, 52, 52))
    image.save(logo, 'PNG')
    result = {}
    for compound, name, colour, keys, notices, contacts, image in [
            (jz, "嘉州花园业主之家", '#C0392B',
                ['bills', 'requests', 'announcements']
                + [k for k, m in [('visitors', 'community_visitor'),
                        ('devices', 'community_iot'),
                        ('release', 'community_release'),
                        ('access', 'community_access')]
                    if m in PORTAL_MODULES] + ['profile'],
                "本周六 9:00-12:00 停水检修",
                "物业服务中心 0833-2100001", None),
            (bj, "滨江花园智慧社区", '#117A65',
                ['bills', 'requests', 'profile'],
                "电梯年检:12月5日",
                "滨江物业 0833-2200002\n保安室 0833-2200003",
                logo.getvalue()),
            ]:
        portal = Portal(compound=compound, portal_name=name,
            primary_colour=colour, notices=notices, contacts=contacts)
        if image:
            portal.logo = image
        for key in keys:
            portal.services.new(key=key)
        portal.save()
        result[compound.name] = {'id': portal.id, 'colour': colour,
            'name': name, 'services': keys}
    qian = Party(name="钱多")
    qian.save()
    for building, code in [(b3, '3-2-1301'), (b9, '9-1-102')]:
        unit = Unit(building=building, code=code)
        unit.residencies.new(party=qian, role='owner', share=Decimal(100),
            start_date=dt.date(2020, 1, 1))
        unit.save()
    account = WebUser(mobile='13900139006', party=qian)
    account.password = PASSWORD
    account.save()
    return result


def prepare_bench(Model, building, count):
    "Create ``count`` units each with an owner bound to a portal account."
    import datetime as dt
    from decimal import Decimal
    Unit = Model.get('community.unit')
    Party = Model.get('party.party')
    WebUser = Model.get('web.user')
    mobiles = []
    for i in range(count):
        party = Party(name="业主%03d" % i)
        party.save()
        unit = Unit(building=building, code='3-1-%04d' % (100 + i))
        unit.residencies.new(party=party, role='owner', share=Decimal(100),
            start_date=dt.date(2020, 1, 1))
        unit.save()
        mobile = '1390200%04d' % i
        account = WebUser(mobile=mobile, party=party)
        account.password = PASSWORD
        account.save()
        mobiles.append(mobile)
    return mobiles


def prepare_bills(Model, units, company):
    """When the billing models exist: a chart of accounts, this year's
    fiscal year, a fixed fee of 120.00 a month for residential units and
    the bills of the current month. Returns {unit code: bill id}."""
    import datetime as dt
    from decimal import Decimal

    from proteus import Wizard
    try:
        Bill = Model.get('community.bill')
    except Exception:
        return {}
    from trytond.modules.account.tests.tools import create_fiscalyear
    create_chart = Wizard('community.billing.create_chart')
    create_chart.form.company = company
    create_chart.execute('create_')
    today = dt.date.today()
    fiscalyear = create_fiscalyear(
        company, (dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)))
    fiscalyear.click('create_period')
    Account = Model.get('account.account')
    revenue, = Account.find([('code', '=', '6001.01')])
    FeeItem = Model.get('community.fee.item')
    BillRun = Model.get('community.bill.run')
    start = today.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(
        days=1)
    for compound in {u.compound.id: u.compound for u in units}.values():
        item = FeeItem(compound=compound, code='WYF', name="物业服务费")
        item.kind = 'fixed'
        item.sequence = 1
        item.account = revenue
        price = item.prices.new(effective_date=dt.date(2020, 1, 1))
        price.unit_price = Decimal('120.00')
        assignment = item.assignments.new(scope='unit_type')
        assignment.unit_type = 'residential'
        assignment.start_date = dt.date(2020, 1, 1)
        item.save()
        run = BillRun(compound=compound, period_start=start, period_end=end)
        run.click('process')
    # 滨江花园 charges late fees (0.05 % a day, no grace days): charged
    # ten days after the due date, 9-1-101's 120.00 owes 0.60 more
    bj = [u.compound for u in units if u.compound.code == 'BJHY'][0]
    Term = Model.get('community.late_fee.term')
    Term(compound=bj, grace_days=0, account=revenue).save()
    due = Bill.find([('compound', '=', bj.id)])[0].due_date
    date = due + dt.timedelta(days=10)
    if date.year != today.year:
        create_fiscalyear(company, (dt.date(date.year, 1, 1),
                dt.date(date.year, 12, 31))).click('create_period')
    charge = Wizard('community.late_fee.charge')
    charge.form.compound = bj
    charge.form.date = date
    charge.execute('charge')
    return {b.unit.code: b.id for b in Bill.find([])}


def prepare_meters(Model, units):
    """After the bill run (so that bills stay at 120.00): a metered water
    fee item per compound and a meter per unit ``W-<room>`` with a
    reading of 100.00 + 10 × its position forty days ago. Returns {meter
    number: meter id}."""
    import datetime as dt
    from decimal import Decimal
    try:
        Meter = Model.get('community.meter')
    except Exception:
        return {}
    Account = Model.get('account.account')
    FeeItem = Model.get('community.fee.item')
    Reading = Model.get('community.meter.reading')
    revenue, = Account.find([('code', '=', '6001.01')])
    items = {}
    result = {}
    for i, unit in enumerate(units):
        compound = unit.compound
        if compound.id not in items:
            item = FeeItem(compound=compound, code='SF', name="水费")
            item.kind = 'metered'
            item.sequence = 2
            item.account = revenue
            item.tiers.new(unit_price=Decimal('3.50'))
            item.save()
            items[compound.id] = item
        meter = Meter(compound=compound, unit=unit,
            fee_item=items[compound.id],
            number='W-' + unit.code.rsplit('-', 1)[-1], digits=5)
        meter.save()
        Reading(meter=meter, date=dt.date.today() - dt.timedelta(days=40),
            value=Decimal(100 + 10 * i)).save()
        result[meter.number] = meter.id
    return result


if __name__ == '__main__':
    if sys.argv[1] == 'prepare':
        prepare_data(sys.argv[2], sys.argv[3])
