# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""HTTP routes of the resident portal and of the staff phone pages.

Served by trytond itself under ``/<database>/portal/``. Residents log in
with a ``web.user`` (mobile or email + password; session cookie
``portal_session`` holding a ``web.user.session`` key). Staff log in with
their Tryton user (``res.user`` login + password, rate-limited by
``res.user.get_login``; cookie ``portal_staff`` holding a random token of
``community.portal.staff_session``, which is no ``ir.session`` key and
opens no JSON-RPC; membership of a staff group is read on every request)
and every staff query runs as that user with access checks on, so the
per-compound record rules decide what they see.

The module also wraps trytond's WSGI application (``FrameGuard``) so that
the back office (sao at ``/`` and its RPC) cannot be framed by another
site: ``X-Frame-Options: SAMEORIGIN`` and ``Content-Security-Policy:
frame-ancestors 'self'`` on every answer that sets no policy of its own.

Security rules applied by every resident page:

- every record is looked up through the logged-in resident's own active
  residencies; anything else answers 404, whatever its reference;
- URLs carry random tokens (uuid4) or HMAC-signed references, never bare
  sequential ids;
- every POST needs the CSRF token of the session (HMAC of the session key)
  or, before login, the double-submit ``portal_csrf`` cookie;
- output is escaped (markupsafe), ID and phone numbers are masked;
- login goes through ``web.user.authenticate`` (rate-limited); sessions
  expire after ``[session] web_timeout`` seconds.
"""
import datetime as dt
import hashlib
import hmac
import io
import logging
import re
import secrets
import urllib.parse
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps

from sql import For
from werkzeug.wrappers import Response

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover
    ZoneInfo = None

from trytond import backend, config
from trytond.exceptions import RateLimitException, UserError
from trytond.i18n import gettext
from trytond.protocols.wrappers import (
    abort, redirect, set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction, check_access
from trytond.wsgi import app

from .exceptions import PortalError
from .payment_provider import (
    configured_provider_name, get_provider, sandbox_enabled)
from .models import mask_email, mask_identifier, mask_mobile
from .portal_html import (
    RESIDENT_NAV, STAFF_NAV, Markup, csrf_field, money, options, page, qr_svg)

logger = logging.getLogger(__name__)

PREFIX = '/<database_name>/portal'
SESSION_COOKIE = 'portal_session'
STAFF_COOKIE = 'portal_staff'
CSRF_COOKIE = 'portal_csrf'
MAX_PHOTO_SIZE = 8 * 1024 * 1024
MAX_UPLOAD = 4 * MAX_PHOTO_SIZE
# Pictures are checked by their content (Pillow), not their declared type
PHOTO_FORMATS = {'JPEG', 'PNG', 'WEBP', 'GIF', 'MPO'}
PHOTO_MAX_SIDE = 2560
PHOTO_MAX_PIXELS = 50 * 1000 * 1000
ROLE_LABELS = {'owner': "业主", 'tenant': "租户", 'member': "家庭成员"}
STATE_LABELS = {
    'new': "待受理", 'assigned': "已派单", 'in_progress': "处理中",
    'done': "待确认", 'confirmed': "已完成", 'cancelled': "已取消"}
KIND_LABELS = {'repair': "报修", 'complaint': "投诉", 'suggestion': "建议"}
URGENCY_LABELS = {'low': "一般", 'normal': "普通", 'high': "紧急"}
_PROCESS_SECRET = secrets.token_bytes(32)


def _secret():
    "Key of signed references: [community_portal] secret, else per process."
    value = config.get('community_portal', 'secret', default='')
    return value.encode() if value else _PROCESS_SECRET


def sign_ref(kind, id_):
    "Return a non-guessable reference ``<id>.<hmac>`` of a record id."
    mac = hmac.new(_secret(), ('%s:%s' % (kind, id_)).encode(),
        hashlib.sha256).hexdigest()[:20]
    return '%s.%s' % (id_, mac)


def parse_ref(kind, ref):
    "Return the id of a signed reference or abort with 404."
    id_, _, mac = (ref or '').partition('.')
    if not id_.isdigit() or not hmac.compare_digest(
            sign_ref(kind, int(id_)), ref):
        abort(404)
    return int(id_)


class FrameGuard:
    """WSGI middleware: answers without a framing policy of their own (the
    back office: sao's files, JSON-RPC) get ``X-Frame-Options: SAMEORIGIN``
    and ``Content-Security-Policy: frame-ancestors 'self'``; the portal's
    stricter headers (``DENY``, ``'none'``) are kept."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        def guarded(status, headers, exc_info=None):
            names = {name.lower() for name, _ in headers}
            if 'x-frame-options' not in names:
                headers.append(('X-Frame-Options', 'SAMEORIGIN'))
            if 'content-security-policy' not in names:
                headers.append(('Content-Security-Policy',
                        "frame-ancestors 'self'"))
            return start_response(status, headers, exc_info)
        return self.app(environ, guarded)


def install_frame_guard(wsgi=app):
    "Wrap ``wsgi.wsgi_app`` in FrameGuard once."
    if not isinstance(wsgi.wsgi_app, FrameGuard):
        wsgi.wsgi_app = FrameGuard(wsgi.wsgi_app)


install_frame_guard()


def _hmac_hex(key, message):
    return hmac.new(key.encode(), message.encode(),
        hashlib.sha256).hexdigest()[:40]


# a plain number as typed in a form: digits, one decimal mark
PLAIN_NUMBER = re.compile(r'([0-9]{1,12})(?:[.,]([0-9]{1,6}))?')


def parse_decimal(text):
    """Return the Decimal of a plain non-negative number typed in a form
    (``12``, ``12.5``, ``12,50``), else None: signs, exponents, ``NaN``,
    ``Infinity``, more than 12 integer or 6 decimal digits, anything else.
    """
    match = PLAIN_NUMBER.fullmatch((text or '').strip())
    if not match:
        return None
    integer, decimals = match.groups()
    return Decimal(integer + ('.' + decimals if decimals else ''))


def localtime(value, compound=None):
    "Format a UTC timestamp in the compound's time zone (Asia/Shanghai)."
    if not value:
        return ''
    tz = (compound.timezone if compound and compound.timezone
        else 'Asia/Shanghai')
    if ZoneInfo:
        value = value.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(tz))
    return value.strftime('%Y-%m-%d %H:%M')


class Context:
    "What a portal page needs: request, pool, account and its scope."

    def __init__(self, request, pool, database_name):
        self.request = request
        self.pool = pool
        self.db = database_name
        self.base = '/%s/portal' % database_name
        self.cookies = {}
        self.user = None
        self.session_key = None
        self._scope = None
        key = request.cookies.get(SESSION_COOKIE)
        if key:
            WebUser = pool.get('web.user')
            user = WebUser.get_user(key)
            if user and user.active:
                self.user = user
                self.session_key = key

    @property
    def full_base(self):
        return self.request.host_url.rstrip('/') + self.base

    # CSRF
    def csrf_token(self):
        if self.session_key:
            return _hmac_hex(self.session_key, 'csrf')
        token = self.request.cookies.get(CSRF_COOKIE)
        if not token or not re.fullmatch(r'[0-9a-f]{32}', token):
            token = secrets.token_hex(16)
            self.cookies[CSRF_COOKIE] = token
        return token

    def check_csrf(self):
        sent = self.request.form.get('csrf', '')
        if self.session_key:
            expected = _hmac_hex(self.session_key, 'csrf')
        else:
            expected = self.request.cookies.get(CSRF_COOKIE, '')
        if not expected or not hmac.compare_digest(sent, expected):
            abort(403)

    def csrf(self):
        return csrf_field(self.csrf_token())

    # Scope of the resident
    @property
    def party(self):
        return self.user.party if self.user else None

    @property
    def scope(self):
        """Return {unit id: (unit, role)} of the account's active
        residencies; empty for an unverified account."""
        if self._scope is None:
            self._scope = {}
            if self.party:
                Residency = self.pool.get('community.residency')
                for residency in Residency.search([
                            ('party', '=', self.party.id),
                            ('active', '=', True),
                            ], order=[('unit', 'ASC'), ('role', 'ASC')]):
                    unit = residency.unit
                    # owner wins over the other roles
                    if (unit.id not in self._scope
                            or residency.role == 'owner'):
                        self._scope[unit.id] = (unit, residency.role)
        return self._scope

    def residencies(self):
        Residency = self.pool.get('community.residency')
        if not self.party:
            return []
        return Residency.search([
                ('party', '=', self.party.id), ('active', '=', True)])

    def render(self, title, body, status=200, nav=RESIDENT_NAV, **kw):
        html = page(title, body, self.base, nav=nav, **kw)
        return self.response(str(html), status=status)

    def response(self, data, status=200, content_type='text/html; '
            'charset=utf-8'):
        response = Response(data, status=status, content_type=content_type)
        self.finish(response)
        return response

    def redirect(self, path):
        response = redirect(self.base + path, code=303)
        self.finish(response)
        return response

    def finish(self, response):
        secure = self.request.is_secure
        for name, value in self.cookies.items():
            if value is None:
                response.delete_cookie(name, path=self.base)
            else:
                response.set_cookie(name, value, path=self.base,
                    httponly=True, samesite='Lax', secure=secure)
        response.headers['Cache-Control'] = 'no-store'
        response.headers['X-Content-Type-Options'] = 'nosniff'
        response.headers['X-Frame-Options'] = 'DENY'
        response.headers['Content-Security-Policy'] = (
            "default-src 'self'; img-src 'self' data:; "
            "style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'")


def portal_route(path, methods=('GET',), login=True, readonly=None,
        max_size=None, csrf=True):
    """Register a resident page ``func(ctx, **view_args)``.

    Without a logged-in account the page redirects to the login page
    (``login=True``). POST requests must carry a valid CSRF token.
    """
    def decorator(func):
        @wraps(func)
        def endpoint(request, pool, **kwargs):
            database_name = pool.database_name
            ctx = Context(request, pool, database_name)
            if login and not ctx.user:
                return ctx.redirect('/login')
            if request.method == 'POST' and csrf:
                ctx.check_csrf()
            return func(ctx, **kwargs)
        wrapped = with_pool(with_transaction(readonly=readonly)(endpoint))
        if max_size:
            set_max_request_size(max_size)(wrapped)
        app.route(PREFIX + path, methods=list(methods))(wrapped)
        return wrapped
    return decorator


def _rollback():
    transaction = Transaction()
    transaction.rollback()


def _error_text(exception):
    return getattr(exception, 'message', None) or str(exception)


# ---------------------------------------------------------------- accounts

def _login_form(ctx, error=None, login_value=''):
    body = Markup(
        '<form method="post" class="card" action="{base}/login">{csrf}'
        '<label for="login">手机号或邮箱</label>'
        '<input id="login" name="login" autocomplete="username" '
        'value="{login}" required>'
        '<label for="password">密码</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<button type="submit">登录</button></form>'
        '<a class="btn secondary" href="{base}/signup">注册新账号</a>'
        ).format(base=ctx.base, csrf=ctx.csrf(), login=login_value)
    return ctx.render("业主登录", body, nav=None, error=error,
        status=400 if error else 200)


@portal_route('/login', methods=('GET', 'POST'), login=False,
    readonly=False)
def login(ctx):
    if ctx.request.method == 'GET':
        if ctx.user:
            return ctx.redirect('/')
        return _login_form(ctx)
    WebUser = ctx.pool.get('web.user')
    login_value = ctx.request.form.get('login', '').strip()
    password = ctx.request.form.get('password', '')
    try:
        user = WebUser.authenticate(login_value, password)
    except RateLimitException:
        return _login_form(ctx, error="尝试次数过多,请稍后再试。",
            login_value=login_value)
    if not user or not user.active:
        return _login_form(ctx, error="账号或密码错误。",
            login_value=login_value)
    key = user.new_session()
    ctx.cookies[SESSION_COOKIE] = key
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/')


@portal_route('/logout', methods=('POST',), readonly=False)
def logout(ctx):
    Session = ctx.pool.get('web.user.session')
    Session.remove(ctx.session_key)
    ctx.cookies[SESSION_COOKIE] = None
    return ctx.redirect('/login')


SIGNUP_REFUSED = ("无法用该号码或邮箱注册。如已有账号请直接登录,"
    "忘记密码请联系物业服务中心。")


def _signup_form(ctx, error=None, login_value=''):
    body = Markup(
        '<form method="post" class="card" action="{base}/signup">{csrf}'
        '<label for="login">手机号或邮箱</label>'
        '<input id="login" name="login" value="{login}" required>'
        '<label for="password">密码(至少8位)</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="new-password" minlength="8" required>'
        '<label for="password2">确认密码</label>'
        '<input id="password2" name="password2" type="password" '
        'autocomplete="new-password" minlength="8" required>'
        '<button type="submit">注册</button></form>'
        '<p class="muted">注册后请用物业发放的绑定码绑定房屋,'
        '未绑定的账号看不到任何房屋信息。</p>'
        '<a class="btn secondary" href="{base}/login">已有账号,去登录</a>'
        ).format(base=ctx.base, csrf=ctx.csrf(), login=login_value)
    return ctx.render("注册", body, nav=None, error=error,
        status=400 if error else 200)


@portal_route('/signup', methods=('GET', 'POST'), login=False,
    readonly=False)
def signup(ctx):
    if ctx.request.method == 'GET':
        return _signup_form(ctx)
    pool = ctx.pool
    WebUser = pool.get('web.user')
    form = ctx.request.form
    login_value = form.get('login', '').strip()
    password = form.get('password', '')
    if len(password) < 8 or password != form.get('password2', ''):
        return _signup_form(ctx, error="两次密码不一致或少于8位。",
            login_value=login_value)
    key = WebUser.find_login(login_value)
    values = {'password': password}
    if '@' in key:
        values['email'] = key
        exists = WebUser.search([('email', '=', key)], limit=1)
    elif key.isdigit():
        values['mobile'] = key
        exists = WebUser.search([('mobile', '=', key)], limit=1)
    else:
        return _signup_form(ctx, error="请输入有效的手机号或邮箱。",
            login_value=login_value)
    try:
        # counted per client and rate-limited
        WebUser.check_signup()
    except UserError as exception:
        return _signup_form(ctx, error=_error_text(exception))
    if exists:
        # the same answer as any refused sign-up (no "already registered"),
        # in the same time: the password hashed as a creation would
        WebUser.hash_password(password)
        return _signup_form(ctx, error=SIGNUP_REFUSED)
    try:
        user, = WebUser.create([values])
    except UserError:
        _rollback()
        return _signup_form(ctx, error=SIGNUP_REFUSED)
    ctx.cookies[SESSION_COOKIE] = user.new_session()
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/bind')


@portal_route('/bind', methods=('GET', 'POST'), readonly=False)
def bind(ctx):
    error = notice = None
    if ctx.request.method == 'POST':
        BindingCode = ctx.pool.get('community.portal.binding_code')
        try:
            BindingCode.redeem(ctx.request.form.get('code', ''), ctx.user)
        except UserError as exception:
            _rollback()
            error = _error_text(exception)
        else:
            return ctx.redirect('/units')
    body = Markup(
        '<div class="card"><p>请输入物业服务中心发放的绑定码'
        '(8位字母数字),验证后即可查看房屋、账单和报修。</p>'
        '<form method="post" action="{base}/bind">{csrf}'
        '<label for="code">绑定码</label>'
        '<input id="code" name="code" autocomplete="off" '
        'autocapitalize="characters" required>'
        '<button type="submit">绑定房屋</button></form></div>'
        ).format(base=ctx.base, csrf=ctx.csrf())
    return ctx.render("绑定房屋", body, error=error, notice=notice,
        status=400 if error else 200)


def _unverified(ctx):
    body = Markup(
        '<div class="card"><h3>账号未验证</h3><p>您的账号还没有绑定房屋。'
        '请向物业服务中心索取绑定码,或等待工作人员审核。</p>'
        '<a class="btn" href="{base}/bind">输入绑定码</a></div>'
        ).format(base=ctx.base)
    return ctx.render("社区服务", body)


@portal_route('/')
def home(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    name = ctx.user.nickname or ctx.party.rec_name
    cards = Markup('').join(
        Markup('<div class="card"><h3>{compound} {unit}</h3>'
            '<span class="tag">{role}</span></div>').format(
            compound=unit.compound.name, unit=unit.code,
            role=ROLE_LABELS.get(role, role))
        for unit, role in ctx.scope.values())
    links = Markup(
        '<a class="btn" href="{base}/bills">我的账单</a>'
        '<a class="btn secondary" href="{base}/requests/new">我要报修</a>'
        '<a class="btn secondary" href="{base}/household">家庭成员</a>'
        ).format(base=ctx.base)
    body = Markup('<p>您好,{name}</p>{cards}{links}').format(
        name=name, cards=cards, links=links)
    return ctx.render("社区服务", body)


@portal_route('/units')
def units(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    cards = Markup('').join(
        Markup('<div class="card"><h3>{unit}</h3><div class="muted">'
            '{compound} · {building}</div><span class="tag">{role}</span>'
            '</div>').format(
            unit=unit.code, compound=unit.compound.name,
            building=unit.building.name or unit.building.code,
            role=ROLE_LABELS.get(role, role))
        for unit, role in ctx.scope.values())
    return ctx.render("我的房屋", cards)


@portal_route('/profile')
def profile(ctx):
    party = ctx.party
    identifiers = Markup('')
    if party:
        identifiers = Markup('').join(
            Markup('<tr><td>证件号</td><td class="r">{}</td></tr>').format(
                mask_identifier(i.code)) for i in party.identifiers)
    body = Markup(
        '<div class="card"><table>'
        '<tr><td>姓名</td><td class="r">{name}</td></tr>'
        '<tr><td>手机号</td><td class="r">{mobile}</td></tr>'
        '<tr><td>邮箱</td><td class="r">{email}</td></tr>{ids}'
        '<tr><td>状态</td><td class="r">{state}</td></tr>'
        '</table></div>'
        '<a class="btn secondary" href="{base}/units">我的房屋</a>'
        '<a class="btn secondary" href="{base}/household">家庭成员与租户</a>'
        '<a class="btn secondary" href="{base}/prepay">预存费用</a>'
        '<form method="post" action="{base}/logout">{csrf}'
        '<button class="secondary" type="submit">退出登录</button></form>'
        ).format(
        name=party.rec_name if party else '-',
        mobile=mask_mobile(ctx.user.mobile) or '-',
        email=mask_email(ctx.user.email) or '-', ids=identifiers,
        state="已验证" if ctx.scope else "未验证",
        base=ctx.base, csrf=ctx.csrf())
    return ctx.render("我的", body)


# ------------------------------------------------------------- household

@portal_route('/household', methods=('GET', 'POST'), readonly=False)
def household(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    pool = ctx.pool
    Residency = pool.get('community.residency')
    owned = [u for u, role in ctx.scope.values() if role == 'owner']
    error = notice = None
    if ctx.request.method == 'POST':
        if not owned:
            abort(403)
        form = ctx.request.form
        try:
            notice = _invite(ctx, owned, form)
        except UserError as exception:
            _rollback()
            error = _error_text(exception)
        except ValueError:
            _rollback()
            error = "请填写完整、有效的信息。"
    rows = Markup('')
    for unit, role in ctx.scope.values():
        domain = [('unit', '=', unit.id), ('active', '=', True)]
        if role != 'owner':
            domain.append(('party', '=', ctx.party.id))
        for residency in Residency.search(domain):
            rows += Markup(
                '<tr><td>{unit}</td><td>{name}</td><td class="r">{role}'
                '</td></tr>').format(unit=unit.code,
                name=residency.party.rec_name,
                role=ROLE_LABELS.get(residency.role, residency.role))
    body = Markup('<div class="card"><table>{}</table></div>').format(rows)
    if owned:
        body += Markup(
            '<form method="post" class="card" action="{base}/household">'
            '{csrf}<h3>邀请家庭成员或租户</h3>'
            '<label for="unit">房屋</label><select id="unit" name="unit">'
            '{units}</select>'
            '<label for="name">姓名</label><input id="name" name="name" '
            'required><label for="mobile">手机号</label>'
            '<input id="mobile" name="mobile" inputmode="tel" required>'
            '<label for="role">身份</label><select id="role" name="role">'
            '<option value="member">家庭成员</option>'
            '<option value="tenant">租户</option></select>'
            '<button type="submit">生成邀请码</button></form>').format(
            base=ctx.base, csrf=ctx.csrf(), units=options(
                [(sign_ref('unit', u.id), u.code) for u in owned]))
    return ctx.render("家庭成员", body, error=error, notice=notice,
        status=400 if error else 200)


def _invite(ctx, owned, form):
    """Create the invited party, its residency and a binding code; return
    the notice text with the code to pass on."""
    from .models import normalize_mobile
    pool = ctx.pool
    Party = pool.get('party.party')
    Residency = pool.get('community.residency')
    BindingCode = pool.get('community.portal.binding_code')
    Date = pool.get('ir.date')
    unit_id = parse_ref('unit', form.get('unit', ''))
    units = {u.id: u for u in owned}
    if unit_id not in units:
        abort(404)
    name = form.get('name', '').strip()
    role = form.get('role')
    if not name or role not in {'member', 'tenant'}:
        raise ValueError
    mobile = normalize_mobile(form.get('mobile', ''))
    party, = Party.create([{
                'name': name,
                'contact_mechanisms': [('create', [{
                                'type': 'mobile', 'value': '+86' + mobile}])],
                }])
    Residency.create([{
                'unit': unit_id, 'party': party.id, 'role': role,
                'start_date': Date.today(),
                }])
    code, = BindingCode.create([{'unit': unit_id, 'party': party.id}])
    return "邀请码:%s(7天内有效,请转交%s)" % (code.code, name)


# ------------------------------------------------------------- announcements

@portal_route('/announcements')
def announcements(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    Announcement = ctx.pool.get('community.announcement')
    items = Announcement.search([('resident', '=', ctx.party.id)])
    body = Markup('').join(
        Markup('<div class="card"><h3>{pin}<a href="{base}/announcements/'
            '{token}">{title}</a></h3><div class="muted">{compound} · '
            '{date}</div></div>').format(
            pin=Markup('<span class="pin">[置顶] </span>')
            if a.pinned else '',
            base=ctx.base, token=a.token, title=a.title,
            compound=a.compound.name,
            date=localtime(a.publish_date, a.compound))
        for a in items) or Markup('<p class="muted">暂无公告</p>')
    return ctx.render("公告", body)


@portal_route('/announcements/<token>', readonly=False)
def announcement(ctx, token):
    if not ctx.scope:
        abort(404)
    Announcement = ctx.pool.get('community.announcement')
    items = Announcement.search([
            ('resident', '=', ctx.party.id), ('token', '=', token)])
    if not items:
        abort(404)
    item, = items
    Announcement.mark_read([item], ctx.party)
    body = Markup(
        '<div class="card"><h3>{title}</h3><div class="muted">{date}</div>'
        '<p style="white-space:pre-wrap">{text}</p></div>').format(
        title=item.title, date=localtime(item.publish_date, item.compound),
        text=item.body or '')
    return ctx.render("公告", body)


# ---------------------------------------------------------- service requests

def _my_requests_domain(ctx):
    owned = [u.id for u, role in ctx.scope.values() if role == 'owner']
    return [
        ('unit', 'in', list(ctx.scope.keys())),
        ['OR',
            ('requester', '=', ctx.party.id),
            ('unit', 'in', owned),
            ],
        ]


def _get_request(ctx, token):
    "Return the request of ``token`` seen by the resident, or 404."
    if not ctx.scope:
        abort(404)
    Request = ctx.pool.get('community.service.request')
    found = Request.search(
        [('token', '=', token)] + _my_requests_domain(ctx), limit=1)
    if not found:
        abort(404)
    return found[0]


@portal_route('/requests')
def requests_list(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    Request = ctx.pool.get('community.service.request')
    items = Request.search(_my_requests_domain(ctx), limit=100)
    body = Markup('<a class="btn" href="{base}/requests/new">我要报修/投诉'
        '</a><br>').format(base=ctx.base)
    body += Markup('').join(
        Markup('<div class="card"><h3><a href="{base}/requests/{token}">'
            '{title}</a></h3><div class="muted">{kind} · {unit} · {date}'
            '</div><span class="tag{cls}">{state}</span></div>').format(
            base=ctx.base, token=r.token, title=r.title,
            kind=KIND_LABELS.get(r.kind), unit=r.unit.code if r.unit else '',
            date=localtime(r.filed_at, r.compound),
            cls=' ok' if r.state == 'confirmed' else '',
            state=STATE_LABELS.get(r.state, r.state))
        for r in items)
    return ctx.render("我的报修", body)


def reencode_photo(data):
    """Return (bytes, extension) of the picture ``data`` decoded and
    encoded again by Pillow (JPEG, or PNG when it has transparency), at
    most PHOTO_MAX_SIDE pixels a side, without metadata; None when
    ``data`` is no picture Pillow reads (whatever the declared type)."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in PHOTO_FORMATS:
                return None
            if image.width * image.height > PHOTO_MAX_PIXELS:
                return None
            image.load()
            image = ImageOps.exif_transpose(image)
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            output = io.BytesIO()
            if image.mode in {'RGBA', 'LA', 'P'} and (
                    'transparency' in image.info or image.mode != 'P'):
                image.convert('RGBA').save(output, 'PNG', optimize=True)
                return output.getvalue(), 'png'
            image.convert('RGB').save(output, 'JPEG', quality=85)
            return output.getvalue(), 'jpg'
    except (UnidentifiedImageError, OSError, ValueError,
            Image.DecompressionBombError):
        return None


def check_photos(files):
    """Return [(bytes, extension)] of the uploaded pictures ``files``,
    each checked by its content and re-encoded (``reencode_photo``);
    raise PortalError naming the first file that is not a picture or is
    larger than MAX_PHOTO_SIZE (the pages answer 400 with it)."""
    photos = []
    for storage in files:
        if not storage or not storage.filename:
            continue
        data = storage.read(MAX_PHOTO_SIZE + 1)
        photo = reencode_photo(data) if (
            data and len(data) <= MAX_PHOTO_SIZE) else None
        if photo is None:
            raise PortalError(gettext(
                    'community_portal.msg_portal_photo_invalid',
                    name=storage.filename[:100]))
        photos.append(photo)
    return photos


def _save_photos(pool, request_record, photos, prefix='photo'):
    """Attach the checked, re-encoded ``photos`` (``check_photos``) to
    ``request_record``."""
    Attachment = pool.get('ir.attachment')
    to_create = [{
            'resource': str(request_record),
            'name': '%s-%s-%d.%s' % (
                prefix, request_record.number, i + 1, extension),
            'type': 'data',
            'data': data,
            } for i, (data, extension) in enumerate(photos)]
    if to_create:
        Attachment.create(to_create)
    return len(to_create)


@portal_route('/requests/new', methods=('GET', 'POST'), readonly=False,
    max_size=MAX_UPLOAD)
def request_new(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    pool = ctx.pool
    error = None
    form = ctx.request.form
    if ctx.request.method == 'POST':
        Request = pool.get('community.service.request')
        unit_ref = form.get('unit', '')
        unit_id = parse_ref('unit', unit_ref)
        if unit_id not in ctx.scope:
            abort(404)
        kind = form.get('kind')
        urgency = form.get('urgency', 'normal')
        title = form.get('title', '').strip()[:200]
        photos = None
        try:
            photos = check_photos(ctx.request.files.getlist('photos'))
        except PortalError as exception:
            error = _error_text(exception)
        if (kind not in KIND_LABELS or urgency not in URGENCY_LABELS
                or not title):
            error = "请填写标题并选择类型。"
        elif photos is not None:
            unit, _ = ctx.scope[unit_id]
            record, = Request.create([{
                        'compound': unit.compound.id, 'unit': unit.id,
                        'requester': ctx.party.id, 'kind': kind,
                        'urgency': urgency, 'title': title,
                        'description': form.get('description', '')[:5000],
                        'channel': 'portal',
                        'contact_phone': ctx.user.mobile,
                        }])
            _save_photos(pool, record, photos)
            return ctx.redirect('/requests/%s' % record.token)
    body = Markup(
        '<form method="post" class="card" enctype="multipart/form-data" '
        'action="{base}/requests/new">{csrf}'
        '<label for="unit">房屋</label><select id="unit" name="unit">{units}'
        '</select><label for="kind">类型</label><select id="kind" '
        'name="kind">{kinds}</select>'
        '<label for="title">标题</label><input id="title" name="title" '
        'maxlength="200" required>'
        '<label for="description">描述</label><textarea id="description" '
        'name="description"></textarea>'
        '<label for="urgency">紧急程度</label><select id="urgency" '
        'name="urgency">{urgencies}</select>'
        '<label for="photos">照片</label><input id="photos" name="photos" '
        'type="file" accept="image/*" multiple>'
        '<button type="submit">提交</button></form>').format(
        base=ctx.base, csrf=ctx.csrf(),
        units=options([(sign_ref('unit', u.id), '%s %s' % (
                        u.compound.name, u.code))
                for u, _ in ctx.scope.values()]),
        kinds=options(list(KIND_LABELS.items()), 'repair'),
        urgencies=options(list(URGENCY_LABELS.items()), 'normal'))
    return ctx.render("我要报修", body, error=error,
        status=400 if error else 200)


def _photos_html(ctx, record, base_path):
    Attachment = ctx.pool.get('ir.attachment')
    photos = Attachment.search([('resource', '=', str(record))],
        order=[('id', 'ASC')])
    return Markup('').join(
        Markup('<img class="photo" alt="照片{n}" src="{path}/photos/{n}">'
            ).format(path=base_path, n=i + 1) for i in range(len(photos)))


def _photo_response(ctx, record, index):
    Attachment = ctx.pool.get('ir.attachment')
    photos = Attachment.search([('resource', '=', str(record))],
        order=[('id', 'ASC')])
    if index < 1 or index > len(photos):
        abort(404)
    photo = photos[index - 1]
    extension = photo.name.rsplit('.', 1)[-1].lower()
    content_type = {
        'jpg': 'image/jpeg', 'png': 'image/png', 'webp': 'image/webp',
        'gif': 'image/gif', 'heic': 'image/heic',
        }.get(extension, 'application/octet-stream')
    return ctx.response(photo.data, content_type=content_type)


@portal_route('/requests/<token>')
def request_detail(ctx, token):
    record = _get_request(ctx, token)
    rows = [
        ("工单号", record.number), ("房屋", record.unit.code
            if record.unit else ''),
        ("类型", KIND_LABELS.get(record.kind)),
        ("状态", STATE_LABELS.get(record.state)),
        ("报事时间", localtime(record.filed_at, record.compound)),
        ("派单时间", localtime(record.assigned_at, record.compound)),
        ("完成时间", localtime(record.done_at, record.compound)),
        ]
    if record.chargeable and record.charge_amount:
        rows.append(("维修费用", money(record.charge_amount)))
    if record.rating:
        rows.append(("我的评价", '★' * int(record.rating)))
    table = Markup('').join(
        Markup('<tr><td>{}</td><td class="r">{}</td></tr>').format(k, v)
        for k, v in rows if v)
    body = Markup(
        '<div class="card"><h3>{title}</h3><p style="white-space:pre-wrap">'
        '{description}</p><table>{table}</table></div>').format(
        title=record.title, description=record.description or '',
        table=table)
    if record.resolution and record.state in {'done', 'confirmed'}:
        body += Markup('<div class="card"><h3>处理结果</h3><p>{}</p></div>'
            ).format(record.resolution)
    body += _photos_html(ctx, record, ctx.base + '/requests/' + token)
    if record.state == 'done':
        body += Markup(
            '<form method="post" class="card" '
            'action="{base}/requests/{token}/rate">{csrf}'
            '<h3>确认并评价</h3><label for="rating">满意度</label>'
            '<select id="rating" name="rating">{ratings}</select>'
            '<label for="comment">评价</label><textarea id="comment" '
            'name="comment"></textarea>'
            '<button type="submit" name="action" value="confirm">确认完成'
            '</button><button class="secondary" type="submit" name="action" '
            'value="reopen">问题未解决,返工</button></form>').format(
            base=ctx.base, token=token, csrf=ctx.csrf(),
            ratings=options([(str(i), '★' * i) for i in range(5, 0, -1)],
                '5'))
    return ctx.render("报修详情", body)


@portal_route('/requests/<token>/photos/<int:index>')
def request_photo(ctx, token, index):
    return _photo_response(ctx, _get_request(ctx, token), index)


@portal_route('/requests/<token>/rate', methods=('POST',), readonly=False)
def request_rate(ctx, token):
    record = _get_request(ctx, token)
    Request = ctx.pool.get('community.service.request')
    if record.state != 'done':
        abort(409)
    form = ctx.request.form
    if form.get('action') == 'reopen':
        record.rating_comment = form.get('comment', '')[:2000] or None
        record.save()
        Request.reopen([record])
    else:
        rating = form.get('rating')
        if rating not in {'1', '2', '3', '4', '5'}:
            abort(400)
        record.rating = rating
        record.rating_comment = form.get('comment', '')[:2000] or None
        record.save()
        Request.confirm([record])
    return ctx.redirect('/requests/%s' % token)


# ------------------------------------------------------------------- bills

def _bill_model(pool):
    try:
        return pool.get('community.bill')
    except KeyError:
        return None


def _bills_domain(ctx):
    """Bills the resident sees: owners and household members those of their
    units not addressed to a tenant; tenants only those addressed to them
    (the fees their lease assigns to them)."""
    Residency = ctx.pool.get('community.residency')
    family_units = [u.id for u, role in ctx.scope.values()
        if role in {'owner', 'member'}]
    tenant_units = [u.id for u, role in ctx.scope.values()
        if role == 'tenant']
    tenants = Residency.search([
            ('unit', 'in', family_units), ('role', '=', 'tenant'),
            ])
    tenant_parties = list({r.party.id for r in tenants} - {ctx.party.id})
    clauses = ['OR']
    if family_units:
        clauses.append([
                ('unit', 'in', family_units),
                ('party', 'not in', tenant_parties),
                ])
    if tenant_units:
        clauses.append([
                ('unit', 'in', tenant_units),
                ('party', '=', ctx.party.id),
                ])
    if len(clauses) == 1:
        return [('id', '=', -1)]
    return [('state', '!=', 'cancelled'), clauses]


def _paid_payments(ctx, bills):
    Payment = ctx.pool.get('community.portal.payment')
    payments = Payment.search([
            ('bill', 'in', [str(b) for b in bills]),
            ('state', '=', 'paid'),
            ])
    result = {}
    for payment in payments:
        result.setdefault(payment.bill.id, []).append(payment)
    return result


def _bill_is_paid(bill, payments):
    if bill.paid:
        return True
    paid = sum((p.amount for p in payments.get(bill.id, [])), Decimal(0))
    return paid >= bill.total_amount


def _get_bill(ctx, ref):
    Bill = _bill_model(ctx.pool)
    if Bill is None or not ctx.scope:
        abort(404)
    bill_id = parse_ref('bill', ref)
    found = Bill.search([('id', '=', bill_id)] + _bills_domain(ctx), limit=1)
    if not found:
        abort(404)
    return found[0]


def _payable(ctx, unit_id, bill=None):
    """The resident's payable items of a unit in scope (bills and late
    fees, ``community.portal.payment.payable_items``)."""
    Payment = ctx.pool.get('community.portal.payment')
    unit, _ = ctx.scope[unit_id]
    return Payment.payable_items(unit, ctx.party, bill=bill)


def _unavailable_text():
    return gettext('community_portal.msg_portal_payment_unavailable')


def _unavailable_notice():
    "What a page shows instead of its payment buttons without a provider."
    return Markup('<p class="muted" id="payment-unavailable">{}</p>').format(
        _unavailable_text())


def _payment_unavailable(ctx):
    "The answer to a payment started while no provider is configured."
    return ctx.render("在线缴费", _unavailable_notice(), status=409)


def _start_payment(ctx, unit, kind, items, bill=None):
    """Create a portal payment of ``items`` for the configured provider and
    go to its page."""
    provider = configured_provider_name()
    if not provider:
        return _payment_unavailable(ctx)
    Payment = ctx.pool.get('community.portal.payment')
    payment, = Payment.create([{
                'web_user': ctx.user.id, 'party': ctx.party.id,
                'compound': unit.compound.id, 'unit': unit.id,
                'bill': str(bill) if bill else None, 'kind': kind,
                'amount': sum((i['amount'] for i in items), Decimal(0)),
                'provider': provider,
                'lines': [('create', [{
                                'bill': i['bill'],
                                'late_fee': i.get('late_fee'),
                                'amount': i['amount']} for i in items])],
                }])
    return ctx.redirect('/payments/%s' % payment.token)


@portal_route('/bills')
def bills(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    Bill = _bill_model(ctx.pool)
    if Bill is None:
        return ctx.render("我的账单", Markup('<p class="muted">暂无账单</p>'))
    # the ids, then one set-based query for what the list shows (amounts
    # to pay and portal payments included)
    Payment = ctx.pool.get('community.portal.payment')
    ids = [b.id for b in Bill.search(_bills_domain(ctx), limit=200)]
    values = Payment.bill_list(ids)
    codes = {u_id: unit.code for u_id, (unit, _) in ctx.scope.items()}
    # open late fees by bill, and what each unit owes in all
    fees, owed = {}, []
    for u_id in sorted(ctx.scope, key=codes.get):
        items = _payable(ctx, u_id)
        for i in items:
            if i.get('late_fee'):
                fees[i['bill']] = fees.get(i['bill'], Decimal(0)) + i['amount']
        if items:
            owed.append((u_id, sum((i['amount'] for i in items), Decimal(0)),
                    sum((i['amount'] for i in items if i.get('late_fee')),
                        Decimal(0))))
    open_, paid = [], []
    for id_ in ids:
        v = values[id_]
        v['late_fees'] = fees.get(id_, Decimal(0))
        (paid if v['paid'] and not v['late_fees'] else open_).append(v)

    def card(v, is_paid):
        return Markup(
            '<div class="card"><h3><a href="{base}/bills/{ref}">{unit} '
            '{start} ~ {end}</a></h3><div class="amount">{amount}</div>'
            '<span class="tag{cls}">{state}</span> <span class="muted">'
            '到期 {due}</span></div>').format(
            base=ctx.base, ref=sign_ref('bill', v['id']),
            unit=codes.get(v['unit'], ''), start=v['period_start'],
            end=v['period_end'],
            amount=money(v['total_amount'] if is_paid
                else v['amount_to_pay'] + v['late_fees']),
            cls=' ok' if is_paid else ' danger',
            state="已缴" if is_paid else (
                "待缴(含违约金 %s)" % money(v['late_fees'])
                if v['late_fees'] else "待缴"), due=v['due_date'])
    online = configured_provider_name() is not None
    body = Markup('') if online else _unavailable_notice()
    for u_id, total, late in (owed if online else []):
        body += Markup(
            '<form method="post" class="card" action="{base}/units/{ref}/pay">'
            '{csrf}<h3>{unit} 欠费合计</h3><div class="amount">{total}</div>'
            '<span class="muted">{late}</span>'
            '<button type="submit">缴清全部 {total}</button></form>').format(
            base=ctx.base, ref=sign_ref('unit', u_id), csrf=ctx.csrf(),
            unit=codes[u_id], total=money(total),
            late="含违约金 %s" % money(late) if late else "")
    body += Markup('<h3>待缴账单</h3>') + (Markup('').join(
            card(b, False) for b in open_)
        or Markup('<p class="muted">没有待缴账单</p>'))
    body += Markup('<h3>已缴账单</h3>') + (Markup('').join(
            card(b, True) for b in paid)
        or Markup('<p class="muted">暂无</p>'))
    return ctx.render("我的账单", body)


@portal_route('/bills/<ref>')
def bill_detail(ctx, ref):
    bill = _get_bill(ctx, ref)
    payments = _paid_payments(ctx, [bill])
    items = _payable(ctx, bill.unit.id, bill=bill)
    fees = [i for i in items if i.get('late_fee')]
    is_paid = _bill_is_paid(bill, payments) and not fees
    LateFee = ctx.pool.get('community.late_fee')
    lines = Markup('').join(
        Markup('<tr><td>{}</td><td class="r">{}</td></tr>').format(
            line.description or line.fee_item.rec_name, money(line.amount))
        for line in bill.lines)
    body = Markup(
        '<div class="card"><h3>{number} · {unit}</h3><div class="muted">'
        '{start} ~ {end},到期 {due}</div><table>{lines}<tr><td><b>合计</b>'
        '</td><td class="r"><b>{total}</b></td></tr></table></div>').format(
        number=bill.number or '', unit=bill.unit.code,
        start=bill.period_start, end=bill.period_end, due=bill.due_date,
        lines=lines, total=money(bill.total_amount))
    if fees:
        rows = Markup('').join(
            Markup('<tr><td>违约金 {date_from} ~ {date}({days} 天)</td>'
                '<td class="r">{amount}</td></tr>').format(
                date_from=fee.date_from, date=fee.date, days=fee.days,
                amount=money(item['amount']))
            for item, fee in zip(fees, LateFee.browse(
                    [i['late_fee'] for i in fees])))
        body += Markup('<div class="card" id="late-fees"><h3>未缴违约金</h3>'
            '<table>{}</table></div>').format(rows)
    if is_paid:
        body += Markup('<div class="notice">已缴清</div>')
    for payment in payments.get(bill.id, []):
        body += Markup('<a class="btn secondary" href="{base}/receipts/'
            '{token}">查看收据</a>').format(
            base=ctx.base, token=payment.receipt_token)
    if items and not configured_provider_name():
        body += _unavailable_notice()
    elif items:
        body += Markup(
            '<form method="post" action="{base}/bills/{ref}/pay">{csrf}'
            '<button type="submit">立即缴费 {amount}</button></form>').format(
            base=ctx.base, ref=ref, csrf=ctx.csrf(),
            amount=money(sum((i['amount'] for i in items), Decimal(0))))
    return ctx.render("账单详情", body)


@portal_route('/bills/<ref>/pay', methods=('POST',), readonly=False)
def bill_pay(ctx, ref):
    "Pay what is open of a bill and its late fees."
    bill = _get_bill(ctx, ref)
    items = _payable(ctx, bill.unit.id, bill=bill)
    if not items:
        return ctx.redirect('/bills/%s' % ref)
    return _start_payment(ctx, bill.unit, 'bill', items, bill=bill)


@portal_route('/units/<ref>/pay', methods=('POST',), readonly=False)
def unit_pay(ctx, ref):
    "Pay everything the resident may pay of a unit: bills and late fees."
    unit_id = parse_ref('unit', ref)
    if unit_id not in ctx.scope:
        abort(404)
    items = _payable(ctx, unit_id)
    if not items:
        return ctx.redirect('/bills')
    unit, _ = ctx.scope[unit_id]
    return _start_payment(ctx, unit, 'all', items)


@portal_route('/prepay', methods=('GET', 'POST'), readonly=False)
def prepay(ctx):
    if not ctx.scope:
        return _unverified(ctx)
    error = None
    provider = configured_provider_name()
    if not provider:
        if ctx.request.method == 'POST':
            return _payment_unavailable(ctx)
        return ctx.render("预存费用", _unavailable_notice())
    if ctx.request.method == 'POST':
        unit_id = parse_ref('unit', ctx.request.form.get('unit', ''))
        if unit_id not in ctx.scope:
            abort(404)
        # plain numbers only: NaN, Infinity, exponents and signs refused
        amount = parse_decimal(ctx.request.form.get('amount'))
        if amount is not None:
            amount = amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)
        if amount is None or amount <= 0 or amount > 100000:
            error = "请输入0.01至100000之间的金额。"
        else:
            unit, _ = ctx.scope[unit_id]
            Payment = ctx.pool.get('community.portal.payment')
            payment, = Payment.create([{
                        'web_user': ctx.user.id, 'party': ctx.party.id,
                        'compound': unit.compound.id, 'unit': unit.id,
                        'kind': 'prepayment', 'amount': amount,
                        'provider': provider,
                        }])
            return ctx.redirect('/payments/%s' % payment.token)
    body = Markup(
        '<form method="post" class="card" action="{base}/prepay">{csrf}'
        '<label for="unit">房屋</label><select id="unit" name="unit">{units}'
        '</select><label for="amount">预存金额(元)</label>'
        '<input id="amount" name="amount" inputmode="decimal" required>'
        '<button type="submit">去支付</button></form>').format(
        base=ctx.base, csrf=ctx.csrf(), units=options(
            [(sign_ref('unit', u.id), u.code)
                for u, _ in ctx.scope.values()]))
    return ctx.render("预存费用", body, error=error,
        status=400 if error else 200)


def _get_payment(ctx, token):
    Payment = ctx.pool.get('community.portal.payment')
    found = Payment.search([
            ('token', '=', token),
            ('web_user', '=', ctx.user.id),
            ], limit=1)
    if not found:
        abort(404)
    return found[0]


@portal_route('/payments/<token>')
def payment_page(ctx, token):
    payment = _get_payment(ctx, token)
    if payment.state == 'paid':
        body = Markup(
            '<div class="notice">支付成功 {amount}</div>'
            '<a class="btn" href="{base}/receipts/{receipt}">查看收据</a>'
            '<a class="btn secondary" href="{base}/bills">返回账单</a>'
            ).format(amount=money(payment.amount), base=ctx.base,
            receipt=payment.receipt_token)
        return ctx.render("支付结果", body)
    provider = get_provider(payment.provider)
    if provider is None:
        # its provider is no longer configured (e.g. the sandbox is off)
        return ctx.render("扫码支付", _unavailable_notice())
    text = provider.qr_text(payment, ctx.full_base)
    body = Markup(
        '<div class="card" style="text-align:center"><div class="amount">'
        '{amount}</div><div class="qr" id="qr">{qr}</div>'
        '<p class="muted">请使用支付应用扫码支付,支付完成后本页自动刷新。</p>'
        '<a class="btn" id="open-wallet" href="{url}">在本机打开支付</a>'
        '<a class="btn secondary" href="{base}/payments/{token}">'
        '我已支付,刷新</a></div>').format(
        amount=money(payment.amount), qr=qr_svg(text), url=text,
        base=ctx.base, token=token)
    response = ctx.render("扫码支付", body)
    response.headers['Refresh'] = '5'
    return response


def _insert_before(rows, key, new):
    "rows (list of (key, value)) with ``new`` inserted before ``key``."
    keys = [k for k, _ in rows]
    i = keys.index(key) if key in keys else len(rows)
    return rows[:i] + new + rows[i:]


@portal_route('/receipts/<token>')
def receipt(ctx, token):
    if not ctx.scope:
        abort(404)
    Payment = ctx.pool.get('community.portal.payment')
    found = Payment.search([
            ('receipt_token', '=', token),
            ('state', '=', 'paid'),
            ('unit', 'in', list(ctx.scope.keys())),
            ], limit=1)
    if not found:
        abort(404)
    payment, = found
    unit, role = ctx.scope[payment.unit.id]
    if role == 'tenant' and payment.party != ctx.party:
        abort(404)
    receipt_number = payment.token[:16].upper()
    if payment.settlement and getattr(
            payment.settlement, 'receipt_number', None):
        receipt_number = payment.settlement.receipt_number
    rows = [
        ("收据号", receipt_number),
        ("房屋", '%s %s' % (unit.compound.name, unit.code)),
        ("缴费人", payment.party.rec_name if payment.party else ''),
        ("项目", {'prepayment': "预存", 'all': "缴清欠费"}.get(
                payment.kind, "账单缴费")),
        ("金额", money(payment.amount)),
        ("支付方式", payment.provider),
        ("交易号", payment.provider_reference),
        ("时间", localtime(payment.paid_at, unit.compound)),
        ]
    if payment.bill and not payment.settlement:
        rows.insert(3, ("账单", payment.bill.rec_name))
    settled = []
    if payment.settlement:
        # what the payment settled in the ledger: bills, late fees and
        # the part kept as prepayment
        for line in payment.settlement.lines:
            settled.append((("违约金(%s)" if line.late_fee else "账单 %s")
                    % line.bill.rec_name, money(line.amount)))
        if payment.settlement.prepayment_amount:
            settled.append(("预存", money(
                        payment.settlement.prepayment_amount)))
    table = Markup('').join(
        Markup('<tr><td>{}</td><td class="r">{}</td></tr>').format(k, v)
        for k, v in _insert_before(rows, "金额", settled))
    body = Markup('<div class="card" id="receipt"><h3>电子收据</h3>'
        '<table>{}</table><p class="muted">本收据非税务发票。</p></div>'
        ).format(table)
    return ctx.render("收据", body)


# ------------------------------------------------- payment provider routes

class CallbackRefused(ValueError):
    "A provider notification that confirms nothing (logged, answered 400)."


def _lock_payment(pool, payment_id):
    """Wait for the row lock of a portal payment (SELECT … FOR UPDATE).

    Concurrent confirmations of one payment queue here; when the one
    before committed, PostgreSQL refuses the lock to a REPEATABLE READ
    snapshot that predates the commit (serialization failure) and trytond
    runs the request again: it then reads the payment paid."""
    table = pool.get('community.portal.payment').__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.id,
            where=table.id == payment_id, for_=For('UPDATE')))


def handle_callback(pool, provider, body, headers):
    """Verify a notification of ``provider`` (an instance of
    payment_provider) and confirm the payment it names, once.

    Returns the payment; raises ValueError (bad signature or payload,
    unknown reference, a payment of another provider) or PortalError
    (amount mismatch)."""
    Payment = pool.get('community.portal.payment')
    token, amount, reference = provider.verify(body, headers)
    found = Payment.search([('token', '=', token)], limit=1)
    if not found:
        raise CallbackRefused("unknown payment %r" % token)
    payment, = found
    if payment.provider != provider.name:
        raise CallbackRefused("payment %s belongs to provider %r"
            % (payment.id, payment.provider))
    _lock_payment(pool, payment.id)
    Transaction().counter += 1  # read the payment after the lock
    return Payment.confirm(Payment(payment.id), amount, reference)


def _conflict_as_409(func):
    """Answer 409 (the provider sends its notification again later) when
    the database still refuses the request after trytond's retries (lock
    or serialization conflicts), instead of a server error."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            return func(request, pool, *args, **kwargs)
        except backend.DatabaseOperationalError:
            logger.warning("payment callback conflicted, answered 409",
                exc_info=True)
            return Response('RETRY', status=409, content_type='text/plain')
    return wrapper


@app.route(PREFIX + '/payment/callback/<provider_name>', methods=['POST'])
@with_pool
@_conflict_as_409
@with_transaction(readonly=False)
def payment_callback(request, pool, provider_name):
    """Notification of a provider: 404 for an unknown provider or the
    sandbox while disabled; 400 (logged) when refused, nothing posted;
    SUCCESS when the payment is paid (again: idempotent)."""
    provider = get_provider(provider_name)
    if provider is None:
        logger.warning("payment callback of unavailable provider %r from %s",
            provider_name, request.remote_addr)
        abort(404)
    try:
        handle_callback(pool, provider, request.get_data(), request.headers)
    except (KeyError, ValueError, UserError) as exception:
        logger.warning("refused %s payment callback from %s: %s",
            provider_name, request.remote_addr, exception)
        Transaction().rollback()
        return Response('FAIL', status=400, content_type='text/plain')
    return Response('SUCCESS', content_type='text/plain')


@portal_route('/sandbox/<token>', methods=('GET', 'POST'), login=False)
def sandbox_wallet(ctx, token):
    """The sandbox "payment app": shows the order and, on confirmation,
    sends the signed notification a real provider would send."""
    if not sandbox_enabled():
        abort(404)
    Payment = ctx.pool.get('community.portal.payment')
    found = Payment.search([
            ('token', '=', token), ('provider', '=', 'sandbox')], limit=1)
    if not found:
        abort(404)
    payment, = found
    if ctx.request.method == 'POST' and payment.state == 'pending':
        provider = get_provider('sandbox')
        body, headers = provider.notification(payment)
        handle_callback(ctx.pool, provider, body, headers)
        if ctx.user and payment.web_user == ctx.user:
            return ctx.redirect('/payments/%s' % token)
    payment = Payment(payment.id)
    if payment.state == 'paid':
        body = Markup('<div class="notice">沙箱支付成功 {}</div>').format(
            money(payment.amount))
        if ctx.user and payment.web_user == ctx.user:
            body += Markup('<a class="btn" href="{base}/payments/{token}">'
                '返回</a>').format(base=ctx.base, token=token)
        return ctx.render("沙箱支付", body, nav=None)
    body = Markup(
        '<div class="card"><h3>沙箱支付(测试)</h3><div class="muted">'
        '{compound}</div><div class="amount">{amount}</div>'
        '<form method="post" action="{base}/sandbox/{token}">{csrf}'
        '<button type="submit" id="sandbox-confirm">确认支付</button>'
        '</form></div>').format(
        compound=payment.compound.name, amount=money(payment.amount),
        base=ctx.base, token=token, csrf=ctx.csrf())
    return ctx.render("沙箱支付", body, nav=None)


# ------------------------------------------------------------------- staff

class StaffContext(Context):
    "A staff page: the Tryton user from the portal_staff cookie."

    def __init__(self, request, pool, database_name):
        super().__init__(request, pool, database_name)
        self.staff = None
        token = request.cookies.get(STAFF_COOKIE, '')
        if token:
            Session = pool.get('community.portal.staff_session')
            user_id = Session.get_user(token)
            if user_id and is_staff(pool, user_id):
                self.staff = user_id
                self.session_key = token
            else:
                # expired, unknown, or no longer staff: forget the cookie
                self.cookies[STAFF_COOKIE] = None

    def csrf_token(self):
        if self.staff:
            return _hmac_hex(self.session_key, 'staff-csrf')
        return super().csrf_token()

    def check_csrf(self):
        if self.staff:
            sent = self.request.form.get('csrf', '')
            if not hmac.compare_digest(
                    sent, _hmac_hex(self.session_key, 'staff-csrf')):
                abort(403)
        else:
            super().check_csrf()

    def render(self, title, body, status=200, nav=STAFF_NAV, **kw):
        return super().render(title, body, status=status, nav=nav, **kw)


STAFF_GROUPS = {'group_community_admin', 'group_community_manager',
    'group_community_staff', 'group_community_accountant'}


def is_staff(pool, user_id):
    """Whether ``user_id`` is an active user of one of STAFF_GROUPS, read
    on every staff request: removing a user from the groups (or
    deactivating them) locks them out at their next request."""
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = {ModelData.get_id('community_base', g) for g in STAFF_GROUPS}
    with Transaction().set_user(0), \
            Transaction().set_context(_check_access=False):
        users = User.search([('id', '=', user_id)], limit=1)
        return bool(users) and bool(
            groups & {g.id for g in users[0].groups})


def staff_route(path, methods=('GET',), login=True, readonly=None,
        max_size=None):
    """Register a staff page ``func(ctx, **view_args)`` that runs as the
    logged-in Tryton user with access checks (record rules) on."""
    def decorator(func):
        @wraps(func)
        def endpoint(request, pool, **kwargs):
            ctx = StaffContext(request, pool, pool.database_name)
            if login and not ctx.staff:
                return ctx.redirect('/staff/login')
            if request.method == 'POST':
                ctx.check_csrf()
            if not ctx.staff:
                return func(ctx, **kwargs)
            User = pool.get('res.user')
            transaction = Transaction()
            with transaction.set_user(ctx.staff):
                preferences = User.get_preferences(context_only=True)
            with transaction.set_user(ctx.staff), \
                    transaction.set_context(preferences), check_access():
                return func(ctx, **kwargs)
        wrapped = with_pool(with_transaction(readonly=readonly)(endpoint))
        if max_size:
            set_max_request_size(max_size)(wrapped)
        app.route(PREFIX + path, methods=list(methods))(wrapped)
        return wrapped
    return decorator


def _staff_login_form(ctx, error=None):
    body = Markup(
        '<form method="post" class="card" action="{base}/staff/login">'
        '{csrf}<label for="login">工号(Tryton 用户名)</label>'
        '<input id="login" name="login" autocomplete="username" required>'
        '<label for="password">密码</label><input id="password" '
        'name="password" type="password" required>'
        '<button type="submit">员工登录</button></form>').format(
        base=ctx.base, csrf=ctx.csrf())
    return ctx.render("员工登录", body, nav=None, error=error,
        status=400 if error else 200)


@staff_route('/staff/login', methods=('GET', 'POST'), login=False,
    readonly=False)
def staff_login(ctx):
    if ctx.request.method == 'GET':
        return _staff_login_form(ctx)
    pool = ctx.pool
    User = pool.get('res.user')
    Session = pool.get('community.portal.staff_session')
    login_value = ctx.request.form.get('login', '').strip()
    try:
        user_id = User.get_login(login_value, {
                'password': ctx.request.form.get('password', ''),
                })
    except RateLimitException:
        return _staff_login_form(ctx, error="尝试次数过多,请稍后再试。")
    if not user_id:
        return _staff_login_form(ctx, error="用户名或密码错误。")
    if not is_staff(pool, user_id):
        return _staff_login_form(ctx, error="该账号不是物业员工。")
    # a portal-only token, no ir.session key (it opens no JSON-RPC)
    ctx.cookies[STAFF_COOKIE] = Session.new(user_id)
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/staff/')


@staff_route('/staff/logout-page')
def staff_logout_page(ctx):
    body = Markup('<form method="post" action="{base}/staff/logout">{csrf}'
        '<button type="submit">退出登录</button></form>').format(
        base=ctx.base, csrf=ctx.csrf())
    return ctx.render("退出", body)


@staff_route('/staff/logout', methods=('POST',), readonly=False)
def staff_logout(ctx):
    Session = ctx.pool.get('community.portal.staff_session')
    with Transaction().set_user(0):
        Session.remove(ctx.session_key)
    ctx.cookies[STAFF_COOKIE] = None
    return ctx.redirect('/staff/login')


def _staff_request(ctx, token):
    "The request of ``token`` if the staff user's rules let them see it."
    Request = ctx.pool.get('community.service.request')
    found = Request.search([('token', '=', token)], limit=1)
    if not found:
        abort(404)
    return found[0]


@staff_route('/staff/')
def staff_queue(ctx):
    Request = ctx.pool.get('community.service.request')
    user = Transaction().user
    new = Request.search([('state', '=', 'new')], limit=100)
    mine = Request.search([
            ('assigned_to', '=', user),
            ('state', 'in', ['assigned', 'in_progress']),
            ], limit=100)

    def card(r):
        return Markup(
            '<div class="card"><h3><a href="{base}/staff/requests/{token}">'
            '{title}</a></h3><div class="muted">{compound} {unit} · {date}'
            '</div><span class="tag">{state}</span>{overdue}{urgent}</div>'
            ).format(base=ctx.base, token=r.token, title=r.title,
            compound=r.compound.name, unit=r.unit.code if r.unit else '',
            date=localtime(r.filed_at, r.compound),
            state=STATE_LABELS.get(r.state),
            overdue=Markup(' <span class="tag danger">超时</span>')
            if r.overdue else '',
            urgent=Markup(' <span class="tag danger">紧急</span>')
            if r.urgency == 'high' else '')
    body = Markup('<h3>我的工单</h3>') + (Markup('').join(map(card, mine))
        or Markup('<p class="muted">暂无</p>'))
    body += Markup('<h3>待接单</h3>') + (Markup('').join(map(card, new))
        or Markup('<p class="muted">暂无</p>'))
    return ctx.render("工单", body)


@staff_route('/staff/requests/<token>')
def staff_request(ctx, token):
    record = _staff_request(ctx, token)
    rows = [
        ("工单号", record.number), ("小区", record.compound.name),
        ("房屋", record.unit.code if record.unit else ''),
        ("报事人", record.requester.rec_name if record.requester else ''),
        ("电话", mask_mobile(record.contact_phone)),
        ("类型", KIND_LABELS.get(record.kind)),
        ("紧急程度", URGENCY_LABELS.get(record.urgency)),
        ("状态", STATE_LABELS.get(record.state)),
        ("处理人", record.assigned_to.name if record.assigned_to else ''),
        ]
    table = Markup('').join(
        Markup('<tr><td>{}</td><td class="r">{}</td></tr>').format(k, v)
        for k, v in rows if v)
    body = Markup('<div class="card"><h3>{title}</h3><p>{desc}</p>'
        '<table>{table}</table></div>').format(
        title=record.title, desc=record.description or '', table=table)
    body += _photos_html(ctx, record, ctx.base + '/staff/requests/' + token)
    action = ctx.base + '/staff/requests/' + token
    if record.state == 'new':
        body += Markup('<form method="post" action="{a}/claim">{csrf}'
            '<button type="submit" id="claim">抢单</button></form>').format(
            a=action, csrf=ctx.csrf())
    elif record.state == 'assigned':
        body += Markup('<form method="post" action="{a}/start">{csrf}'
            '<button type="submit" id="start">开始处理</button></form>'
            ).format(a=action, csrf=ctx.csrf())
    elif record.state == 'in_progress':
        body += Markup(
            '<form method="post" class="card" enctype="multipart/form-data" '
            'action="{a}/done">{csrf}<label for="resolution">处理结果'
            '</label><textarea id="resolution" name="resolution" required>'
            '</textarea><label for="photos">完工照片</label><input '
            'id="photos" name="photos" type="file" accept="image/*" '
            'multiple><button type="submit" id="done">完成</button></form>'
            ).format(a=action, csrf=ctx.csrf())
    return ctx.render("工单详情", body)


@staff_route('/staff/requests/<token>/photos/<int:index>')
def staff_request_photo(ctx, token, index):
    return _photo_response(ctx, _staff_request(ctx, token), index)


@staff_route('/staff/requests/<token>/<any(claim, start, done):step>',
    methods=('POST',), readonly=False, max_size=MAX_UPLOAD)
def staff_request_step(ctx, token, step):
    Request = ctx.pool.get('community.service.request')
    record = _staff_request(ctx, token)
    try:
        if step == 'claim':
            Request.claim([record])
        elif step == 'start':
            Request.start([record])
        elif step == 'done':
            resolution = ctx.request.form.get('resolution', '').strip()
            if not resolution:
                abort(400)
            try:
                photos = check_photos(ctx.request.files.getlist('photos'))
            except PortalError as exception:
                return ctx.render("工单", Markup(''), status=400,
                    error=_error_text(exception))
            record.resolution = resolution[:5000]
            record.save()
            _save_photos(ctx.pool, record, photos, prefix='done')
            Request.do([record])
    except UserError as exception:
        _rollback()
        return ctx.render("工单", Markup(''), status=409,
            error=_error_text(exception))
    return ctx.redirect('/staff/requests/%s' % token)


def _cashier_pending(pool, bill, provider):
    """The pending portal payment of the configured provider for what is
    left to pay of ``bill``, or None (read as root: staff have no access
    to portal payments of the portal's own making)."""
    Payment = pool.get('community.portal.payment')
    with Transaction().set_user(0), \
            Transaction().set_context(_check_access=False):
        pending = Payment.search([
                ('bill', '=', str(bill)),
                ('state', '=', 'pending'),
                ('provider', '=', provider),
                ('amount', '=', bill.amount_to_pay),
                ], limit=1)
    return pending[0] if pending else None


@staff_route('/staff/cashier', methods=('GET', 'POST'))
def staff_cashier(ctx):
    """Cashier: look a unit up by code (GET, which writes nothing) and show
    its open bills, each with the payment QR code to show the resident
    once made; making it is a POST (``bill``: signed reference of a
    posted bill the staff user may read), which redirects to the lookup.
    """
    pool = ctx.pool
    Unit = pool.get('community.unit')
    Bill = _bill_model(pool)
    provider_name = configured_provider_name()
    query = (ctx.request.values.get('unit') or '').strip()[:50]
    if ctx.request.method == 'POST':
        if Bill is None:
            abort(404)
        if not provider_name:
            return ctx.render("收银", _unavailable_notice(), status=409)
        bills = Bill.search([
                ('id', '=', parse_ref('bill', ctx.request.form.get('bill'))),
                ('state', '=', 'posted'),
                ], limit=1)
        if not bills:
            abort(404)
        bill, = bills
        if (not bill.paid and bill.amount_to_pay > 0
                and not _cashier_pending(pool, bill, provider_name)):
            Payment = pool.get('community.portal.payment')
            with Transaction().set_user(0), \
                    Transaction().set_context(_check_access=False):
                Payment.create([{
                            'compound': bill.compound.id,
                            'unit': bill.unit.id, 'party': bill.party.id,
                            'bill': str(bill), 'kind': 'bill',
                            'amount': bill.amount_to_pay,
                            'provider': provider_name}])
        return ctx.redirect('/staff/cashier?' + urllib.parse.urlencode(
                {'unit': bill.unit.code}))
    body = Markup(
        '<form method="get" class="card" action="{base}/staff/cashier">'
        '<label for="unit">房屋编号</label><input id="unit" name="unit" '
        'value="{q}" placeholder="3-2-1201"><button type="submit">查询'
        '</button></form>').format(base=ctx.base, q=query)
    if query:
        units = Unit.search([('code', '=', query)], limit=20)
        if not units:
            body += Markup('<p class="muted">未找到房屋</p>')
        elif Bill is None:
            body += Markup('<p class="muted">账单模块尚未启用</p>')
        else:
            bills = Bill.search([
                    ('unit', 'in', [u.id for u in units]),
                    ('state', '=', 'posted'),
                    ], limit=50)
            provider = get_provider(provider_name) if provider_name else None
            if provider is None:
                body += _unavailable_notice()
            for bill in bills:
                if bill.paid:
                    continue
                payment = provider and _cashier_pending(
                    pool, bill, provider_name)
                if payment:
                    action = Markup('<div class="qr">{}</div>').format(
                        qr_svg(provider.qr_text(payment, ctx.full_base)))
                elif provider:
                    action = Markup(
                        '<form method="post" action="{base}/staff/cashier">'
                        '{csrf}<input type="hidden" name="bill" '
                        'value="{ref}"><button type="submit">生成收款码'
                        '</button></form>').format(
                        base=ctx.base, csrf=ctx.csrf(),
                        ref=sign_ref('bill', bill.id))
                else:
                    action = Markup('')
                body += Markup(
                    '<div class="card" style="text-align:center"><h3>{unit} '
                    '{start} ~ {end}</h3><div class="amount">{amount}</div>'
                    '{action}</div>').format(
                    unit=bill.unit.code, start=bill.period_start,
                    end=bill.period_end, amount=money(bill.amount_to_pay),
                    action=action)
    return ctx.render("收银", body)


def _reading_text(value):
    "A meter reading with its two decimals, e.g. 100.00."
    return '%s' % Decimal(value).quantize(Decimal('0.01'))


def _walk_key(meter):
    "Walk order: entrance, floor, unit, meter number."
    unit = meter.unit
    return (unit.entrance.sequence or 0 if unit.entrance else 0,
        unit.entrance.code if unit.entrance else '',
        unit.floor or 0, unit.code, meter.number)


def _walk(ctx, building):
    """Return [(meter, last reading or None)] of the active meters of the
    building in walk order; the last readings in one query."""
    pool = ctx.pool
    Meter = pool.get('community.meter')
    Reading = pool.get('community.meter.reading')
    meters = sorted(Meter.search([
                ('unit.building', '=', building.id),
                ('active', '=', True),
                ]), key=_walk_key)
    last = {}
    if meters:
        # readings are ordered by meter then date descending
        for reading in Reading.search([
                    ('meter', 'in', [m.id for m in meters]),
                    ]):
            last.setdefault(reading.meter.id, reading)
    return [(m, last.get(m.id)) for m in meters]


def _staff_building(ctx, ref):
    "The building of ``ref`` if the staff user's rules let them see it."
    Building = ctx.pool.get('community.building')
    found = Building.search([('id', '=', parse_ref('building', ref))])
    if not found:
        abort(404)
    return found[0]


def _staff_meter(ctx, ref):
    "The meter of ``ref`` if the staff user's rules let them see it."
    Meter = ctx.pool.get('community.meter')
    found = Meter.search([('id', '=', parse_ref('meter', ref))])
    if not found:
        abort(404)
    return found[0]


@staff_route('/staff/meters')
def staff_meters(ctx):
    "Meter reading: the buildings of the staff user's compounds."
    Building = ctx.pool.get('community.building')
    buildings = Building.search([], limit=200)
    body = Markup('').join(
        Markup('<div class="card"><h3><a href="{base}/staff/meters/{ref}">'
            '{compound} {name}</a></h3></div>').format(
            base=ctx.base, ref=sign_ref('building', b.id),
            compound=b.compound.name, name=b.name or b.code)
        for b in buildings) or Markup('<p class="muted">暂无楼栋</p>')
    return ctx.render("抄表", body)


def _reading_form(ctx, meter, last, today, value='', reason=None,
        start_value=''):
    Reading = ctx.pool.get('community.meter.reading')
    reasons = Reading.fields_get(['reason'])['reason']['selection']
    previous = (Markup('上次读数 <b id="previous">{value}</b>'
            ' <span class="muted">({date})</span>').format(
            value=_reading_text(last.value), date=last.date)
        if last else Markup('<span class="muted">首次抄表</span>'))
    return Markup(
        '<form method="post" class="card" id="reading" '
        'action="{base}/staff/meters/{bref}/{mref}">{csrf}'
        '<h3 id="meter">{number}</h3><div class="muted">{unit}</div>'
        '<p>{previous}</p>'
        '<label for="value">本次读数({today})</label>'
        '<input id="value" name="value" inputmode="decimal" required '
        'autofocus value="{value}">'
        '<label for="reason">读数变小的原因</label>'
        '<select id="reason" name="reason">{reasons}</select>'
        '<label for="start_value">新表起始读数(换表时)</label>'
        '<input id="start_value" name="start_value" inputmode="decimal" '
        'value="{start_value}">'
        '<button type="submit" id="save">保存并下一块</button></form>'
        ).format(base=ctx.base,
        bref=sign_ref('building', meter.unit.building.id),
        mref=sign_ref('meter', meter.id), csrf=ctx.csrf(),
        number=meter.number, unit=meter.unit.code, previous=previous,
        today=today, value=value,
        reasons=options([(v or '', label) for v, label in reasons],
            reason or ''),
        start_value=start_value)


def _walk_page(ctx, building, current=None, status=200, error=None,
        form=None):
    """The walk of a building: the next meter not read today (or
    ``current``) with its form, then every meter with its last reading."""
    Date = ctx.pool.get('ir.date')
    today = Date.today()
    walk = _walk(ctx, building)
    todo = [(m, r) for m, r in walk if not r or r.date < today]
    if current is None and todo:
        current = todo[0][0]
    body = Markup('<div class="card"><h3>{compound} {name}</h3>'
        '<div class="muted" id="progress">已抄 {done} / {total}</div></div>'
        ).format(compound=building.compound.name,
        name=building.name or building.code,
        done=len(walk) - len(todo), total=len(walk))
    if current is not None:
        last = {m.id: r for m, r in walk}.get(current.id)
        if last and last.date >= today:
            # re-entering today's meter: show the reading before it
            Reading = ctx.pool.get('community.meter.reading')
            before = Reading.search([
                    ('meter', '=', current.id), ('date', '<', today)],
                order=[('date', 'DESC')], limit=1)
            last = before[0] if before else None
        body += _reading_form(ctx, current, last, today, **(form or {}))
    elif walk:
        body += Markup('<div class="notice" id="finished">'
            '本楼栋今日已全部抄完</div>')
    rows = Markup('').join(
        Markup('<tr><td><a href="{base}/staff/meters/{bref}?meter={mref}">'
            '{number}</a> <span class="muted">{unit}</span></td>'
            '<td class="r">{value}{done}</td></tr>').format(
            base=ctx.base, bref=sign_ref('building', building.id),
            mref=sign_ref('meter', m.id), number=m.number, unit=m.unit.code,
            value=_reading_text(r.value) if r else '-',
            done=Markup(' <span class="tag ok">已抄</span>')
            if r and r.date >= today else '')
        for m, r in walk)
    body += (Markup('<div class="card"><table id="walk">{}</table></div>'
            ).format(rows) if walk
        else Markup('<p class="muted">本楼栋没有表具</p>'))
    return ctx.render("抄表", body, status=status, error=error)


@staff_route('/staff/meters/<ref>')
def staff_meter_walk(ctx, ref):
    building = _staff_building(ctx, ref)
    current = None
    if ctx.request.args.get('meter'):
        current = _staff_meter(ctx, ctx.request.args['meter'])
        if current.unit.building.id != building.id:
            abort(404)
    return _walk_page(ctx, building, current)


def _decimal(text):
    "None when empty, False when not a plain number (parse_decimal)."
    if not (text or '').strip():
        return None
    value = parse_decimal(text)
    return value if value is not None else False


@staff_route('/staff/meters/<bref>/<mref>', methods=('POST',),
    readonly=False)
def staff_meter_read(ctx, bref, mref):
    """Save the reading of a meter as the staff user (the model computes
    the consumption and refuses a lower reading without a reason), then
    go on to the next meter of the walk."""
    building = _staff_building(ctx, bref)
    meter = _staff_meter(ctx, mref)
    if meter.unit.building.id != building.id:
        abort(404)
    Reading = ctx.pool.get('community.meter.reading')
    Date = ctx.pool.get('ir.date')
    form = ctx.request.form
    reason = form.get('reason') or None
    if reason not in {v for v, _ in Reading.fields_get(
                ['reason'])['reason']['selection']}:
        abort(400)
    value = _decimal(form.get('value'))
    start_value = _decimal(form.get('start_value'))
    entered = {'value': (form.get('value') or '')[:20], 'reason': reason,
        'start_value': (form.get('start_value') or '')[:20]}
    if value is None or value is False or start_value is False:
        return _walk_page(ctx, building, meter, status=400,
            error="请输入有效的读数。", form=entered)
    today = Date.today()
    values = {'value': value, 'reason': reason, 'start_value': start_value}
    try:
        # a second entry the same day corrects the day's reading
        existing = Reading.search([
                ('meter', '=', meter.id), ('date', '=', today)])
        if existing:
            Reading.write(existing, values)
        else:
            Reading.create([dict(values, meter=meter.id, date=today)])
    except UserError as exception:
        _rollback()
        return _walk_page(ctx, building, meter, status=409,
            error=_error_text(exception), form=entered)
    return ctx.redirect('/staff/meters/%s' % bref)
