"""The gate and the home on phones (headless Chromium at 390×844):

- a resident invites a visitor and gets the pass's link and QR code; the
  guard registers a walk-in visitor on the staff page, the resident lets
  him in from her phone, the guard lets him in once, and checks the
  invitation's link at the gate;
- a tenant applies for a goods release slip (物品放行), the owner agrees
  from his phone, the property manager approves it in the back office
  (JSON-RPC, as sao does), the tenant shows the QR code, the guard opens
  it, counts what leaves and releases it once;
- a resident opens her pass code (通行码): a QR code that changes by itself
  before it expires, without reloading the page;
- the resident switches the plug of her living room: the command goes out
  through the real bridge and Mosquitto to a simulated Tasmota plug, which
  switches and reports; the page shows the new state without a reload of
  the user's own.

The resident is 李强 (co-owner of 3-2-1201 of 嘉州花园), the guard tech_jz.
Screenshots go to tests/artifacts/."""
import base64
import datetime as dt
import json
import os
import pathlib
import re
import shutil
import sys
import urllib.request
import uuid
from zoneinfo import ZoneInfo

import pytest

from portal_server import HOME_PLUG, PASSWORD

sys.path.insert(0, os.path.dirname(__file__))
import iot_support as s  # noqa: E402

ARTIFACTS = pathlib.Path(__file__).resolve().parent / 'artifacts'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run']
VIEWPORT = {'width': 390, 'height': 844}
SHANGHAI = ZoneInfo('Asia/Shanghai')

pytestmark = pytest.mark.skipif(
    not pathlib.Path(CHROMIUM).exists(),
    reason="Debian chromium missing: run `make chromium`")


@pytest.fixture(scope='module')
def browser():
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


def phone(browser):
    return browser.new_context(viewport=VIEWPORT, locale='zh-CN',
        is_mobile=True, has_touch=True).new_page()


def resident_login(page, base, mobile):
    page.goto(base + '/login')
    page.fill('#login', mobile)
    page.fill('#password', PASSWORD)
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/')


def staff_login(page, base, login):
    page.goto(base + '/staff/login')
    page.fill('#login', login)
    page.fill('#password', PASSWORD)
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/staff/')


def database(server):
    return server.url.rstrip('/').rsplit('/', 2)[-2]


def test_visitors_at_the_gate(portal_server, browser):
    if 'visitors' not in portal_server.data['portals']['嘉州花园'][
            'services']:
        pytest.skip("community_visitor not in the portal's modules")
    base = portal_server.url
    resident = phone(browser)
    resident_login(resident, base, portal_server.data['accounts']['li'])

    # she invites 李四 for today, all day
    resident.click('nav a[data-nav=visitors]')
    resident.wait_for_url('**/portal/visitors')
    resident.click('text=邀请访客')
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    resident.fill('#name', "李四")
    resident.fill('#phone', '139 1234 5678')
    resident.fill('#day', today)
    resident.fill('#start', '00:00')
    resident.fill('#end', '23:59')
    shot(resident, '40-visitor-invite')
    resident.click('form button[type=submit]')
    resident.wait_for_selector('svg')
    assert "只显示这一次" in resident.content()
    link = re.search(r'(https?://[^"<\s]+/visitors/pass/[A-Za-z0-9_-]+)',
        resident.content()).group(1)
    shot(resident, '41-visitor-pass')

    # the guard registers 赵六 who walked in for 3-2-1201
    guard = phone(browser)
    staff_login(guard, base, 'tech_jz')
    guard.goto(base + '/staff/visitors')
    assert "临时访客登记" in guard.content()
    guard.fill('#unit', '3-2-1201')
    guard.fill('#name', "赵六")
    guard.fill('#people', '2')
    guard.click('#walk-in button[type=submit]')
    guard.wait_for_selector('text=等待住户确认')
    shot(guard, '42-guard-walk-in')

    # the resident is asked and lets him in from her phone
    resident.goto(base + '/visitors')
    resident.wait_for_selector('text=赵六 在门岗等候')
    shot(resident, '43-visitor-waiting')
    resident.click('.waiting button.accept')
    resident.wait_for_selector('#answer')
    assert "门岗将为您的访客放行" in resident.inner_text('#answer')

    # the guard sees it and lets him in, once
    guard.click('#refresh')
    guard.click('button.admit')
    guard.wait_for_url('**/staff/visitors')
    card = guard.locator('.card[data-state]', has_text="赵六").first
    assert card.get_attribute('data-state') == 'used'
    assert guard.locator('button.admit').count() == 0

    # the invitation's link scanned at the gate: in once, then refused
    guard.fill('#token', link)
    guard.click('#check button[type=submit]')
    guard.wait_for_selector('#checked')
    assert "放行：李四，拜访 3-2-1201" in guard.inner_text('#checked')
    shot(guard, '44-guard-checked')
    guard.fill('#token', link)
    guard.click('#check button[type=submit]')
    guard.wait_for_selector('#checked.error')
    resident.context.close()
    guard.context.close()


def test_plug_switched_from_home(portal_server, browser, tmp_path):
    """The plug goes on through the real bridge and broker; the page
    follows the device's report"""
    import paho.mqtt.client as mqtt
    plug_id = portal_server.data.get('devices', {}).get('plug')
    if not plug_id:
        pytest.skip("community_iot not in the portal's modules")
    s.ensure_mosquitto()
    db = database(portal_server)
    prefix = 'home' + uuid.uuid4().hex[:8]
    tasmota = s.roots(prefix)['tasmota']
    conf = s.write_bridge_config(str(tmp_path / 'bridge.conf'), 1883,
        prefix)
    bridge = s.Bridge(conf, db, str(tmp_path / 'bridge.log')).start()
    received = []

    def on_message(client, userdata, message):
        # the plug switches and reports its state
        received.append(message.payload.decode())
        client.publish('%s/stat/%s/POWER' % (tasmota, HOME_PLUG),
            message.payload, qos=1)
    plug = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
        client_id='plug-' + prefix, protocol=mqtt.MQTTv5)
    plug.on_message = on_message
    plug.on_connect = lambda c, *a: c.subscribe(
        '%s/cmnd/%s/POWER' % (tasmota, HOME_PLUG), qos=1)
    plug.connect('127.0.0.1', 1883)
    plug.loop_start()
    page = phone(browser)
    try:
        s.wait_online(1883, prefix)
        # the plug reports it is off
        plug.publish('%s/stat/%s/POWER' % (tasmota, HOME_PLUG), 'OFF',
            qos=1).wait_for_publish(10)
        assert s.wait_for(lambda: s.sql(db, "SELECT latest_state "
                "FROM community_iot_device WHERE id = %s",
                (plug_id,))[0][0], timeout=30)

        resident_login(page, portal_server.url,
            portal_server.data['accounts']['li'])
        page.click('nav a[data-nav=devices]')
        page.wait_for_url('**/portal/devices')
        card = page.locator('.device', has_text="客厅插座")
        assert card.locator('.reading[data-key=switch]').inner_text() == '关'
        shot(page, '45-home-plug-off')
        card.locator('button.switch').click()
        page.wait_for_url('**/portal/devices')
        # the page follows the device: "switching…" until it reports ON,
        # then its button offers to switch it off
        page.locator('.device', has_text="客厅插座").locator(
            'button.switch', has_text="关闭").wait_for(timeout=45000)
        card = page.locator('.device', has_text="客厅插座")
        assert card.locator('.reading[data-key=switch]').inner_text() == '开'
        assert received == ['ON']
        assert s.sql(db, "SELECT action, state FROM community_iot_command "
            "WHERE device = %s", (plug_id,)) == [('on', 'confirmed')]
        shot(page, '46-home-plug-on')
    finally:
        page.context.close()
        plug.loop_stop()
        plug.disconnect()
        bridge.stop()


def rpc(server, login, method, *params):
    """Call trytond's JSON-RPC as the back office does: log in as
    ``login``, then call ``method`` with ``params`` and the context."""
    root = server.url.rsplit('/portal', 1)[0] + '/rpc/'

    def call(method, params, headers=()):
        request = urllib.request.Request(root, data=json.dumps({
                    'method': method, 'params': params, 'id': 1}).encode(),
            headers={'Content-Type': 'application/json', **dict(headers)})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert 'error' not in answer or not answer['error'], answer
        return answer['result']
    user_id, session, *_ = call('common.db.login',
        [login, {'password': PASSWORD}, 'zh_CN'])
    token = base64.b64encode(('%s:%s:%s' % (login, user_id, session))
        .encode()).decode()
    return call(method, [*params, {}],
        {'Authorization': 'Session ' + token})


def test_goods_release_slip(portal_server, browser, tmp_path):
    """A tenant's goods slip: the owner agrees, the property approves, the
    guard releases it once at the gate"""
    if 'release' not in portal_server.data['portals']['嘉州花园'][
            'services']:
        pytest.skip("community_release not in the portal's modules")
    base = portal_server.url
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    tenant = phone(browser)
    resident_login(tenant, base, portal_server.data['accounts']['sun'])
    tenant.goto(base + '/release')
    tenant.click('a.btn:has-text("申请物品放行")')
    tenant.select_option('#unit', tenant.locator(
            '#unit option', has_text='3-2-1202').get_attribute('value'))
    tenant.fill('#start', today)
    tenant.fill('#last', today)
    tenant.fill('input[name=item_1]', "旧沙发")
    tenant.fill('input[name=quantity_1]', '1')
    tenant.fill('input[name=item_2]', "纸箱")
    tenant.fill('input[name=quantity_2]', '3')
    shot(tenant, '47-release-apply')
    tenant.click('form button[type=submit]')
    tenant.wait_for_selector('text=旧沙发')
    slip_url = tenant.url

    # the owner agrees from his phone
    owner = phone(browser)
    resident_login(owner, base, portal_server.data['accounts']['zhao'])
    owner.goto(base + '/release')
    owner.click('#waiting a')
    owner.click('#approve')
    owner.wait_for_selector('text=赵磊')
    slip_id = int(s.sql(database(portal_server),
            "SELECT id FROM community_release_goods_slip "
            "WHERE state = 'owner_ok'")[0][0])
    # the property manager approves it in the back office
    rpc(portal_server, 'manager_jz',
        'model.community.release.goods_slip.approve', [slip_id])

    # the tenant shows the QR code
    tenant.goto(slip_url)
    tenant.click('#qr')
    tenant.wait_for_selector('#qr svg')
    code = tenant.inner_text('#code').strip()
    shot(tenant, '48-release-qr')

    # the guard opens it, two boxes stay, releases it once
    guard = phone(browser)
    staff_login(guard, base, 'tech_jz')
    guard.goto(base + '/staff/release')
    guard.fill('#token', code)
    guard.click('form[method=get] button[type=submit]')
    guard.wait_for_selector('#release')
    assert "孙丽" in guard.content()
    boxes = guard.locator('input[aria-label="纸箱"]')
    boxes.fill('1')
    photo = tmp_path / 'goods.png'
    photo.write_bytes(base64.b64decode(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ'
        'DwAEhQGAhKmMIQAAAABJRU5ErkJggg=='))
    guard.set_input_files('#photos', str(photo))
    shot(guard, '49-release-gate')
    guard.click('#release')
    guard.wait_for_load_state()
    assert s.sql(database(portal_server),
        "SELECT state FROM community_release_goods_slip WHERE id = %s",
        (slip_id,)) == [('released',)]
    assert sorted(s.sql(database(portal_server),
        "SELECT item, quantity, released_quantity "
        "FROM community_release_goods_slip_line WHERE slip = %s",
        (slip_id,))) == [("旧沙发", 1, 1), ("纸箱", 3, 1)]
    # the same code a second time: refused
    guard.goto(base + '/staff/release?token=' + code)
    assert guard.locator('#release').count() == 0
    shot(guard, '50-release-again')
    for page in (tenant, owner, guard):
        page.context.close()


def test_live_pass_code(portal_server, browser):
    """The resident's pass code is opened on first use and replaced in
    place by a new code before the shown one expires"""
    if 'access' not in portal_server.data['portals']['嘉州花园'][
            'services']:
        pytest.skip("community_access not in the portal's modules")
    page = phone(browser)
    resident_login(page, portal_server.url,
        portal_server.data['accounts']['li'])
    page.click('nav a[data-nav=access]')
    page.wait_for_url('**/portal/access')
    page.click('form[action$="/access"] button[type=submit]')
    page.wait_for_selector('#access-qr-image svg')
    refresh = int(page.get_attribute('#access-qr', 'data-refresh'))
    assert refresh <= 30, refresh
    first = page.inner_html('#access-qr-image')
    shot(page, '51-pass-code')
    reloads = []
    page.on('framenavigated', lambda frame: reloads.append(frame.url))
    # the page swaps in a new code by itself (no reload)
    page.wait_for_function("""first => {
        const box = document.getElementById('access-qr-image');
        return box && box.innerHTML !== first && box.querySelector('svg');
    }""", arg=first, timeout=(refresh + 20) * 1000)
    assert reloads == [], reloads
    assert page.locator('#access-qr-stale.hidden').count() == 1
    page.context.close()
