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
"""
import json
import threading
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
            reqTimeout=int(option('sms_timeout', 10)))
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

    def send(self, message):
        "Send ``message``; return the provider's serial number."
        from tencentcloud.sms.v20210111 import models
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ['+86' + message.to]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign
        request.TemplateId = message.template
        request.TemplateParamSet = [str(p) for p in message.params]
        response = self._call('SendSms', request)
        status, = response.SendStatusSet
        if status.Code != 'Ok':
            raise ProviderError(status.Code, status.Message,
                retry=status.Code in self.RETRY_CODES)
        return status.SerialNo

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
