"""`make demo`: database, modules, demo data, then trytond with sao.

1. database: TRYTOND_DATABASE__URI if set, else a project-local PostgreSQL
   (pgserver) under .local/pg;
2. writes .local/trytond.conf from config/trytond.conf.template;
3. creates the database ``COMMUNITY_DB`` (default ``community``) if missing
   and activates or updates every module with zh_CN;
4. loads the demo data (scripts/load_demo.py; idempotent: a second run
   changes nothing);
5. starts trytond (web client on http://127.0.0.1:8000), trytond-cron and
   trytond-worker (queued tasks such as bill runs),
   prints the logins, and runs until interrupted (Ctrl-C stops all).
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import devdb  # noqa: E402

ROOT = devdb.ROOT
LOCAL = ROOT / '.local'
BIN = pathlib.Path(sys.executable).parent
DATABASE = os.environ.get('COMMUNITY_DB', 'community')
LISTEN = os.environ.get('COMMUNITY_LISTEN', '127.0.0.1:8000')
ADMIN_PASSWORD = os.environ.get('COMMUNITY_ADMIN_PASSWORD', 'admin')


def modules():
    return sorted(p.name for p in (ROOT / 'addons').iterdir()
        if (p / 'tryton.cfg').exists())


def write_config():
    LOCAL.mkdir(exist_ok=True)
    (LOCAL / 'data').mkdir(exist_ok=True)
    template = (ROOT / 'config' / 'trytond.conf.template').read_text()
    conf = template.format(
        data_dir=LOCAL / 'data', database=DATABASE, listen=LISTEN,
        sao_root=LOCAL / 'sao' / 'package',
        mqtt_host=os.environ.get('COMMUNITY_MQTT_HOST', ''),
        mqtt_port=os.environ.get('COMMUNITY_MQTT_PORT', '1883'),
        # the demo pays through the sandbox (off by default in production)
        portal_provider='sandbox', portal_sandbox='True')
    path = LOCAL / 'trytond.conf'
    path.write_text(conf)
    return path


def ensure_database(uri):
    import psycopg
    dsn = devdb.dsn(uri)
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s",
            (DATABASE,)).fetchone()
        if not exists:
            conn.execute('CREATE DATABASE "%s" ENCODING \'UTF8\'' % DATABASE)
    return not exists


def run(cmd, env):
    print('+', ' '.join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], env=env, check=True)


def main():
    uri = devdb.database_uri('pg')
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri)
    conf = write_config()
    created = ensure_database(uri)
    passfile = LOCAL / 'admin-password'
    passfile.write_text(ADMIN_PASSWORD + '\n')
    env['TRYTONPASSFILE'] = str(passfile)
    cmd = [BIN / 'trytond-admin', '-c', conf, '-d', DATABASE, '-v',
        '--activate-dependencies', '-l', 'zh_CN', '-u', *modules()]
    if created:
        cmd += ['--email', 'admin@example.com']
    run(cmd, env)
    run([sys.executable, ROOT / 'scripts' / 'load_demo.py', '-c', conf,
            '-d', DATABASE], env)

    procs = [
        subprocess.Popen([str(BIN / 'trytond'), '-c', str(conf),
                '-d', DATABASE, '-v'], env=env, start_new_session=True),
        subprocess.Popen([str(BIN / 'trytond-cron'), '-c', str(conf),
                '-d', DATABASE, '-v'], env=env, start_new_session=True),
        subprocess.Popen([str(BIN / 'trytond-worker'), '-c', str(conf),
                '-n', '1', '-d', DATABASE, '-v'], env=env,
            start_new_session=True),
        ]
    extra = ROOT / 'scripts' / 'demo_services.py'
    if extra.exists():
        procs.append(subprocess.Popen([sys.executable, str(extra),
                    '-c', str(conf), '-d', DATABASE], env=env,
                start_new_session=True))
    time.sleep(3)
    print('\n' + '=' * 60)
    print('社区数字底座 Community OS demo is running')
    print('  web client: http://%s/  database: %s' % (LISTEN, DATABASE))
    print('  login: admin / %s (language zh_CN)' % ADMIN_PASSWORD)
    logins = LOCAL / 'demo-logins.txt'
    if logins.exists():
        print(logins.read_text())
    print('Ctrl-C stops everything.')
    print('=' * 60, flush=True)

    def stop(*args):
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(p.poll() is None for p in procs):
        time.sleep(1)
    stop()


if __name__ == '__main__':
    main()
