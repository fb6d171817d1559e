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
decides when a notification arrives, twice, or never.
"""
import base64
import datetime as dt
import json
import secrets
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CST = dt.timezone(dt.timedelta(hours=8))


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
            return self._json(404, {'code': 'NOT_FOUND', 'message': path})

    def _native(self, data):
        if data.get('mchid') != self.mchid or data.get('appid') != self.appid:
            return self._json(400, {'code': 'PARAM_ERROR',
                    'message': 'appid和mch_id不匹配'})
        number = data['out_trade_no']
        if number in self.orders:
            return self._json(400, {'code': 'OUT_TRADE_NO_USED',
                    'message': '商户订单号重复'})
        self.orders[number] = {
            'out_trade_no': number,
            'total': data['amount']['total'],
            'notify_url': data['notify_url'],
            'description': data['description'],
            'trade_state': 'NOTPAY',
            'transaction_id': None,
            'refunded': 0,
            }
        return self._json(200, {
                'code_url': 'weixin://wxpay/bizpayurl?pr=%s'
                % secrets.token_urlsafe(6)})

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
                    'trade_type': 'NATIVE', 'bank_type': 'OTHERS',
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
            handler = {
                'alipay.trade.precreate': self._precreate,
                'alipay.trade.query': self._query,
                'alipay.trade.close': self._close,
                'alipay.trade.refund': self._refund,
                'alipay.trade.fastpay.refund.query': self._refund_query,
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
                    'out_trade_no'], 'refund_amount': str(amount)}
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
