# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The mechanics of the portal, in one place.

Served by trytond under ``/<database>/portal/``. A page is a function
``func(ctx, **view_args)`` registered with ``route(path, ...)``:

- ``audience='resident'``: the ``web.user`` of the ``portal_session``
  cookie (a ``web.user.session`` key); without one the page redirects
  to the login page (``login=True``);
- ``audience='staff'``: the Tryton user of the ``portal_staff`` cookie (a
  ``community.portal.staff_session`` token, no ``ir.session`` key: it
  opens no JSON-RPC); membership of a staff group is read on every
  request and the page runs as that user with access checks on;
- every POST carries the CSRF token of the session (an HMAC of its key)
  or, before login, the double-submit ``portal_csrf`` cookie;
- ``readonly``: the transaction of the page (GET pages never write);
- ``ctx.render(template, **values)``: a Jinja2 template (autoescaped,
  translated with the portal's catalogues, see i18n.py) in the base
  layout, with the headers of every page (CSP without 'unsafe-inline',
  no caching, no framing);
- ``ctx.get_or_404(model, domain)``, ``sign_ref``/``parse_ref``: records
  are looked up through the user's own scope; URLs carry random tokens or
  HMAC-signed references, never bare sequential ids.

Modules add pages with their own routes file, templates directory
(``register_templates``), catalogues (``i18n.register_locale_dir``) and
navigation entries (``nav.register_nav``).
"""
import hashlib
import hmac
import logging
import mimetypes
import pathlib
import re
import secrets
from contextlib import contextmanager
from functools import wraps

from jinja2 import Environment, FileSystemLoader
from sql import Null
from werkzeug.wrappers import Response

from trytond import config
from trytond.pool import Pool
from trytond.protocols.wrappers import (
    abort, redirect, set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction, check_access
from trytond.wsgi import app

from . import helpers, i18n, nav

logger = logging.getLogger(__name__)

PREFIX = '/<database_name>/portal'
SESSION_COOKIE = 'portal_session'
STAFF_COOKIE = 'portal_staff'
CSRF_COOKIE = 'portal_csrf'
COMPOUND_COOKIE = 'portal_compound'
HERE = pathlib.Path(__file__).parent
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'")
_PROCESS_SECRET = secrets.token_bytes(32)

STAFF_GROUPS = {'group_community_admin', 'group_community_manager',
    'group_community_staff', 'group_community_accountant'}


# ------------------------------------------------------- signed references

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


def _hmac_hex(key, message):
    return hmac.new(key.encode(), message.encode(),
        hashlib.sha256).hexdigest()[:40]


# ------------------------------------------------------------ frame guard

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


# ------------------------------------------------------ templates, static

_template_dirs = [HERE / 'templates']
_static_dirs = [HERE / 'static']
_environments = {}
_static_digests = {}


def register_templates(path):
    "Add a module's templates directory (searched before the others)."
    path = pathlib.Path(path)
    if path not in _template_dirs:
        _template_dirs.insert(0, path)
        _environments.clear()


def register_static(path):
    "Add a module's static directory."
    path = pathlib.Path(path)
    if path not in _static_dirs:
        _static_dirs.insert(0, path)
        _static_digests.clear()


def _static_file(name):
    if not re.fullmatch(r'[A-Za-z0-9_.-]+', name) or name.startswith('.'):
        return None
    for directory in _static_dirs:
        path = directory / name
        if path.is_file():
            return path
    return None


def static_digest(name):
    "The content hash of a static file (in its URL: cached for a year)."
    digest = _static_digests.get(name)
    if digest is None:
        path = _static_file(name)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        _static_digests[name] = digest
    return digest


def environment(lang):
    "The Jinja2 environment of ``lang`` (templates compiled once)."
    key = (lang, i18n.generation)
    env = _environments.get(key)
    if env is None:
        env = Environment(
            loader=FileSystemLoader([str(d) for d in _template_dirs]),
            autoescape=True, trim_blocks=True, lstrip_blocks=True,
            extensions=['jinja2.ext.i18n'], auto_reload=False)
        env.install_gettext_translations(
            i18n.translations(lang), newstyle=True)
        env.filters.update({
                'money': helpers.money,
                'decimal2': helpers.decimal2,
                'localtime': helpers.localtime,
                'mask_mobile': helpers.mask_mobile,
                'mask_identifier': helpers.mask_identifier,
                'mask_email': helpers.mask_email,
                'stars': helpers.stars,
                })
        env.globals.update({
                'qr_svg': helpers.qr_svg,
                'sign_ref': sign_ref,
                })
        _environments[key] = env
    return env


@app.route(PREFIX + '/static/<digest>/<name>')
def static(request, database_name, digest, name):
    """A static file of the portal (CSS, JS, icons): no database, cached
    for a year (its URL changes with its content), ETag for revalidation.
    """
    path = _static_file(name)
    if path is None:
        abort(404)
    current = static_digest(name)
    if digest != current:
        abort(404)
    etag = '"%s"' % current
    if etag in request.headers.get('If-None-Match', ''):
        response = Response(status=304)
    else:
        content_type = mimetypes.guess_type(name)[0] or (
            'application/octet-stream')
        if content_type.startswith('text/'):
            content_type += '; charset=utf-8'
        response = Response(path.read_bytes(), content_type=content_type)
    response.headers['ETag'] = etag
    response.headers['Cache-Control'] = 'public, max-age=31536000, immutable'
    response.headers['X-Content-Type-Options'] = 'nosniff'
    return response


# ---------------------------------------------------------------- context

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


@contextmanager
def resident_access(party_id):
    """Run the block with access checks on, as a resident: the access
    rights of the group "Portal Resident" and its record rules, whose
    ``portal_party`` is ``party_id`` (None: an unbound account, which
    reads nothing). The pages keep their own domains: the rules are the
    second lock (another resident's record is not read even by a page
    that forgot its domain)."""
    ModelData = Pool().get('ir.model.data')
    group = ModelData.get_id('community_portal', 'group_portal_resident')
    with Transaction().set_context(_groups=(group,),
            portal_party=party_id or -1), check_access():
        yield


class Context:
    """What a page needs: request, pool, account, its scope, its language
    and compound; how it answers (render, redirect, 404)."""
    audience = nav.RESIDENT

    def __init__(self, request, pool, database_name):
        self.request = request
        self.pool = pool
        self.db = database_name
        self.base = '/%s/portal' % database_name
        self.cookies = {}
        #: {cookie name: max age in seconds} of the lasting cookies
        self.cookie_ages = {}
        self.user = None
        self.session_key = None
        self._scope = None
        self.unit_codes = {}
        self.unit_compounds = {}
        self._cache = {}
        key = request.cookies.get(SESSION_COOKIE)
        if key:
            WebUser = pool.get('web.user')
            user = WebUser.get_user(key)
            if user and user.active:
                self.user = user
                self.session_key = key
        self.lang = i18n.choose_language(request, self.user)

    # translation
    def _(self, message, **variables):
        "Translate an English msgid in the page's language."
        return i18n.gettext(self.lang, message, **variables)

    @property
    def full_base(self):
        return self.request.host_url.rstrip('/') + self.base

    def cached(self, key, compute):
        "The value of ``compute()`` computed once per request."
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # CSRF
    def csrf_token(self):
        if self.session_key:
            return _hmac_hex(self.session_key, 'csrf')
        token = self.request.cookies.get(CSRF_COOKIE)
        if not token or not re.fullmatch(r'[0-9a-f]{32}', token):
            token = self.cookies.get(CSRF_COOKIE) or secrets.token_hex(16)
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

    # scope of the resident
    @property
    def party(self):
        return self.user.party if self.user else None

    @property
    def scope(self):
        """Return {unit id: (unit, role)} of the account's active
        residencies (owner wins over the other roles), in one query once per
        request; empty for an unverified account. Also ``unit_codes``
        {unit id: code} and ``unit_compounds`` {unit id: compound id}."""
        if self._scope is None:
            self._scope = {}
            if self.party:
                self._read_scope()
        return self._scope

    def _read_scope(self):
        pool = self.pool
        Residency = pool.get('community.residency')
        Unit = pool.get('community.unit')
        Date = pool.get('ir.date')
        residency = Residency.__table__()
        unit = Unit.__table__()
        today = Transaction().context.get('date') or Date.today()
        cursor = Transaction().connection.cursor()
        # as Residency.search([('party', '=', …), ('active', '=', True)],
        # order=[('unit', 'ASC'), ('role', 'ASC')]) and the units' code
        # and compound, without three queries
        cursor.execute(*residency.join(unit,
                condition=unit.id == residency.unit).select(
                unit.id, residency.role, unit.code, unit.compound,
                where=(residency.party == self.party.id)
                & (residency.start_date <= today)
                & ((residency.end_date == Null)
                    | (residency.end_date >= today)),
                order_by=[unit.id, residency.role]))
        rows = cursor.fetchall()
        # the units in their model order (the natural order of their
        # codes), as the residencies' order on their unit
        unit_ids = sorted({r[0] for r in rows})
        order = {}
        if len(unit_ids) > 1:
            with Transaction().set_context(active_test=False):
                order = {u.id: i for i, u in enumerate(
                        Unit.search([('id', 'in', unit_ids)]))}
        for unit_id, role, code, compound in sorted(
                rows, key=lambda r: (order.get(r[0], 0), r[1] or '')):
            if unit_id not in self._scope or role == 'owner':
                self._scope[unit_id] = (Unit(unit_id), role)
                self.unit_codes[unit_id] = code
                self.unit_compounds[unit_id] = compound

    def resident_access(self):
        "``resident_access`` of the account's party (see there)."
        return resident_access(self.party.id if self.party else None)

    # compounds and their portal configuration
    @property
    def compounds(self):
        "The compounds of the resident's units, in their order."
        Compound = self.pool.get('community.compound')
        ids = []
        for unit_id in self.scope:
            if self.unit_compounds[unit_id] not in ids:
                ids.append(self.unit_compounds[unit_id])
        return Compound.browse(ids)

    @property
    def compound(self):
        """The compound whose portal is shown: the one chosen (cookie,
        a signed reference) if the resident is bound in it, else the first
        one."""
        def compute():
            compounds = self.compounds
            if not compounds:
                return None
            chosen = self.request.cookies.get(COMPOUND_COOKIE, '')
            id_, _, _ = chosen.partition('.')
            if id_.isdigit() and hmac.compare_digest(
                    sign_ref('compound', int(id_)), chosen):
                for compound in compounds:
                    if compound.id == int(id_):
                        return compound
            return compounds[0]
        return self.cached('compound', compute)

    @property
    def settings(self):
        "The portal configuration of the current compound, or None."
        def compute():
            if self.compound is None:
                return None
            Settings = self.pool.get('community.portal.compound')
            return Settings.get_settings(self.compound)
        return self.cached('settings', compute)

    def nav(self):
        settings = self.settings
        return nav.compound_nav(settings.nav_keys if settings else None,
            self.pool)

    def selection(self, model, field):
        "{value: label} of a selection field, translated by the model."
        key = ('selection', model, field)

        def compute():
            Model = self.pool.get(model)
            with Transaction().set_context(language=self.lang):
                selection = Model.fields_get([field])[field]['selection']
            return dict(selection)
        return self.cached(key, compute)

    # answers
    def get_or_404(self, model, domain):
        "The one record of ``model`` matching ``domain``, else 404."
        Model = self.pool.get(model)
        found = Model.search(domain, limit=1)
        if not found:
            abort(404)
        return found[0]

    def render(self, template, status=200, **values):
        env = environment(self.lang)
        settings = self.settings if self.audience == nav.RESIDENT else None
        values.setdefault('nav', self.nav())
        html = env.get_template(template).render(
            ctx=self, base=self.base, lang=self.lang,
            html_lang='zh-CN' if self.lang == 'zh_CN' else self.lang,
            static_url=self.static_url, csrf=self.csrf_token,
            settings=settings, compound=(self.compound
                if self.audience == nav.RESIDENT and self.user else None),
            **values)
        return self.response(html, status=status)

    def static_url(self, name):
        return '%s/static/%s/%s' % (self.base, static_digest(name), name)

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
                    max_age=self.cookie_ages.get(name),
                    httponly=True, samesite='Lax', secure=secure)
        response.headers['Cache-Control'] = 'no-store'
        response.headers['X-Content-Type-Options'] = 'nosniff'
        response.headers['X-Frame-Options'] = 'DENY'
        response.headers['Content-Security-Policy'] = CSP
        response.headers['Content-Language'] = self.lang.replace('_', '-')


class StaffContext(Context):
    "A staff page: the Tryton user from the portal_staff cookie."
    audience = nav.STAFF

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

    @property
    def scope(self):
        return {}

    def offered_services(self):
        """The service keys offered by the compounds the staff user sees
        (their record rules decide: their own compounds, or every one of
        their companies for the headquarters), None if one of them has
        no portal configuration (it offers every service). Read as the
        staff user, once per request."""
        def compute():
            Compound = self.pool.get('community.compound')
            Settings = self.pool.get('community.portal.compound')
            offered = set()
            for compound in Compound.search([]):
                settings = Settings.get_settings(compound)
                if settings is None or settings.nav_keys is None:
                    return None
                offered.update(settings.nav_keys)
            return offered
        return self.cached('offered_services', compute)

    def offers(self, service):
        "Whether one of the staff user's compounds offers ``service``."
        offered = self.offered_services()
        return offered is None or service in offered

    def nav(self):
        return nav.staff_nav(self.offered_services(), self.pool)

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


def route(path, methods=('GET',), audience=nav.RESIDENT, login=True,
        readonly=None, max_size=None, csrf=True, service=None,
        get_writes=False):
    """Register the page ``func(ctx, **view_args)`` at ``PREFIX + path``.

    ``audience``: ``'resident'`` (a web.user, else the login page) or
    ``'staff'`` (a Tryton user of a staff group, else the staff login;
    the page runs as that user with access checks on). ``readonly``: the
    transaction of the POSTs (True: read-only; a GET or HEAD is always
    read-only, whatever ``readonly`` says). POSTs need the CSRF
    token unless ``csrf=False``. ``service``: the key of the navigation
    entry the page belongs to; the page answers 404 when the resident's
    current compound does not offer that service (for a staff page: when
    none of the staff user's compounds offers it). ``get_writes``: the
    GET may write (only the redirect back from an identity provider, an
    OAuth callback, whose ``state`` stands for the CSRF token). A page
    of a ``service`` whose entry names a model answers 404 in a database
    without it (its module not activated there).
    """
    staff = audience == nav.STAFF
    login_path = '/staff/login' if staff else '/login'

    def decorator(func):
        @wraps(func)
        def endpoint(request, pool, **kwargs):
            kwargs.pop('database_name', None)
            ctx = (StaffContext if staff else Context)(
                request, pool, pool.database_name)
            if login and not (ctx.staff if staff else ctx.user):
                return ctx.redirect(login_path)
            if service and not nav.activated(nav.nav_entry(service), pool):
                abort(404)
            if request.method == 'POST' and csrf:
                ctx.check_csrf()
            if service and not staff and ctx.user:
                settings = ctx.settings
                if (settings and settings.nav_keys is not None
                        and service not in settings.nav_keys):
                    abort(404)
            if not staff or not ctx.staff:
                return func(ctx, **kwargs)
            User = pool.get('res.user')
            transaction = Transaction()
            with transaction.set_user(ctx.staff):
                preferences = User.get_preferences(context_only=True)
            with transaction.set_user(ctx.staff), \
                    transaction.set_context(preferences), check_access():
                if service and not ctx.offers(service):
                    abort(404)
                return func(ctx, **kwargs)
        # a GET or HEAD runs in a read-only transaction whatever
        # ``readonly`` says: a GET never writes (a write raises)
        wrapped = with_pool(with_transaction(
                readonly=False if get_writes
                else True if readonly else None)(endpoint))
        if max_size:
            set_max_request_size(max_size)(wrapped)
        app.route(PREFIX + path, methods=list(methods))(wrapped)
        return wrapped
    return decorator


def staff_route(path, **kwargs):
    "``route`` for the staff pages."
    return route(path, audience=nav.STAFF, **kwargs)


def rollback():
    Transaction().rollback()


def error_text(exception):
    return getattr(exception, 'message', None) or str(exception)


i18n.register_locale_dir(HERE / 'locale')
