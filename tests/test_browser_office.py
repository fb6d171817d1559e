"""The office's daily jobs in a real browser, as the demo users do them.

sao at 1400×900 on the demo (tests/sao_support.py, fixture
``sao_server``): the front desk takes a cash payment at the cashier desk
(收银台) and prints the receipt, finds units by code as people type it,
requests a late-fee waiver (减免) that the manager approves, registers a
tenant and opens a repair request (报修) from the unit; the manager reads
the collection rate (收缴率) of the demo month. Each screen met is checked
for English left on its labels, buttons, tabs and choices. What the
screens show is checked against the database.
"""
import datetime as dt
import io
import re
import time
from decimal import Decimal

import pytest

from sao_support import (
    ARTIFACTS, CHROMIUM, LAUNCH_ARGS, available, client_state, connect,
    open_client, settle_widgets)

pytestmark = pytest.mark.skipif(not available(),
    reason="needs /usr/bin/chromium and the sao web client (make sao)")

FRONT_DESK = ('jz_frontdesk', 'jiazhou-frontdesk-2026')
MANAGER = ('jz_manager', 'jiazhou-manager-2026')
# what the screens may show in Latin letters: units of measure, codes
LATIN_ALLOWED = {'ID', 'PDF', 'CNY', 'SMS', 'xlsx', 'QR', 'VAT', 'SLA',
    'Tryton', 'IoT', 'MQTT', 'WeChat', 'Alipay',
    # key names of the shortcuts shown in tooltips (清除字段 <Del>)
    'Del', 'Ctrl', 'Alt', 'Shift', 'Enter', 'Esc'}

# The texts of the screen a person reads as the application's words: the
# labels, column headers, buttons, tabs, choices, titles and separators of
# the current tab and of the dialogs open (values typed or stored are not
# words of the application).
SCREEN_WORDS = """() => {
    const roots = jQuery('.modal.in:visible').length ?
        jQuery('.modal.in:visible') :
        jQuery('#tabs .tab-pane.active').add('#tabs .nav-tabs li.active');
    const texts = new Set();
    const selector = ['label', 'th', 'button', '.nav-tabs a', 'legend',
        'option', '.modal-title', '.form-separator', '.title',
        'a.list-group-item'].join(',');
    roots.find(selector).add(roots.filter('li')).filter(':visible').each(
        (i, e) => {
            const clone = jQuery(e).clone();
            clone.find('input, select, textarea').remove();
            const text = clone.text().trim();
            if (text) {
                texts.add(text);
            }
            const title = e.getAttribute('title');
            if (title) {
                texts.add(title);
            }
        });
    roots.find('select:visible option').each(
        (i, e) => texts.add(e.textContent.trim()));
    roots.find('input[placeholder]:visible').each(
        (i, e) => texts.add(e.getAttribute('placeholder')));
    return Array.from(texts);
}"""


def english(texts):
    "The texts with a Latin word (3 letters or more) not allowed."
    found = []
    for text in texts:
        words = set(re.findall(r'[A-Za-z]{3,}', text)) - LATIN_ALLOWED
        if words:
            found.append(text)
    return sorted(found)


class Desk:
    """A demo user's browser page and what the test meets on it: the
    English texts of each screen checked (``check``), screenshots."""

    def __init__(self, browser, server, user, name):
        self.errors = []
        self.name = name
        self.page = open_client(browser, server, *user, self.errors)
        self.english = {}

    def check(self, where):
        "Record the English texts of the screen shown now."
        found = english(self.page.evaluate(SCREEN_WORDS))
        if found:
            self.english[where] = found
            self.shot('english_%s' % len(self.english))

    def shot(self, suffix):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / ('office_%s_%s.png' % (self.name, suffix))))

    def idle(self, timeout=30000):
        "Wait until no request runs and no form is being displayed."
        self.page.wait_for_function(
            "() => !jQuery.active && !window.__searching"
            " && !window.__displaying", polling=100,
            timeout=timeout)

    def open_menu(self, path):
        """Open the menu entry of complete name ``path`` (as a click on it
        in the menu does)."""
        menu_id = self.page.evaluate("""async path => {
            const session = Sao.Session.current_session;
            const context = jQuery.extend({}, session.context);
            const ids = await Sao.rpc({method: 'model.ir.ui.menu.search',
                    params: [[], 0, null, null, context]}, session);
            const menus = await Sao.rpc({method: 'model.ir.ui.menu.read',
                    params: [ids, ['complete_name'], context]}, session);
            const found = menus.filter(m => m.complete_name == path);
            return found.length ? found[0].id : null;
        }""", path)
        assert menu_id, "no menu entry %s for %s" % (path, self.name)
        self.page.evaluate("""id => { Sao.Action.exec_keyword('tree_open',
                {model: 'ir.ui.menu', id: id}, null, false); }""", menu_id)

    def wait_view(self, kind):
        """Wait until the current tab shows its view of ``kind`` (tree,
        form) loaded; fail on an error or a dialog."""
        seen = self.page.evaluate('window.__errors.length')
        state = client_state(self.page, seen, kind)
        assert state and state['state'] == kind, (kind, state, self.errors)
        return state

    def new_record(self):
        "A new record in the current tab (its New button), its defaults in."
        self.page.evaluate("() => { Sao.Tab.tabs.get_current().new_(); }")
        self.wait_view('form')
        self.page.wait_for_function("""() => {
            const record = Sao.Tab.tabs.get_current().screen.current_record;
            return record && record.id < 0 && !jQuery.active
                && !window.__displaying;
        }""", polling=100, timeout=30000)
        settle_widgets(self.page)

    def dialog(self):
        "The wizard's or search dialog shown on top."
        from playwright.sync_api import expect
        dialog = self.page.locator('.modal.in:visible').last
        expect(dialog).to_be_visible(timeout=30000)
        return dialog

    def tab(self):
        return self.page.locator('#tabs .tab-pane.active')

    def value(self, scope, name):
        return scope.locator('[name="%s"]:visible' % name).first.input_value()

    def wait_value(self, scope, name, expected=None, timeout=30000):
        """Wait until the input of field ``name`` shows ``expected`` (any
        value when None); return it."""
        from playwright.sync_api import expect
        field = scope.locator('[name="%s"]:visible' % name).first
        if expected is None:
            expect(field).not_to_have_value('', timeout=timeout)
        else:
            expect(field).to_have_value(expected, timeout=timeout)
        return field.input_value()

    def button(self, scope, text):
        return scope.locator('button:visible', has_text=text).first

    def download(self, click, timeout=120):
        """Run ``click`` and return (the download it starts, the actions
        it took). sao shows the file in its Download dialog and clicks the
        link itself once the dialog is shown; should that click not come
        (the dialog shown, its link unclicked for 5 s) the desk clicks the
        link as a person would (one action more). An error dialog or a
        page error fails at once with its text."""
        downloads = []

        def listener(download):
            downloads.append(download)
        self.page.on('download', listener)
        try:
            click()
            actions = 1
            link = self.page.locator('.modal.in:visible a[download]').last
            seen_link = None
            start = time.monotonic()
            while not downloads:
                now = time.monotonic()
                assert now - start < timeout, (
                    'no download after %s s; dialogs: %s; errors: %s' % (
                        timeout, self.page.locator(
                            '.modal.in:visible').all_inner_texts(),
                        self.errors))
                assert not self.page.evaluate('window.__errors.length'), (
                    self.page.evaluate('window.__errors'), self.errors)
                if link.count():
                    if seen_link is None:
                        seen_link = now
                    elif now - seen_link > 5:
                        link.click()
                        actions += 1
                        seen_link = float('inf')
                self.page.wait_for_timeout(200)
            return downloads[0], actions
        finally:
            self.page.remove_listener('download', listener)

    def open_unit(self, code):
        """Open the form of the unit of ``code`` from 社区 › 房屋档案 › 房屋,
        found by typing its code in the list's search."""
        from playwright.sync_api import expect
        self.open_menu('社区 / 房屋档案 / 房屋')
        self.wait_view('tree')
        search = self.tab().locator('input.form-control[type=search], '
            '.filter-box input').first
        expect(search).to_be_visible(timeout=30000)
        self.idle()
        search.fill(code)
        search.press('Enter')
        row = self.tab().locator('table.tree > tbody > tr:visible',
            has_text=code).first
        expect(row).to_be_visible(timeout=30000)
        self.idle()
        self.check('房屋 list')
        self.open_row(row)
        self.wait_value(self.tab(), 'code', code)
        self.idle()
        self.check('房屋 %s form' % code)

    def enter_number(self, scope, name, value):
        """Enter ``value`` in the number field ``name`` as a person does:
        click it (sao then shows its number input) and type; return the
        actions (2)."""
        scope.locator('input[name="%s"][type=text]:visible' % name).click()
        number = scope.locator('input[name="%s"][type=number]' % name)
        number.wait_for(state='visible', timeout=10000)
        number.fill(str(value))
        return 2

    def choose(self, scope, name, typed, expected=None):
        """Type ``typed`` in the Many2One field ``name`` of ``scope`` as a
        person does and pick the first suggestion; return the suggestions
        (the field then shows ``expected``, when given). A person who sees
        the text changed under the cursor (a late answer of the client
        redisplays the field while typing) types it again: so does this,
        up to three times."""
        from playwright.sync_api import Error, expect
        entry = scope.locator('input[name="%s"]:visible' % name)
        items = scope.locator('.dropdown.open ul.dropdown-completion'
            ' > li:not(.dropdown-header) > a')
        for attempt in range(3):
            entry.fill('')
            self.idle()
            entry.click()
            entry.press_sequentially(typed, delay=20)
            try:
                # the completion of the whole text, not of a part typed
                # before, in the field still showing the whole text
                expect(entry).to_have_value(typed, timeout=5000)
                expect(items.first).to_be_visible(timeout=30000)
                if expected:
                    expect(items.first).to_contain_text(
                        expected, timeout=15000)
                expect(entry).to_have_value(typed, timeout=1000)
                break
            except (AssertionError, Error):
                if attempt == 2:
                    raise AssertionError('%s: typed %r, the field shows %r,'
                        ' suggestions %r' % (name, typed,
                            entry.input_value(), items.all_inner_texts()))
                print('%s: typed %r again (the field showed %r)' % (
                        name, typed, entry.input_value()))
        self.idle()
        suggestions = [t.strip() for t in items.all_inner_texts()]
        items.first.click()
        self.wait_value(scope, name, expected)
        self.idle()
        return suggestions

    def choose_unit(self, scope, typed, code):
        "Choose the unit of ``code`` by typing ``typed`` (see choose)."
        return self.choose(scope, 'unit', typed, code)

    def open_row(self, row):
        """Open the record of a list's row: a click on a cell of text
        (the selection checkbox would toggle) and the toolbar's 切换
        (switch to the form). (A double click a while after a search in
        the filter box also opens a second tab of the list in sao 8.0.)"""
        row.locator('td[headers]:visible').filter(
            has_not=self.page.locator('input, button, a')).first.click()
        self.tab().locator('button[title*="切换"]').first.click()
        self.wait_view('form')

    def close(self):
        self.page.close()


@pytest.fixture(scope='module')
def browser(sao_server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
            args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def desk(browser, sao_server, request):
    "Open desks of demo users: desk(user) → Desk; English checked at the end."
    desks = []

    def open_desk(user):
        desks.append(Desk(browser, sao_server, user, '%s_%s' % (
                    request.node.name, user[0])))
        return desks[-1]
    yield open_desk
    for d in desks:
        # what the screen showed last (on a failure: where it stopped)
        d.shot('last')
        d.close()
    english = {'%s: %s' % (d.name, where): texts
        for d in desks for where, texts in d.english.items()}
    assert not english, "English on the office's screens: %s" % english


def one(query, *params):
    with connect() as conn:
        return conn.execute(query, params).fetchone()


def unit_id(code):
    return one("SELECT u.id FROM community_unit u "
        "JOIN community_compound c ON c.id = u.compound "
        "WHERE c.code = 'JZHY' AND u.code = %s", code)[0]


def open_amount(unit):
    """What the unit owes today: its bills' and late fees' receivables
    left to pay (debits less the credits of the same origin, not
    reconciled)."""
    return one("""
        SELECT COALESCE(SUM(l.debit - l.credit), 0)
        FROM account_move_line l
        WHERE l.reconciliation IS NULL AND l.party IS NOT NULL
            AND (l.origin IN (SELECT 'community.bill,' || id
                    FROM community_bill WHERE unit = %(u)s
                        AND state = 'posted')
                OR l.origin IN (SELECT 'community.late_fee,' || id
                    FROM community_late_fee WHERE unit = %(u)s))
        """.replace('%(u)s', '%s'), unit, unit)[0]


def money(text):
    "An amount as sao shows it (1,234.50) as a Decimal."
    return Decimal(text.replace(',', '').strip() or '0')


def resident_id(seed):
    "A valid 18-character resident ID number (GB 11643 check digit)."
    body = '51110219900101%03d' % seed
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights))
    return body + '10X98765432'[total % 11]


def test_cash_payment_at_the_cashier_desk(desk):
    """The front desk opens 收银台, types the unit as people say it
    (1栋2单元301), enters the cash received and sees the change, posts and
    opens the receipt: at most five actions after the unit is chosen; the
    receipt is a PDF with the amount and the unit."""
    front = desk(FRONT_DESK)
    unit = unit_id('1-2-301')
    front.open_menu('社区 / 收费 / 日常收费 / 收银台')
    dialog = front.dialog()
    front.idle()
    front.check('收银台')
    assert front.choose_unit(dialog, '1栋2单元301', '1-2-301') == [
        '1-2-301']
    front.wait_value(dialog, 'payer')
    front.idle()
    # the unit is chosen: from here each click or key entry is counted
    actions = 0
    due = open_amount(unit)
    assert due > 0, due
    assert money(front.value(dialog, 'total_due')) == due
    received = (due // 100 + 1) * 100
    change = received - due
    front.check('收银台 %s' % '1-2-301')
    actions += front.enter_number(dialog, 'received', received)
    dialog.locator('input[name="received"]:visible').press('Tab')
    actions += 1
    assert money(front.wait_value(dialog, 'change', '%.2f' % change)) == (
        change)
    front.check('收银台 找零')
    # one click posts and prints: sao hands the receipt to the browser
    # (its download dialog opens the PDF by itself)
    download, clicks = front.download(
        front.button(dialog, '收款并打印').click)
    actions += clicks
    assert actions <= 5, actions
    data = open(download.path(), 'rb').read()
    assert data[:5] == b'%PDF-', data[:20]
    assert download.suggested_filename.endswith('.pdf')
    from pypdf import PdfReader
    text = ''.join(p.extract_text() for p in PdfReader(io.BytesIO(
                data)).pages)
    assert '%.2f' % due in text, text
    assert '1-2-301' in text, text
    # the ledger: one cash payment of what was owed, the unit owes nothing
    payment = one("SELECT amount, method, state, receipt_number "
        "FROM community_payment WHERE unit = %s ORDER BY id DESC LIMIT 1",
        unit)
    assert payment[:3] == (due, 'cash', 'posted') and payment[3], payment
    assert open_amount(unit) == 0


def test_unit_found_by_code_as_typed(desk):
    """A payment's unit field takes 1-2-301 and 1栋2单元301 as the unit of
    that code (not the first suggestion of another one)."""
    front = desk(FRONT_DESK)
    unit = unit_id('1-2-301')
    front.open_menu('社区 / 收费 / 日常收费 / 收费记录')
    front.wait_view('tree')
    front.check('收费记录')
    front.new_record()
    form = front.tab()
    for typed in ['1-2-301', '1栋2单元301', '1-2-301室']:
        # the unit of that code, first and alone: Tab or Enter cannot
        # land on another unit
        assert front.choose_unit(form, typed, '1-2-301') == ['1-2-301'], (
            typed)
        chosen = front.page.evaluate("""() => {
            const record = Sao.Tab.tabs.get_current().screen.current_record;
            return record.field_get('unit');
        }""")
        assert chosen == unit, (typed, chosen)
    front.check('收费记录 form')


def test_late_fee_waiver_requested_and_approved(desk):
    """The front desk requests a waiver (减免) of half a late fee, found by
    its bill's number; the manager approves it from the list to approve;
    the late fee left to pay drops by the amount waived."""
    fee_id, number, unit, to_pay = one("""
        SELECT f.id, b.number, f.unit, f.amount
        FROM community_late_fee f
        JOIN community_bill b ON b.id = f.bill
        JOIN community_unit u ON u.id = f.unit
        JOIN account_move_line l ON l.id = f.move_line
        WHERE l.reconciliation IS NULL AND u.code != '1-2-301'
            AND NOT EXISTS (SELECT 1 FROM account_move_line c
                WHERE c.origin = 'community.late_fee,' || f.id
                    AND c.id != l.id)
            AND (SELECT COUNT(*) FROM community_late_fee g
                WHERE g.bill = f.bill) = 1
        ORDER BY f.amount DESC, f.id LIMIT 1""")
    waived = (to_pay / 2).quantize(Decimal('0.01'))
    front = desk(FRONT_DESK)
    front.open_menu('社区 / 收费 / 违约金 / 违约金减免')
    front.wait_view('tree')
    front.check('违约金减免 list')
    front.new_record()
    form = front.tab()
    # the late fee of the bill the resident shows: one suggestion
    assert len(front.choose(form, 'late_fee', number)) == 1
    front.wait_value(form, 'bill', number)
    front.wait_value(form, 'amount', '%.2f' % to_pay)
    front.idle()
    front.check('违约金减免 form')
    front.enter_number(form, 'amount', waived)
    form.locator('input[name="amount"]:visible').press('Tab')
    front.idle()
    front.wait_value(form, 'amount', '%.2f' % waived)
    form.locator('textarea[name="reason"]:visible').fill(
        "业主住院期间逾期，经理同意减免一半")
    front.tab().locator('button[title*="保存"]').first.click()
    front.page.wait_for_function("""() => {
        const record = Sao.Tab.tabs.get_current().screen.current_record;
        return record && record.id > 0 && !jQuery.active;
    }""", polling=100, timeout=30000)
    waiver, state, requested = one("""
        SELECT w.id, w.state, u.login FROM community_late_fee_waiver w
        JOIN res_user u ON u.id = w.requested_by
        WHERE w.late_fee = %s""", fee_id)
    assert (state, requested) == ('draft', 'jz_frontdesk')

    manager = desk(MANAGER)
    manager.open_menu('社区 / 收费 / 违约金 / 违约金减免')
    manager.wait_view('tree')
    manager.check('违约金减免 待审批')
    manager.open_row(manager.tab().locator(
            'table.tree > tbody > tr:visible', has_text=number).first)
    form = manager.tab()
    manager.wait_value(form, 'amount', '%.2f' % waived)
    manager.idle()
    manager.check('违约金减免 审批')
    manager.button(form, '批准').click()
    manager.page.wait_for_function("""() => {
        const r = Sao.Tab.tabs.get_current().screen.current_record;
        return r && r.field_get('state') == 'done';
    }""", timeout=30000)
    manager.idle()
    manager.check('违约金减免 已批准')
    assert one("""SELECT w.state, u.login FROM community_late_fee_waiver w
        JOIN res_user u ON u.id = w.approved_by WHERE w.id = %s""",
        waiver) == ('done', 'jz_manager')
    # the late fee left to pay: its receivable less the credits of origin
    # the late fee (the waiver's)
    left = one("""
        SELECT f.amount - COALESCE(SUM(c.credit - c.debit), 0)
        FROM community_late_fee f
        LEFT JOIN account_move_line c
            ON c.origin = 'community.late_fee,' || f.id
            AND c.id != f.move_line AND c.party IS NOT NULL
        WHERE f.id = %s GROUP BY f.id""", fee_id)[0]
    assert left == to_pay - waived, (left, to_pay, waived)


def test_tenant_registered_from_the_unit(desk):
    """The owner of a unit lets it: the front desk registers the tenant
    (租户) from the unit's form with its short form (登记住户: name, ID
    number, mobile, role, dates). The residency is the tenant's with what
    was typed and the unit is rented (出租), in the database and on the
    unit's form."""
    from playwright.sync_api import expect
    code, unit = one("""
        SELECT u.code, u.id FROM community_unit u
        JOIN community_compound c ON c.id = u.compound
        WHERE c.code = 'JZHY' AND u.status = 'occupied'
            AND u.code NOT IN ('1-2-301', '1-1-102')
            AND NOT EXISTS (SELECT 1 FROM community_residency r
                WHERE r.unit = u.id AND r.role != 'owner')
        ORDER BY u.id LIMIT 1""")
    id_number = resident_id(732)
    assert one("SELECT COUNT(*) FROM party_identifier WHERE code = %s",
        id_number) == (0,)
    front = desk(FRONT_DESK)
    front.open_unit(code)
    front.button(front.tab(), '登记住户').click()
    dialog = front.dialog()
    # the form opens on the unit, a tenant from today (the compound's day)
    today = dt.date.fromisoformat(front.wait_value(dialog, 'start_date'))
    front.wait_value(dialog, 'unit', code)
    role = dialog.locator('select[name="role"]:visible')
    expect(role.locator('option:checked')).to_have_text('租户')
    front.idle()
    front.check('登记住户')
    # the lease began last week, for a year
    start = today - dt.timedelta(days=7)
    end = start + dt.timedelta(days=364)
    dialog.locator('input[name="name"]:visible').fill('陈晓明')
    dialog.locator('input[name="id_number"]:visible').fill(id_number)
    dialog.locator('input[name="mobile"]:visible').fill('139 1234 5678')
    role.select_option(label='租户')
    for name, date in [('start_date', start), ('end_date', end)]:
        entry = dialog.locator('input[name="%s"]:visible' % name)
        entry.fill(date.isoformat())
        entry.press('Tab')
        front.wait_value(dialog, name, date.isoformat())
    front.idle()
    # what the front desk reads before pressing 登记
    expect(role.locator('option:checked')).to_have_text('租户')
    assert front.value(dialog, 'name') == '陈晓明'
    front.check('登记住户 填写')
    front.button(dialog, '登记').click()
    expect(dialog).to_be_hidden(timeout=30000)
    # the unit's form, reloaded: rented, the tenant among its residents
    form = front.tab()
    expect(form.locator('select[name="status"]:visible option:checked')
        ).to_have_text('出租', timeout=30000)
    row = form.locator('table.tree > tbody > tr:visible', has_text='陈晓明')
    expect(row).to_contain_text('租户', timeout=30000)
    front.idle()
    front.check('房屋 %s 出租' % code)
    residency = one("""
        SELECT r.role, r.start_date, r.end_date, r.payer, p.name, (
                SELECT m.value_compact FROM party_contact_mechanism m
                WHERE m.party = p.id AND m.type = 'mobile')
        FROM community_residency r
        JOIN party_party p ON p.id = r.party
        JOIN party_identifier i ON i.party = p.id AND i.type = 'cn_ric'
        WHERE r.unit = %s AND i.code = %s""", unit, id_number)
    assert residency == ('tenant', start, end, False, '陈晓明',
        '+8613912345678'), residency
    assert one("SELECT status FROM community_unit WHERE id = %s",
        unit) == ('rented',)


def test_repair_request_from_the_unit(desk):
    """A resident calls: the front desk opens a repair request (报修) from
    the unit's form, the resident and the phone channel already there."""
    code = '1-1-102'
    unit = unit_id(code)
    front = desk(FRONT_DESK)
    front.open_unit(code)
    front.button(front.tab(), '报修').click()
    dialog = front.dialog()
    front.wait_value(dialog, 'requester')
    front.idle()
    front.check('报修登记')
    dialog.locator('input[name="title"]:visible').fill('厨房水管漏水')
    front.button(dialog, '创建').click()
    from playwright.sync_api import expect
    expect(dialog).to_be_hidden(timeout=30000)
    front.wait_value(front.tab(), 'title', '厨房水管漏水')
    front.idle()
    front.check('报修单')
    request = one("""
        SELECT s.kind, s.channel, s.title, s.unit,
            s.requester IN (SELECT party FROM community_residency
                WHERE unit = s.unit)
        FROM community_service_request s
        WHERE s.unit = %s ORDER BY s.id DESC LIMIT 1""", unit)
    assert request == ('repair', 'phone', '厨房水管漏水', unit, True), request


def test_collection_rate_of_the_demo_month(desk):
    """The manager reads 按月收缴率: the demo month's row (the first month
    billed, when two units in three paid) shows the ledger's figures."""
    month, = one("SELECT MIN(period_start) FROM community_bill "
        "WHERE state = 'posted'")
    end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(
        days=1)
    due, units = one("""SELECT SUM(total_amount), COUNT(DISTINCT unit)
        FROM community_bill WHERE state = 'posted' AND total_amount != 0
            AND period_start BETWEEN %s AND %s""", month, end)
    collected, paid_units = one("""
        SELECT COALESCE(SUM(paid), 0),
            COUNT(*) FILTER (WHERE paid >= total_amount)
        FROM (SELECT b.id, b.total_amount, (
                    SELECT COALESCE(SUM(l.amount), 0)
                    FROM community_payment_line l
                    JOIN community_payment p ON p.id = l.payment
                    WHERE l.bill = b.id AND l.late_fee IS NULL
                        AND p.state = 'posted' AND p.date <= %s) AS paid
            FROM community_bill b
            WHERE b.state = 'posted' AND b.total_amount != 0
                AND b.period_start BETWEEN %s AND %s) AS bills""",
        end, month, end)
    rate = (collected * 100 / due).quantize(Decimal('0.01'))
    manager = desk(MANAGER)
    manager.open_menu('社区 / 收费 / 报表 / 按月收缴率')
    tab = manager.tab()
    row = tab.locator('table.tree > tbody > tr:visible',
        has_text=month.strftime('%Y-%m')).first
    from playwright.sync_api import expect
    expect(row).to_be_visible(timeout=60000)
    manager.idle()
    manager.check('按月收缴率')
    cells = row.evaluate("""tr => {
        const cells = {};
        jQuery(tr).find('td[headers]').each((i, td) => {
            cells[td.getAttribute('headers').split(' ')[0]] =
                td.innerText.trim();
        });
        return cells;
    }""")
    headers = tab.evaluate("""pane => {
        const headers = {};
        jQuery(pane).find('table.tree > thead th[id]').each((i, th) => {
            headers[th.id] = jQuery(th).find('.header label').text().trim()
                || th.innerText.trim();
        });
        return headers;
    }""")
    shown = {headers.get(k, k): v for k, v in cells.items()}
    assert money(shown['应收金额']) == due, shown
    assert money(shown['当期实收']) == collected, shown
    assert money(shown['收缴率(%)']) == rate, shown
    assert int(shown['应收户数']) == units, shown
    assert int(shown['已缴户数']) == paid_units, shown
    # two units in three paid (one in ten of them half)
    assert 0 < paid_units < units
