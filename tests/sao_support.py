"""The back office in a real browser: what the browser tests share.

A database with every module of the project and the demo (every step of
scripts/load_demo.py, on the first lines of its register), trytond with
the sao web client (``make sao``) on a free port in 8100-8199, Debian's
headless Chromium driven by Playwright: logging in, waiting for the
client to settle, closing tabs. The session fixture ``sao_server``
(tests/conftest.py) starts one server for every browser test file.
"""
import contextlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
import devdb  # noqa: E402

CHROMIUM = '/usr/bin/chromium'
SAO = ROOT / '.local' / 'sao' / 'package'
ARTIFACTS = ROOT / 'tests' / 'artifacts'
# BACKOFFICE_DATABASE: another name, for two checkouts sharing a server
DATABASE = os.environ.get('BACKOFFICE_DATABASE', 'test_browser')
BIN = pathlib.Path(sys.executable).parent



def available():
    "Whether Chromium and sao are there (else the browser tests skip)."
    return pathlib.Path(CHROMIUM).exists() and (SAO / 'index.html').exists()


def database_uri():
    "The trytond URI of the server holding DATABASE."
    return os.environ.get('TRYTOND_DATABASE__URI') or devdb.database_uri(
        'pg-test')


def connect():
    "A psycopg connection to DATABASE (to read what the screens show)."
    import psycopg
    return psycopg.connect(devdb.dsn(database_uri(), DATABASE))


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


# the modules of the project (every one is activated)
MODULES = sorted(p.name for p in (ROOT / 'addons').iterdir()
    if (p / 'tryton.cfg').exists())
# building 1 of the demo register: the demo's steps take a minute, not four
DEMO_ROWS = 150
DEMO_DRIVER = """
import datetime as dt, pathlib, sys
sys.path.insert(0, %(scripts)r)
import load_demo

def load_register():
    from trytond.pool import Pool
    Import = Pool().get('community.register.import', type='wizard')
    path = pathlib.Path(%(register)r)
    data = b''.join(path.read_bytes().splitlines(True)[:%(rows)d + 1])
    Import.import_register(load_demo.demo_compound(), data, path.name,
        date=dt.date(2026, 1, 1))

load_demo.load_register = load_register
sys.argv[0] = 'load_demo.py'
load_demo.main()
""" % {'scripts': str(ROOT / 'scripts'), 'rows': DEMO_ROWS,
    'register': str(
        ROOT / 'addons' / 'community_base' / 'data' / 'demo_register.csv')}


@contextlib.contextmanager
def demo_server():
    """Prepare DATABASE with every module and the demo, start trytond
    serving sao on it and yield its URL; stop it at the end."""
    # the client's own terms in Chinese (as make sao does)
    import sao_locale
    sao_locale.complete(SAO)
    uri = database_uri()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='browser-'))
    port = free_port()
    conf = tmp / 'trytond.conf'
    conf.write_text('\n'.join([
                # no database list: it connects to every database of the
                # server and waits on one another run is creating (the
                # login dialog then asks the name, login() types it)
                '[database]', 'path = %s' % tmp, 'language = zh_CN',
                'list = False',
                '[web]', 'listen = 127.0.0.1:%d' % port,
                'root = %s' % SAO, '']))
    (tmp / 'password').write_text('admin\n')
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri,
        TRYTONPASSFILE=str(tmp / 'password'))
    create_database(uri)
    subprocess.run([str(BIN / 'trytond-admin'), '-c', str(conf),
            '-d', DATABASE, '--activate-dependencies', '-l', 'zh_CN',
            '-u', *MODULES, '--email', 'admin@example.com'],
        env=env, check=True)
    # every step of the demo (scripts/load_demo.py) on the first
    # DEMO_ROWS lines of its register: lists of every kind have records
    subprocess.run([sys.executable, '-c', DEMO_DRIVER, '-c', str(conf),
            '-d', DATABASE], env=env, check=True)
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


def login(page, server, user='admin', password='admin'):
    "Log into sao as user on DATABASE; return when the password is sent."
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
    dialog.locator('input#login').fill(user)
    dialog.locator('button[type=submit]').click()
    password_input = page.locator('input[type=password]')
    expect(password_input).to_be_visible(timeout=30000)
    password_input.fill(password)
    password_input.press('Enter')


# Errors of the page, mirrored into window.__errors so that a wait ends
# as soon as one happens (sao runs its callbacks in jQuery deferreds,
# which report an exception as a console warning, not as a page error).
RECORD_ERRORS = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
window.addEventListener('unhandledrejection',
    e => window.__errors.push(String(e.reason)));
for (const level of ['error', 'warn']) {
    const original = console[level];
    console[level] = function(...args) {
        const text = args.map(String).join(' ');
        if (level == 'error' || /exception/i.test(text)) {
            window.__errors.push(text);
        }
        return original.apply(this, args);
    };
}
"""

# Count the searches of the lists running (a list is loaded once its
# search is done, which takes more than one request) and the displays of
# forms under way (a form shows its record's values once its widgets'
# displays are done, some after the requests have ended: a text typed
# before would be wiped).
TRACK_SEARCHES = """() => {
    window.__searching = 0;
    const search_filter = Sao.Screen.prototype.search_filter;
    Sao.Screen.prototype.search_filter = function(...args) {
        window.__searching++;
        return jQuery.when(search_filter.apply(this, args)).always(
            () => window.__searching--);
    };
    window.__displaying = 0;
    const display = Sao.View.Form.prototype.display;
    Sao.View.Form.prototype.display = function(...args) {
        window.__displaying++;
        return jQuery.when(display.apply(this, args)).always(
            () => window.__displaying--);
    };
}"""

# The state of the client once no request is running: 'error' when an
# error happened since `seen`, 'dialog' with its text when one shows
# (a wizard's or an error), else the current tab's view type and records.
CLIENT_STATE = """seen => {
    if (window.__errors.length > seen) {
        return {state: 'error'};
    }
    if (jQuery.active || window.__searching || window.__displaying) {
        return null;
    }
    const dialog = jQuery('.modal.in:visible').last();
    if (dialog.length) {
        return {state: 'dialog', text: dialog.text().trim().slice(0, 300)};
    }
    const tab = Sao.Tab.tabs.get_current();
    if (!tab || !tab.screen) {
        return tab ? {state: 'tab', tabs: Sao.Tab.tabs.length} : null;
    }
    const view = tab.screen.current_view;
    if (!view || tab.view_prm.state() != 'resolved' || !view.el.is(':visible')) {
        return null;
    }
    return {state: view.view_type, tabs: Sao.Tab.tabs.length,
        records: tab.screen.group.length, views: tab.screen.number_of_views,
        modes: tab.screen.attributes.mode || ['tree', 'form'],
        rows: view.view_type == 'tree' ?
            view.el.find('table.tree > tbody > tr:visible').length : null,
        headers: view.view_type == 'tree' ?
            view.el.find('table.tree > thead th[data-column]:visible').map(
                (i, th) => [[th.className.split(' ')[0] || '',
                    jQuery(th).find('.header label').text().trim()]]
                ).get() : null,
        record: tab.screen.current_record ? tab.screen.current_record.id : null,
        model: tab.screen.model_name};
}"""


def client_state(page, seen, check, timeout=30):
    """Wait until no request runs and `check(state)` holds, or an error
    or a dialog shows; return the state (None on timeout)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    handle = None
    try:
        handle = page.wait_for_function("""([seen, expect]) => {
                const state = (%s)(seen);
                if (!state) {
                    return null;
                }
                if (state.state == 'error' || state.state == 'dialog'
                        || !expect || state.state == expect) {
                    return state;
                }
                return null;
            }""" % CLIENT_STATE, arg=[seen, check], polling=100,
            timeout=timeout * 1000)
        return handle.json_value()
    except PlaywrightTimeout:
        return None
    finally:
        if handle:
            handle.dispose()


def close_tabs(page):
    """Close every tab without saving (a new record is dropped); raise
    when a tab does not close within 10 s (e.g. it asks something)."""
    page.evaluate("""async () => {
        for (const tab of Sao.Tab.tabs.slice()) {
            if (tab.screen && tab.screen.current_record
                    && tab.screen.current_record.id < 0) {
                tab.screen.group.remove(tab.screen.current_record, true);
            }
            await Promise.race([tab.close(), new Promise((_, reject) =>
                        setTimeout(() => reject('tab does not close'),
                            10000))]);
        }
    }""")


def open_client(browser, server, user, password, errors):
    """A page of the browser logged into sao as user, its menu loaded;
    JavaScript errors are appended to errors."""
    from playwright.sync_api import expect
    page = browser.new_page(viewport={'width': 1400, 'height': 900},
        locale='zh-CN')
    page.on('pageerror', lambda exc: errors.append('pageerror: %s' % exc))
    page.on('console', lambda msg: errors.append('console: %s' % msg.text)
        if msg.type == 'error' or (msg.type == 'warning'
            and 'exception' in msg.text.lower()) else None)
    page.add_init_script(RECORD_ERRORS)
    login(page, server, user, password)
    expect(page.locator('#menu')).to_be_visible(timeout=60000)
    page.wait_for_function(
        "() => window.Sao && Sao.main_menu_screen"
        " && Sao.main_menu_screen.group && Sao.main_menu_screen.group.length"
        " && !jQuery.active", timeout=60000)
    page.evaluate(TRACK_SEARCHES)
    return page


def settle_widgets(page):
    """Wait (at most 10 s) until every widget of the form shows its
    record's value: a selection widget fills its options asynchronously
    and, read before that, shows its first option (a tab closed at that
    moment would take it as a change, which no person is fast enough to
    cause)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function("""() => {
            const tab = Sao.Tab.tabs.get_current();
            const view = tab && tab.screen && tab.screen.current_view;
            if (!view || view.view_type != 'form') {
                return true;
            }
            return Object.values(view.widgets).flat().every(
                w => !w.record || !w.field || !w.modified);
        }""", polling=100, timeout=10000)
    except PlaywrightTimeout:
        pass
