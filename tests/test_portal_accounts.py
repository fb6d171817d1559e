"""Portal accounts and identities, over HTTP and JSON-RPC against a running
trytond (fixture in portal_server.py): binding codes cannot name a party
of another unit, portal accounts are not readable by every back-office
user, sign-up/login/binding do not enumerate nor lock out, photos are
images, the staff cookie is no RPC session and the back office cannot be
framed.

Tests that hammer a rate limit do it from their own client address
(127.0.0.x), so that the other tests' client (127.0.0.1) is not limited.
"""
import base64
import functools
import http.client
import io
import json
import random
import re
import struct
import urllib.parse
import urllib.request
import uuid
import zlib

import pytest

from portal_client import PortalClient, Response
from portal_server import ADMIN_PASSWORD, PASSWORD


def new_mobile(prefix):
    "A mobile number nobody has signed up with (tests may run again)."
    return '%s%04d' % (prefix, random.randrange(10000))


def last_code(portal_server, mobile):
    "The code of the last SMS the emulated provider received for mobile."
    sent = [m for m in portal_server.sms.sent if m['to'] == '+86' + mobile]
    assert sent and sent[-1]['template'] == '2001008', sent
    return sent[-1]['params'][0]


def sign_up(portal_server, client, mobile, password=PASSWORD):
    "Sign up ``mobile`` as its holder does: with the code of the SMS."
    client.get('/signup')
    sent = client.post('/signup/code', {'mobile': mobile})
    assert sent.status == 200, sent.text
    return client.post('/signup', {'mobile': mobile,
            'code': last_code(portal_server, mobile),
            'password': password, 'password2': password})


class _SourceHandler(urllib.request.HTTPHandler):
    "Connects from a given local address (a client of its own)."

    def __init__(self, source):
        super().__init__()
        self.source = source

    def http_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPConnection,
                source_address=(self.source, 0)), req)


class Client(PortalClient):
    "A portal client from the local address ``source``."

    def __init__(self, base, source='127.0.0.1'):
        super().__init__(base)
        from portal_client import _NoRedirect
        self.opener = urllib.request.build_opener(
            _SourceHandler(source),
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def post_multipart(self, path, fields, files):
        "POST ``fields`` and ``files`` [(name, filename, type, bytes)]."
        boundary = uuid.uuid4().hex
        body = io.BytesIO()
        for name, value in dict(fields, csrf=self.csrf).items():
            body.write((
                    '--%s\r\nContent-Disposition: form-data; name="%s"'
                    '\r\n\r\n%s\r\n' % (boundary, name, value)).encode())
        for name, filename, content_type, data in files:
            body.write((
                    '--%s\r\nContent-Disposition: form-data; name="%s"; '
                    'filename="%s"\r\nContent-Type: %s\r\n\r\n' % (
                        boundary, name, filename, content_type)).encode())
            body.write(data + b'\r\n')
        body.write(('--%s--\r\n' % boundary).encode())
        req = urllib.request.Request(self.base + path,
            data=body.getvalue(), method='POST', headers={
                'Content-Type': 'multipart/form-data; boundary=%s'
                % boundary})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def cookie(self, name):
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value


class RPC:
    "A JSON-RPC session of a Tryton user on the portal server's database."

    def __init__(self, portal_server, login, password):
        self.url = portal_server.url.rsplit('/portal', 1)[0] + '/rpc/'
        self.login = login
        result = self.call('common.db.login',
            [login, {'password': password}, 'en'], auth=False)
        self.user_id, self.key = result['result'][:2]

    def raw(self, method, params, authorization=None):
        req = urllib.request.Request(self.url, method='POST',
            data=json.dumps({'id': 1, 'method': method,
                    'params': params}).encode(),
            headers={'Content-Type': 'application/json'})
        if authorization:
            req.add_header('Authorization', authorization)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    @staticmethod
    def session_header(login, user_id, key):
        return 'Session ' + base64.b64encode(
            ('%s:%s:%s' % (login, user_id, key)).encode()).decode()

    def call(self, method, params, auth=True):
        status, _, body = self.raw(method, params,
            self.session_header(self.login, self.user_id, self.key)
            if auth else None)
        assert status == 200, (status, body[:500])
        return json.loads(body)

    def model(self, model, method, *args):
        return self.call('model.%s.%s' % (model, method),
            [*args, {'language': 'en'}])


@pytest.fixture(scope='module')
def admin(portal_server):
    return RPC(portal_server, 'admin', ADMIN_PASSWORD)


GROUPS = {
    'group_community_staff': "Community Front Desk",
    'group_community_manager': "Community Property Manager",
    }


def group_id(admin, xml_id):
    found, = admin.model('res.group', 'search',
        [('name', '=', GROUPS[xml_id])])['result']
    return found


def compound_id(admin, code):
    return admin.model('community.compound', 'search',
        [('code', '=', code)])['result'][0]


def new_user(admin, login, group, compound):
    "A back-office user of ``group`` in ``compound``."
    company, = admin.model('company.company', 'search', [])['result']
    result = admin.model('res.user', 'create', [{
                'login': login, 'name': login, 'password': PASSWORD,
                'groups': [('add', [group_id(admin, group)])],
                'compounds': [('add', [compound_id(admin, compound)])],
                'companies': [('add', [company])], 'company': company,
                }])
    assert 'result' in result, result
    return result['result'][0]


def png(width=16, height=12, rgb=(20, 120, 200)):
    raw = b''.join(b'\x00' + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    return (b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0,
                0))
        + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


# ---------------------------------------------------------- identity takeover

def test_binding_code_names_only_a_resident_of_its_unit(
        portal_server, admin):
    "A front desk of 滨江花园 cannot issue a code for an owner of 嘉州花园"
    zhao, = admin.model('party.party', 'search',
        [('name', '=', "赵磊")])['result']        # owner of 3-2-1202 (JZHY)
    zhou, = admin.model('party.party', 'search',
        [('name', '=', "周敏")])['result']        # owner of 9-1-101 (BJHY)
    unit, = admin.model('community.unit', 'search',
        [('code', '=', '9-1-101')])['result']
    tech_bj = RPC(portal_server, 'tech_bj', PASSWORD)
    # tech_bj cannot even read zhao
    assert tech_bj.model('party.party', 'search',
        [('id', '=', zhao)])['result'] == []
    forged = tech_bj.model('community.portal.binding_code', 'create',
        [{'unit': unit, 'party': zhao}])
    assert 'result' not in forged
    # refused on the party it cannot read, or else on its not being a
    # resident of the unit (addons/community_base/tests/test_portal.py
    # tests the second check on its own)
    refusal = json.dumps(forged, ensure_ascii=False)
    assert ("not a resident" in refusal
        or 'Party' in refusal and 'of these rules' in refusal), refusal
    own = tech_bj.model('community.portal.binding_code', 'create',
        [{'unit': unit, 'party': zhou}])
    code_id, = own['result']
    code, = admin.model('community.portal.binding_code', 'read',
        [code_id], ['party', 'code'])['result']
    assert code['party'] == zhou
    # the code of its own resident works: the account sees 9-1-101 only
    account = Client(portal_server.url, '127.0.0.6')
    signed = sign_up(portal_server, account, new_mobile('1370013'))
    assert signed.status == 303
    account.get('/bind')
    assert account.post('/bind', {'code': code['code']}).status == 303
    units = account.get('/units').text
    assert '9-1-101' in units and '3-2-1202' not in units


# ------------------------------------------------------------ web.user access

def test_portal_accounts_not_readable_by_every_staff(portal_server, admin):
    "Only account managers of a compound read its accounts, never secrets"
    new_user(admin, 'manager_bj', 'group_community_manager', 'BJHY')
    tech_bj = RPC(portal_server, 'tech_bj', PASSWORD)
    # the front desk reads no portal account at all
    answer = tech_bj.model('web.user', 'search_read', [], 0, None, None,
        ['mobile', 'password_hash'])
    assert 'result' not in answer
    assert '1390013900' not in json.dumps(answer)
    manager = RPC(portal_server, 'manager_bj', PASSWORD)
    answer = manager.model('web.user', 'search_read',
        [('mobile', '!=', None)], 0, None, None, ['mobile', 'party'])
    mobiles = {r['mobile'] for r in answer['result']}
    # zhou of 滨江花园 (and unbound accounts, to approve), no resident of
    # 嘉州花园
    assert '13900139005' in mobiles and '13900139009' in mobiles
    assert not mobiles & {'13900139002', '13900139003', '13900139004'}
    # nobody reads hashes or tokens through RPC, not even the admin
    for rpc in [manager, admin]:
        ids = rpc.model('web.user', 'search',
            [('mobile', '=', '13900139005')])['result']
        assert len(ids) == 1
        for field in ['password_hash', 'portal_token',
                'reset_password_token', 'email_token']:
            answer = rpc.model('web.user', 'read', ids, [field])
            assert 'result' not in answer, (field, answer)
            assert '$argon2' not in json.dumps(answer)


# ------------------------------------------------- enumeration and lockout

def test_signup_does_not_tell_a_number_has_an_account(portal_server):
    """Asking for a sign-up code answers alike for a taken number (both get
    their SMS), and is limited per client"""
    client = Client(portal_server.url, '127.0.0.4')
    texts = {}
    for mobile in ['13900139003', new_mobile('1370017')]:
        client.get('/signup')
        answer = client.post('/signup/code', {'mobile': mobile})
        assert answer.status == 200, answer.text
        assert last_code(portal_server, mobile)
        texts[mobile] = answer.text.replace(
            mobile[:3] + '****' + mobile[7:], 'MASKED').replace(
            mobile, 'NUMBER')
    first, second = texts.values()
    assert first == second
    assert "已注册" not in first
    # [community_portal] sms_code_per_client = 6 codes an hour
    answers = [client.post('/signup/code', {
                'mobile': new_mobile('1370018')}) for i in range(5)]
    assert answers[-1].status == 400
    assert "该设备获取验证码次数过多" in answers[-1].text
    # another client may still sign up
    other = Client(portal_server.url, '127.0.0.5')
    assert sign_up(portal_server, other, new_mobile('1370014')).status == 303


def test_wrong_passwords_elsewhere_do_not_lock_a_resident_out(
        portal_server):
    "An attacker's wrong passwords do not lock the resident's own client"
    mobile = new_mobile('1370015')
    resident = Client(portal_server.url, '127.0.0.7')
    assert sign_up(portal_server, resident, mobile).status == 303
    attacker = Client(portal_server.url, '127.0.0.8')
    attacker.get('/login')
    texts = [attacker.post('/login', {'login': mobile,
                'password': 'wrong-%d' % i}).text for i in range(4)]
    assert "尝试次数过多" in texts[-1]
    resident = Client(portal_server.url, '127.0.0.7')
    resident.get('/login')
    logged = resident.post('/login', {'login': mobile,
            'password': PASSWORD})
    assert logged.status == 303, logged.text


def test_binding_code_attempts_are_limited(portal_server):
    "Guessing binding codes stops after a few wrong ones"
    data = portal_server.data
    client = Client(portal_server.url, '127.0.0.9')
    assert sign_up(portal_server, client, new_mobile('1370016')).status == 303
    client.get('/bind')
    texts = [client.post('/bind', {'code': 'WRONG%03d' % i}).text
        for i in range(6)]
    assert "绑定码无效" in texts[0]
    assert "尝试次数过多" in texts[-1]
    # even the right code is refused until the limit expires
    right = client.post('/bind', {'code': data['codes']['zhou']})
    assert right.status == 400 and "尝试次数过多" in right.text
    assert '9-1-101' not in client.get('/units').text


# --------------------------------------------------------------- photos

def _new_request_form(client, title):
    page = client.get('/requests/new')
    unit = re.search(r'<option value="([^"]+)"', page.text).group(1)
    return {'unit': unit, 'kind': 'repair', 'urgency': 'normal',
        'title': title}


def test_photos_are_checked_by_content_and_reencoded(portal_server):
    "A non-image declared image/jpeg is refused; an image is re-encoded"
    client = Client(portal_server.url)
    client.login(portal_server.data['accounts']['zhao'], PASSWORD)
    title = "照片 %s" % uuid.uuid4().hex[:8]
    form = _new_request_form(client, title)
    refused = client.post_multipart('/requests/new', form,
        [('photos', 'x.jpg', 'image/jpeg', b'<html><script>alert(1)'
                b'</script></html>')])
    assert refused.status == 400
    assert "图片" in refused.text
    assert title not in client.get('/requests').text
    form = _new_request_form(client, title)
    hidden = png() + b'<script>alert(1)</script>'
    filed = client.post_multipart('/requests/new', form,
        [('photos', 'y.png', 'image/png', hidden)])
    assert filed.status == 303
    photo = client.get(filed.location + '/photos/1')
    assert photo.status == 200
    assert b'<script>' not in photo.body
    assert photo.headers['Content-Type'] in {'image/png', 'image/jpeg'}
    assert photo.body[:4] in {b'\x89PNG', b'\xff\xd8\xff\xe0',
        b'\xff\xd8\xff\xdb', b'\xff\xd8\xff\xe1'}


# --------------------------------------------------------------- staff

def test_staff_cookie_is_not_an_rpc_session(portal_server, admin):
    "The portal_staff cookie opens no JSON-RPC session"
    staff = Client(portal_server.url)
    staff.staff_login('tech_jz', PASSWORD)
    cookie = staff.cookie('portal_staff')
    assert cookie
    tech_jz, = admin.model('res.user', 'search',
        [('login', '=', 'tech_jz')])['result']
    for key in {cookie, cookie.partition(':')[2]} - {''}:
        status, _, body = admin.raw('model.res.user.get_preferences',
            [True, {}], RPC.session_header('tech_jz', tech_jz, key))
        assert status in {401, 403}, body[:300]


def test_staff_removed_from_group_is_locked_out(portal_server, admin):
    "Staff group membership is checked on every staff request"
    user = new_user(admin, 'tech_leaving', 'group_community_staff', 'JZHY')
    staff = Client(portal_server.url)
    staff.staff_login('tech_leaving', PASSWORD)
    assert staff.get('/staff/').status == 200
    result = admin.model('res.user', 'write', [user], {
            'groups': [('remove', [group_id(
                            admin, 'group_community_staff')])]})
    assert 'error' not in result, result
    response = staff.get('/staff/')
    assert response.status in {302, 303}
    assert response.location.endswith('/portal/staff/login')


def test_back_office_cannot_be_framed(portal_server, admin):
    "The web client and its RPC answer with frame-ancestors 'self'"
    root = portal_server.url.rsplit('/', 2)[0] + '/'
    for method, url, data in [
            ('GET', root, None),
            ('POST', admin.url, json.dumps({'id': 1, 'method':
                        'common.server.version', 'params': []}).encode())]:
        req = urllib.request.Request(url, data=data, method=method,
            headers={'Content-Type': 'application/json'} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                headers = resp.headers
        except urllib.error.HTTPError as e:
            headers = e.headers
        assert headers['X-Frame-Options'] == 'SAMEORIGIN', url
        assert "frame-ancestors 'self'" in headers[
            'Content-Security-Policy'], url
    # the portal keeps its own, stricter policy
    portal = PortalClient(portal_server.url).get('/login')
    assert portal.headers['X-Frame-Options'] == 'DENY'
    assert "frame-ancestors 'none'" in portal.headers[
        'Content-Security-Policy']
