"""The resident portal and the staff pages in headless Chromium at a phone
viewport (390×844), driven by Playwright with Debian's chromium.

A resident signs up, binds her unit with a binding code, sees her bill and
pays it through the sandbox provider, sees the receipt, files a repair
with a photo; a technician claims and closes it with a photo; the resident
rates it. Screenshots go to tests/artifacts/ (ignored by git).
"""
import pathlib
import shutil
import struct
import zlib

import pytest

from portal_server import PASSWORD

ARTIFACTS = pathlib.Path(__file__).resolve().parent / 'artifacts'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run']
VIEWPORT = {'width': 390, 'height': 844}

pytestmark = pytest.mark.skipif(
    not pathlib.Path(CHROMIUM).exists(),
    reason="Debian chromium missing: run `make chromium`")


def png(width=32, height=24, rgb=(200, 60, 40)):
    "Return the bytes of a plain-coloured PNG image."
    raw = b''.join(b'\x00' + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    return (b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0,
                0))
        + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS,
            headless=True)
        try:
            yield browser
        finally:
            browser.close()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / ('%s.png' % name)), full_page=True)


def test_resident_and_technician_journey(portal_server, browser, tmp_path):
    base = portal_server.url
    data = portal_server.data
    photo = tmp_path / 'leak.png'
    photo.write_bytes(png())
    resident = browser.new_context(viewport=VIEWPORT, locale='zh-CN',
        is_mobile=True, has_touch=True)
    page = resident.new_page()

    # Sign up with her mobile number
    page.goto(base + '/login')
    shot(page, '01-login')
    page.click('text=注册新账号')
    page.fill('#mobile', '138 0013 8001')
    page.click('text=获取验证码')
    page.wait_for_selector('#code')
    assert "验证码已通过短信发送至 138****8001" in page.content()
    # the code of the SMS the (emulated) provider received
    sent = [m for m in portal_server.sms.sent
        if m['to'] == '+8613800138001']
    page.fill('#code', sent[-1]['params'][0])
    page.fill('#password', PASSWORD)
    page.fill('#password2', PASSWORD)
    shot(page, '02-signup-code')
    page.click('form[action$="/signup"] button[type=submit]')
    page.wait_for_url('**/portal/bind')
    # Unverified: nothing of any unit yet
    page.goto(base + '/units')
    assert "账号未验证" in page.content()
    assert "3-2-1201" not in page.content()

    # Bind with the code the property office gave her
    page.goto(base + '/bind')
    page.fill('#code', data['codes']['wang'].lower())
    shot(page, '02-bind')
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/units')
    assert "3-2-1201" in page.content()
    assert "业主" in page.content()
    shot(page, '03-units')

    # Her bills; pay the open one through the sandbox
    page.goto(base + '/bills')
    shot(page, '04-bills')
    if data.get('bills'):
        page.click('.card a >> nth=0')
        page.click('text=立即缴费')
        page.wait_for_selector('#qr svg')
        shot(page, '05-pay-qr')
        page.click('#open-wallet')
        page.click('#sandbox-confirm')
        page.wait_for_selector('text=支付成功')
        page.click('text=查看收据')
        page.wait_for_selector('#receipt')
        assert "电子收据" in page.content()
        shot(page, '06-receipt')
        page.goto(base + '/bills')
        assert "已缴" in page.content()

    # File a repair with a photo
    page.goto(base + '/requests/new')
    page.select_option('#kind', 'repair')
    page.fill('#title', "卫生间漏水")
    page.fill('#description', "天花板滴水,请尽快处理")
    page.select_option('#urgency', 'high')
    page.set_input_files('#photos', str(photo))
    shot(page, '07-request-new')
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/requests/*')
    request_url = page.url
    assert "卫生间漏水" in page.content()
    assert "待受理" in page.content()
    assert page.locator('img.photo').count() == 1
    natural = page.eval_on_selector('img.photo', 'img => img.naturalWidth')
    assert natural == 32
    shot(page, '08-request-filed')

    # A technician of the compound claims and closes it from his phone
    staff = browser.new_context(viewport=VIEWPORT, locale='zh-CN',
        is_mobile=True, has_touch=True)
    tech = staff.new_page()
    tech.goto(base + '/staff/login')
    tech.fill('#login', 'tech_jz')
    tech.fill('#password', PASSWORD)
    tech.click('button[type=submit]')
    tech.wait_for_url('**/portal/staff/')
    shot(tech, '09-staff-queue')
    tech.click('text=卫生间漏水')
    tech.click('#claim')
    tech.click('#start')
    tech.fill('#resolution', "更换下水管密封圈")
    tech.set_input_files('#photos', str(photo))
    tech.click('#done')
    tech.wait_for_selector('text=待确认')
    shot(tech, '10-staff-done')
    staff.close()

    # The resident confirms and rates it
    page.goto(request_url)
    assert "待确认" in page.content()
    assert "更换下水管密封圈" in page.content()
    assert page.locator('img.photo').count() == 2
    page.select_option('#rating', '5')
    page.fill('#comment', "师傅很专业")
    shot(page, '11-rate')
    page.click('button[value=confirm]')
    page.wait_for_selector('text=已完成')
    assert "★★★★★" in page.content()
    shot(page, '12-rated')
    resident.close()


def test_two_compounds_two_portals(portal_server, browser):
    """Each compound its own portal from the same server: 嘉州花园 red with
    bills first, 滨江花园 green with its logo and no notices (its notices
    page answers 404); a resident of
    both switches between them. No CSP violation (no inline style)."""
    base = portal_server.url
    portals = portal_server.data['portals']
    context = browser.new_context(viewport=VIEWPORT, locale='zh-CN',
        is_mobile=True, has_touch=True)
    page = context.new_page()
    problems = []
    page.on('console', lambda m: m.type == 'error' and problems.append(
            m.text))
    page.on('pageerror', lambda e: problems.append(str(e)))
    page.on('response', lambda r: r.status >= 400 and problems.append(
            '%s %s' % (r.status, r.url)))
    page.goto(base + '/login')
    page.fill('#login', portal_server.data['accounts']['qian'])
    page.fill('#password', PASSWORD)
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/')

    def header_colour():
        return page.eval_on_selector(
            'header', 'e => getComputedStyle(e).backgroundColor')

    def services():
        return page.eval_on_selector_all(
            'nav a', 'es => es.map(e => e.dataset.nav)')

    jz, bj = portals['嘉州花园'], portals['滨江花园']
    assert page.title() == jz['name']
    assert header_colour() == 'rgb(192, 57, 43)'   # #C0392B
    # the compound's services, the inbox always (before "Me")
    assert services() == ['home'] + jz['services'][:-1] + ['inbox', 'profile']
    assert "停水检修" in page.content()
    assert page.locator('header img.logo').count() == 0
    shot(page, '20-portal-jiazhou')

    page.click('#compound-switcher button:has-text("滨江花园")')
    page.wait_for_url('**/portal/')
    page.wait_for_function(
        "document.title === %r" % bj['name'])
    assert header_colour() == 'rgb(17, 122, 101)'  # #117A65
    assert services() == ['home'] + bj['services'][:-1] + ['inbox', 'profile']
    assert 'announcements' not in services()
    assert "电梯年检" in page.content() and "停水检修" not in page.content()
    assert "保安室 0833-2200003" in page.content()
    logo = page.locator('header img.logo')
    assert logo.count() == 1
    assert page.eval_on_selector(
        'header img.logo', 'e => e.complete && e.naturalWidth') == 64
    shot(page, '21-portal-binjiang')

    # the bill list keeps the compound's colour
    page.goto(base + '/requests')
    assert header_colour() == 'rgb(17, 122, 101)'
    assert not problems, problems
    context.close()


def test_inbox(portal_server, browser):
    """The inbox on a phone: the unread count on the navigation, the bill
    notification of the month's bill run opened leads to the bill, the
    count goes down."""
    base = portal_server.url
    data = portal_server.data
    if not data.get('bills'):
        pytest.skip("no billing")
    context = browser.new_context(viewport=VIEWPORT, locale='zh-CN',
        is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(base + '/login')
    page.fill('#login', data['accounts']['zhao'])
    page.fill('#password', PASSWORD)
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/')
    count = page.locator('#nav-inbox-count')
    before = int(count.inner_text())
    assert before >= 1
    page.click('nav a[data-nav=inbox]')
    page.wait_for_url('**/portal/notifications')
    assert page.locator('#unread-count').inner_text() == "%s 条未读" % before
    assert page.locator('form.message.unread').count() == before
    shot(page, '30-inbox')
    page.click('form.message.unread button:has-text("账单")')
    page.wait_for_url('**/portal/bills/*')
    assert "3-2-1202" in page.content()
    assert "¥120.00" in page.content()
    shot(page, '31-inbox-bill')
    if before == 1:
        assert page.locator('#nav-inbox-count').count() == 0
    else:
        assert int(page.locator('#nav-inbox-count').inner_text()) == (
            before - 1)
    page.click('nav a[data-nav=inbox]')
    page.wait_for_url('**/portal/notifications')
    assert page.locator('form.message.unread').count() == before - 1
    context.close()
