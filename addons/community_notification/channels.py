# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The providers behind one interface: ``channel(name).send(message)``.

Every option is read from the ``[community_notification]`` section of the
trytond configuration; the endpoints default to the providers' official
ones:

- SMS through Tencent Cloud SMS (API 2021-01-11) and its SDK
  (``tencentcloud-sdk-python-sms``): ``sms_url`` (default
  ``https://sms.tencentcloudapi.com``), ``sms_region`` (``ap-guangzhou``),
  ``sms_secret_id``, ``sms_secret_key``, ``sms_app_id`` (SmsSdkAppId),
  ``sms_sign`` (the approved signature, e.g. 嘉州物业). Tencent Cloud
  rather than Aliyun: one small package on one signing scheme
  (TC3-HMAC-SHA256, documented step by step so that it can be checked),
  delivery reports pulled with the same client (``PullSmsSendStatus``,
  no message queue service needed) and the same company as the WeChat
  official account, whose templates are approved in the same console.
- WeChat official-account template messages through ``wechatpy``:
  ``wechat_url`` (default ``https://api.weixin.qq.com/cgi-bin/``),
  ``wechat_appid``, ``wechat_secret``. The access token is kept per
  process (wechatpy's memory storage) and fetched again when the server
  says it expired.
- WeChat web authorisation (网页授权, the portal's WeChat login) of the
  same official account through ``wechatpy``'s ``WeChatOAuth``:
  ``wechat_oauth_url`` (default: ``wechat_url`` without ``cgi-bin/``,
  i.e. ``https://api.weixin.qq.com/``), ``wechat_scope``
  (``snsapi_base``: the openid is all the portal needs).
- ``portal_url``: the public address of the portal, for the links of the
  messages (e.g. ``https://wy.example.com/community/portal``).

A provider's refusal raises ``ProviderError`` with the provider's code and
text; ``retry`` tells whether sending again later may succeed (network,
busy, rate limited) or not (unknown number, unapproved template).

``send_many(name, messages)`` sends a batch: on ``send_threads`` (8)
threads, each with its own SDK client (its own kept-alive connection),
the SMS of the same template and parameters together (Tencent Cloud's
``SendSms`` takes up to 200 numbers).
"""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from trytond.config import config

SECTION = 'community_notification'


def option(name, default=None):
    return config.get(SECTION, name, default=default)


class ProviderError(Exception):
    "A provider refused or could not be reached."

    def __init__(self, code, message, retry=False):
        super().__init__('%s: %s' % (code, message))
        self.code = code
        self.message = message
        self.retry = retry


@dataclass
class Message:
    "What a channel sends: to whom, which template, its parameters."
    to: str  # openid or mobile number (national, 11 digits)
    template: str  # provider's template id / code
    params: list = field(default_factory=list)  # SMS: ordered values
    data: dict = field(default_factory=dict)  # WeChat: key -> value
    url: str = None


class SmsChannel:
    "Tencent Cloud SMS: approved template id + ordered parameters."
    name = 'sms'
    # error codes after which sending the same message again may succeed
    RETRY_CODES = {
        'InternalError', 'RequestLimitExceeded', 'ServerNetworkError',
        'ClientNetworkError', 'InternalError.Timeout',
        'InternalError.RequestTimeException',
        'FailedOperation.FailResolvePacket',
        'LimitExceeded.PhoneNumberThirtySecondLimit',
        }

    def __init__(self):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client
        url = urlsplit(option('sms_url', 'https://sms.tencentcloudapi.com'))
        http = HttpProfile(protocol=url.scheme, endpoint=url.netloc,
            reqTimeout=int(option('sms_timeout', 10)), keepAlive=True)
        self.client = sms_client.SmsClient(
            credential.Credential(
                option('sms_secret_id', ''), option('sms_secret_key', '')),
            option('sms_region', 'ap-guangzhou'),
            ClientProfile(httpProfile=http))
        self.app_id = option('sms_app_id', '')
        self.sign = option('sms_sign', '')

    def _call(self, method, request):
        from tencentcloud.common.exception.tencent_cloud_sdk_exception \
            import TencentCloudSDKException
        try:
            return getattr(self.client, method)(request)
        except TencentCloudSDKException as e:
            code = e.get_code() or 'ServerNetworkError'
            raise ProviderError(code, str(e.get_message()),
                retry=code in self.RETRY_CODES or code.startswith(
                    'InternalError'))
        except OSError as e:
            raise ProviderError('ClientNetworkError', str(e), retry=True)

    #: numbers of one SendSms request (the provider's limit)
    MAX_NUMBERS = 200

    def send(self, message):
        "Send ``message``; return the provider's serial number."
        result, = self.send_group([message])
        if isinstance(result, ProviderError):
            raise result
        return result

    def send_group(self, messages):
        """Send ``messages`` of the same template and parameters to
        different numbers in one request; return for each its serial
        number or its ``ProviderError``."""
        from tencentcloud.sms.v20210111 import models
        first = messages[0]
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ['+86' + m.to for m in messages]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign
        request.TemplateId = first.template
        request.TemplateParamSet = [str(p) for p in first.params]
        try:
            response = self._call('SendSms', request)
        except ProviderError as e:
            return [e] * len(messages)
        statuses = {s.PhoneNumber: s for s in response.SendStatusSet or []}
        results = []
        for number in request.PhoneNumberSet:
            status = statuses.get(number)
            if status is None:
                results.append(ProviderError('InternalError',
                        "no status for the number", retry=True))
            elif status.Code != 'Ok':
                results.append(ProviderError(status.Code, status.Message,
                        retry=status.Code in self.RETRY_CODES))
            else:
                results.append(status.SerialNo)
        return results

    @classmethod
    def groups(cls, messages):
        """Split [(key, message)] into lists sent by one request each: the
        same template and parameters, each number once, at most
        ``MAX_NUMBERS``."""
        groups = {}
        for key, message in messages:
            same = (message.template, tuple(str(p) for p in message.params))
            chunks = groups.setdefault(same, [])
            for chunk in chunks:
                if (len(chunk) < cls.MAX_NUMBERS
                        and all(m.to != message.to for _, m in chunk)):
                    chunk.append((key, message))
                    break
            else:
                chunks.append([(key, message)])
        return [c for chunks in groups.values() for c in chunks]

    def pull_reports(self, limit=100):
        """Return the delivery reports the provider holds (each once):
        [(serial number, delivered, description)]."""
        from tencentcloud.sms.v20210111 import models
        request = models.PullSmsSendStatusRequest()
        request.SmsSdkAppId = self.app_id
        request.Limit = limit
        response = self._call('PullSmsSendStatus', request)
        return [(s.SerialNo, s.ReportStatus == 'SUCCESS', s.Description)
            for s in response.PullSmsSendStatusSet or []]


_wechat_clients = {}
_wechat_lock = threading.Lock()


def _wechat_client(appid, secret, base):
    from wechatpy import WeChatClient

    class Client(WeChatClient):
        API_BASE_URL = base

        def fetch_access_token(self):
            return self._fetch_access_token(url=base + 'token', params={
                    'grant_type': 'client_credential',
                    'appid': self.appid, 'secret': self.secret})

    key = (appid, secret, base)
    with _wechat_lock:
        if key not in _wechat_clients:
            _wechat_clients[key] = Client(appid, secret,
                timeout=int(option('wechat_timeout', 10)))
        return _wechat_clients[key]


class WeChatChannel:
    "WeChat official account: template message to a bound openid."
    name = 'wechat'
    # -1 system busy, 45009 API quota, 45047 customer quota
    RETRY_CODES = {-1, 45009, 45047}

    def __init__(self):
        self.client = _wechat_client(
            option('wechat_appid', ''), option('wechat_secret', ''),
            option('wechat_url', 'https://api.weixin.qq.com/cgi-bin/'))

    def send_group(self, messages):
        "Send each of ``messages``; return its msgid or its error."
        results = []
        for message in messages:
            try:
                results.append(self.send(message))
            except ProviderError as e:
                results.append(e)
        return results

    @classmethod
    def groups(cls, messages):
        return [[m] for m in messages]

    def warm_up(self):
        """Fetch the access token once before threads share it (a new
        token replaces the previous one)."""
        import requests
        from wechatpy.exceptions import WeChatClientException
        try:
            self.client.access_token  # noqa: B018
        except (WeChatClientException, requests.RequestException, OSError,
                json.JSONDecodeError):
            pass  # each message then raises its error

    def send(self, message):
        "Send ``message``; return the provider's msgid."
        import requests
        from wechatpy.exceptions import WeChatClientException
        data = {k: {'value': str(v)} for k, v in message.data.items()}
        try:
            result = self.client.message.send_template(
                message.to, message.template, data, url=message.url)
        except WeChatClientException as e:
            raise ProviderError(str(e.errcode), str(e.errmsg),
                retry=e.errcode is None or e.errcode in self.RETRY_CODES)
        except (requests.RequestException, OSError, json.JSONDecodeError
                ) as e:
            raise ProviderError('network', str(e), retry=True)
        return str(result.get('msgid', ''))


def wechat_oauth(redirect_uri, state):
    """Return wechatpy's ``WeChatOAuth`` of the official account (None when
    no account is configured): ``authorize_url`` to send the browser to,
    ``fetch_access_token(code)`` for the user's openid."""
    from wechatpy.oauth import WeChatOAuth
    appid = option('wechat_appid')
    if not appid:
        return None
    base = option('wechat_oauth_url') or option(
        'wechat_url', 'https://api.weixin.qq.com/cgi-bin/').rstrip('/')
    if base.endswith('/cgi-bin'):
        base = base[:-len('cgi-bin')]
    timeout = int(option('wechat_timeout', 10))

    class OAuth(WeChatOAuth):
        API_BASE_URL = base.rstrip('/') + '/'

        def _request(self, method, url_or_endpoint, **kwargs):
            kwargs.setdefault('timeout', timeout)
            return super()._request(method, url_or_endpoint, **kwargs)

    return OAuth(appid, option('wechat_secret', ''), redirect_uri,
        scope=option('wechat_scope', 'snsapi_base'), state=state)


CHANNELS = {'sms': SmsChannel, 'wechat': WeChatChannel}


def channel(name):
    "Return the channel ``name`` ('sms' or 'wechat') as configured now."
    return CHANNELS[name]()


_local = threading.local()
_executor = None
_executor_lock = threading.Lock()


def _thread_channel(name):
    """The channel ``name`` of this thread, kept while the configuration
    is the same (its client keeps its connection alive)."""
    key = (name, tuple(sorted((o, option(o)) for o in config.options(
                    SECTION))) if config.has_section(SECTION) else ())
    channels = getattr(_local, 'channels', None)
    if channels is None:
        channels = _local.channels = {}
    if key not in channels:
        channels[key] = channel(name)
    return channels[key]


def _pool(threads):
    "The threads of this process that call the providers."
    global _executor
    with _executor_lock:
        if _executor is None or _executor._max_workers != threads:
            if _executor is not None:
                _executor.shutdown(wait=False)
            _executor = ThreadPoolExecutor(
                threads, thread_name_prefix='community-notification')
        return _executor


def send_many(name, messages):
    """Send [(key, ``Message``)] through channel ``name``; return {key:
    provider's reference or ``ProviderError``}. The requests run on
    ``send_threads`` threads (8), each with its own client."""
    groups = CHANNELS[name].groups(messages)
    if not groups:
        return {}
    first = _thread_channel(name)
    if hasattr(first, 'warm_up'):
        first.warm_up()

    def run(group):
        results = _thread_channel(name).send_group([m for _, m in group])
        return list(zip((k for k, _ in group), results))

    threads = int(option('send_threads', 8))
    if threads <= 1 or len(groups) == 1:
        outcomes = map(run, groups)
    else:
        outcomes = _pool(threads).map(run, groups)
    return {k: r for outcome in outcomes for k, r in outcome}
