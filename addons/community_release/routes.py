# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The portal's goods release pages (community_portal's framework).

Residents (phone first):

- ``/release``: the slips of the resident's units they applied for, and
  for an owner those of the unit's tenants and household members, the
  ones waiting for their approval first;
- ``/release/new``: apply (unit, first and last day, plate, items with
  quantities); the slip is submitted at once;
- ``/release/<ref>``: the slip; the owner approves or refuses a slip
  waiting for them, the applicant cancels it or, once approved, shows its
  QR code (``/release/<ref>/qr``: a new token each time, the previous
  code stops working; only its hash is stored).

Guards (staff pages):

- ``/staff/release``: scan (the QR code opens this page with its token)
  or type the token; the slip, why it would be refused, the unit's
  arrears as a warning only (民法典 第944条); the quantities that leave
  and photos, then release (one conditional UPDATE: a copied code cannot
  release twice);
- ``/staff/release/slips/<ref>``: a released slip with its photos.
"""
import datetime as dt
import pathlib
import re

from trytond.exceptions import UserError
from trytond.modules.community_portal.exceptions import PortalError
from trytond.modules.community_portal.portal import i18n
from trytond.modules.community_portal.portal.account import unverified
from trytond.modules.community_portal.portal.i18n import N_
from trytond.modules.community_portal.portal.nav import STAFF, register_nav
from trytond.modules.community_portal.portal.requests import (
    MAX_UPLOAD, check_photos, photo_count, photo_response)
from trytond.modules.community_portal.portal.web import (
    error_text, parse_ref, register_templates, rollback, route, sign_ref,
    staff_route)
from trytond.protocols.wrappers import abort

from .exceptions import ReleaseError
from .goods_slip import REASONS, local_today

HERE = pathlib.Path(__file__).parent / 'portal'
register_templates(HERE / 'templates')
i18n.register_locale_dir(HERE / 'locale')
register_nav('release', N_("Goods release"), 'release', icon='home',
    order=26, model='community.release.goods_slip')
register_nav('staff_release', N_("Goods release"), 'staff/release',
    order=40, audience=STAFF, service='release')

MODEL = 'community.release.goods_slip'
REF = 'goods_slip'
MAX_LINES = 6
MAX_QUANTITY = 9999
MAX_DAYS = 31
MAX_DAYS_AHEAD = 60
TOKEN = re.compile(r'[A-Za-z0-9_-]{16,64}')
#: what a resident reads of a slip's state
RESIDENT_STATES = {
    'draft': N_("Draft"),
    'submitted': N_("Waiting for approval"),
    'owner_ok': N_("Owner agreed, waiting for the property"),
    'approved': N_("Approved"),
    'released': N_("Released"),
    'rejected': N_("Refused"),
    'expired': N_("Expired"),
    'cancelled': N_("Cancelled"),
    }


RELATIONS = {
    'owner': N_("Owner"),
    'tenant': N_("Tenant"),
    'member': N_("Household member"),
    }


def relation_label(ctx, slip):
    return ctx._(RELATIONS[slip.relation]) if slip.relation in RELATIONS \
        else ''


def _pool_model(ctx):
    "The slip model, 404 on a database without community_release."
    try:
        return ctx.pool.get(MODEL)
    except KeyError:
        abort(404)


def state_label(ctx, slip):
    if slip.state == 'submitted' and slip.relation != 'owner':
        return ctx._("Waiting for the owner")
    return ctx._(RESIDENT_STATES.get(slip.state, slip.state))


def owned_units(ctx):
    return [u for u, (_, role) in ctx.scope.items() if role == 'owner']


def my_slips_domain(ctx):
    "The slips a resident sees: theirs, and all of the units they own."
    return [('unit', 'in', list(ctx.scope.keys())),
        ['OR',
            ('applicant', '=', ctx.party.id),
            ('unit', 'in', owned_units(ctx)),
            ]]


def waits_for_me(ctx, slip):
    "Whether the slip waits for the approval of the resident as owner."
    return (slip.state == 'submitted' and slip.relation != 'owner'
        and slip.unit.id in owned_units(ctx)
        and slip.applicant != ctx.party)


def get_slip(ctx, ref):
    "The slip of ``ref`` seen by the resident, else 404."
    Slip = _pool_model(ctx)
    if not ctx.scope:
        abort(404)
    found = Slip.search([('id', '=', parse_ref(REF, ref))]
        + my_slips_domain(ctx), limit=1)
    if not found:
        abort(404)
    return found[0]


def window_text(slip):
    "The window as the days it is valid: first ~ last."
    last = slip.end - dt.timedelta(days=1)
    if last == slip.start:
        return slip.start.isoformat()
    return '%s ~ %s' % (slip.start.isoformat(), last.isoformat())


def items_text(slip):
    return '、'.join('%s × %s' % (line.item, line.quantity)
        for line in slip.lines)


@route('/release', service='release')
def release_list(ctx):
    Slip = _pool_model(ctx)
    if not ctx.scope:
        return unverified(ctx)
    slips = Slip.search(my_slips_domain(ctx), limit=50)
    waiting = [s for s in slips if waits_for_me(ctx, s)]
    others = [s for s in slips if s not in waiting]
    return ctx.render('release_list.html', waiting=waiting, slips=others,
        state=lambda s: state_label(ctx, s), window=window_text,
        items=items_text, ref=lambda s: sign_ref(REF, s.id))


def parse_day(value):
    try:
        return dt.date.fromisoformat(value or '')
    except ValueError:
        return None


@route('/release/new', methods=('GET', 'POST'), readonly=False,
    service='release')
def release_new(ctx):
    Slip = _pool_model(ctx)
    if not ctx.scope:
        return unverified(ctx)
    form = ctx.request.form
    units = [(sign_ref('unit', u.id), '%s %s' % (u.compound.name, u.code))
        for u, _ in ctx.scope.values()]
    first_unit = next(iter(ctx.scope.values()))[0]
    tomorrow = local_today(first_unit.compound) + dt.timedelta(days=1)
    values = {
        'unit': form.get('unit', units[0][0]),
        'start': form.get('start', tomorrow.isoformat()),
        'last': form.get('last', tomorrow.isoformat()),
        'plate': form.get('plate', '').strip()[:20],
        'note': form.get('note', '').strip()[:500],
        }
    lines = [(form.get('item_%d' % i, '').strip()[:100],
            form.get('quantity_%d' % i, '').strip())
        for i in range(1, MAX_LINES + 1)]
    error = None
    if ctx.request.method == 'POST':
        unit_id = parse_ref('unit', values['unit'])
        if unit_id not in ctx.scope:
            abort(404)
        unit, _ = ctx.scope[unit_id]
        today = local_today(unit.compound)
        start, last = parse_day(values['start']), parse_day(values['last'])
        items = [(item, quantity) for item, quantity in lines
            if item or quantity]
        if (start is None or last is None or start < today or last < start
                or start > today + dt.timedelta(days=MAX_DAYS_AHEAD)
                or (last - start).days >= MAX_DAYS):
            error = ctx._("Choose the days from today on (at most "
                "%(ahead)s days ahead, %(days)s days long at most).",
                ahead=MAX_DAYS_AHEAD, days=MAX_DAYS)
        elif not items:
            error = ctx._("List the goods that leave.")
        elif not all(item and quantity.isdigit()
                and 1 <= int(quantity) <= MAX_QUANTITY
                for item, quantity in items):
            error = ctx._("Each item needs its name and a quantity from 1 "
                "to %(max)s.", max=MAX_QUANTITY)
        else:
            try:
                slip, = Slip.create([{
                            'unit': unit.id, 'applicant': ctx.party.id,
                            'start': start,
                            'end': last + dt.timedelta(days=1),
                            'plate': values['plate'] or None,
                            'note': values['note'] or None,
                            'lines': [('create', [{
                                            'item': item,
                                            'quantity': int(quantity)}
                                        for item, quantity in items])],
                            }])
                Slip.submit([slip])
            except UserError as exception:
                rollback()
                error = error_text(exception)
            else:
                return ctx.redirect('/release/%s' % sign_ref(REF, slip.id))
    return ctx.render('release_new.html', error=error,
        status=400 if error else 200, units=units, values=values,
        lines=lines)


def render_slip(ctx, slip, error=None, status=200):
    me = ctx.party
    return ctx.render('release_slip.html', record=slip, error=error,
        status=status, ref=sign_ref(REF, slip.id),
        state=state_label(ctx, slip), window=window_text(slip),
        waits_for_me=waits_for_me(ctx, slip),
        mine=slip.applicant == me,
        relation=relation_label(ctx, slip))


@route('/release/<ref>', service='release')
def release_slip(ctx, ref):
    return render_slip(ctx, get_slip(ctx, ref))


@route('/release/<ref>/<any(approve, reject, cancel, qr):step>',
    methods=('POST',), readonly=False, service='release')
def release_step(ctx, ref, step):
    Slip = _pool_model(ctx)
    slip = get_slip(ctx, ref)
    mine = slip.applicant == ctx.party
    try:
        if step in {'approve', 'reject'}:
            if not waits_for_me(ctx, slip):
                abort(404)
            if step == 'approve':
                Slip.owner_approve([slip], ctx.party)
            else:
                Slip.owner_reject([slip], ctx.party,
                    ctx.request.form.get('reason', '').strip()[:200])
        elif step == 'cancel':
            if not mine or slip.state not in {
                    'submitted', 'owner_ok', 'approved'}:
                abort(404)
            Slip.cancel([slip])
        elif step == 'qr':
            if not mine or slip.state != 'approved':
                abort(404)
            token = Slip.issue_tokens([slip])[slip.id]
            return ctx.render('release_qr.html', record=slip,
                window=window_text(slip), ref=sign_ref(REF, slip.id),
                token=token, qr_text='%s/staff/release?token=%s' % (
                    ctx.full_base, token))
    except UserError as exception:
        rollback()
        return render_slip(ctx, Slip(slip.id),
            error=error_text(exception), status=409)
    return ctx.redirect('/release/%s' % ref)


# ------------------------------------------------------------ the gate

#: what the guard reads of a refusal (ReleaseError.reason)
REASON_TEXTS = {
    'unknown': N_("Unknown goods release slip."),
    'not_approved': N_("The goods release slip is not approved."),
    'not_yet': N_("The goods release slip is not valid yet."),
    'expired': N_("The goods release slip has expired."),
    'released': N_("The goods have already been released with this slip."),
    }
assert REASON_TEXTS.keys() == REASONS.keys()


def reason_text(ctx, reason):
    return ctx._(REASON_TEXTS[reason])


def expected_today(ctx):
    """The approved slips of the guard's compounds (their record rules)
    valid today in their compound's calendar: the goods expected at the
    gate."""
    Slip = ctx.pool.get(MODEL)
    around = dt.date.today()
    slips = Slip.search([
            ('state', '=', 'approved'),
            ('start', '<=', around + dt.timedelta(days=1)),
            ('end', '>', around - dt.timedelta(days=1)),
            ], order=[('unit', 'ASC'), ('id', 'ASC')], limit=100)
    return [s for s in slips
        if s.start <= local_today(s.compound) < s.end]


def lookup(ctx, token):
    "The slip of ``token`` among the guard's compounds, else None."
    Slip = ctx.pool.get(MODEL)
    if not token or not TOKEN.fullmatch(token):
        return None
    return Slip.find_by_token(token)


def render_gate(ctx, token, slip, error=None, status=200):
    Slip = ctx.pool.get(MODEL)
    reason = Slip.refusal(token, slip.compound) if slip else None
    return ctx.render('staff/release.html', token=token, record=slip,
        error=error or (reason_text(ctx, reason) if reason else None),
        status=status, releasable=slip is not None and reason is None,
        window=window_text(slip) if slip else None,
        relation=relation_label(ctx, slip) if slip else None,
        state=state_label(ctx, slip) if slip else None)


@staff_route('/staff/release', methods=('GET', 'POST'), readonly=False,
    max_size=MAX_UPLOAD, service='release')
def staff_release(ctx):
    """GET: the slip of the scanned or typed token; POST: release it with
    the quantities counted and the photos."""
    _pool_model(ctx)
    if ctx.request.method == 'POST':
        return staff_release_post(ctx)
    token = ctx.request.args.get('token', '').strip()[:100]
    if not token:
        return ctx.render('staff/release.html', token='', record=None,
            expected=expected_today(ctx), window=window_text,
            items=items_text)
    slip = lookup(ctx, token)
    if slip is None:
        return ctx.render('staff/release.html', token=token, record=None,
            error=reason_text(ctx, 'unknown'), status=404)
    return render_gate(ctx, token, slip)


def staff_release_post(ctx):
    Slip = _pool_model(ctx)
    Attachment = ctx.pool.get('ir.attachment')
    form = ctx.request.form
    token = form.get('token', '').strip()[:100]
    slip = lookup(ctx, token)
    if slip is None:
        return ctx.render('staff/release.html', token=token, record=None,
            error=reason_text(ctx, 'unknown'), status=404)
    quantities = {}
    for line in slip.lines:
        value = form.get('quantity_%d' % line.id, '').strip()
        if not value.isdigit() or int(value) > MAX_QUANTITY:
            return render_gate(ctx, token, slip, status=400,
                error=ctx._("Count each item: a number from 0 to %(max)s.",
                    max=MAX_QUANTITY))
        quantities[line.id] = int(value)
    try:
        photos = check_photos(ctx.request.files.getlist('photos'))
    except PortalError as exception:
        return render_gate(ctx, token, slip, status=400,
            error=error_text(exception))
    try:
        slip = Slip.release(token, slip.compound, quantities)
    except ReleaseError as exception:
        rollback()
        return render_gate(ctx, token, Slip(slip.id), status=409,
            error=reason_text(ctx, exception.reason))
    except UserError as exception:
        rollback()
        return render_gate(ctx, token, Slip(slip.id), status=409,
            error=error_text(exception))
    Attachment.create([{
                'resource': str(slip),
                'name': 'release-%s-%d.%s' % (slip.id, i + 1, extension),
                'type': 'data',
                'data': data,
                } for i, (data, extension) in enumerate(photos)])
    return ctx.redirect('/staff/release/slips/%s' % sign_ref(REF, slip.id))


def staff_slip(ctx, ref):
    _pool_model(ctx)
    return ctx.get_or_404(MODEL, [('id', '=', parse_ref(REF, ref))])


@staff_route('/staff/release/slips/<ref>', service='release')
def staff_release_slip(ctx, ref):
    slip = staff_slip(ctx, ref)
    return ctx.render('staff/release_slip.html', record=slip,
        window=window_text(slip),
        state=state_label(ctx, slip),
        photos=photo_count(ctx, slip),
        photo_base='%s/staff/release/slips/%s' % (ctx.base, ref))


@staff_route('/staff/release/slips/<ref>/photos/<int:index>',
    service='release')
def staff_release_photo(ctx, ref, index):
    return photo_response(ctx, staff_slip(ctx, ref), index)
