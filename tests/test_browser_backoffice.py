"""The back office in a real browser: log into sao, open the demo units,
and every menu entry of every demo user.

The server with the demo database and the browser helpers are those of
tests/sao_support.py (fixture ``sao_server``). Screenshots are kept in
tests/artifacts/ (and backoffice_menus.txt, what each user's walk
through the menu opened).
"""
import os
import time

import pytest

from sao_support import (
    ARTIFACTS, CHROMIUM, LAUNCH_ARGS, available, client_state, close_tabs,
    connect, login, open_client, settle_widgets)

pytestmark = pytest.mark.skipif(not available(),
    reason="needs /usr/bin/chromium and the sao web client (make sao)")


@pytest.fixture
def server(sao_server):
    return sao_server


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


# The menu entries with an action the user can see, as the client reads
# them (ir.ui.menu applies the user's groups).
READ_MENUS = """async () => {
    const session = Sao.Session.current_session;
    const context = jQuery.extend({}, session.context);
    const ids = await Sao.rpc({method: 'model.ir.ui.menu.search',
            params: [[], 0, null, [['id', 'ASC']], context]}, session);
    const menus = await Sao.rpc({method: 'model.ir.ui.menu.read',
            params: [ids, ['complete_name', 'action'], context]}, session);
    return menus.filter(m => m.action).map(
        m => [m.id, m.complete_name, m.action]);
}"""

def header_problem(state):
    """A list's date and time columns (two columns of one date-time
    field) each with a label of its own: none blank, none repeated."""
    headers = state.get('headers') or []
    texts = [text for _, text in headers]
    for widget, text in headers:
        if widget not in ('date', 'time'):
            continue
        if not text:
            return 'blank %s column header %s' % (widget, texts)
        if texts.count(text) > 1:
            return 'repeated column header %r %s' % (text, texts)
    return None


def open_menu(page, seen, action):
    """Open the menu entry as a click on it does and the form of its
    first record (a new one on an empty list); return (problem, state)."""
    menu_id, name, action = action
    # what a click on the entry runs (nothing when the user may not run
    # its action: the entry shows, a click does nothing)
    actions = page.evaluate("""id => Promise.race([Sao.rpc({
            method: 'model.ir.action.keyword.get_keyword',
            params: ['tree_open', ['ir.ui.menu', id], {}]},
        Sao.Session.current_session), new Promise((_, reject) =>
                setTimeout(() => reject('no answer'), 30000))])""", menu_id)
    if not actions:
        return 'no action for the user: a click does nothing', None
    page.evaluate("""id => { Sao.Action.exec_keyword('tree_open',
            {model: 'ir.ui.menu', id: id}, null, false); }""", menu_id)
    state = client_state(page, seen, None)
    kind = action.split(',')[0]
    if state is None:
        return 'does not load', state
    elif state['state'] == 'error':
        return 'error', state
    elif kind == 'ir.action.wizard':
        # a wizard opens as a dialog or a tab: its first form loaded
        if state['state'] not in ('dialog', 'tab', 'form'):
            return 'wizard did not open', state
        return None, state
    elif state['state'] == 'dialog':
        return 'dialog: %s' % state['text'], state
    elif state['state'] == 'form':
        return None, state
    elif state['state'] != 'tree':
        return 'unexpected view', state
    if state['records'] and not state['rows']:
        return 'records but no row shown', state
    problem = header_problem(state)
    if problem:
        return problem, state
    elif state['views'] == 1 or 'form' not in state.get('modes', ['form']):
        # a list only, or a list and its chart (a report such as the
        # arrears or the collection rates): no form to open
        return None, state
    elif state['records']:
        # double-click the first row, as staff open a record
        # (on a cell of text: a disabled checkbox receives no click)
        page.locator('#tabs .tab-pane.active table.tree > tbody'
            ' > tr:visible').first.locator('td[headers]:visible').filter(
                has_not=page.locator('input, button, a')).first.dblclick()
    else:
        # (not awaited: a view that fails to load never settles)
        page.evaluate(
            "() => { Sao.Tab.tabs.get_current().screen.switch_view(); }")
    form = client_state(page, seen, 'form')
    if form is None:
        return 'form does not load', state
    elif form['state'] != 'form':
        return 'form: %s' % form, state
    state['form'] = form['record']
    settle_widgets(page)
    return None, state


def walk_menus(browser, server, user, password, only=None):
    """Open every menu entry of the user with an action (the list and the
    form of its first record); return the entries, those walked and the
    failures. only(page, menus) restricts the entries."""
    from playwright.sync_api import expect
    errors = []
    page = open_client(browser, server, user, password, errors)
    menus = page.evaluate(READ_MENUS)
    if only:
        menus = only(page, menus)
    walked, failures = [], []
    try:
        for menu in menus:
            seen = page.evaluate('window.__errors.length')
            before = len(errors)
            started = time.monotonic()
            print('%s: opens %s' % (user, menu[1]), flush=True)
            try:
                problem, state = open_menu(page, seen, menu)
            except Exception as exc:
                problem, state = 'exception %s' % exc, None
            if problem is None and len(errors) > before:
                problem = 'error'
            if problem is None:
                # a wizard's dialog ends by its end button (btn-link), the
                # one on top first (the end deletes the wizard on the
                # server first, then the dialog goes)
                # (a click while the wizard still settles its first form is
                # ignored by sao: clicked again, as a person would)
                dialogs = page.locator('.modal.in:visible')
                for count in range(dialogs.count(), 0, -1):
                    for attempt in range(3):
                        dialogs.last.locator(
                            '.modal-footer button.btn-link').first.click()
                        try:
                            expect(dialogs).to_have_count(
                                count - 1, timeout=10000 * (attempt + 1))
                            break
                        except AssertionError:
                            if attempt == 2:
                                raise
                try:
                    close_tabs(page)
                except Exception as exc:
                    problem = 'does not close: %s' % exc
            if problem:
                failures.append('%s: %s (%s) %s %s %s' % (
                        user, menu[1], menu[2], problem, state,
                        errors[before:]))
                print(failures[-1], flush=True)
                page.screenshot(path=str(ARTIFACTS / (
                            'backoffice_menu_failure_%s_%s.png'
                            % (user, menu[0]))))
                # go on from a fresh client
                page.close()
                page = open_client(browser, server, user, password, errors)
            else:
                walked.append((menu[1], state,
                        round(time.monotonic() - started, 1)))
    finally:
        page.close()
    return menus, walked, failures


def project_menus(page, menus):
    """The menu entries of the project's modules: those under 社区 (admin
    also sees the entries of Tryton's modules, which staff do not use)."""
    return [m for m in menus if m[1].split(' / ')[0] == '社区']


# the lists whose first tab has demo records for these users (the demo's
# devices, notices and portal accounts are of their compound, 嘉州花园;
# each list opens on its work-to-do tab: 待确认 devices, 草稿 notices,
# 待验证 accounts, which the demo fills too)
DEMO_LISTS = {
    'admin': {'community.iot.device', 'community.announcement', 'web.user',
        'community.notification', 'community.notification.template'},
    'jz_manager': {
        'community.iot.device', 'community.announcement', 'web.user'},
    }


def empty_demo_lists(user, walked):
    """The problems of the lists of DEMO_LISTS[user] the walk opened: one
    not opened, or opened with no record."""
    expected = DEMO_LISTS.get(user, set())
    problems, opened = [], set()
    for name, state, _ in walked:
        model = (state or {}).get('model')
        if model in expected and state.get('state') == 'tree':
            opened.add(model)
            if not state.get('records'):
                problems.append('%s: %s (%s) shows no record' % (
                        user, name, model))
    problems += ['%s: no list of %s opened' % (user, model)
        for model in sorted(expected - opened)]
    return problems


def test_every_menu_of_every_demo_user(server):
    """Log in as admin and as each demo user (scripts/load_demo.py) and
    open every menu entry with an action (admin: those of the project's
    modules): its list and the form of a record (a new one on an empty
    list), with no JavaScript error, no error dialog, every view loaded;
    the lists of DEMO_LISTS show records."""
    from load_demo import DEMO_USERS
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    users = [('admin', 'admin')] + [(u[0], u[3]) for u in DEMO_USERS]
    failures, report = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
            args=LAUNCH_ARGS)
        try:
            for user, password in users:
                menus, walked, failed = walk_menus(
                    browser, server, user, password,
                    only=project_menus if user == 'admin' else None)
                assert menus, user
                failures += failed
                failures += empty_demo_lists(user, walked)
                report.append('%s: %s menu entries, %s opened' % (
                        user, len(menus), len(walked)))
                for name, state, seconds in walked:
                    report.append('  %s: %s %ss' % (name, state, seconds))
        finally:
            browser.close()
            (ARTIFACTS / 'backoffice_menus.txt').write_text(
                '\n'.join(report + failures) + '\n')
    assert not failures, '\n'.join(failures)


def test_demo_data(server):
    """The demo (scripts/load_demo.py) shows online payments and
    notifications, and the office's Tryton terms in Chinese: the WeChat
    Pay merchant account (emulated while loading, then on the official
    gateway), three demo units' bills paid online and booked once as
    WeChat Pay receipts, the notification templates, the demo resident's
    inbox (read and unread, a bill due soon, an urgent device alarm); the
    zh_CN overrides loaded over Tryton's own."""
    if os.environ.get('BACKOFFICE_URL'):
        pytest.skip("the database of a server started by hand")
    with connect() as conn:
        def one(query, *params):
            return conn.execute(query, params).fetchone()
        assert one("SELECT provider, gateway_url, notify_url LIKE %s "
            "FROM community_payment_merchant", '%/community_payment/notify/%'
            ) == ('wechat', 'https://api.mch.weixin.qq.com', True)
        paid, settled, receipts, amounts = one(
            "SELECT COUNT(*), COUNT(o.settlement), "
            "COUNT(DISTINCT p.receipt_number), "
            "BOOL_AND(p.amount = o.amount AND p.method = 'wechat' "
            "AND p.state = 'posted' AND p.reference = o.transaction_id) "
            "FROM community_payment_online o "
            "JOIN community_payment p ON p.id = o.settlement "
            "WHERE o.state = 'paid'")
        assert (paid, settled, receipts, amounts) == (3, 3, 3, True)
        codes = {r[0] for r in conn.execute(
                "SELECT code FROM community_notification_template")}
        assert {'bill_issued', 'bill_due_soon', 'payment_received',
            'dunning_reminder', 'device_alarm'} <= codes
        # the demo resident: the first owner (first portal login)
        inbox = conn.execute(
            "SELECT t.code, n.urgent, n.read_date IS NOT NULL "
            "FROM community_notification n "
            "JOIN community_notification_template t ON t.id = n.template "
            "WHERE n.party = (SELECT party FROM community_residency "
            "WHERE role = 'owner' ORDER BY id LIMIT 1)").fetchall()
        kinds = {code for code, _, _ in inbox}
        assert {'bill_issued', 'payment_received', 'bill_due_soon',
            'device_alarm'} <= kinds, kinds
        assert ('device_alarm', True, False) in inbox
        assert {read for _, _, read in inbox} == {True, False}
        translations = dict(conn.execute(
                "SELECT module || ':' || src, value FROM ir_translation "
                "WHERE lang = 'zh_CN' AND value != '' AND ("
                "(module = 'account_dunning' AND name = 'ir.ui.menu,name' "
                "AND src = 'Create Dunnings') "
                "OR (module = 'account' AND name = 'ir.ui.menu,name' "
                "AND src = 'Periods') "
                "OR (module = 'party' AND name = 'party.party,phone'))"
                ).fetchall())
        assert translations == {'account_dunning:Create Dunnings': '生成催缴',
            'account:Periods': '会计期间', 'party:Phone': '电话'}, (
            translations)

