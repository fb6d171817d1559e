"""The back office in a real browser: log into sao, open the demo units.

Prepares a database with community_base and the demo register (the
register steps of scripts/load_demo.py, i.e. the register import), starts trytond with the
sao web client (``make sao``) on a free port in 8100-8199 and drives
Debian's headless Chromium with Playwright. A screenshot of the unit list
is kept in tests/artifacts/.
"""
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
import devdb  # noqa: E402

CHROMIUM = '/usr/bin/chromium'
SAO = ROOT / '.local' / 'sao' / 'package'
ARTIFACTS = ROOT / 'tests' / 'artifacts'
DATABASE = 'test_browser'
BIN = pathlib.Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    not pathlib.Path(CHROMIUM).exists() or not (SAO / 'index.html').exists(),
    reason="needs /usr/bin/chromium and the sao web client (make sao)")


def free_port():
    for port in range(8100, 8200):
        with socket.socket() as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8100-8199")


def create_database(uri):
    import psycopg
    dsn = devdb.dsn(uri)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)
        conn.execute('CREATE DATABASE "%s" ENCODING \'UTF8\'' % DATABASE)


@pytest.fixture(scope='module')
def server():
    uri = os.environ.get('TRYTOND_DATABASE__URI') or devdb.database_uri(
        'pg-test')
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='browser-'))
    port = free_port()
    conf = tmp / 'trytond.conf'
    conf.write_text('\n'.join([
                '[database]', 'path = %s' % tmp, 'language = zh_CN',
                '[web]', 'listen = 127.0.0.1:%d' % port,
                'root = %s' % SAO, '']))
    (tmp / 'password').write_text('admin\n')
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri,
        TRYTONPASSFILE=str(tmp / 'password'))
    create_database(uri)
    subprocess.run([str(BIN / 'trytond-admin'), '-c', str(conf),
            '-d', DATABASE, '--activate-dependencies', '-l', 'zh_CN',
            '-u', 'community_base', '--email', 'admin@example.com'],
        env=env, check=True)
    # the register steps of the demo (billing is not needed here)
    subprocess.run([sys.executable, str(ROOT / 'scripts' / 'load_demo.py'),
            '-c', str(conf), '-d', DATABASE, '--only', 'setup_company',
            'load_register', 'demo_users', 'close_config_wizard'],
        env=env, check=True)
    proc = subprocess.Popen([str(BIN / 'trytond'), '-c', str(conf),
            '-d', DATABASE], env=env, start_new_session=True)
    url = 'http://127.0.0.1:%d/' % port
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("trytond did not start")
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run']


def login(page, server):
    "Log into sao as admin on DATABASE; return when the menu is loaded."
    from playwright.sync_api import expect
    page.goto(server)
    dialog = page.locator('.login-dialog')
    expect(dialog).to_be_visible(timeout=30000)
    database = dialog.locator('#database:visible')
    expect(database).to_be_visible(timeout=30000)
    if database.evaluate('e => e.tagName') == 'SELECT':
        database.select_option(DATABASE)
    elif database.get_attribute('readonly') is not None:
        # the server serves only this database (trytond -d)
        expect(database).to_have_value(DATABASE)
    else:
        database.fill(DATABASE)
    dialog.locator('input#login').fill('admin')
    dialog.locator('button[type=submit]').click()
    password = page.locator('input[type=password]')
    expect(password).to_be_visible(timeout=30000)
    password.fill('admin')
    password.press('Enter')


def test_unit_list_in_chinese(server):
    "Log in as admin, open 社区 → 房屋档案 → 房屋: Chinese labels, unit codes"
    from playwright.sync_api import expect, sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
            args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={'width': 1400, 'height': 900},
                locale='zh-CN')
            login(page, server)
            menu = page.locator('#menu')
            expect(menu.get_by_text('社区', exact=True)).to_be_visible(
                timeout=60000)
            menu.get_by_text('社区', exact=True).click()
            menu.get_by_text('房屋档案', exact=True).click()
            menu.get_by_text('房屋', exact=True).click()
            tab = page.locator('#tabs')
            expect(tab.get_by_text('1-1-101', exact=True).first).to_be_visible(
                timeout=60000)
            expect(tab.locator('th', has_text='建筑面积').first).to_be_visible()
            expect(tab.locator('th', has_text='房屋类型').first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / 'backoffice_units.png'))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / 'backoffice_failure.png'))
            raise
        finally:
            browser.close()


def test_unit_list_on_a_phone(server):
    "At 390x844 staff open the unit list from the menu and read unit codes"
    from playwright.sync_api import expect, sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
            args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={'width': 390, 'height': 844},
                locale='zh-CN', is_mobile=True, has_touch=True)
            login(page, server)
            menu = page.locator('#menu')
            expect(menu.get_by_text('社区', exact=True)).to_be_visible(
                timeout=60000)
            menu.get_by_text('社区', exact=True).click()
            menu.get_by_text('房屋档案', exact=True).click()
            menu.get_by_text('房屋', exact=True).click()
            tab = page.locator('#tabs')
            expect(tab.get_by_text('1-1-101', exact=True).first).to_be_visible(
                timeout=60000)
            # the page itself does not scroll sideways on a phone
            width = page.evaluate('document.documentElement.scrollWidth')
            assert width <= 390 + 1, width
            page.screenshot(path=str(ARTIFACTS / 'backoffice_units_phone.png'))
        except Exception:
            page.screenshot(
                path=str(ARTIFACTS / 'backoffice_phone_failure.png'))
            raise
        finally:
            browser.close()
