"""The resident's pass code (通行码) in headless Chromium at a phone
viewport (390×844) against a running trytond with community_access:
opened on first use, the QR code renewed in place every 30 s (the page's
clock driven by Playwright), hidden when it expired offline and back when
online; the code shown opens the gate when the reader asks the online
decision endpoint over HTTP."""
import json
import pathlib
import subprocess
import sys
import time
import urllib.request

import pytest

from portal_server import PASSWORD, PORTAL_MODULES, PortalServer
from test_portal_browser import ARGS, ARTIFACTS, CHROMIUM, VIEWPORT, shot

pytestmark = pytest.mark.skipif(
    not pathlib.Path(CHROMIUM).exists(),
    reason="Debian chromium missing: run `make chromium`")


class AccessPortalServer(PortalServer):
    "The portal's fixture with community_access, a gate and its reader."

    def __init__(self):
        super().__init__(database='test_portal_access',
            modules=PORTAL_MODULES + [m for m in ['community_access']
                if m not in PORTAL_MODULES])

    def after_prepare(self, conf, env):
        out = subprocess.run([sys.executable, __file__, 'prepare',
                str(conf), self.database], env=env, capture_output=True,
            text=True)
        if out.returncode:
            raise RuntimeError("fixture failed:\n" + out.stderr[-4000:])
        self.data.update(json.loads(out.stdout.strip().splitlines()[-1]))

    def stop(self):
        super().stop()
        import psycopg
        from portal_server import devdb
        with psycopg.connect(devdb.dsn(devdb.database_uri('pg-test')),
                autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                % self.database)


def prepare(conf, database):
    """嘉州花园 offers the pass code (if the portal's fixture does not
    already); its east gate's reader (with a push token) opens for its
    residents. Prints the reader's key and token."""
    from proteus import Model
    from proteus import config as pconfig
    pconfig.set_trytond(database=database, config_file=conf)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Compound = Model.get('community.compound')
    compound, = Compound.find([('code', '=', 'JZHY')])
    Portal = Model.get('community.portal.compound')
    portal, = Portal.find([('compound', '=', compound.id)])
    if 'access' not in {s.key for s in portal.services}:
        portal.services.new(key='access')
        portal.save()
    Device = Model.get('community.iot.device')
    reader = Device(name="东门读头", family='generic', key='jz-east-qr',
        compound=compound)
    reader.save()
    Door = Model.get('community.access.door')
    gate = Door(name="东门", compound=compound, location='gate',
        device=reader)
    gate.save()
    DoorGroup = Model.get('community.access.door.group')
    group = DoorGroup(name="大门", compound=compound)
    group.doors.append(Door(gate.id))
    group.save()
    Rule = Model.get('community.access.rule')
    Rule(name="住户", compound=compound, subject='residents',
        door_group=group).save()
    with Transaction().start(database, 0) as transaction:
        Devices = Pool(database).get('community.iot.device')
        token = Devices.set_push_tokens([Devices(reader.id)])[reader.id]
        transaction.commit()
    print(json.dumps({'reader': reader.key, 'token': token}))


@pytest.fixture(scope='module')
def server():
    server = AccessPortalServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


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


def ask(server, code):
    "The reader asks the online decision endpoint about ``code``."
    url = 'http://127.0.0.1:%s/%s/community_access/decide/%s' % (
        server.port, server.database, server.data['reader'])
    request = urllib.request.Request(url, method='POST',
        data=json.dumps({'code': code, 'door': "东门"}).encode(),
        headers={'Content-Type': 'application/json',
            'Authorization': 'Bearer ' + server.data['token']})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    return answer, (time.perf_counter() - start) * 1000


def test_live_pass_code(server, browser):
    """A resident opens the pass code on first use; the QR code fits the
    phone, renews itself in place, is hidden once expired offline and
    comes back online; the reader's online decision lets the code in"""
    context = browser.new_context(viewport=VIEWPORT, locale='zh-CN',
        is_mobile=True, has_touch=True)
    page = context.new_page()
    page.clock.install()
    page.goto(server.url + '/login')
    page.fill('#login', server.data['accounts']['li'])
    page.fill('#password', PASSWORD)
    page.click('button[type=submit]')
    page.wait_for_url('**/portal/')
    page.click('nav a[data-nav=access]')
    page.wait_for_url('**/portal/access')
    shot(page, '40-pass-code-open')
    page.click('button:has-text("开通通行码")')
    page.wait_for_url('**/portal/access')
    box = page.locator('#access-qr')
    svg = page.locator('#access-qr-image svg')
    assert svg.is_visible()
    bounds = svg.bounding_box()
    assert bounds['x'] >= 0 and bounds['x'] + bounds['width'] <= 390
    assert bounds['width'] >= 200
    assert "每 30 秒自动更新" in page.content()
    assert page.locator('#access-qr-stale').is_hidden()
    first = box.get_attribute('data-code')
    assert len(first) == 44
    shot(page, '41-pass-code')

    # 30 s later (on the page's clock) a new code, without reloading
    time.sleep(1.1)  # the server's next second: another issue time
    page.evaluate('window.notReloaded = true')
    page.clock.fast_forward('00:31')
    page.wait_for_function(
        'code => document.getElementById("access-qr").dataset.code '
        '!== code', arg=first, timeout=10000)
    second = box.get_attribute('data-code')
    assert second != first and len(second) == 44
    assert page.evaluate('window.notReloaded') is True
    answer, ms = ask(server, second)
    print("online decision: %.1f ms" % ms)
    assert (answer['result'], answer['reason'], answer['name']) == (
        'allow', 'granted', "李强")

    # offline past the code's minute: hidden, never shown in vain
    context.set_offline(True)
    page.clock.fast_forward('01:05')
    page.locator('#access-qr-stale').wait_for(state='visible')
    assert svg.is_hidden()
    shot(page, '42-pass-code-offline')
    # online again: a new code within the next retry
    time.sleep(1.1)
    context.set_offline(False)
    page.clock.fast_forward('00:06')
    page.locator('#access-qr-image svg').wait_for(state='visible')
    assert page.locator('#access-qr-stale').is_hidden()
    assert box.get_attribute('data-code') not in {first, second}
    context.close()


if __name__ == '__main__':
    if sys.argv[1] == 'prepare':
        prepare(sys.argv[2], sys.argv[3])
