# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The portal's visitor pages (community_portal's framework):

- ``/visitors``: the resident's passes (as host), newest first;
- ``/visitors/new``: invite a visitor (name, phone, day, from–to in the
  compound's time zone, entries); the answer shows the pass's link and QR
  code once: only the token's hash is stored;
- ``/visitors/pass/<token>``: the visitor's page of the link (no login):
  the QR code shown at the gate, the compound and the window;
- ``/visitors/answer/<ref>``: a resident of the host unit lets a walk-in
  visitor in or refuses them (before the deadline; then a person decides);
- ``/staff/visitors``: the guard's page: register a walk-in visitor (the
  residents are asked), follow the answers, let in or refuse those that
  need a person, and check an invitation's code at the gate.
"""
import datetime as dt
import pathlib
import re
from zoneinfo import ZoneInfo

from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError
from trytond.modules.community_base.party import compact_mobile
from trytond.modules.community_portal.portal import i18n
from trytond.modules.community_portal.portal.account import unverified
from trytond.modules.community_portal.portal.i18n import N_
from trytond.modules.community_portal.portal.nav import STAFF, register_nav
from trytond.modules.community_portal.portal.web import (
    error_text, parse_ref, register_templates, rollback, route, sign_ref,
    staff_route)
from trytond.protocols.wrappers import abort

from .exceptions import RedeemError
from .visitor import hash_token

HERE = pathlib.Path(__file__).parent / 'portal'
register_templates(HERE / 'templates')
i18n.register_locale_dir(HERE / 'locale')
register_nav('visitors', N_("Visitors"), 'visitors', icon='user', order=25,
    model='community.visitor.pass')
register_nav('staff_visitors', N_("Visitors"), 'staff/visitors', order=25,
    audience=STAFF, service='visitors')

MODEL = 'community.visitor.pass'
MAX_ENTRIES = 10
MAX_DAYS_AHEAD = 90
TIME = re.compile(r'([01][0-9]|2[0-3]):([0-5][0-9])')
TOKEN = re.compile(r'[A-Za-z0-9_-]{16,64}')
#: a token as scanned: the pass's link or the token alone
SCANNED = re.compile(r'(?:.*/visitors/pass/)?([A-Za-z0-9_-]{16,64})/?')
MAX_PEOPLE = 20


def _pool_model(ctx):
    "The pass model, 404 on a database without community_visitor."
    try:
        return ctx.pool.get(MODEL)
    except KeyError:
        abort(404)


def _local(ctx, compound):
    return ZoneInfo(compound.timezone or 'Asia/Shanghai')


def parse_window(zone, day, start, end, today):
    """Return (start, end) naive UTC of the local ``day`` (YYYY-MM-DD)
    from ``start`` to ``end`` (HH:MM; an end at or before the start is the
    next day), else None."""
    try:
        day = dt.date.fromisoformat(day or '')
    except ValueError:
        return None
    times = [TIME.fullmatch(t or '') for t in (start, end)]
    if (not all(times) or day < today
            or day > today + dt.timedelta(days=MAX_DAYS_AHEAD)):
        return None
    start, end = [dt.datetime.combine(day,
            dt.time(int(m.group(1)), int(m.group(2))), zone)
        for m in times]
    if end <= start:
        end += dt.timedelta(days=1)

    def utc(value):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return utc(start), utc(end)


def my_passes_domain(ctx):
    return [('host', '=', ctx.party.id),
        ('unit', 'in', list(ctx.scope.keys()))]


@route('/visitors', service='visitors')
def visitors_list(ctx):
    Pass = _pool_model(ctx)
    if not ctx.scope:
        return unverified(ctx)
    states = ctx.selection(MODEL, 'state')
    items = [(p, states.get(p.state, p.state))
        for p in Pass.search(my_passes_domain(ctx), limit=50)]
    waiting = [(p, sign_ref('pass', p.id))
        for p in Pass.search(waiting_domain(ctx), order=[('id', 'ASC')])]
    return ctx.render('visitors.html', items=items, waiting=waiting,
        message=ctx.request.args.get('m'))


def waiting_domain(ctx):
    "The walk-ins at the units of the resident waiting for an answer."
    return [('unit', 'in', list(ctx.scope.keys())),
        ('kind', '=', 'walk_in'),
        ('state', '=', 'waiting'),
        ('confirm_deadline', '>', dt.datetime.now(dt.UTC).replace(
                tzinfo=None)),
        ]


@route('/visitors/answer/<ref>', methods=('POST',), readonly=False,
    service='visitors')
def visitor_answer(ctx, ref):
    """A resident of the host unit lets the walk-in visitor in (``accept``
    1) or refuses them (0); too late, a person decides."""
    Pass = _pool_model(ctx)
    if not ctx.scope:
        return unverified(ctx)
    pass_id = parse_ref('pass', ref)
    found = Pass.search([('id', '=', pass_id),
            ('unit', 'in', list(ctx.scope.keys())),
            ('kind', '=', 'walk_in')], limit=1)
    if not found:
        abort(404)
    accept = ctx.request.form.get('accept') == '1'
    state = Pass.answer(found[0].id, ctx.party.id, accept)
    if state is None:
        return ctx.redirect('/visitors?m=late')
    return ctx.redirect('/visitors?m=%s' % state)


@route('/visitors/new', methods=('GET', 'POST'), readonly=False,
    service='visitors')
def visitor_new(ctx):
    Pass = _pool_model(ctx)
    if not ctx.scope:
        return unverified(ctx)
    form = ctx.request.form
    units = [(sign_ref('unit', u.id), '%s %s' % (u.compound.name, u.code))
        for u, _ in ctx.scope.values()]
    first_unit = next(iter(ctx.scope.values()))[0]
    today = dt.datetime.now(_local(ctx, first_unit.compound)).date()
    values = {
        'unit': form.get('unit', units[0][0]),
        'name': form.get('name', '').strip()[:100],
        'phone': form.get('phone', '').strip()[:30],
        'day': form.get('day', (today + dt.timedelta(days=1)).isoformat()),
        'start': form.get('start', '14:00'),
        'end': form.get('end', '18:00'),
        'entries': form.get('entries', '1'),
        }
    error = None
    if ctx.request.method == 'POST':
        unit_id = parse_ref('unit', values['unit'])
        if unit_id not in ctx.scope:
            abort(404)
        unit, _ = ctx.scope[unit_id]
        zone = _local(ctx, unit.compound)
        today = dt.datetime.now(zone).date()
        window = parse_window(zone, values['day'], values['start'],
            values['end'], today)
        phone = compact_mobile(values['phone']) if values['phone'] else None
        if phone:
            phone = phone[3:] if phone.startswith('+86') else phone
        entries = values['entries']
        if not values['name']:
            error = ctx._("Fill in the visitor's name.")
        elif values['phone'] and not phone:
            error = ctx._("The mobile number is not valid.")
        elif window is None:
            error = ctx._("Choose a day from today on (at most %(days)s "
                "days ahead) and the times as HH:MM.",
                days=MAX_DAYS_AHEAD)
        elif not entries.isdigit() or not 1 <= int(entries) <= MAX_ENTRIES:
            error = ctx._("Entries: a number from 1 to %(max)s.",
                max=MAX_ENTRIES)
        else:
            try:
                pass_, token = Pass.invite({
                        'unit': unit.id, 'host': ctx.party.id,
                        'visitor_name': values['name'],
                        'visitor_phone': phone,
                        'start': window[0], 'end': window[1],
                        'uses_allowed': int(entries),
                        })
            except ValidationError as exception:
                error = error_text(exception)
            else:
                return ctx.render('visitor_pass.html', record=pass_,
                    link='%s/visitors/pass/%s' % (ctx.full_base, token),
                    token=token, issued=True)
    return ctx.render('visitor_new.html', error=error,
        status=400 if error else 200, units=units, values=values,
        max_entries=MAX_ENTRIES)


@route('/visitors/pass/<token>', login=False)
def visitor_pass(ctx, token):
    "The visitor's page of the link: the QR code for the gate."
    Pass = _pool_model(ctx)
    if not TOKEN.fullmatch(token):
        abort(404)
    found = Pass.search([('token_hash', '=', hash_token(token))], limit=1)
    if not found or found[0].anonymised:
        abort(404)
    states = ctx.selection(MODEL, 'state')
    return ctx.render('visitor_pass.html', record=found[0], token=token,
        state=states.get(found[0].state, found[0].state), nav=None,
        issued=False, link=None)


def _staff_compounds(ctx):
    "The compounds of the staff user (their record rules decide)."
    Compound = ctx.pool.get('community.compound')
    return Compound.search([], order=[('code', 'ASC')])


def staff_page(ctx, status=200, error=None, form=None, checked=None):
    """The guard's page: the walk-in form, the last walk-ins of the staff
    user's compounds (those that need a person first), the code check."""
    Pass = _pool_model(ctx)
    compounds = _staff_compounds(ctx)
    states = ctx.selection(MODEL, 'state')
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    passes = Pass.search([('kind', '=', 'walk_in')], limit=30,
        order=[('id', 'DESC')])
    rows = []
    for p in passes:
        # waiting past its deadline: the escalation runs at the next click
        late = p.state == 'waiting' and p.confirm_deadline <= now
        state = 'escalated' if late else p.state
        rows.append((p, sign_ref('pass', p.id), state,
                states.get(state, state)))
    rows.sort(key=lambda r: (r[2] != 'escalated', r[2] != 'waiting'))
    form = form or {}
    return ctx.render('staff/visitors.html', status=status, error=error,
        compounds=[(sign_ref('compound', c.id), c.name) for c in compounds],
        rows=rows, form=form, checked=checked, max_people=MAX_PEOPLE)


@staff_route('/staff/visitors', service='visitors')
def staff_visitors(ctx):
    return staff_page(ctx)


def _staff_compound(ctx, ref):
    compound_id = parse_ref('compound', ref or '')
    return ctx.get_or_404('community.compound', [('id', '=', compound_id)])


@staff_route('/staff/visitors/new', methods=('POST',), readonly=False,
    service='visitors')
def staff_walk_in(ctx):
    """Register a walk-in visitor for a unit typed by its code; the
    residents of the unit are asked at once."""
    Pass = _pool_model(ctx)
    Unit = ctx.pool.get('community.unit')
    form = ctx.request.form
    values = {
        'compound': form.get('compound', ''),
        'unit': form.get('unit', '').strip()[:30],
        'name': form.get('name', '').strip()[:100],
        'phone': form.get('phone', '').strip()[:30],
        'people': form.get('people', '1').strip()[:3],
        'plate': form.get('plate', '').strip().upper()[:10],
        }
    compound = _staff_compound(ctx, values['compound'])
    phone = compact_mobile(values['phone']) if values['phone'] else None
    if phone:
        phone = phone[3:] if phone.startswith('+86') else phone
    units = Unit.search([('compound', '=', compound.id),
            ('code', '=', values['unit'])], limit=1)
    error = None
    if not units:
        error = ctx._("No unit %(code)s in %(compound)s.",
            code=values['unit'], compound=compound.name)
    elif not values['name']:
        error = ctx._("Fill in the visitor's name.")
    elif values['phone'] and not phone:
        error = ctx._("The mobile number is not valid.")
    elif (not values['people'].isdigit()
            or not 1 <= int(values['people']) <= MAX_PEOPLE):
        error = ctx._("People: a number from 1 to %(max)s.", max=MAX_PEOPLE)
    if error is None:
        try:
            Pass.register_walk_in({
                    'unit': units[0].id,
                    'visitor_name': values['name'],
                    'visitor_phone': phone,
                    'plate': values['plate'] or None,
                    'people': int(values['people']),
                    })
        except (ValidationError, UserError) as exception:
            rollback()
            error = error_text(exception)
    if error is not None:
        return staff_page(ctx, status=400, error=error, form=values)
    return ctx.redirect('/staff/visitors')


@staff_route('/staff/visitors/<ref>/<action>', methods=('POST',),
    readonly=False, service='visitors')
def staff_visitor_action(ctx, ref, action):
    """What the guard does with a walk-in: ``admit`` (an active pass: the
    visitor goes in), ``approve`` (nobody answered: the guard checked and
    lets in), ``reject``."""
    Pass = _pool_model(ctx)
    if action not in {'admit', 'approve', 'reject'}:
        abort(404)
    pass_ = ctx.get_or_404(MODEL, [('id', '=', parse_ref('pass', ref)),
            ('kind', '=', 'walk_in')])
    try:
        if action in {'approve', 'reject'}:
            # a pass past its deadline goes to a person first
            Pass.escalate_unanswered()
            pass_ = Pass(pass_.id)
            if pass_.state != 'escalated':
                return staff_page(ctx, status=409, error=ctx._(
                        "The residents answered or may still answer: "
                        "wait for them."))
            getattr(Pass, action)([pass_])
        if action in {'approve', 'admit'}:
            Pass.admit([Pass(pass_.id)])
    except (RedeemError, ValidationError, UserError) as exception:
        rollback()
        return staff_page(ctx, status=409, error=error_text(exception))
    return ctx.redirect('/staff/visitors')


@staff_route('/staff/visitors/check', methods=('POST',), readonly=False,
    service='visitors')
def staff_visitor_check(ctx):
    """The guard scans an invitation's code (its link or token) at the
    gate of a compound: one entry is used, or the reason is shown."""
    Pass = _pool_model(ctx)
    form = ctx.request.form
    compound = _staff_compound(ctx, form.get('compound'))
    match = SCANNED.fullmatch((form.get('token') or '').strip())
    try:
        if not match:
            raise RedeemError('unknown', ctx._("Unknown pass."))
        pass_ = Pass.redeem(match.group(1), compound.id)
    except RedeemError as exception:
        rollback()
        return staff_page(ctx, status=409, checked={
                'ok': False, 'text': error_text(exception)},
            form={'compound': form.get('compound')})
    return staff_page(ctx, checked={'ok': True, 'pass': pass_},
        form={'compound': form.get('compound')})
