"""The gate and the home on phones (headless Chromium at 390×844):

- a resident invites a visitor and gets the pass's link and QR code; the
  guard registers a walk-in visitor on the staff page, the resident lets
  him in from her phone, the guard lets him in once, and checks the
  invitation's link at the gate;
- the resident switches the plug of her living room: the command goes out
  through the real bridge and Mosquitto to a simulated Tasmota plug, which
  switches and reports; the page shows the new state without a reload of
  the user's own.

The resident is 李强 (co-owner of 3-2-1201 of 嘉州花园), the guard tech_jz.
Screenshots go to tests/artifacts/."""
import datetime as dt
import os
import pathlib
import re
import shutil
import sys
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
