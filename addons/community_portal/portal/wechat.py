# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""WeChat login (微信登录): the official account's web authorisation
(网页授权, ``snsapi_base``) through wechatpy's ``WeChatOAuth``, with the
official account of community_notification's configuration.

``/wechat/login`` sends the browser to WeChat with a random ``state``
(kept in a cookie); WeChat sends it back to ``/wechat/callback`` with a
code, exchanged for the user's openid. A logged-in resident binds the
openid to the account (their notifications then come by WeChat); a
visitor whose openid is bound is logged in. Unbinding is on the profile
page."""
import hmac
import secrets

from werkzeug.utils import redirect

from trytond.exceptions import UserError
from trytond.modules.community_notification.channels import (
    option, wechat_oauth)
from trytond.protocols.wrappers import abort

from .web import CSRF_COOKIE, SESSION_COOKIE, error_text, rollback, route

STATE_COOKIE = 'portal_wechat_state'
#: seconds the browser has to come back from WeChat
STATE_AGE = 600


def _oauth(ctx, state=''):
    portal = option('portal_url') or ctx.full_base
    oauth = wechat_oauth(portal.rstrip('/') + '/wechat/callback', state)
    if oauth is None:
        abort(404)
    return oauth


@route('/wechat/login', login=False)
def wechat_login(ctx):
    "Off to WeChat's authorisation page, with a state to come back with."
    state = secrets.token_hex(16)
    oauth = _oauth(ctx, state)
    ctx.cookies[STATE_COOKIE] = state
    ctx.cookie_ages[STATE_COOKIE] = STATE_AGE
    response = redirect(oauth.authorize_url, code=303)
    ctx.finish(response)
    return response


@route('/wechat/callback', login=False, get_writes=True)
def wechat_callback(ctx):
    """Back from WeChat: bind the openid to the logged-in account, or log
    in the account it is bound to."""
    import requests
    from wechatpy.exceptions import WeChatException
    WebUser = ctx.pool.get('web.user')
    args = ctx.request.args
    expected = ctx.request.cookies.get(STATE_COOKIE, '')
    ctx.cookies[STATE_COOKIE] = None
    if not expected or not hmac.compare_digest(
            args.get('state', ''), expected):
        abort(403)

    def failed(message):
        template = 'profile.html' if ctx.user else 'login.html'
        values = dict(party=ctx.party, identifiers=ctx.party.identifiers
            if ctx.party else []) if ctx.user else dict(nav=None)
        return ctx.render(template, error=message, status=400, **values)
    code = args.get('code', '')
    if not code:
        # the user did not agree
        return failed(ctx._("WeChat did not authorise the login."))
    try:
        openid = _oauth(ctx).fetch_access_token(code)['openid']
    except (WeChatException, requests.RequestException, OSError, KeyError,
            ValueError):
        return failed(ctx._("WeChat could not be reached: try again."))
    if ctx.user:
        try:
            WebUser.bind_wechat(ctx.user, openid)
        except UserError as exception:
            rollback()
            return failed(error_text(exception))
        return ctx.redirect('/profile')
    user = WebUser.wechat_user(openid)
    if not user:
        return failed(ctx._("This WeChat is bound to no account: log in, "
                "then bind WeChat on the page \"Me\"."))
    ctx.cookies[SESSION_COOKIE] = user.new_session()
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/')


@route('/wechat/unbind', methods=('POST',), readonly=False)
def wechat_unbind(ctx):
    WebUser = ctx.pool.get('web.user')
    WebUser.write([ctx.user], {'wechat_openid': None})
    return ctx.redirect('/profile')
