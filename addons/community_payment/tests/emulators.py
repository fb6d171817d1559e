# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Local emulators of the WeChat Pay API v3 and of the Alipay open
platform gateway, for the tests.

Each runs a small HTTP server on 127.0.0.1 (a thread) that the real SDKs
(``wechatpayv3``, ``python-alipay-sdk``) talk to through the merchant's
gateway URL, and signs and encrypts exactly as the provider does, with keys
generated here:

- WeChat Pay: requests must carry the merchant's ``Authorization``
  (WECHATPAY2-SHA256-RSA2048 over method, path, timestamp, nonce, body);
  answers and notifications are signed with the platform private key
  (``Wechatpay-Signature`` over timestamp, nonce, body; serial = the
  platform public key id); a notification's resource is encrypted with
  AES-256-GCM under the APIv3 key.
- Alipay: requests are verified with the application's public key (RSA2
  over the sorted parameters but ``sign``); answers are signed with
  Alipay's private key over the JSON of the ``…_response`` object;
  notifications are form posts signed over the sorted parameters but
  ``sign`` and ``sign_type``.

The emulators record what they were asked (``orders``, ``refunds``) and
build the notifications a test delivers (``notification``), so a test
decides when a notification arrives, twice, or never. They serve the
statement (对账单) of a day built from the trades and refunds they saw,
with the provider's fee (``FEE_RATE``, 0.6 %, per line rounded half-up to
the cent): WeChat Pay's trade bill (``/v3/bill/tradebill`` → a download
URL → the gzipped bill, fields prefixed by a backquote, SHA1 checked) and
Alipay's (``alipay.data.dataservice.bill.downloadurl.query`` → a zip of
GBK CSV files). ``foreign_trade`` adds a paid trade this system never
started (e.g. another till on the same merchant account).
"""
import base64
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import secrets
import threading
import urllib.error
import urllib.request
import uuid
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CST = dt.timezone(dt.timedelta(hours=8))
#: the providers' fee rate of the tests (the usual 0.6 %)
FEE_RATE = Decimal('0.006')


def fee_of(amount):
    "The fee of ``amount`` yuan, rounded half-up to the cent."
    return (Decimal(amount) * FEE_RATE).quantize(Decimal('0.01'),
        rounding=ROUND_HALF_UP)


def yuan_text(fen):
    return '%.2f' % (Decimal(fen) / 100)


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa2_sign(key, text):
    return base64.b64encode(key.sign(text.encode('utf-8'),
            padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(public_key, text, signature):
    try:
        public_key.verify(base64.b64decode(signature), text.encode('utf-8'),
            padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class _GBKZipInfo(zipfile.ZipInfo):
    "A zip member named in GBK without the UTF-8 flag, as Alipay's are."

    def _encodeFilenameFlags(self):
        return self.filename.encode('gbk'), self.flag_bits


class _Server:
    "A threaded HTTP server answering with ``self.handle``."

    def __init__(self):
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                status, headers, payload = emulator.handle(
                    self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.requests = []
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
            daemon=True)
        self.thread.start()

    @property
    def base_url(self):
        return 'http://127.0.0.1:%s' % self.server.server_address[1]

    def send_notification(self, out_trade_no, timeout=60):
        """The payer pays ``out_trade_no`` and the provider posts its
        notification to the order's ``notify_url``, as it does; returns
        (HTTP status, answer body)."""
        self.pay(out_trade_no)
        headers, body = self.notification(out_trade_no)
        request = urllib.request.Request(
            self.orders[out_trade_no]['notify_url'], data=body,
            headers=headers, method='POST')
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class WeChatPayEmulator(_Server):
    "WeChat Pay API v3 for one direct merchant (public key mode)."

    def __init__(self, mchid='1900000109', appid='wxd678efh567hg6787'):
        self.mchid, self.appid = mchid, appid
        self.merchant_key = new_key()
        self.platform_key = new_key()
        self.serial_no = secrets.token_hex(20).upper()
        self.public_key_id = 'PUB_KEY_ID_0119' + secrets.token_hex(10)
        self.apiv3_key = secrets.token_hex(16)  # 32 characters
        self.orders, self.refunds = {}, {}
        self.bills = {}
        # whether the merchant may take H5 payments (a product WeChat
        # Pay grants on application)
        self.h5_enabled = True
        super().__init__()

    # what the property company configures
    @property
    def gateway_url(self):
        return self.base_url

    @property
    def merchant_private_key(self):
        return private_pem(self.merchant_key)

    @property
    def platform_public_key(self):
        return public_pem(self.platform_key)

    # ------------------------------------------------------------ signing
    def signed_headers(self, body, key=None, serial=None):
        timestamp = str(int(dt.datetime.now().timestamp()))
        nonce = uuid.uuid4().hex.upper()
        message = '%s\n%s\n%s\n' % (timestamp, nonce, body)
        return {
            'Wechatpay-Timestamp': timestamp,
            'Wechatpay-Nonce': nonce,
            'Wechatpay-Signature': rsa2_sign(
                key or self.platform_key, message),
            'Wechatpay-Serial': serial or self.public_key_id,
            'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
            }

    def _authorized(self, method, path, headers, body):
        auth = headers.get('Authorization', '')
        scheme, _, params = auth.partition(' ')
        if scheme != 'WECHATPAY2-SHA256-RSA2048':
            return False
        values = dict(
            (k.strip(), v.strip().strip('"')) for k, v in (
                p.split('=', 1) for p in params.split(',') if '=' in p))
        if (values.get('mchid') != self.mchid
                or values.get('serial_no') != self.serial_no):
            return False
        message = '%s\n%s\n%s\n%s\n%s\n' % (method, path,
            values.get('timestamp'), values.get('nonce_str'),
            body.decode('utf-8'))
        return rsa2_verify(self.merchant_key.public_key(), message,
            values.get('signature', ''))

    def _json(self, status, data):
        body = json.dumps(data, ensure_ascii=False) if data is not None else ''
        headers = self.signed_headers(body)
        headers['Content-Type'] = 'application/json; charset=utf-8'
        return status, headers, body.encode('utf-8')

    # ---------------------------------------------------------------- API
    def handle(self, method, path, headers, body):
        with self.lock:
            self.requests.append((method, path))
            if not self._authorized(method, path, headers, body):
                return self._json(401, {'code': 'SIGN_ERROR',
                        'message': '签名错误'})
            url = urlsplit(path)
            parts = url.path.strip('/').split('/')
            data = json.loads(body) if body else {}
            if url.path == '/v3/pay/transactions/native' and method == 'POST':
                return self._native(data)
            if url.path == '/v3/pay/transactions/jsapi' and method == 'POST':
                return self._jsapi(data)
            if url.path == '/v3/pay/transactions/h5' and method == 'POST':
                return self._h5(data)
            if parts[:4] == ['v3', 'pay', 'transactions', 'out-trade-no']:
                order = self.orders.get(parts[4])
                if order is None:
                    return self._json(404, {'code': 'ORDER_NOT_EXIST',
                            'message': '订单不存在'})
                if len(parts) == 6 and parts[5] == 'close':
                    if order['trade_state'] == 'NOTPAY':
                        order['trade_state'] = 'CLOSED'
                    return self._json(204, None)
                return self._json(200, self.transaction(order))
            if url.path == '/v3/refund/domestic/refunds':
                return self._refund(data)
            if parts[:4] == ['v3', 'refund', 'domestic', 'refunds'] \
                    and len(parts) == 5:
                refund = self.refunds.get(parts[4])
                if refund is None:
                    return self._json(404, {'code': 'RESOURCE_NOT_EXISTS',
                            'message': '退款单不存在'})
                return self._json(200, refund)
            if url.path == '/v3/bill/tradebill':
                return self._tradebill(dict(parse_qsl(url.query)))
            if url.path == '/v3/billdownload/file':
                content = self.bills.get(dict(parse_qsl(url.query)).get(
                        'token'))
                if content is None:
                    return self._json(404, {'code': 'RESOURCE_NOT_EXISTS',
                            'message': '账单文件不存在'})
                # the file itself is not signed
                return 200, {'Content-Type': 'application/octet-stream'}, \
                    content
            return self._json(404, {'code': 'NOT_FOUND', 'message': path})

    def _open(self, data, trade_type, **values):
        "Record a new order; an error answer, or None."
        if data.get('mchid') != self.mchid or data.get('appid') != self.appid:
            return self._json(400, {'code': 'PARAM_ERROR',
                    'message': 'appid和mch_id不匹配'})
        number = data['out_trade_no']
        if number in self.orders:
            return self._json(400, {'code': 'OUT_TRADE_NO_USED',
                    'message': '商户订单号重复'})
        self.orders[number] = dict(values,
            out_trade_no=number,
            total=data['amount']['total'],
            notify_url=data['notify_url'],
            description=data['description'],
            trade_type=trade_type,
            trade_state='NOTPAY',
            transaction_id=None,
            refunded=0)
        return None

    def _native(self, data):
        error = self._open(data, 'NATIVE')
        if error:
            return error
        return self._json(200, {
                'code_url': 'weixin://wxpay/bizpayurl?pr=%s'
                % secrets.token_urlsafe(6)})

    def _jsapi(self, data):
        openid = (data.get('payer') or {}).get('openid')
        if not openid:
            return self._json(400, {'code': 'PARAM_ERROR',
                    'message': '缺少参数payer.openid'})
        prepay_id = 'wx%s%s' % (dt.datetime.now(CST).strftime(
                '%d%H%M%S'), secrets.token_hex(12))
        error = self._open(data, 'JSAPI', openid=openid,
            prepay_id=prepay_id)
        return error or self._json(200, {'prepay_id': prepay_id})

    def _h5(self, data):
        if not self.h5_enabled:
            return self._json(403, {'code': 'NO_AUTH',
                    'message': '商户号该产品权限未开通，'
                    '请前往商户平台>产品中心检查后重试'})
        scene = data.get('scene_info') or {}
        if not scene.get('payer_client_ip') or not scene.get('h5_info'):
            return self._json(400, {'code': 'PARAM_ERROR',
                    'message': '缺少参数scene_info'})
        prepay_id = 'wx%s' % secrets.token_hex(14)
        error = self._open(data, 'MWEB', prepay_id=prepay_id,
            client_ip=scene['payer_client_ip'])
        return error or self._json(200, {'h5_url':
                'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb'
                '?prepay_id=%s&package=%s' % (
                    prepay_id, secrets.randbelow(10 ** 10))})

    def jsapi_order(self, parameters):
        """What WeChat does with the parameters a page gives
        WeixinJSBridge's getBrandWCPayRequest: check the AppID, the
        prepay_id and the merchant's paySign; return the order, or None
        when refused."""
        message = '%s\n%s\n%s\n%s\n' % (parameters.get('appId'),
            parameters.get('timeStamp'), parameters.get('nonceStr'),
            parameters.get('package'))
        if (parameters.get('appId') != self.appid
                or parameters.get('signType') != 'RSA'
                or not rsa2_verify(self.merchant_key.public_key(), message,
                    parameters.get('paySign', ''))):
            return None
        prepay_id = (parameters.get('package') or '').partition(
            'prepay_id=')[2]
        return next((o for o in self.orders.values()
                if prepay_id and o.get('prepay_id') == prepay_id), None)

    def _refund(self, data):
        order = next((o for o in self.orders.values()
                if o['transaction_id'] == data.get('transaction_id')
                or o['out_trade_no'] == data.get('out_trade_no')), None)
        if order is None or order['trade_state'] not in ('SUCCESS', 'REFUND'):
            return self._json(404, {'code': 'RESOURCE_NOT_EXISTS',
                    'message': '订单不存在'})
        amount = data['amount']['refund']
        if amount > order['total'] - order['refunded']:
            return self._json(403, {'code': 'NOT_ENOUGH',
                    'message': '申请退款金额超过订单可退金额'})
        order['refunded'] += amount
        order['trade_state'] = 'REFUND'
        refund = {
            'refund_id': '50000' + secrets.token_hex(12),
            'out_refund_no': data['out_refund_no'],
            'transaction_id': order['transaction_id'],
            'out_trade_no': order['out_trade_no'],
            'channel': 'ORIGINAL', 'user_received_account': '支付用户零钱',
            'status': 'PROCESSING',
            'create_time': dt.datetime.now(CST).isoformat(
                timespec='seconds'),
            'amount': {'total': order['total'], 'refund': amount,
                'payer_total': order['total'], 'payer_refund': amount,
                'currency': 'CNY'},
            }
        self.refunds[data['out_refund_no']] = refund
        return self._json(200, refund)

    def transaction(self, order):
        data = {
            'appid': self.appid, 'mchid': self.mchid,
            'out_trade_no': order['out_trade_no'],
            'trade_state': order['trade_state'],
            'trade_state_desc': {'SUCCESS': '支付成功',
                'NOTPAY': '订单未支付', 'CLOSED': '订单已关闭',
                'REFUND': '转入退款'}.get(order['trade_state'], ''),
            'amount': {'total': order['total'], 'currency': 'CNY'},
            }
        if order['transaction_id']:
            data.update({
                    'transaction_id': order['transaction_id'],
                    'trade_type': order.get('trade_type', 'NATIVE'),
                    'bank_type': 'OTHERS',
                    'attach': '', 'success_time': order['success_time'],
                    'payer': {'openid': 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'},
                    })
            data['amount'].update({'payer_total': order['total'],
                    'payer_currency': 'CNY'})
        return data

    # ------------------------------------------------------ the payer pays
    def pay(self, out_trade_no):
        "The payer scans and pays: the order is paid at the provider."
        with self.lock:
            order = self.orders[out_trade_no]
            if order['trade_state'] == 'NOTPAY':
                order['trade_state'] = 'SUCCESS'
                order['transaction_id'] = '42000' + ''.join(
                    secrets.choice('0123456789') for _ in range(23))
                order['success_time'] = dt.datetime.now(CST).isoformat(
                    timespec='seconds')
            return order

    # ---------------------------------------------------------- the bill
    BILL_HEADER = ('交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,'
        '商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,'
        '代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,'
        '退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注')

    def bill(self, date):
        """The trade bill (bill_type ALL) of ``date`` as WeChat Pay makes
        it, or None without a trade that day. An order's ``bill_total``
        (fen), when set, is what the bill shows instead of its total."""
        day = date.isoformat()
        rows = []
        openid = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'
        for order in self.orders.values():
            if not order.get('success_time', '').startswith(day):
                continue
            total = yuan_text(order.get('bill_total', order['total']))
            rows.append((order['success_time'], [
                        order['success_time'][:19].replace('T', ' '),
                        self.appid, self.mchid, '0', '',
                        order['transaction_id'], order['out_trade_no'],
                        openid, 'NATIVE', 'SUCCESS', 'OTHERS', 'CNY', total,
                        '0.00', '0', '0', '0.00', '0.00', '', '',
                        order['description'], '', '%.5f' % fee_of(total),
                        '0.60%', total, '0.00', '']))
        for refund in self.refunds.values():
            if not refund['create_time'].startswith(day):
                continue
            amount = yuan_text(refund['amount']['refund'])
            rows.append((refund['create_time'], [
                        refund['create_time'][:19].replace('T', ' '),
                        self.appid, self.mchid, '0', '',
                        refund['transaction_id'], refund['out_trade_no'],
                        openid, 'NATIVE', 'REFUND', 'OTHERS', 'CNY', '0.00',
                        '0.00', refund['refund_id'], refund['out_refund_no'],
                        amount, '0.00', 'ORIGINAL', refund['status'],
                        '', '', '%.5f' % -fee_of(amount), '0.60%', '0.00',
                        amount, '']))
        if not rows:
            return None
        rows.sort(key=lambda r: r[0])
        lines = [self.BILL_HEADER]
        lines += [','.join('`' + v for v in r) for _, r in rows]
        payments = [r for _, r in rows if r[9] == 'SUCCESS']
        refunds = [r for _, r in rows if r[9] == 'REFUND']
        lines.append('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,'
            '手续费总金额,订单总金额,申请退款总金额')
        lines.append(','.join('`' + v for v in [
                    str(len(rows)),
                    '%.2f' % sum(Decimal(r[12]) for r in payments),
                    '%.2f' % sum(Decimal(r[16]) for r in refunds),
                    '0.00',
                    '%.5f' % sum(Decimal(r[22]) for _, r in rows),
                    '%.2f' % sum(Decimal(r[24]) for r in payments),
                    '%.2f' % sum(Decimal(r[25]) for r in refunds)]))
        return ('\r\n'.join(lines) + '\r\n').encode('utf-8')

    def _tradebill(self, query):
        try:
            date = dt.date.fromisoformat(query.get('bill_date', ''))
        except ValueError:
            return self._json(400, {'code': 'PARAM_ERROR',
                    'message': '账单日期格式不正确'})
        if date >= dt.datetime.now(CST).date() + dt.timedelta(days=1):
            return self._json(400, {'code': 'PARAM_ERROR',
                    'message': '账单日期不能晚于今天'})
        content = self.bill(date)
        if content is None:
            return self._json(400, {'code': 'NO_STATEMENT_EXIST',
                    'message': '当日无交易,不生成账单'})
        token = secrets.token_urlsafe(12)
        self.bills[token] = gzip.compress(content)
        return self._json(200, {'hash_type': 'SHA1',
                'hash_value': hashlib.sha1(content).hexdigest(),
                'download_url': '%s/v3/billdownload/file?token=%s' % (
                    self.base_url, token)})

    def foreign_trade(self, total):
        """A trade of ``total`` fen paid at this merchant account that this
        system never started (another till, a mistaken configuration)."""
        number = uuid.uuid4().hex
        with self.lock:
            self.orders[number] = {
                'out_trade_no': number, 'total': total,
                'notify_url': '', 'description': '其他收款',
                'trade_state': 'NOTPAY', 'transaction_id': None,
                'refunded': 0}
        self.pay(number)
        return number

    def _encrypted(self, original_type, resource, key=None):
        nonce = secrets.token_hex(6)  # 12 characters
        associated = original_type
        ciphertext = AESGCM((key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(),
            associated.encode())
        return {'original_type': original_type,
            'algorithm': 'AEAD_AES_256_GCM',
            'ciphertext': base64.b64encode(ciphertext).decode(),
            'associated_data': associated, 'nonce': nonce}

    def notification(self, out_trade_no, total=None, sign_key=None,
            apiv3_key=None):
        """The (headers, body) of the TRANSACTION.SUCCESS notification of a
        paid order. ``total`` (fen), ``sign_key`` and ``apiv3_key`` forge
        one."""
        order = self.orders[out_trade_no]
        resource = self.transaction(order)
        if total is not None:
            resource['amount']['total'] = resource['amount'][
                'payer_total'] = total
        body = json.dumps({
                'id': str(uuid.uuid4()),
                'create_time': dt.datetime.now(CST).isoformat(
                    timespec='seconds'),
                'resource_type': 'encrypt-resource',
                'event_type': 'TRANSACTION.SUCCESS',
                'summary': '支付成功',
                'resource': self._encrypted('transaction', resource,
                    apiv3_key),
                }, ensure_ascii=False)
        headers = self.signed_headers(body, key=sign_key)
        headers['Content-Type'] = 'application/json'
        return headers, body.encode('utf-8')

    def refund_notification(self, out_refund_no):
        "The (headers, body) of the REFUND.SUCCESS notification of a refund."
        with self.lock:
            refund = self.refunds[out_refund_no]
            refund['status'] = 'SUCCESS'
        resource = {
            'mchid': self.mchid,
            'out_trade_no': refund['out_trade_no'],
            'transaction_id': refund['transaction_id'],
            'out_refund_no': out_refund_no,
            'refund_id': refund['refund_id'],
            'refund_status': 'SUCCESS',
            'success_time': dt.datetime.now(CST).isoformat(
                timespec='seconds'),
            'amount': {k: refund['amount'][k] for k in
                ['total', 'refund', 'payer_total', 'payer_refund']},
            'user_received_account': refund['user_received_account'],
            }
        body = json.dumps({
                'id': str(uuid.uuid4()),
                'create_time': resource['success_time'],
                'resource_type': 'encrypt-resource',
                'event_type': 'REFUND.SUCCESS',
                'summary': '退款成功',
                'resource': self._encrypted('refund', resource),
                }, ensure_ascii=False)
        headers = self.signed_headers(body)
        headers['Content-Type'] = 'application/json'
        return headers, body.encode('utf-8')


class AlipayEmulator(_Server):
    "The Alipay open platform gateway for one application (RSA2)."

    def __init__(self, app_id='2021000000000001'):
        self.app_id = app_id
        self.app_key = new_key()
        self.alipay_key = new_key()
        self.orders, self.refunds = {}, {}
        self.bills = {}
        self.partner_id = '2088102176163591'
        super().__init__()

    @property
    def gateway_url(self):
        return self.base_url + '/gateway.do'

    @property
    def app_private_key(self):
        return private_pem(self.app_key)

    @property
    def alipay_public_key(self):
        return public_pem(self.alipay_key)

    def _answer(self, method, data):
        inner = json.dumps(data, ensure_ascii=False, separators=(',', ':'))
        body = '{"%s_response":%s,"sign":"%s"}' % (
            method.replace('.', '_'), inner,
            rsa2_sign(self.alipay_key, inner))
        return 200, {'Content-Type': 'text/html;charset=utf-8'}, \
            body.encode('utf-8')

    @staticmethod
    def _error(sub_code, sub_msg):
        return {'code': '40004', 'msg': 'Business Failed',
            'sub_code': sub_code, 'sub_msg': sub_msg}

    def handle(self, method, path, headers, body):
        with self.lock:
            url = urlsplit(path)
            if url.path.startswith('/bill/'):
                # the bill's short-lived download link: no signature
                content = self.bills.get(url.path[len('/bill/'):])
                if content is None:
                    return 404, {'Content-Type': 'text/plain'}, b'expired'
                return 200, {'Content-Type': 'application/zip'}, content
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            if method == 'POST' and body:
                params.update(parse_qsl(body.decode('utf-8'),
                        keep_blank_values=True))
            api = params.get('method', '')
            self.requests.append((method, api))
            signature = params.pop('sign', '')
            message = '&'.join('%s=%s' % (k, v)
                for k, v in sorted(params.items()))
            if (params.get('app_id') != self.app_id
                    or not rsa2_verify(self.app_key.public_key(), message,
                        signature)):
                inner = json.dumps({'code': '40002',
                        'msg': 'Invalid Arguments',
                        'sub_code': 'isv.invalid-signature',
                        'sub_msg': '验签出错'}, ensure_ascii=False)
                return 200, {'Content-Type': 'text/html;charset=utf-8'}, (
                    '{"error_response":%s}' % inner).encode('utf-8')
            biz = json.loads(params.get('biz_content') or '{}')
            if api == 'alipay.trade.wap.pay':
                return self._wap(biz, params)
            handler = {
                'alipay.trade.precreate': self._precreate,
                'alipay.trade.query': self._query,
                'alipay.trade.close': self._close,
                'alipay.trade.refund': self._refund,
                'alipay.trade.fastpay.refund.query': self._refund_query,
                'alipay.data.dataservice.bill.downloadurl.query':
                    self._bill_url,
                }.get(api)
            if handler is None:
                return self._answer(api, self._error(
                        'isv.invalid-method', '不存在的方法名'))
            return self._answer(api, handler(biz, params))

    def _precreate(self, biz, params):
        number = biz['out_trade_no']
        if number in self.orders:
            return self._error('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改')
        self.orders[number] = {
            'out_trade_no': number, 'total_amount': biz['total_amount'],
            'subject': biz['subject'], 'notify_url': params.get('notify_url'),
            'trade_status': None, 'trade_no': None, 'refunded': '0.00',
            }
        return {'code': '10000', 'msg': 'Success', 'out_trade_no': number,
            'qr_code': 'https://qr.alipay.com/bax0%s'
            % secrets.token_hex(10)}

    def _wap(self, biz, params):
        """The payer's mobile browser opens the signed wap pay URL: Alipay's
        cashier page (the order waits for the payer)."""
        number = biz['out_trade_no']
        order = self.orders.get(number)
        if order is None:
            order = self.orders[number] = {
                'out_trade_no': number,
                'total_amount': biz['total_amount'],
                'subject': biz['subject'], 'product_code': biz.get(
                    'product_code'),
                'notify_url': params.get('notify_url'),
                'return_url': params.get('return_url'),
                'trade_status': 'WAIT_BUYER_PAY', 'trade_no': None,
                'refunded': '0.00',
                }
        page = ('<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<title>支付宝</title></head><body><h1>支付宝收银台</h1>'
            '<p>%s</p><p>¥%s</p></body></html>' % (
                order['subject'], order['total_amount']))
        return 200, {'Content-Type': 'text/html;charset=utf-8'}, \
            page.encode('utf-8')

    def _order(self, biz):
        return self.orders.get(biz.get('out_trade_no')) or next(
            (o for o in self.orders.values()
                if o['trade_no'] and o['trade_no'] == biz.get('trade_no')),
            None)

    def _query(self, biz, params):
        order = self._order(biz)
        if order is None or order['trade_status'] is None:
            # a precreated order exists at Alipay once it is scanned
            return self._error('ACQ.TRADE_NOT_EXIST', '交易不存在')
        return {'code': '10000', 'msg': 'Success',
            'out_trade_no': order['out_trade_no'],
            'trade_no': order['trade_no'],
            'trade_status': order['trade_status'],
            'total_amount': order['total_amount'],
            'buyer_logon_id': 'csq***@example.com'}

    def _close(self, biz, params):
        order = self._order(biz)
        if order is None or order['trade_status'] is None:
            return self._error('ACQ.TRADE_NOT_EXIST', '交易不存在')
        if order['trade_status'] != 'WAIT_BUYER_PAY':
            return self._error('ACQ.TRADE_STATUS_ERROR', '交易状态不合法')
        order['trade_status'] = 'TRADE_CLOSED'
        return {'code': '10000', 'msg': 'Success',
            'out_trade_no': order['out_trade_no'],
            'trade_no': order['trade_no']}

    def _refund(self, biz, params):
        order = self._order(biz)
        if order is None or order['trade_status'] != 'TRADE_SUCCESS':
            return self._error('ACQ.TRADE_STATUS_ERROR', '交易状态不合法')
        amount = Decimal(biz['refund_amount'])
        request_no = biz.get('out_request_no') or order['out_trade_no']
        if request_no in self.refunds:
            # the same request again: Alipay answers it again, moves nothing
            refunded = Decimal(order['refunded'])
            fund_change = 'N'
        else:
            refunded = Decimal(order['refunded']) + amount
            if refunded > Decimal(order['total_amount']):
                return self._error('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
                    '退款金额超限')
            order['refunded'] = str(refunded)
            self.refunds[request_no] = {'out_trade_no': order[
                    'out_trade_no'], 'refund_amount': str(amount),
                'trade_no': order['trade_no'], 'subject': order['subject'],
                'total_amount': order['total_amount'],
                'gmt_refund': dt.datetime.now(CST).strftime(
                    '%Y-%m-%d %H:%M:%S')}
            fund_change = 'Y'
        return {'code': '10000', 'msg': 'Success',
            'trade_no': order['trade_no'],
            'out_trade_no': order['out_trade_no'],
            'buyer_logon_id': 'csq***@example.com',
            'fund_change': fund_change, 'refund_fee': str(refunded),
            'gmt_refund_pay': dt.datetime.now(CST).strftime(
                '%Y-%m-%d %H:%M:%S')}

    def _refund_query(self, biz, params):
        order = self._order(biz)
        if order is None or order['trade_status'] is None:
            return self._error('ACQ.TRADE_NOT_EXIST', '交易不存在')
        refund = self.refunds.get(biz.get('out_request_no'))
        answer = {'code': '10000', 'msg': 'Success',
            'trade_no': order['trade_no'],
            'out_trade_no': order['out_trade_no'],
            'out_request_no': biz.get('out_request_no')}
        if refund is not None:
            # no refund_amount in the answer: no such refund
            answer.update({'total_amount': order['total_amount'],
                    'refund_amount': refund['refund_amount'],
                    'refund_status': 'REFUND_SUCCESS'})
        return answer

    # ---------------------------------------------------------- the bill
    BILL_HEADER = ('支付宝交易号,商户订单号,业务类型,商品名称,创建时间,'
        '完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,'
        '支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,'
        '券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,'
        '退款批次号/请求号,服务费（元）,分润（元）,备注')

    def bill(self, date):
        """The zip of the trade bill of ``date`` as Alipay makes it: the
        业务明细 and 业务明细(汇总) CSV files in GBK, with GBK file names;
        None without a trade that day. An order's ``bill_amount``, when
        set, is what the bill shows instead of its amount."""
        day = date.isoformat()
        rows = []
        for order in self.orders.values():
            if not (order.get('gmt_payment') or '').startswith(day):
                continue
            amount = order.get('bill_amount', order['total_amount'])
            rows.append([order['trade_no'] + '\t',
                    order['out_trade_no'] + '\t', '交易', order['subject'],
                    order['gmt_payment'], order['gmt_payment'], '', '', '',
                    '', 'csq***@example.com', amount, amount, '0.00', '0.00',
                    '0.00', '0.00', '0.00', '', '0.00', '0.00', '',
                    '%.2f' % -fee_of(amount), '0.00', ''])
        for number, refund in self.refunds.items():
            if not refund['gmt_refund'].startswith(day):
                continue
            amount = Decimal(refund['refund_amount'])
            rows.append([refund['trade_no'] + '\t',
                    refund['out_trade_no'] + '\t', '退款', refund['subject'],
                    refund['gmt_refund'], refund['gmt_refund'], '', '', '',
                    '', 'csq***@example.com', refund['total_amount'],
                    '%.2f' % -amount, '0.00', '0.00', '0.00', '0.00', '0.00',
                    '', '0.00', '0.00', number + '\t',
                    '%.2f' % fee_of(amount), '0.00', ''])
        if not rows:
            return None
        rows.sort(key=lambda r: r[5])
        out = io.StringIO()
        out.write('#支付宝业务明细查询\r\n#账号：[%s]\r\n' % self.partner_id)
        out.write('#起始日期：[%s 00:00:00]   终止日期：[%s 00:00:00]\r\n' % (
                date.strftime('%Y年%m月%d日'),
                (date + dt.timedelta(days=1)).strftime('%Y年%m月%d日')))
        out.write('#' + '-' * 41 + '业务明细列表' + '-' * 40 + '\r\n')
        out.write(self.BILL_HEADER + '\r\n')
        csv.writer(out, lineterminator='\r\n').writerows(rows)
        out.write('#' + '-' * 41 + '业务明细列表结束' + '-' * 36 + '\r\n')
        trades = [r for r in rows if r[2] == '交易']
        refunds = [r for r in rows if r[2] == '退款']
        out.write('#交易合计：%s笔，商家实收：%.2f元，商家优惠：0.00元\r\n' % (
                len(trades), sum(Decimal(r[12]) for r in trades)))
        out.write('#退款合计：%s笔，商家实收：%.2f元，商家优惠：0.00元\r\n' % (
                len(refunds), sum(Decimal(r[12]) for r in refunds)))
        out.write('#导出时间：[%s]\r\n' % dt.datetime.now(CST).strftime(
                '%Y年%m月%d日 %H:%M:%S'))
        summary = ('#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数,'
            '退款订单总笔数,订单金额（元）,商家实收（元）,服务费（元）\r\n'
            '合计,,%s,%s,%.2f,%.2f,%.2f\r\n' % (len(trades), len(refunds),
                sum(Decimal(r[11]) for r in trades),
                sum(Decimal(r[12]) for r in rows),
                sum(Decimal(r[22]) for r in rows)))
        prefix = '%s_%s' % (self.partner_id, date.strftime('%Y%m%d'))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            for name, text in [(prefix + '_业务明细.csv', out.getvalue()),
                    (prefix + '_业务明细(汇总).csv', summary)]:
                archive.writestr(_GBKZipInfo(name, date.timetuple()[:6]),
                    text.encode('gbk'))
        return buffer.getvalue()

    def _bill_url(self, biz, params):
        if biz.get('bill_type') != 'trade':
            return self._error('isv.invalid-bill-type', '账单类型不合法')
        try:
            date = dt.date.fromisoformat(biz.get('bill_date', ''))
        except ValueError:
            return self._error('isv.invalid-bill-date', '账单时间格式不正确')
        content = self.bill(date)
        if content is None:
            return self._error('isp.bill_not_exist', '账单不存在')
        token = secrets.token_hex(16)
        self.bills[token] = content
        return {'code': '10000', 'msg': 'Success',
            'bill_download_url': '%s/bill/%s' % (self.base_url, token)}

    def foreign_trade(self, total_amount):
        """A trade of ``total_amount`` (text, yuan) paid to this application
        that this system never started."""
        number = uuid.uuid4().hex
        with self.lock:
            self.orders[number] = {
                'out_trade_no': number, 'total_amount': total_amount,
                'subject': '其他收款', 'notify_url': None,
                'trade_status': None, 'trade_no': None, 'refunded': '0.00'}
        self.pay(number)
        return number

    # ------------------------------------------------------ the payer pays
    def pay(self, out_trade_no):
        "The payer scans and pays the precreated order."
        with self.lock:
            order = self.orders[out_trade_no]
            if order['trade_status'] in (None, 'WAIT_BUYER_PAY'):
                order['trade_status'] = 'TRADE_SUCCESS'
                order['trade_no'] = dt.datetime.now(CST).strftime(
                    '%Y%m%d') + '22001' + ''.join(
                    secrets.choice('0123456789') for _ in range(15))
                order['gmt_payment'] = dt.datetime.now(CST).strftime(
                    '%Y-%m-%d %H:%M:%S')
            return order

    def notification(self, out_trade_no, total_amount=None, sign_key=None):
        """The (headers, body) of the trade_status_sync notification of a
        paid order, a form post as Alipay sends it. ``total_amount`` and
        ``sign_key`` forge one."""
        order = self.orders[out_trade_no]
        amount = total_amount or order['total_amount']
        now = dt.datetime.now(CST).strftime('%Y-%m-%d %H:%M:%S')
        params = {
            'gmt_create': order['gmt_payment'],
            'charset': 'utf-8',
            'gmt_payment': order['gmt_payment'],
            'notify_time': now,
            'subject': order['subject'],
            'buyer_id': '2088102177846875',
            'invoice_amount': amount,
            'version': '1.0',
            'notify_id': secrets.token_hex(16),
            'fund_bill_list': json.dumps([{'amount': amount,
                        'fundChannel': 'ALIPAYACCOUNT'}],
                separators=(',', ':')),
            'notify_type': 'trade_status_sync',
            'out_trade_no': out_trade_no,
            'total_amount': amount,
            'trade_status': order['trade_status'],
            'trade_no': order['trade_no'],
            'auth_app_id': self.app_id,
            'receipt_amount': amount,
            'point_amount': '0.00',
            'app_id': self.app_id,
            'buyer_pay_amount': amount,
            'seller_id': '2088102176163591',
            }
        message = '&'.join('%s=%s' % (k, v) for k, v in sorted(params.items()))
        params['sign'] = rsa2_sign(sign_key or self.alipay_key, message)
        params['sign_type'] = 'RSA2'
        body = '&'.join('%s=%s' % (k, quote_plus(v))
            for k, v in params.items())
        return ({'Content-Type':
                'application/x-www-form-urlencoded; charset=utf-8'},
            body.encode('utf-8'))
