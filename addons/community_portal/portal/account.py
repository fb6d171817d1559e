# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Account and household pages: login, sign-up, binding, home (with the
compound switcher), units, profile, household."""
import re

from trytond import config
from trytond.exceptions import RateLimitException, UserError
from trytond.modules.community_notification.channels import (
    option as notification_option)
from trytond.protocols.wrappers import abort

from ..exceptions import SmsCodeError, SmsCodeRateLimitError
from ..models import mask_mobile, normalize_mobile
from . import i18n
from .i18n import N_
from .nav import register_nav
from .web import (
    COMPOUND_COOKIE, CSRF_COOKIE, SESSION_COOKIE, error_text, parse_ref,
    rollback, route, sign_ref)

register_nav('home', N_("Home"), '', icon='home', order=0)
register_nav('profile', N_("Me"), 'profile', icon='user', order=90)

#: the language cookie lasts a year
LANG_COOKIE_AGE = 365 * 24 * 3600
#: a page of the portal to go back to after the language switch
SAFE_PATH = re.compile(r'/(?!/)[A-Za-z0-9/_.-]{0,200}')


def unverified(ctx):
    "The page of an account bound to no unit yet."
    return ctx.render('unverified.html')


@route('/login', methods=('GET', 'POST'), login=False, readonly=False)
def login(ctx):
    if ctx.request.method == 'GET':
        if ctx.user:
            return ctx.redirect('/')
        return ctx.render('login.html', nav=None,
            wechat=bool(notification_option('wechat_appid')))
    WebUser = ctx.pool.get('web.user')
    login_value = ctx.request.form.get('login', '').strip()
    password = ctx.request.form.get('password', '')
    error = None
    try:
        user = WebUser.authenticate(login_value, password)
    except RateLimitException:
        error = ctx._("Too many attempts, please try again later.")
    else:
        if not user or not user.active:
            error = ctx._("Wrong login or password.")
    if error:
        return ctx.render('login.html', nav=None, error=error,
            login_value=login_value, status=400)
    ctx.cookies[SESSION_COOKIE] = user.new_session()
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/')


@route('/logout', methods=('POST',), readonly=False)
def logout(ctx):
    Session = ctx.pool.get('web.user.session')
    Session.remove(ctx.session_key)
    ctx.cookies[SESSION_COOKIE] = None
    return ctx.redirect('/login')


def _code_page(ctx, template, purpose, step, mobile='', error=None,
        notice=None, status=200):
    "The page of a flow proven by an SMS code (sign-up, password reset)."
    return ctx.render(template, nav=None, step=step, mobile=mobile,
        error=error, notice=notice, status=400 if error else status,
        minutes=config.getint(
            'community_portal', 'sms_code_ttl', default=300) // 60)


def _send_code(ctx, purpose, template):
    """Send a code of ``purpose`` to the number of the form; the page asks
    for it. The answer is the same whether the number has an account."""
    SmsCode = ctx.pool.get('community.portal.sms_code')
    mobile = ctx.request.form.get('mobile', '').strip()[:30]
    try:
        SmsCode.request(mobile, purpose)
    except SmsCodeRateLimitError as exception:
        rollback()
        # the code already sent may still be entered
        return _code_page(ctx, template, purpose, 'code', mobile,
            error=error_text(exception))
    except UserError as exception:
        # not a number (nothing written), or not sent (recorded: the
        # number waits the interval)
        return _code_page(ctx, template, purpose, 'mobile', mobile,
            error=error_text(exception))
    return _code_page(ctx, template, purpose, 'code', mobile,
        notice=ctx._("A code was sent by SMS to %(mobile)s.",
            mobile=mask_mobile(normalize_mobile(mobile))))


def _checked_password(ctx, template, purpose):
    "The new password of the form, or the page that refuses it."
    form = ctx.request.form
    password = form.get('password', '')
    if len(password) < 8 or password != form.get('password2', ''):
        return None, _code_page(ctx, template, purpose, 'code',
            form.get('mobile', '').strip()[:30], error=ctx._(
                "The passwords differ or have fewer than 8 characters."))
    return password, None


def _complete_with_code(ctx, template, purpose, complete):
    """The page of a flow proven by an SMS code: on GET, the number; on
    POST, ``complete(mobile, code, password)`` with the form's values (a
    wrong code asks for it again, another refusal for the number).
    Return (the value of ``complete``, None) or (None, the page)."""
    if ctx.request.method == 'GET':
        return None, _code_page(ctx, template, purpose, 'mobile')
    form = ctx.request.form
    mobile = form.get('mobile', '').strip()[:30]
    password, refused = _checked_password(ctx, template, purpose)
    if refused:
        return None, refused
    try:
        return complete(mobile, form.get('code', ''), password), None
    except SmsCodeError as exception:
        rollback()
        return None, _code_page(ctx, template, purpose, 'code', mobile,
            error=error_text(exception))
    except UserError as exception:
        rollback()
        return None, _code_page(ctx, template, purpose, 'mobile', '',
            error=error_text(exception))


@route('/signup', methods=('GET', 'POST'), login=False, readonly=False)
def signup(ctx):
    """Sign-up with a mobile number: the number, then the SMS code sent to
    it with the password; the account exists once the code is right."""
    WebUser = ctx.pool.get('web.user')
    user, page = _complete_with_code(ctx, 'signup.html', 'signup',
        WebUser.sign_up_by_code)
    if page:
        return page
    ctx.cookies[SESSION_COOKIE] = user.new_session()
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/bind')


@route('/signup/code', methods=('POST',), login=False, readonly=False)
def signup_code(ctx):
    return _send_code(ctx, 'signup', 'signup.html')


@route('/reset', methods=('GET', 'POST'), login=False, readonly=False)
def reset(ctx):
    """Password reset with a mobile number: the number, then the SMS code
    with the new password. A code is sent whether the number has an
    account or not; only who holds the number learns which."""
    WebUser = ctx.pool.get('web.user')
    _, page = _complete_with_code(ctx, 'reset.html', 'reset',
        WebUser.reset_password_by_code)
    if page:
        return page
    return ctx.render('login.html', nav=None,
        login_value=ctx.request.form.get('mobile', '').strip()[:30],
        notice=ctx._("Your password was changed: log in."))


@route('/reset/code', methods=('POST',), login=False, readonly=False)
def reset_code(ctx):
    return _send_code(ctx, 'reset', 'reset.html')


@route('/bind', methods=('GET', 'POST'), readonly=False)
def bind(ctx):
    error = None
    if ctx.request.method == 'POST':
        BindingCode = ctx.pool.get('community.portal.binding_code')
        try:
            BindingCode.redeem(ctx.request.form.get('code', ''), ctx.user)
        except UserError as exception:
            rollback()
            error = error_text(exception)
        else:
            return ctx.redirect('/units')
    return ctx.render('bind.html', error=error,
        status=400 if error else 200)


@route('/')
def home(ctx):
    if not ctx.scope:
        return unverified(ctx)
    roles = ctx.selection('community.residency', 'role')
    units = [(unit, roles.get(role, role))
        for unit, role in ctx.scope.values()
        if unit.compound == ctx.compound]
    return ctx.render('home.html', units=units,
        name=ctx.user.nickname or ctx.party.rec_name,
        compounds=[(c, sign_ref('compound', c.id)) for c in ctx.compounds])


@route('/compound', methods=('POST',))
def switch_compound(ctx):
    "Show the portal of another compound the resident is bound in."
    compound_id = parse_ref('compound', ctx.request.form.get('compound', ''))
    if compound_id not in {c.id for c in ctx.compounds}:
        abort(404)
    ctx.cookies[COMPOUND_COOKIE] = sign_ref('compound', compound_id)
    return ctx.redirect('/')


@route('/language', methods=('POST',), login=False, readonly=False)
def switch_language(ctx):
    """The language switch of the layout: stored on the portal account of
    a logged-in resident and in a cookie (the choice before login); back
    to the page it was made on."""
    lang = ctx.request.form.get('lang', '')
    if lang not in i18n.LANGUAGES:
        abort(400)
    ctx.cookies[i18n.LANG_COOKIE] = lang
    ctx.cookie_ages[i18n.LANG_COOKIE] = LANG_COOKIE_AGE
    if ctx.user and ctx.user.portal_language != lang:
        WebUser = ctx.pool.get('web.user')
        WebUser.write([ctx.user], {'portal_language': lang})
    back = ctx.request.form.get('next', '')
    if not SAFE_PATH.fullmatch(back):
        back = '/'
    return ctx.redirect(back)


@route('/units')
def units(ctx):
    if not ctx.scope:
        return unverified(ctx)
    roles = ctx.selection('community.residency', 'role')
    return ctx.render('units.html', units=[(unit, roles.get(role, role))
            for unit, role in ctx.scope.values()])


@route('/profile')
def profile(ctx):
    return ctx.render('profile.html', party=ctx.party,
        identifiers=ctx.party.identifiers if ctx.party else [],
        wechat=bool(notification_option('wechat_appid')))


# ------------------------------------------------------------- household

@route('/household', methods=('GET', 'POST'), readonly=False)
def household(ctx):
    if not ctx.scope:
        return unverified(ctx)
    Residency = ctx.pool.get('community.residency')
    owned = [u for u, role in ctx.scope.values() if role == 'owner']
    error = notice = None
    if ctx.request.method == 'POST':
        if not owned:
            abort(403)
        try:
            notice = _invite(ctx, owned, ctx.request.form)
        except UserError as exception:
            rollback()
            error = error_text(exception)
        except ValueError:
            rollback()
            error = ctx._("Fill in complete and valid information.")
    roles = ctx.selection('community.residency', 'role')
    members = []
    for unit, role in ctx.scope.values():
        domain = [('unit', '=', unit.id), ('active', '=', True)]
        if role != 'owner':
            domain.append(('party', '=', ctx.party.id))
        for residency in Residency.search(domain):
            members.append((unit.code, residency.party.rec_name,
                    roles.get(residency.role, residency.role)))
    return ctx.render('household.html', members=members, owned=owned,
        invite_roles=[(r, roles[r]) for r in ('member', 'tenant')],
        error=error, notice=notice, status=400 if error else 200)


def _invite(ctx, owned, form):
    """Create the invited party, its residency and a binding code; return
    the notice text with the code to pass on."""
    pool = ctx.pool
    Party = pool.get('party.party')
    Residency = pool.get('community.residency')
    BindingCode = pool.get('community.portal.binding_code')
    Date = pool.get('ir.date')
    unit_id = parse_ref('unit', form.get('unit', ''))
    if unit_id not in {u.id for u in owned}:
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
    return ctx._("Invitation code: %(code)s (valid 7 days, pass it on to "
        "%(name)s)", code=code.code, name=name)
