"""A database created by the code of an older commit (the portal inside
community_base) keeps its portal data when updated to community_portal.

Usage: .venv/bin/python tests/upgrade/check_portal_upgrade.py [COMMIT]
(default: the first parent of the commit that created community_portal).

Creates database ``test_portal_upgrade`` with the older code
(``git archive``), activates community_base, adds a company, a unit, a
resident, a portal account bound to it and a binding code; then updates
it with the current code (``trytond-admin -u community_portal
--activate-dependencies``, as ``make demo`` does) and checks that the
account, the code, the portal's menus, groups' access and messages (with
their zh_CN translation) are the same records, now owned by
community_portal, with nothing left to community_base or duplicated.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))
sys.path.insert(0, str(ROOT / 'tests'))
DATABASE = 'test_portal_upgrade'
FS_IDS = ['menu_portal', 'menu_binding_code_form', 'act_binding_code_form',
    'msg_binding_code_invalid', 'access_binding_code_manager',
    'rule_group_binding_code_compounds', 'binding_code_view_form']

OLD = r'''
import sys, json
sys.path.insert(0, %(bench)r)
from profile_portal import load_code
load_code(%(code)r, names=['community_base'])
step = sys.argv[1]
if step == 'admin':
    from trytond.commandline import get_parser_admin
    from trytond import admin
    options = get_parser_admin().parse_args(sys.argv[2:])
    admin.run(options)
else:
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(%(db)r)
    pool.init()
    with Transaction().start(%(db)r, 0) as transaction:
        from trytond.modules.company.tests import create_company
        company = create_company()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        WebUser = pool.get('web.user')
        Code = pool.get('community.portal.binding_code')
        import datetime as dt
        from decimal import Decimal
        compound, = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': '嘉州花园'}])
        building, = Building.create([{'compound': compound.id, 'code': '3'}])
        unit, = Unit.create([{'building': building.id, 'code': '3-2-1201'}])
        wang, li = Party.create([{'name': '王芳'}, {'name': '李强'}])
        Residency.create([{'unit': unit.id, 'party': p.id, 'role': 'owner',
                    'share': Decimal(50), 'start_date': dt.date(2020, 1, 1)}
                for p in [wang, li]])
        user, = WebUser.create([{'mobile': '13900139002', 'party': wang.id,
                    'password': 'upgrade-pass-1'}])
        code, = Code.create([{'unit': unit.id, 'party': li.id}])
        transaction.commit()
        print(json.dumps({'user': user.id, 'code': code.code,
                    'code_id': code.id}))
'''


def state(cursor):
    "What must survive: ir.model.data of FS_IDS and the portal's records."
    cursor.execute("SELECT fs_id, module, db_id FROM ir_model_data "
        "WHERE fs_id = ANY(%s) ORDER BY fs_id, module", (FS_IDS,))
    data = cursor.fetchall()
    cursor.execute("SELECT count(*) FROM ir_ui_menu WHERE name = "
        "'Resident Portal'")
    menus = cursor.fetchone()[0]
    cursor.execute("SELECT t.value, t.module FROM ir_translation t "
        "JOIN ir_model_data d ON d.db_id = t.res_id "
        "AND d.fs_id = 'msg_binding_code_invalid' "
        "WHERE t.name = 'ir.message,text' AND t.lang = 'zh_CN'")
    translation = cursor.fetchall()
    cursor.execute("SELECT id, code, party FROM "
        "community_portal_binding_code ORDER BY id")
    codes = cursor.fetchall()
    cursor.execute("SELECT id, mobile, party FROM web_user ORDER BY id")
    users = cursor.fetchall()
    return {'data': data, 'menus': menus, 'translation': translation,
        'codes': codes, 'users': users}


def main(commit=None):
    import devdb
    import psycopg
    if commit is None:
        first = subprocess.check_output(['git', 'log', '--format=%H',
                '--diff-filter=A', '--', 'addons/community_portal/tryton.cfg'],
            cwd=ROOT, text=True).split()[-1]
        commit = first + '^'
    uri = devdb.database_uri('pg-test')
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri)
    env.setdefault('TRYTOND_EMAIL__FROM', 'noreply@example.com')
    dsn = devdb.dsn(uri)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)
        conn.execute('CREATE DATABASE "%s" ENCODING \'UTF8\'' % DATABASE)
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(['git', 'archive', commit, 'addons'],
            cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(['tar', '-x', '-C', tmp], input=archive, check=True)
        script = pathlib.Path(tmp) / 'old.py'
        script.write_text(OLD % {'bench': str(ROOT / 'tests' / 'bench'),
                'code': tmp, 'db': DATABASE})
        passfile = pathlib.Path(tmp) / 'pass'
        passfile.write_text('admin\n')
        env['TRYTONPASSFILE'] = str(passfile)
        print("creating %s with the code of %s …" % (DATABASE, commit),
            flush=True)
        subprocess.run([sys.executable, str(script), 'admin', '-d', DATABASE,
                '--activate-dependencies', '-u', 'community_base',
                '-l', 'zh_CN', '--email', 'admin@example.com'],
            env=env, check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run([sys.executable, str(script), 'data'],
            env=env, check=True, capture_output=True, text=True)
        created = json.loads(out.stdout.strip().splitlines()[-1])
    with psycopg.connect(devdb.dsn(uri, DATABASE)) as conn:
        before = state(conn.cursor())
    print("updating with the current code …", flush=True)
    subprocess.run([str(pathlib.Path(sys.executable).parent / 'trytond-admin'),
            '-d', DATABASE, '--activate-dependencies',
            '-u', 'community_portal', '-l', 'zh_CN'],
        env=env, check=True, stdout=subprocess.DEVNULL)
    with psycopg.connect(devdb.dsn(uri, DATABASE)) as conn:
        after = state(conn.cursor())
    failures = []
    old_ids = {fs: db for fs, module, db in before['data']}
    new = {}
    for fs, module, db in after['data']:
        new.setdefault(fs, []).append((module, db))
    for fs in FS_IDS:
        if new.get(fs) != [('community_portal', old_ids.get(fs))]:
            failures.append('%s: before %s, after %s' % (
                    fs, old_ids.get(fs), new.get(fs)))
    if after['menus'] != 1:
        failures.append('%d "Resident Portal" menus' % after['menus'])
    if [v for v, _ in after['translation']] != [
            v for v, _ in before['translation']] or not after['translation']:
        failures.append('translation %s -> %s' % (
                before['translation'], after['translation']))
    for key in ['codes', 'users']:
        if after[key] != before[key]:
            failures.append('%s: %s -> %s' % (key, before[key], after[key]))
    if created['code'] not in [c for _, c, _ in after['codes']]:
        failures.append('binding code %s lost' % created['code'])
    print(json.dumps({'before': before, 'after': after}, default=str,
            ensure_ascii=False, indent=1))
    if failures:
        print("FAILED:\n  " + '\n  '.join(failures))
        return 1
    print("OK: the portal's records survived the update")
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
