# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Local emulators of the providers' HTTP APIs, for the tests and the
benchmark: the providers' servers cannot be reached from here.

- ``TencentSms``: Tencent Cloud SMS API 2021-01-11 (``SendSms``,
  ``PullSmsSendStatus``): checks the TC3-HMAC-SHA256 signature of every
  request as the provider does (canonical request of the signed headers,
  credential scope date/service/tc3_request, signing key derived from the
  secret key, timestamp within 5 minutes), that the template is approved
  and its parameters count, and answers as the provider does.
- ``WeChat``: the official account's ``/cgi-bin/token`` (appid and secret)
  and ``/cgi-bin/message/template/send`` (a valid access token, a known
  openid and template); its web authorisation (网页授权)
  ``/sns/oauth2/access_token``: the code of ``authorize(openid)`` (what
  WeChat gives the browser once the user agreed) for the openid, once,
  with the appid and secret.

Both record what they accepted in ``sent`` and can be told to fail the
next requests (``fail(n, code)``) to test retries. ``url`` is the base to
configure (``sms_url``, ``wechat_url``).
"""
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Server:
    def __init__(self):
        self.sent = []
        self.failures = []
        self.lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_GET(self):
                emulator.handle(self, 'GET', b'')

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                emulator.handle(self, 'POST', self.rfile.read(length))

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, n, code):
        "Fail the next ``n`` sends with the provider's error ``code``."
        with self.lock:
            self.failures.extend([code] * n)

    def _failure(self):
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    @staticmethod
    def reply(handler, status, body, content_type='application/json'):
        data = json.dumps(body, ensure_ascii=False).encode('utf-8')
        handler.send_response(status)
        handler.send_header('Content-Type', content_type)
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def _hmac(key, text):
    return hmac.new(key, text.encode('utf-8'), hashlib.sha256).digest()


class TencentSms(_Server):
    "Tencent Cloud SMS (sms.tencentcloudapi.com, version 2021-01-11)."
    service = 'sms'

    def __init__(self, secret_id='AKIDtest', secret_key='test-key',
            app_id='1400000000', sign='嘉州物业', templates=None):
        super().__init__()
        self.secret_id, self.secret_key = secret_id, secret_key
        self.app_id, self.sign = app_id, sign
        # approved templates: id -> number of parameters
        self.templates = templates or {}
        self.reports = []

    @property
    def url(self):
        return 'http://127.0.0.1:%s' % self.port

    def config(self):
        "The [community_notification] options that point here."
        return {'sms_url': self.url, 'sms_secret_id': self.secret_id,
            'sms_secret_key': self.secret_key, 'sms_app_id': self.app_id,
            'sms_sign': self.sign}

    def _error(self, handler, code, message):
        self.reply(handler, 200, {'Response': {
                    'Error': {'Code': code, 'Message': message},
                    'RequestId': str(uuid.uuid4())}})

    def check_signature(self, handler, method, body):
        "Return an error code, or None when the request is well signed."
        auth = handler.headers.get('Authorization', '')
        try:
            algorithm, rest = auth.split(' ', 1)
            parts = dict(p.strip().split('=', 1) for p in rest.split(','))
            secret_id, date, service, end = parts['Credential'].split('/')
            signed = parts['SignedHeaders']
            signature = parts['Signature']
        except (ValueError, KeyError):
            return 'AuthFailure.SignatureFailure'
        if algorithm != 'TC3-HMAC-SHA256' or end != 'tc3_request':
            return 'AuthFailure.SignatureFailure'
        if secret_id != self.secret_id:
            return 'AuthFailure.SecretIdNotFound'
        timestamp = int(handler.headers.get('X-TC-Timestamp') or 0)
        if abs(time.time() - timestamp) > 300:
            return 'AuthFailure.SignatureExpire'
        if (service != self.service or date != time.strftime(
                    '%Y-%m-%d', time.gmtime(timestamp))):
            return 'AuthFailure.SignatureFailure'
        url = urlsplit(handler.path)
        headers = ''.join('%s:%s\n' % (
                h, (handler.headers.get(h) or '').strip().lower()
                if h != 'content-type' else
                (handler.headers.get(h) or '').strip())
            for h in signed.split(';'))
        canonical = '\n'.join([method, url.path or '/',
                url.query if method == 'GET' else '', headers, signed,
                hashlib.sha256(body).hexdigest()])
        scope = '%s/%s/tc3_request' % (date, service)
        string_to_sign = '\n'.join(['TC3-HMAC-SHA256', str(timestamp), scope,
                hashlib.sha256(canonical.encode('utf-8')).hexdigest()])
        key = _hmac(_hmac(_hmac(('TC3' + self.secret_key).encode('utf-8'),
                    date), service), 'tc3_request')
        expected = hmac.new(key, string_to_sign.encode('utf-8'),
            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return 'AuthFailure.SignatureFailure'
        return None

    def handle(self, handler, method, body):
        error = self.check_signature(handler, method, body)
        if error:
            return self._error(handler, error, "signature check failed")
        action = handler.headers.get('X-TC-Action')
        if handler.headers.get('X-TC-Version') != '2021-01-11':
            return self._error(handler, 'InvalidParameter', 'version')
        params = json.loads(body or b'{}')
        if action == 'SendSms':
            return self.send_sms(handler, params)
        if action == 'PullSmsSendStatus':
            with self.lock:
                reports, self.reports = self.reports, []
            return self.reply(handler, 200, {'Response': {
                        'PullSmsSendStatusSet': reports,
                        'RequestId': str(uuid.uuid4())}})
        return self._error(handler, 'InvalidAction', action or '')

    def send_sms(self, handler, params):
        if params.get('SmsSdkAppId') != self.app_id:
            return self._error(handler,
                'InvalidParameterValue.SdkAppIdNotExist', 'SmsSdkAppId')
        if params.get('SignName') != self.sign:
            return self._error(handler,
                'FailedOperation.SignatureIncorrectOrUnapproved', 'sign')
        template = params.get('TemplateId')
        if template not in self.templates:
            return self._error(handler,
                'FailedOperation.TemplateIncorrectOrUnapproved', template)
        values = params.get('TemplateParamSet') or []
        if len(values) != self.templates[template]:
            return self._error(handler,
                'FailedOperation.TemplateParamSetNotMatchApprovedTemplate',
                'parameters')
        failure = self._failure()
        if failure:
            return self._error(handler, failure, "emulated failure")
        statuses = []
        for number in params.get('PhoneNumberSet') or []:
            serial = '2433:%s' % secrets.token_hex(8)
            with self.lock:
                self.sent.append({'to': number, 'template': template,
                        'params': values, 'serial': serial})
                self.reports.append({
                        'UserReceiveTime': time.strftime(
                            '%Y-%m-%d %H:%M:%S'),
                        'CountryCode': '86',
                        'SubscriberNumber': number[3:],
                        'PhoneNumber': number, 'SerialNo': serial,
                        'ReportStatus': 'SUCCESS',
                        'Description': 'DELIVRD',
                        'SessionContext': ''})
            statuses.append({'SerialNo': serial, 'PhoneNumber': number,
                    'Fee': 1, 'SessionContext': '', 'Code': 'Ok',
                    'Message': 'send success', 'IsoCode': 'CN'})
        return self.reply(handler, 200, {'Response': {
                    'SendStatusSet': statuses,
                    'RequestId': str(uuid.uuid4())}})


class WeChat(_Server):
    "WeChat official account API (api.weixin.qq.com/cgi-bin/)."

    def __init__(self, appid='wxtest', secret='wx-secret', openids=(),
            templates=()):
        super().__init__()
        self.appid, self.secret = appid, secret
        self.openids = set(openids)
        self.templates = set(templates)
        self.tokens = set()
        self.token_requests = 0
        self.codes = {}  # web authorisation code -> openid

    def authorize(self, openid):
        """What open.weixin.qq.com does when the user agrees: return the
        code (valid once) that the browser brings back to the redirect
        URI; the user becomes a user of the official account."""
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = openid
            self.openids.add(openid)
        return code

    @property
    def url(self):
        return 'http://127.0.0.1:%s/cgi-bin/' % self.port

    def config(self):
        return {'wechat_url': self.url, 'wechat_appid': self.appid,
            'wechat_secret': self.secret}

    def handle(self, handler, method, body):
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == '/cgi-bin/token' and method == 'GET':
            if (query.get('grant_type') != 'client_credential'
                    or query.get('appid') != self.appid):
                return self.reply(handler, 200, {
                        'errcode': 40013, 'errmsg': 'invalid appid'})
            if query.get('secret') != self.secret:
                return self.reply(handler, 200, {
                        'errcode': 40001, 'errmsg': 'invalid credential'})
            token = secrets.token_urlsafe(24)
            with self.lock:
                self.tokens.add(token)
                self.token_requests += 1
            return self.reply(handler, 200, {
                    'access_token': token, 'expires_in': 7200})
        if url.path == '/sns/oauth2/access_token' and method == 'GET':
            if (query.get('grant_type') != 'authorization_code'
                    or query.get('appid') != self.appid):
                return self.reply(handler, 200, {
                        'errcode': 40013, 'errmsg': 'invalid appid'})
            if query.get('secret') != self.secret:
                return self.reply(handler, 200, {
                        'errcode': 40001, 'errmsg': 'invalid credential'})
            with self.lock:
                openid = self.codes.pop(query.get('code'), None)
            if not openid:
                return self.reply(handler, 200, {
                        'errcode': 40029, 'errmsg': 'invalid code'})
            return self.reply(handler, 200, {
                    'access_token': secrets.token_urlsafe(24),
                    'expires_in': 7200,
                    'refresh_token': secrets.token_urlsafe(24),
                    'openid': openid, 'scope': 'snsapi_base'})
        if url.path == '/cgi-bin/message/template/send' and method == 'POST':
            if query.get('access_token') not in self.tokens:
                return self.reply(handler, 200, {
                        'errcode': 40001, 'errmsg': 'invalid credential'})
            data = json.loads(body or b'{}')
            if data.get('touser') not in self.openids:
                return self.reply(handler, 200, {
                        'errcode': 40003, 'errmsg': 'invalid openid'})
            if data.get('template_id') not in self.templates:
                return self.reply(handler, 200, {
                        'errcode': 40037, 'errmsg': 'invalid template_id'})
            failure = self._failure()
            if failure:
                return self.reply(handler, 200, {
                        'errcode': int(failure), 'errmsg': 'system error'})
            msgid = int.from_bytes(secrets.token_bytes(6), 'big')
            with self.lock:
                self.sent.append({'to': data['touser'],
                        'template': data['template_id'],
                        'data': {k: v['value']
                            for k, v in data['data'].items()},
                        'url': data.get('url'), 'msgid': msgid})
            return self.reply(handler, 200, {
                    'errcode': 0, 'errmsg': 'ok', 'msgid': msgid})
        return self.reply(handler, 404, {'errcode': 404, 'errmsg': 'no'})


#: the approved SMS templates of template.xml: id -> parameters
APPROVED_SMS = {'2001001': 3, '2001002': 3, '2001003': 2, '2001004': 2,
    '2001005': 2, '2001006': 1, '2001007': 2, '2001008': 2,
    # community_visitor's walk-in visitor at the gate
    '2001009': 3}
WECHAT_TEMPLATES = {'BILL_ISSUED_TPL', 'BILL_DUE_TPL', 'PAYMENT_TPL',
    'DUNNING_TPL', 'REQUEST_TPL', 'NOTICE_TPL', 'ALARM_TPL', 'VISITOR_TPL'}


def configure(*emulators):
    "Point the trytond configuration at the emulators."
    from trytond.config import config
    if not config.has_section('community_notification'):
        config.add_section('community_notification')
    for emulator in emulators:
        for key, value in emulator.config().items():
            config.set('community_notification', key, value)
