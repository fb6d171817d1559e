# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The payment providers behind one interface.

A provider is built from a merchant account (``community.payment.merchant``)
and speaks the provider's HTTP API through its SDK, at the merchant's
``gateway_url`` (the official gateway unless the company says otherwise):

- ``create(payment)``: open the order, return what the payer scans (WeChat
  Pay Native ``code_url``, Alipay precreate ``qr_code``);
- the channels of a phone: WeChat Pay ``create_jsapi(payment, openid)``
  (the portal opened inside WeChat: the ``prepay_id``, then
  ``jsapi_parameters(prepay_id)`` signed for WeixinJSBridge) and
  ``create_h5(payment, client_ip)`` (a mobile browser: the ``h5_url``);
  Alipay ``create_wap(payment, return_url)`` (the signed wap pay URL);
- ``parse(headers, body)``: verify a notification (signature, and for
  WeChat Pay the AES-256-GCM resource) and return a ``Notice``; raise
  ``ValueError`` for anything forged or malformed;
- ``query(payment)``: the order's state at the provider, as a ``Notice``;
- ``close(payment)``;
- ``refund(refund)`` and ``query_refund(refund)``: send a refund of a
  paid order, ask about it; both return (state, provider refund id) with
  state 'refunded', 'pending' or 'failed';
- ``answer(ok)``: the HTTP answer the provider expects to a notification;
- ``download_statement(date)``: the provider's statement (对账单) of a day
  (Beijing time) as the provider's file, and ``parse_statement(data)``:
  that file (downloaded, or uploaded by the accountant) as
  ``StatementRow``'s.

Only what the provider signed is trusted: amounts are read from the
verified data, never from our own records.
"""
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import threading
import time
import urllib.request
import uuid
import zipfile
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple, Optional
from urllib.parse import parse_qsl

logger = logging.getLogger(__name__)

WECHAT_GATEWAY = 'https://api.mch.weixin.qq.com'
ALIPAY_GATEWAY = 'https://openapi.alipay.com/gateway.do'
TIMEOUT = (5, 15)
#: the providers' statements are in Beijing time
BEIJING = dt.timezone(dt.timedelta(hours=8))


class Notice(NamedTuple):
    "What a verified notification or a query says about an order."
    #: 'payment' or 'refund'
    kind: str
    #: our order reference (out_trade_no)
    reference: str
    #: the provider's transaction id (WeChat transaction_id, Alipay trade_no)
    transaction_id: Optional[str]
    #: 'paid', 'pending', 'closed', 'refunded' (a refund succeeded),
    #: 'failed'
    state: str
    #: the amount paid (payment) or refunded (refund), in yuan
    amount: Optional[Decimal]
    #: our refund reference (out_refund_no), for refunds
    refund_reference: Optional[str] = None
    #: the provider's notification id, for the log
    notify_id: Optional[str] = None
    #: the provider's id of the refund (WeChat Pay refund_id), for refunds
    provider_refund_id: Optional[str] = None


def fen(amount):
    "Amount in yuan → integer fen (WeChat Pay)."
    return int((Decimal(amount) * 100).to_integral_value())


def yuan(value):
    "Integer fen → Decimal yuan."
    return (Decimal(int(value)) / 100).quantize(Decimal('0.01'))


_clients = {}
_clients_lock = threading.Lock()


def cached_client(merchant, build):
    """The SDK client of ``merchant`` built by ``build(merchant)``, kept by
    the process until the merchant account changes: building one reads
    the secrets and parses the keys, which a notification should not pay
    for each time (the clients hold no state of a request)."""
    from trytond.transaction import Transaction
    database = Transaction().database
    merchant_id = getattr(merchant, 'id', None)
    if database is None or merchant_id is None:
        # not a stored account (or no database): nothing to key it by
        return build(merchant)
    key = (database.name, merchant_id,
        merchant.write_date or merchant.create_date)
    client = _clients.get(key)
    if client is None:
        client = build(merchant)
        with _clients_lock:
            if len(_clients) > 256:
                _clients.clear()
            _clients[key] = client
    return client


class ProviderFailure(Exception):
    "The provider answered an error or could not be reached."


class StatementNotReady(ProviderFailure):
    "The provider has not yet made the statement of the day."


class StatementRow(NamedTuple):
    "One line of a provider's statement."
    #: 'payment' or 'refund'
    kind: str
    #: the provider's transaction id (WeChat 微信订单号, Alipay 支付宝交易号)
    transaction_id: str
    #: our order reference (商户订单号)
    reference: str
    #: the payment's amount, or the amount refunded, in yuan (positive)
    amount: Decimal
    #: the provider's fee (手续费) in yuan: positive charged, negative
    #: given back (on a refund)
    fee: Decimal
    #: when (UTC, naive)
    time: Optional[dt.datetime] = None
    #: the provider's refund id (WeChat 微信退款单号), for refunds
    refund_id: Optional[str] = None
    #: our refund reference (商户退款单号, Alipay 退款请求号), for refunds
    refund_reference: Optional[str] = None


def cents(value):
    "Text of an amount in yuan → Decimal rounded half-up to 0.01."
    return Decimal(value.strip() or '0').quantize(
        Decimal('0.01'), rounding=ROUND_HALF_UP)


def beijing_time(text):
    "'2024-01-01 10:00:00' (Beijing time) → naive UTC datetime."
    text = text.strip()
    if not text:
        return None
    return dt.datetime.strptime(text, '%Y-%m-%d %H:%M:%S').replace(
        tzinfo=BEIJING).astimezone(dt.timezone.utc).replace(tzinfo=None)


class Provider:
    "Interface of a payment provider."
    name = None

    def __init__(self, merchant):
        self.merchant = merchant

    def create(self, payment):
        raise NotImplementedError

    def parse(self, headers, body):
        raise NotImplementedError

    def query(self, payment):
        raise NotImplementedError

    def close(self, payment):
        raise NotImplementedError

    def answer(self, ok, message=''):
        "Return (status, body, content type) of a notification's answer."
        raise NotImplementedError

    def download_statement(self, date):
        """The provider's statement file of ``date`` (Beijing time); raise
        StatementNotReady when there is none (yet)."""
        raise NotImplementedError

    @classmethod
    def parse_statement(cls, data):
        "The ``StatementRow``'s of a statement file; ValueError if not one."
        raise NotImplementedError


class WeChatPayProvider(Provider):
    """WeChat Pay API v3 (``wechatpayv3``), direct merchant, platform
    public key mode (``public_key_id`` and the platform public key)."""
    name = 'wechat'

    def __init__(self, merchant):
        super().__init__(merchant)
        self.client = cached_client(merchant, self._client)

    @staticmethod
    def _client(merchant):
        from wechatpayv3 import WeChatPay, WeChatPayType
        client = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=merchant.mch_id,
            private_key=merchant.get_secret('private_key'),
            cert_serial_no=merchant.serial_no,
            appid=merchant.app_id,
            apiv3_key=merchant.get_secret('apiv3_key'),
            notify_url=merchant.notify_url,
            public_key=merchant.provider_public_key,
            public_key_id=merchant.public_key_id,
            timeout=TIMEOUT)
        # the SDK has the official gateway built in; the merchant's wins
        client._core._gate_way = (
            merchant.gateway_url or WECHAT_GATEWAY).rstrip('/')
        return client

    def _call(self, method, *args, **kwargs):
        try:
            code, text = getattr(self.client, method)(*args, **kwargs)
        except ProviderFailure:
            raise
        except Exception as exception:
            # the SDK raises bare Exceptions (bad response signature …);
            # requests' errors name only the URL
            raise ProviderFailure('%s: %s' % (method, exception))
        data = {}
        if text:
            try:
                data = json.loads(text)
            except (TypeError, ValueError):
                data = {}
        return code, data

    def _order(self, payment, pay_type=None, **kwargs):
        "Open ``payment``'s order of ``pay_type``: the provider's answer."
        code, data = self._call('pay',
            description=payment.description[:127],
            out_trade_no=payment.reference,
            amount={'total': fen(payment.amount), 'currency': 'CNY'},
            time_expire=payment.expire_at.replace(
                tzinfo=dt.timezone.utc).isoformat(timespec='seconds')
            if payment.expire_at else None,
            pay_type=pay_type, **kwargs)
        if code != 200:
            raise ProviderFailure('pay: HTTP %s %s' % (
                    code, data.get('code') or ''))
        return data

    def create(self, payment):
        data = self._order(payment)
        if not data.get('code_url'):
            raise ProviderFailure('native pay: no code_url')
        return data['code_url']

    def create_jsapi(self, payment, openid):
        """JSAPI (公众号支付: the portal opened inside WeChat): open the
        order for the payer's ``openid`` (of the merchant's AppID) and
        return its ``prepay_id``."""
        from wechatpayv3 import WeChatPayType
        data = self._order(payment, pay_type=WeChatPayType.JSAPI,
            payer={'openid': openid})
        if not data.get('prepay_id'):
            raise ProviderFailure('jsapi pay: no prepay_id')
        return data['prepay_id']

    def jsapi_parameters(self, prepay_id):
        """The parameters of ``WeixinJSBridge.invoke('getBrandWCPayRequest',
        …)`` for ``prepay_id``, signed (RSA, SHA256) with the merchant's
        private key over appId, timeStamp, nonceStr and package."""
        timestamp = str(int(time.time()))
        nonce = uuid.uuid4().hex
        package = 'prepay_id=%s' % prepay_id
        return {
            'appId': self.merchant.app_id, 'timeStamp': timestamp,
            'nonceStr': nonce, 'package': package, 'signType': 'RSA',
            'paySign': self.client.sign(
                [self.merchant.app_id, timestamp, nonce, package]),
            }

    def create_h5(self, payment, client_ip):
        """H5 (a mobile browser outside WeChat): open the order and return
        the ``h5_url`` the payer's browser opens (WeChat asks the payer's
        IP address)."""
        from wechatpayv3 import WeChatPayType
        data = self._order(payment, pay_type=WeChatPayType.H5,
            scene_info={'payer_client_ip': client_ip,
                'h5_info': {'type': 'Wap'}})
        if not data.get('h5_url'):
            raise ProviderFailure('h5 pay: no h5_url')
        return data['h5_url']

    def _check_merchant(self, data):
        if (str(data.get('mchid', '')) != self.merchant.mch_id
                or str(data.get('appid', self.merchant.app_id))
                != self.merchant.app_id):
            raise ValueError("notification of another merchant")

    def _transaction_notice(self, data, notify_id=None):
        self._check_merchant(data)
        state = {
            'SUCCESS': 'paid', 'REFUND': 'paid',
            'NOTPAY': 'pending', 'USERPAYING': 'pending',
            'CLOSED': 'closed', 'REVOKED': 'closed',
            'PAYERROR': 'failed',
            }.get(data.get('trade_state'), 'pending')
        amount = (data.get('amount') or {}).get('total')
        if state == 'paid' and amount is None:
            raise ValueError("no amount")
        return Notice(kind='payment', reference=str(data['out_trade_no']),
            transaction_id=data.get('transaction_id'), state=state,
            amount=yuan(amount) if amount is not None else None,
            notify_id=notify_id)

    def parse(self, headers, body):
        try:
            result = self.client.callback(headers, body)
        except Exception as exception:
            raise ValueError('callback: %s' % exception)
        if not result:
            raise ValueError("bad signature or resource")
        resource = result['resource']
        event = result.get('event_type', '')
        try:
            if event.startswith('REFUND.'):
                self._check_merchant(
                    dict(resource, appid=self.merchant.app_id))
                status = resource.get('refund_status')
                return Notice(kind='refund',
                    reference=str(resource['out_trade_no']),
                    transaction_id=resource.get('transaction_id'),
                    state={'SUCCESS': 'refunded', 'CLOSED': 'failed',
                        'ABNORMAL': 'failed'}.get(status, 'pending'),
                    amount=yuan(resource['amount']['refund']),
                    refund_reference=str(resource['out_refund_no']),
                    notify_id=result.get('id'),
                    provider_refund_id=resource.get('refund_id'))
            return self._transaction_notice(resource, result.get('id'))
        except (KeyError, TypeError, ArithmeticError) as exception:
            raise ValueError('malformed resource: %r' % exception)

    def query(self, payment):
        code, data = self._call('query', out_trade_no=payment.reference)
        if code == 404:
            return Notice(kind='payment', reference=payment.reference,
                transaction_id=None, state='pending', amount=None)
        if code != 200:
            raise ProviderFailure('query: HTTP %s' % code)
        try:
            return self._transaction_notice(data)
        except (KeyError, ValueError) as exception:
            raise ProviderFailure('query: %s' % exception)

    def close(self, payment):
        code, _ = self._call('close', out_trade_no=payment.reference)
        if code not in (200, 204):
            raise ProviderFailure('close: HTTP %s' % code)

    def refund(self, refund):
        payment = refund.payment
        code, data = self._call('refund',
            out_refund_no=refund.reference,
            amount={'refund': fen(refund.amount),
                'total': fen(payment.amount), 'currency': 'CNY'},
            transaction_id=payment.transaction_id,
            reason=(refund.reason or '')[:80] or None)
        if code != 200:
            raise ProviderFailure('refund: HTTP %s %s' % (
                    code, data.get('code') or ''))
        # SUCCESS at once is rare: PROCESSING, then a REFUND.SUCCESS
        # notification
        return self._refund_state(data), data.get('refund_id')

    @staticmethod
    def _refund_state(data):
        return {'SUCCESS': 'refunded', 'CLOSED': 'failed',
            'ABNORMAL': 'failed'}.get(data.get('status'), 'pending')

    def query_refund(self, refund):
        code, data = self._call('query_refund',
            out_refund_no=refund.reference)
        if code != 200:
            raise ProviderFailure('query refund: HTTP %s %s' % (
                    code, data.get('code') or ''))
        return self._refund_state(data), data.get('refund_id')

    def download_statement(self, date):
        """The trade bill (交易账单, all trades and refunds) of ``date``:
        ``tradebill`` gives a download URL and the SHA1 of the bill, the
        download (authorized, not signed) a gzip of it."""
        code, data = self._call('trade_bill', bill_date=date.isoformat(),
            bill_type='ALL', tar_type='GZIP')
        if code == 400 and data.get('code') == 'NO_STATEMENT_EXIST':
            # no trade that day (or, before ~10:00, not yet made)
            raise StatementNotReady('tradebill: %s' % data.get('message'))
        if code != 200 or not data.get('download_url'):
            raise ProviderFailure('tradebill: HTTP %s %s' % (
                    code, data.get('code') or ''))
        try:
            code, content = self.client.download_bill(data['download_url'])
        except Exception as exception:
            raise ProviderFailure('billdownload: %s' % exception)
        if code != 200 or not isinstance(content, bytes):
            raise ProviderFailure('billdownload: HTTP %s' % code)
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as exception:
            raise ProviderFailure('billdownload: %s' % exception)
        if (data.get('hash_type', 'SHA1').upper() == 'SHA1'
                and data.get('hash_value')
                and hashlib.sha1(content).hexdigest().lower()
                != data['hash_value'].lower()):
            raise ProviderFailure('billdownload: SHA1 differs')
        return content

    #: 交易状态 of the bill's lines
    BILL_KINDS = {'SUCCESS': 'payment', 'REFUND': 'refund'}

    @classmethod
    def parse_statement(cls, data):
        """The lines of a WeChat Pay trade bill (UTF-8, plain or gzip): a
        header line, one line a trade or refund, each field prefixed by a
        backquote, then the summary (总交易单数 …), whose count is checked.
        Raises ValueError for anything else."""
        if data[:2] == b'\x1f\x8b':
            data = gzip.decompress(data)
        text = data.decode('utf-8-sig').replace('\r\n', '\n')
        lines = [l for l in text.split('\n') if l.strip()]
        if not lines or not lines[0].startswith('交易时间'):
            raise ValueError("not a WeChat Pay trade bill")
        header = lines[0].split(',')
        column = {name.strip(): i for i, name in enumerate(header)}
        for name in ['交易时间', '微信订单号', '商户订单号', '交易状态',
                '应结订单金额', '退款金额', '手续费']:
            if name not in column:
                raise ValueError("no column %s" % name)

        def fields(line):
            # fields are ",`"-separated: a comma inside a product name
            # does not split
            return [f.strip() for f in line.strip().lstrip('`').split(',`')]

        rows, count, data_lines = [], None, 0
        for number, line in enumerate(lines[1:], 1):
            if line.startswith('总交易单数'):
                summary = (fields(lines[number + 1])
                    if number + 1 < len(lines) else [])
                if summary and summary[0].isdigit():
                    count = int(summary[0])
                break
            values = fields(line)
            if len(values) < len(header) - 1:
                raise ValueError("line %s: %s fields" % (number, len(values)))
            value = dict((n, values[i] if i < len(values) else '')
                for n, i in column.items())
            kind = cls.BILL_KINDS.get(value['交易状态'])
            if kind is None:
                data_lines += 1
                continue  # REVOKED …: no money moved
            try:
                if kind == 'payment':
                    amount = cents(value.get('订单金额')
                        or value['应结订单金额'])
                else:
                    amount = cents(value['退款金额'])
                rows.append(StatementRow(kind=kind,
                        transaction_id=value['微信订单号'],
                        reference=value['商户订单号'],
                        amount=amount, fee=cents(value['手续费']),
                        time=beijing_time(value['交易时间']),
                        refund_id=value.get('微信退款单号') or None
                        if kind == 'refund' else None,
                        refund_reference=value.get('商户退款单号') or None
                        if kind == 'refund' else None))
            except (ValueError, InvalidOperation) as exception:
                raise ValueError("line %s: %s" % (number, exception))
            data_lines += 1
        if count is None:
            raise ValueError("no summary: the bill is incomplete")
        if count != data_lines:
            raise ValueError("%s lines, the summary says %s" % (
                    data_lines, count))
        return rows

    def answer(self, ok, message=''):
        if ok:
            return 204, b'', 'application/json'
        return 400, json.dumps({'code': 'FAIL',
                'message': message or '失败'}).encode(), 'application/json'


class AlipayProvider(Provider):
    """Alipay open platform (``python-alipay-sdk``), RSA2 with the
    application's private key and Alipay's public key."""
    name = 'alipay'

    def __init__(self, merchant):
        super().__init__(merchant)
        self.client = cached_client(merchant, self._client)

    @staticmethod
    def _client(merchant):
        from alipay import AliPay
        from alipay.utils import AliPayConfig
        client = AliPay(
            appid=merchant.app_id,
            app_notify_url=merchant.notify_url,
            app_private_key_string=merchant.get_secret('private_key'),
            alipay_public_key_string=merchant.provider_public_key,
            sign_type='RSA2',
            config=AliPayConfig(timeout=TIMEOUT[1]))
        # the SDK has the official gateway built in; the merchant's wins
        client._gateway = merchant.gateway_url or ALIPAY_GATEWAY
        return client

    def _call(self, method, **kwargs):
        try:
            data = getattr(self.client, method)(**kwargs)
        except Exception as exception:
            # AliPayException carries the raw answer: code and sub_code
            raise ProviderFailure('%s: %s' % (method, exception))
        if str(data.get('code')) != '10000':
            raise ProviderFailure('%s: %s %s' % (method, data.get('code'),
                    data.get('sub_code') or ''))
        return data

    def create(self, payment):
        kwargs = {}
        if payment.expire_at:
            # Alipay reads its times in Beijing time
            kwargs['time_expire'] = (payment.expire_at
                + dt.timedelta(hours=8)).strftime('%Y-%m-%d %H:%M:%S')
        data = self._call('api_alipay_trade_precreate',
            subject=payment.description[:256],
            out_trade_no=payment.reference,
            total_amount=str(payment.amount), **kwargs)
        if not data.get('qr_code'):
            raise ProviderFailure('precreate: no qr_code')
        return data['qr_code']

    def create_wap(self, payment, return_url=None):
        """手机网站支付 (wap pay, a mobile browser): return the signed
        gateway URL the payer's browser opens; Alipay shows its cashier
        there and goes back to ``return_url`` after payment (the
        notification, not the return, books it)."""
        kwargs = {}
        if payment.expire_at:
            kwargs['time_expire'] = (payment.expire_at
                + dt.timedelta(hours=8)).strftime('%Y-%m-%d %H:%M:%S')
        try:
            query = self.client.api_alipay_trade_wap_pay(
                subject=payment.description[:256],
                out_trade_no=payment.reference,
                total_amount=str(payment.amount), return_url=return_url,
                **kwargs)
        except Exception as exception:
            raise ProviderFailure('wap pay: %s' % exception)
        return '%s?%s' % (self.client._gateway, query)

    STATES = {
        'TRADE_SUCCESS': 'paid', 'TRADE_FINISHED': 'paid',
        'WAIT_BUYER_PAY': 'pending', 'TRADE_CLOSED': 'closed',
        }

    def parse(self, headers, body):
        if isinstance(body, bytes):
            body = body.decode('utf-8')
        data = dict(parse_qsl(body, keep_blank_values=True))
        signature = data.pop('sign', None)
        if not signature:
            raise ValueError("unsigned notification")
        try:
            valid = self.client.verify(dict(data), signature)
        except Exception as exception:
            raise ValueError('verify: %s' % exception)
        if not valid:
            raise ValueError("bad signature")
        if data.get('app_id') != self.merchant.app_id:
            raise ValueError("notification of another application")
        try:
            if data.get('refund_fee') and data.get('out_biz_no'):
                # a refund's asynchronous notification
                return Notice(kind='refund',
                    reference=data['out_trade_no'],
                    transaction_id=data.get('trade_no'), state='refunded',
                    amount=Decimal(data['refund_fee']),
                    refund_reference=data['out_biz_no'],
                    notify_id=data.get('notify_id'))
            state = self.STATES.get(data.get('trade_status'), 'pending')
            return Notice(kind='payment', reference=data['out_trade_no'],
                transaction_id=data.get('trade_no'), state=state,
                amount=Decimal(data['total_amount']),
                notify_id=data.get('notify_id'))
        except (KeyError, ArithmeticError) as exception:
            raise ValueError('malformed notification: %r' % exception)

    def query(self, payment):
        try:
            data = self.client.api_alipay_trade_query(
                out_trade_no=payment.reference)
        except Exception as exception:
            raise ProviderFailure('query: %s' % exception)
        if str(data.get('code')) != '10000':
            if data.get('sub_code') == 'ACQ.TRADE_NOT_EXIST':
                return Notice(kind='payment', reference=payment.reference,
                    transaction_id=None, state='pending', amount=None)
            raise ProviderFailure('query: %s' % data.get('sub_code'))
        return Notice(kind='payment', reference=data['out_trade_no'],
            transaction_id=data.get('trade_no'),
            state=self.STATES.get(data.get('trade_status'), 'pending'),
            amount=Decimal(data['total_amount']))

    def close(self, payment):
        try:
            data = self.client.api_alipay_trade_close(
                out_trade_no=payment.reference)
        except Exception as exception:
            # a precreated order nobody scanned does not exist at Alipay
            if 'ACQ.TRADE_NOT_EXIST' in str(exception):
                return
            raise ProviderFailure('close: %s' % exception)
        if str(data.get('code')) != '10000' and (
                data.get('sub_code') != 'ACQ.TRADE_NOT_EXIST'):
            raise ProviderFailure('close: %s' % data.get('sub_code'))

    def refund(self, refund):
        data = self._call('api_alipay_trade_refund',
            refund_amount=str(refund.amount),
            out_trade_no=refund.payment.reference,
            out_request_no=refund.reference,
            refund_reason=(refund.reason or '')[:256])
        # Alipay answers synchronously; fund_change Y: money moved now; N:
        # the same request again (or not moved yet): ask the refund query.
        # Alipay has no refund id of its own: the refund is known (and
        # listed in its statement) by our out_request_no.
        if data.get('fund_change') == 'Y':
            return 'refunded', refund.reference
        return self.query_refund(refund)

    def query_refund(self, refund):
        data = self._call('api_alipay_trade_fastpay_refund_query',
            out_request_no=refund.reference,
            out_trade_no=refund.payment.reference)
        # an answer without refund_amount: no such refund (yet)
        if (data.get('refund_status', 'REFUND_SUCCESS') == 'REFUND_SUCCESS'
                and data.get('refund_amount')):
            return 'refunded', refund.reference
        return 'pending', refund.reference

    def download_statement(self, date):
        """The trade bill (业务明细) of ``date``:
        ``alipay.data.dataservice.bill.downloadurl.query`` gives a short
        lived URL of a zip of GBK CSV files, fetched as it is."""
        try:
            data = self.client.server_api(
                'alipay.data.dataservice.bill.downloadurl.query',
                biz_content={'bill_type': 'trade',
                    'bill_date': date.isoformat()})
        except Exception as exception:
            raise ProviderFailure('bill.downloadurl.query: %s' % exception)
        if str(data.get('code')) != '10000':
            if data.get('sub_code') == 'isp.bill_not_exist':
                raise StatementNotReady('bill.downloadurl.query: %s'
                    % data.get('sub_msg'))
            raise ProviderFailure('bill.downloadurl.query: %s %s' % (
                    data.get('code'), data.get('sub_code') or ''))
        try:
            with urllib.request.urlopen(data['bill_download_url'],
                    timeout=TIMEOUT[1]) as response:
                return response.read()
        except (KeyError, OSError) as exception:
            raise ProviderFailure('bill download: %s' % exception)

    @staticmethod
    def _bill_csv(data):
        "The text of the 业务明细 CSV in an Alipay bill zip (or the CSV)."
        if data[:2] != b'PK':
            return data.decode('gbk')
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = info.filename
                if not info.flag_bits & 0x800:
                    # names in GBK, read by zipfile as cp437
                    name = name.encode('cp437').decode('gbk', 'replace')
                if name.endswith('.csv') and '汇总' not in name:
                    return archive.read(info).decode('gbk')
        raise ValueError("no 业务明细 file in the zip")

    @classmethod
    def parse_statement(cls, data):
        """The lines of an Alipay trade bill (the zip, or its 业务明细 CSV in
        GBK): comment lines (#), the header (支付宝交易号 …), one line a
        trade or refund. 服务费 is negative when charged. Raises ValueError
        for anything else."""
        text = cls._bill_csv(data).replace('\r\n', '\n')
        lines = [l for l in text.split('\n')
            if l.strip() and not l.startswith('#')]
        if not lines or not lines[0].startswith('支付宝交易号'):
            raise ValueError("not an Alipay trade bill")
        reader = csv.reader(lines)
        header = [h.strip() for h in next(reader)]
        column = {name: i for i, name in enumerate(header)}
        for name in ['支付宝交易号', '商户订单号', '业务类型', '完成时间',
                '订单金额（元）', '商家实收（元）', '退款批次号/请求号',
                '服务费（元）']:
            if name not in column:
                raise ValueError("no column %s" % name)
        rows = []
        for number, values in enumerate(reader, 2):
            values = [v.strip() for v in values]
            value = dict((n, values[i] if i < len(values) else '')
                for n, i in column.items())
            kind = {'交易': 'payment', '退款': 'refund'}.get(value['业务类型'])
            if kind is None:
                continue
            try:
                if kind == 'payment':
                    amount = cents(value['订单金额（元）'])
                else:
                    amount = abs(cents(value['商家实收（元）']))
                rows.append(StatementRow(kind=kind,
                        transaction_id=value['支付宝交易号'],
                        reference=value['商户订单号'],
                        amount=amount, fee=-cents(value['服务费（元）']),
                        time=beijing_time(value['完成时间']),
                        refund_reference=(value['退款批次号/请求号'] or None
                            if kind == 'refund' else None)))
            except (ValueError, InvalidOperation) as exception:
                raise ValueError("line %s: %s" % (number, exception))
        return rows

    def answer(self, ok, message=''):
        if ok:
            return 200, b'success', 'text/plain'
        return 400, b'fail', 'text/plain'


PROVIDERS = {
    'wechat': WeChatPayProvider,
    'alipay': AlipayProvider,
    }

DEFAULT_GATEWAYS = {
    'wechat': WECHAT_GATEWAY,
    'alipay': ALIPAY_GATEWAY,
    }


def get_provider(merchant):
    "The provider of ``merchant``'s account."
    return PROVIDERS[merchant.provider](merchant)


def new_reference():
    "An order or refund reference: 32 characters [0-9a-f] (both providers)."
    return uuid.uuid4().hex
