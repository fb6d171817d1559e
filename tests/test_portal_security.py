"""Security of the resident portal and the staff phone pages, over HTTP
against a running trytond (fixture in portal_server.py)."""
import random
import re

import pytest

from portal_client import PortalClient
from portal_server import PASSWORD


@pytest.fixture
def client(portal_server):
    return PortalClient(portal_server.url)


def resident(portal_server, key):
    client = PortalClient(portal_server.url)
    client.login(portal_server.data['accounts'][key], PASSWORD)
    return client


def test_unauthenticated_goes_to_login(portal_server, client):
    token = portal_server.data['requests']['zhao']
    for path in ['/', '/units', '/bills', '/requests', '/requests/new',
            '/requests/%s' % token, '/announcements', '/household',
            '/profile']:
        response = client.get(path)
        assert response.status in {302, 303}, path
        assert response.location.endswith('/portal/login'), path
    assert client.get('/login').status == 200
    staff = client.get('/staff/')
    assert staff.status in {302, 303}
    assert staff.location.endswith('/portal/staff/login')


def test_other_residents_request_is_404(portal_server):
    data = portal_server.data
    zhao = resident(portal_server, 'zhao')
    own = zhao.get('/requests/%s' % data['requests']['zhao'])
    assert own.status == 200
    assert "报修 zhao" in own.text
    # another compound's resident and another unit's owner
    for key in ['zhou', 'li']:
        response = zhao.get('/requests/%s' % data['requests'][key])
        assert response.status == 404
        assert ("报修 %s" % key) not in response.text
        assert zhao.get(
            '/requests/%s/photos/1' % data['requests'][key]).status == 404
        rate = zhao.post('/requests/%s/rate' % data['requests'][key],
            {'rating': '1'})
        assert rate.status == 404
    # made-up references
    assert zhao.get('/requests/1').status == 404
    assert zhao.get('/requests/' + '0' * 32).status == 404
    listing = zhao.get('/requests')
    assert "报修 zhao" in listing.text
    assert "报修 zhou" not in listing.text and "报修 li" not in listing.text


def test_tenant_does_not_see_owner_requests(portal_server):
    data = portal_server.data
    sun = resident(portal_server, 'sun')
    assert sun.get('/requests/%s' % data['requests']['zhao']).status == 404


def test_unverified_account_sees_no_unit(portal_server):
    data = portal_server.data
    client = resident(portal_server, 'unverified')
    home = client.get('/')
    assert home.status == 200
    assert "账号未验证" in home.text
    for path in ['/units', '/bills', '/requests', '/announcements',
            '/household']:
        response = client.get(path)
        assert "3-2-" not in response.text and "9-1-" not in response.text
        assert "嘉州花园" not in response.text
    assert client.get(
        '/requests/%s' % data['requests']['zhao']).status == 404
    # cannot file a request for a unit it is not bound to
    client.get('/requests/new')
    response = client.post('/requests/new', {
            'unit': '1.deadbeef', 'kind': 'repair', 'title': 'x'})
    assert response.status == 200 and "账号未验证" in response.text


def test_binding_code_is_single_use(portal_server):
    data = portal_server.data
    client = resident(portal_server, 'unverified')
    client.get('/bind')
    wrong = client.post('/bind', {'code': 'WRONG123'})
    assert wrong.status == 400
    assert "绑定码无效" in wrong.text or "invalid" in wrong.text
    # zhou's code was for another party: an account bound to nobody may use
    # it only once; here it is li's code used by li's account already bound
    li = resident(portal_server, 'li')
    li.get('/bind')
    other = li.post('/bind', {'code': data['codes']['zhou']})
    assert other.status == 400   # bound to li, code is for zhou


def test_cross_compound_staff_sees_nothing(portal_server):
    data = portal_server.data
    staff = PortalClient(portal_server.url)
    staff.staff_login('tech_bj', PASSWORD)
    queue = staff.get('/staff/')
    assert queue.status == 200
    assert "报修 zhou" in queue.text
    assert "报修 zhao" not in queue.text and "报修 li" not in queue.text
    assert "嘉州花园" not in queue.text
    response = staff.get('/staff/requests/%s' % data['requests']['zhao'])
    assert response.status == 404
    claim = staff.post(
        '/staff/requests/%s/claim' % data['requests']['zhao'])
    assert claim.status == 404
    cashier = staff.get('/staff/cashier?unit=3-2-1201')
    assert "未找到房屋" in cashier.text


def test_resident_cannot_use_staff_pages(portal_server):
    zhao = resident(portal_server, 'zhao')
    response = zhao.get('/staff/')
    assert response.status in {302, 303}
    staff = PortalClient(portal_server.url)
    staff.get('/staff/login')
    refused = staff.post('/staff/login', {
            'login': 'admin', 'password': 'wrong'})
    assert refused.status == 400


def test_missing_csrf_is_rejected(portal_server):
    zhao = resident(portal_server, 'zhao')
    form = {'kind': 'repair', 'title': 'CSRF', 'urgency': 'normal'}
    assert zhao.post('/requests/new', form, csrf=False).status == 403
    form['csrf'] = 'f' * 40
    assert zhao.post('/requests/new', form).status == 403
    assert zhao.post('/logout', csrf=False).status == 403
    # still logged in
    assert zhao.get('/requests').status == 200
    anonymous = PortalClient(portal_server.url)
    assert anonymous.post('/login', {
            'login': 'x', 'password': 'y'}, csrf=False).status == 403
    # a cross-site POST is refused by trytond's origin check as well (it
    # aborts outside the dispatcher, hence a 500 rather than a 403)
    cross = zhao.request('POST', '/logout', data={'csrf': zhao.csrf},
        headers={'Origin': 'http://evil.example'})
    assert cross.status in {403, 500}
    assert zhao.get('/requests').status == 200


def test_output_escaped_and_numbers_masked(portal_server):
    zhao = resident(portal_server, 'zhao')
    zhao.get('/requests/new')
    page = zhao.get('/requests/new')
    unit = re.search(r'<option value="([^"]+)"', page.text).group(1)
    response = zhao.post('/requests/new', {
            'unit': unit, 'kind': 'complaint', 'urgency': 'normal',
            'title': '<script>alert(1)</script>',
            'description': '"><img src=x onerror=alert(1)>'})
    assert response.status == 303
    detail = zhao.get(response.location)
    assert '<script>alert(1)</script>' not in detail.text
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in detail.text
    assert '<img src=x' not in detail.text
    profile = zhao.get('/profile')
    assert '139****9003' in profile.text
    assert '13900139003' not in profile.text


def test_login_is_rate_limited(portal_server):
    client = PortalClient(portal_server.url)
    client.get('/login')
    mobile = '1370013%04d' % random.randrange(10000)
    texts = []
    for _ in range(4):
        texts.append(client.post('/login', {
                    'login': mobile, 'password': 'wrong'}).text)
    assert "尝试次数过多" in texts[-1]
    assert "尝试次数过多" not in texts[0]


def test_session_logout_ends_access(portal_server):
    zhao = resident(portal_server, 'zhao')
    assert zhao.get('/units').status == 200
    assert zhao.post('/logout').status == 303
    response = zhao.get('/units')
    assert response.status in {302, 303}


def test_bills_of_other_units_are_404(portal_server):
    bills = portal_server.data.get('bills') or {}
    if not bills:
        pytest.skip("billing models not on this branch yet")
    li = resident(portal_server, 'li')           # co-owner of 3-2-1201
    listing = li.get('/bills')
    refs = re.findall(r'/bills/([0-9]+\.[0-9a-f]+)"', listing.text)
    assert len(refs) == 1 and '3-2-1201' in listing.text
    # open (or paid by wang in the browser test): 120.00 either way
    assert '¥120.00' in listing.text
    ref = refs[0]
    assert li.get('/bills/%s' % ref).status == 200
    zhao = resident(portal_server, 'zhao')       # owner of 3-2-1202
    assert zhao.get('/bills/%s' % ref).status == 404
    assert zhao.post('/bills/%s/pay' % ref).status == 404
    zhao_bills = zhao.get('/bills').text
    assert '3-2-1201' not in zhao_bills
    # zhao's own bill is open (nobody pays it in these tests): the amount
    # to pay from the list's single query
    assert '¥120.00' in zhao_bills and '待缴' in zhao_bills
    assert '没有待缴账单' not in zhao_bills
    # a bare id or a forged signature
    bill_id = ref.split('.')[0]
    assert li.get('/bills/%s' % bill_id).status == 404
    assert li.get('/bills/%s.%s' % (bill_id, '0' * 20)).status == 404
    # the tenant does not see the owner's bill of her unit
    sun = resident(portal_server, 'sun')
    assert '3-2-1202' not in sun.get('/bills').text
    zhao_ref = re.findall(r'/bills/([0-9]+\.[0-9a-f]+)"',
        zhao.get('/bills').text)[0]
    assert sun.get('/bills/%s' % zhao_ref).status == 404


def test_cashier_lookup_in_own_compound(portal_server):
    bills = portal_server.data.get('bills') or {}
    if not bills:
        pytest.skip("billing models not on this branch yet")
    staff = PortalClient(portal_server.url)
    staff.staff_login('tech_jz', PASSWORD)
    page = staff.get('/staff/cashier?unit=3-2-1202')
    assert page.status == 200 and '¥120.00' in page.text
    # the QR code is made by a POST (a GET writes nothing)
    bill = re.search(r'name="bill" value="([^"]+)"', page.text)
    if bill:
        made = staff.post('/staff/cashier', {'bill': bill.group(1)})
        assert made.status == 303
        page = staff.get(made.location)
    assert '<svg' in page.text and '¥120.00' in page.text
    other = staff.get('/staff/cashier?unit=9-1-101')
    assert "未找到房屋" in other.text and '<svg' not in other.text


def test_late_fees_paid_from_the_portal(portal_server):
    "A resident sees the late fee of an overdue bill and pays all at once"
    if not portal_server.data.get('bills'):
        pytest.skip("no billing models")
    zhou = resident(portal_server, 'zhou')       # owner of 9-1-101
    listing = zhou.get('/bills').text
    # 120.00 overdue by ten days at 0.05 % a day (fixture)
    assert '9-1-101 欠费合计' in listing
    assert '含违约金 ¥0.60' in listing and '缴清全部 ¥120.60' in listing
    ref = re.findall(r'/bills/([0-9]+\.[0-9a-f]+)"', listing)[0]
    detail = zhou.get('/bills/%s' % ref).text
    assert '未缴违约金' in detail and '立即缴费 ¥120.60' in detail
    unit_ref = re.findall(r'/units/([0-9]+\.[0-9a-f]+)/pay"', listing)[0]
    # nobody else may pay 9-1-101's debts
    zhao = resident(portal_server, 'zhao')
    assert zhao.post('/units/%s/pay' % unit_ref).status == 404
    started = zhou.post('/units/%s/pay' % unit_ref)
    assert started.status in {302, 303}
    token = started.location.rsplit('/', 1)[1]
    wallet = zhou.get('/sandbox/%s' % token).text
    assert '¥120.60' in wallet
    paid = zhou.post('/sandbox/%s' % token)
    assert paid.status in {302, 303}
    result = zhou.get('/payments/%s' % token).text
    assert '支付成功 ¥120.60' in result
    receipt_token = re.findall(r'/receipts/([0-9a-f]+)"', result)[0]
    receipt = zhou.get('/receipts/%s' % receipt_token).text
    assert '缴清欠费' in receipt
    assert re.search(r'账单 [^<]*</td><td class="r">¥120.00', receipt)
    assert re.search(r'违约金\([^<]*\)</td><td class="r">¥0.60', receipt)
    after = zhou.get('/bills').text
    assert '欠费合计' not in after and '没有待缴账单' in after
