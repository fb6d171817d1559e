"""Make the database dump of ``tests/test_upgrade.py``: a database
created and filled by an EARLIER commit of the project, which the test
restores and updates (``trytond-admin -u``) with the current code.

Regenerate it from a given commit (e.g. before a change of the modules'
structure, from the last main that has landed)::

    git worktree add /tmp/prevmain <commit>
    make -C /tmp/prevmain install
    /tmp/prevmain/.venv/bin/python tests/data/make_previous_main_dump.py \\
        /tmp/prevmain tests/data
    git worktree remove --force /tmp/prevmain

It must run with the checkout's own Python (its venv holds that code). In
that checkout it:

1. starts a throwaway PostgreSQL (pgserver, ``<checkout>/.local/pg-dump``;
   or TRYTOND_DATABASE__URI) and creates the database ``upgrade_fixture``;
2. activates every module of ``<checkout>/addons`` in zh_CN;
3. loads the checkout's own portal fixture (``tests/portal_server.py
   prepare``: two compounds, units, owners, co-owners and a tenant,
   binding codes, portal accounts, staff users, service requests, the
   chart of accounts, a month's bill run, late fees, meters);
4. adds (``extras`` below) a counter payment with its receipt, a
   prepayment, and with community_iot a device with messages and events;
5. writes ``previous_main.sql.gz`` (``pg_dump --no-owner --no-acl``,
   plain SQL, gzip) and ``previous_main.json`` (the fixture's data, the
   commit and the date it was made) into the output directory.

The extras use only what the fixture's commit had; when a later change
renames what they use, regenerate from that commit with this script of
the same commit range (or adapt ``extras``).
"""
import datetime as dt
import gzip
import json
import os
import pathlib
import subprocess
import sys

DATABASE = 'upgrade_fixture'
ADMIN_PASSWORD = 'admin-upgrade-test'


def main(checkout, outdir):
    checkout = pathlib.Path(checkout).resolve()
    outdir = pathlib.Path(outdir).resolve()
    sys.path.insert(0, str(checkout / 'scripts'))
    import devdb
    assert devdb.ROOT == checkout, (devdb.ROOT, checkout)
    bin_ = pathlib.Path(sys.executable).parent
    uri = devdb.database_uri('pg-dump')
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri)
    env.setdefault('TRYTOND_EMAIL__FROM', 'noreply@example.com')
    local = checkout / '.local' / 'upgrade-fixture'
    (local / 'data').mkdir(parents=True, exist_ok=True)
    conf = local / 'trytond.conf'
    conf.write_text('[database]\npath = %s\nlanguage = zh_CN\n'
        '[community_portal]\nsecret = portal-test-secret\nsandbox = True\n'
        % (local / 'data'))
    passfile = local / 'admin-password'
    passfile.write_text(ADMIN_PASSWORD + '\n')
    env['TRYTONPASSFILE'] = str(passfile)

    import psycopg
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)
        conn.execute('CREATE DATABASE "%s" ENCODING \'UTF8\' '
            'TEMPLATE template0' % DATABASE)
    modules = sorted(p.name for p in (checkout / 'addons').iterdir()
        if (p / 'tryton.cfg').exists())
    subprocess.run([str(bin_ / 'trytond-admin'), '-c', str(conf),
            '-d', DATABASE, '--activate-dependencies', '-l', 'zh_CN',
            '--email', 'admin@example.com', '-u', *modules],
        env=env, check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([sys.executable,
            str(checkout / 'tests' / 'portal_server.py'), 'prepare',
            str(conf), DATABASE], env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit("fixture failed:\n" + out.stderr[-4000:])
    data = json.loads(out.stdout.strip().splitlines()[-1])
    out = subprocess.run([sys.executable, __file__, 'extras', str(conf),
            DATABASE], env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit("extras failed:\n" + out.stderr[-4000:])
    data['extras'] = json.loads(out.stdout.strip().splitlines()[-1])
    commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=checkout,
        capture_output=True, text=True, check=True).stdout.strip()
    data['made'] = {'commit': commit, 'date': dt.date.today().isoformat(),
        'modules': modules, 'admin_password': ADMIN_PASSWORD}

    import pgserver
    pg_dump = (pathlib.Path(pgserver.__file__).parent / 'pginstall' / 'bin'
        / 'pg_dump')
    dump = subprocess.run([str(pg_dump), '--no-owner', '--no-acl',
            '--format=plain', devdb.dsn(uri, DATABASE)],
        capture_output=True, check=True).stdout
    outdir.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same dump gives the same file
    with open(outdir / 'previous_main.sql.gz', 'wb') as f:
        with gzip.GzipFile(fileobj=f, mode='wb', compresslevel=9,
                mtime=0, filename='') as gz:
            gz.write(dump)
    (outdir / 'previous_main.json').write_text(
        json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)
        + '\n')
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)
    print('wrote %s (%d bytes of SQL) and previous_main.json' % (
            outdir / 'previous_main.sql.gz', len(dump)))


def extras(conf, database):
    """After the portal fixture: a counter payment of 3-2-1202's bill
    (cash, 120.00 by 赵磊) with its receipt, a prepayment of 300.00 by
    王芳 for 3-2-1201, and with community_iot a door contact of 3-2-1201
    and a Tasmota plug with messages and the events they made. Prints
    the ids and figures as JSON."""
    from decimal import Decimal

    from proteus import Model
    from proteus import config as pconfig
    cfg = pconfig.set_trytond(database=database, config_file=conf)
    result = {}
    Company = Model.get('company.company')
    company, = Company.find([])
    Unit = Model.get('community.unit')
    Bill = Model.get('community.bill')
    Payment = Model.get('community.payment')
    with cfg.set_context(company=company.id):
        u1, = Unit.find([('code', '=', '3-2-1201')])
        u2, = Unit.find([('code', '=', '3-2-1202')])
        wang, = [r.party for r in u1.residencies if r.party.name == "王芳"]
        zhao, = [r.party for r in u2.residencies if r.party.name == "赵磊"]
        bill, = Bill.find([('unit', '=', u2.id)])
        payment = Payment(compound=u2.compound, unit=u2, party=zhao,
            method='cash', amount=bill.total_amount)
        payment.lines.new(bill=bill, amount=bill.total_amount)
        payment.click('post')
        prepayment = Payment(compound=u1.compound, unit=u1, party=wang,
            method='cash', amount=Decimal('300.00'))
        prepayment.click('post')
        result['payment'] = {'id': payment.id,
            'receipt_number': payment.receipt_number,
            'amount': str(payment.amount)}
        result['prepayment'] = {'id': prepayment.id,
            'receipt_number': prepayment.receipt_number,
            'amount': str(prepayment.amount)}
    result['iot'] = iot(database, u1.id)
    print(json.dumps(result))


def iot(database, unit_id):
    "Devices, messages and events through the ingestion of community_iot."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    try:
        Device = pool.get('community.iot.device')
    except KeyError:
        return {}
    Message = pool.get('community.iot.message')
    Event = pool.get('community.iot.event')
    Unit = pool.get('community.unit')
    User = pool.get('res.user')
    start = dt.datetime.utcnow().replace(microsecond=0) - dt.timedelta(
        hours=1)

    def msg(topic, payload, minutes):
        return {'topic': topic, 'payload': json.dumps(payload).encode(),
            'received': start + dt.timedelta(minutes=minutes)}
    with Transaction().start(database, 0) as transaction:
        admin, = User.search([('login', '=', 'admin')])
        with transaction.set_user(admin.id), transaction.set_context(
                company=admin.company.id, language='zh_CN'):
            unit = Unit(unit_id)
            door, plug = Device.create([{
                        'name': "1201 入户门磁", 'family': 'zigbee2mqtt',
                        'key': '3/2/1201/door', 'compound': unit.compound.id,
                        'unit': unit.id, 'building': unit.building.id,
                        'capabilities': ['contact', 'battery'],
                        'expected_interval': 60, 'state': 'confirmed'}, {
                        'name': "大堂插座", 'family': 'tasmota',
                        'key': 'lobby_plug', 'compound': unit.compound.id,
                        'capabilities': ['switch', 'power', 'energy'],
                        'expected_interval': 60, 'state': 'confirmed'}])
            stats = Message.ingest([
                    msg('zigbee2mqtt/3/2/1201/door',
                        {'contact': True, 'battery': 90}, 0),
                    msg('zigbee2mqtt/3/2/1201/door',
                        {'contact': False, 'battery': 90}, 1),
                    msg('zigbee2mqtt/3/2/1201/door',
                        {'contact': True, 'battery': 89}, 2),
                    ])
            stats2 = Message.ingest([
                    msg('stat/lobby_plug/POWER', 'ON', 3),
                    msg('tele/lobby_plug/SENSOR', {
                            'ENERGY': {'Total': 12.5, 'Power': 150}}, 4),
                    ])
            result = {
                'devices': {'door': door.id, 'plug': plug.id},
                'stats': [stats, stats2],
                'messages': Message.search_count([]),
                'events': {name: [e.kind for e in Event.search(
                                [('device', '=', device.id)],
                                order=[('id', 'ASC')])]
                    for name, device in [('door', door), ('plug', plug)]},
                }
            transaction.commit()
    return result


if __name__ == '__main__':
    if sys.argv[1] == 'extras':
        extras(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1], sys.argv[2])
