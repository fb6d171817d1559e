# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Staff phone pages: login and the queue of service requests (claim,
start, done with photos). Every query runs as the staff user with access
checks on: the per-compound record rules decide what they see."""
from trytond.exceptions import RateLimitException, UserError
from trytond.protocols.wrappers import abort
from trytond.transaction import Transaction

from ..exceptions import PortalError
from .i18n import N_
from .nav import STAFF, register_nav
from .requests import (
    MAX_UPLOAD, check_photos, photo_count, photo_response, save_photos,
    state_label)
from .web import (
    CSRF_COOKIE, STAFF_COOKIE, error_text, is_staff, rollback, staff_route)

register_nav('staff_queue', N_("Work orders"), 'staff/', order=10,
    audience=STAFF, service='requests')
register_nav('staff_intake', N_("New request"), 'staff/requests/new',
    order=15, audience=STAFF, service='requests')
register_nav('staff_logout', N_("Log out"), 'staff/logout-page', order=90,
    audience=STAFF)


@staff_route('/staff/login', methods=('GET', 'POST'), login=False,
    readonly=False)
def staff_login(ctx):
    if ctx.request.method == 'GET':
        return ctx.render('staff/login.html', nav=None)
    pool = ctx.pool
    User = pool.get('res.user')
    Session = pool.get('community.portal.staff_session')
    login_value = ctx.request.form.get('login', '').strip()
    error = None
    try:
        user_id = User.get_login(login_value, {
                'password': ctx.request.form.get('password', ''),
                })
    except RateLimitException:
        error = ctx._("Too many attempts, please try again later.")
    else:
        if not user_id:
            error = ctx._("Wrong user name or password.")
        elif not is_staff(pool, user_id):
            error = ctx._("This account is not a member of the staff.")
    if error:
        return ctx.render('staff/login.html', nav=None, error=error,
            status=400)
    # a portal-only token, no ir.session key (it opens no JSON-RPC)
    ctx.cookies[STAFF_COOKIE] = Session.new(user_id)
    ctx.cookies[CSRF_COOKIE] = None
    return ctx.redirect('/staff/')


@staff_route('/staff/logout-page')
def staff_logout_page(ctx):
    return ctx.render('staff/logout.html')


@staff_route('/staff/logout', methods=('POST',), readonly=False)
def staff_logout(ctx):
    Session = ctx.pool.get('community.portal.staff_session')
    with Transaction().set_user(0):
        Session.remove(ctx.session_key)
    ctx.cookies[STAFF_COOKIE] = None
    return ctx.redirect('/staff/login')


def staff_request(ctx, token):
    "The request of ``token`` if the staff user's rules let them see it."
    return ctx.get_or_404('community.service.request',
        [('token', '=', token)])


@staff_route('/staff/')
def staff_queue(ctx):
    """The staff home: the queue of service requests, or the first entry
    of the staff's navigation when their compounds offer no repairs."""
    if not ctx.offers('requests'):
        return ctx.redirect('/' + ctx.nav()[0].url)
    Request = ctx.pool.get('community.service.request')
    user = Transaction().user
    new = Request.search([('state', '=', 'new')], limit=100)
    mine = Request.search([
            ('assigned_to', '=', user),
            ('state', 'in', ['assigned', 'in_progress']),
            ], limit=100)
    return ctx.render('staff/queue.html', mine=mine, new=new,
        state_label=lambda state: state_label(ctx, state))


@staff_route('/staff/requests/new', methods=('GET', 'POST'),
    readonly=False, service='requests')
def staff_request_new(ctx):
    """A resident calls: the front desk types the unit's code as people
    say it (1-2-301, 1栋2单元301) and what is wrong; the request is filed
    for the unit's resident, by phone. Units are found through the staff
    user's record rules (their compounds only)."""
    from trytond.modules.community_service.service import unit_residents
    pool = ctx.pool
    Unit = pool.get('community.unit')
    Request = pool.get('community.service.request')
    form = ctx.request.form
    kinds = ctx.selection('community.service.request', 'kind')
    urgencies = ctx.selection('community.service.request', 'urgency')
    error = None
    if ctx.request.method == 'POST':
        code = form.get('unit', '').strip()[:50]
        kind = form.get('kind')
        urgency = form.get('urgency', 'normal')
        title = form.get('title', '').strip()[:200]
        units = Unit.search([('rec_name', 'ilike', code)], limit=2) \
            if code else []
        if kind not in kinds or urgency not in urgencies or not title:
            error = ctx._("Fill in the unit, the title and the type.")
        elif not units:
            error = ctx._("No unit has this code.")
        elif len(units) > 1:
            error = ctx._("Several units match: type the whole code.")
        else:
            unit, = units
            _, requester = unit_residents(unit)
            try:
                record, = Request.create([{
                            'compound': unit.compound.id, 'unit': unit.id,
                            'requester': requester.id if requester else None,
                            'kind': kind, 'urgency': urgency, 'title': title,
                            'description': form.get(
                                'description', '')[:5000] or None,
                            'contact_phone': form.get(
                                'phone', '').strip()[:30] or None,
                            'channel': 'phone',
                            }])
            except UserError as exception:
                rollback()
                error = error_text(exception)
            else:
                return ctx.redirect('/staff/requests/%s' % record.token)
    return ctx.render('staff/request_new.html', error=error,
        status=400 if error else 200, form=form,
        kinds=[(k, v) for k, v in kinds.items() if k],
        urgencies=[(k, v) for k, v in urgencies.items() if k])


@staff_route('/staff/requests/<token>', service='requests')
def staff_request_page(ctx, token):
    record = staff_request(ctx, token)
    selection = ctx.selection
    return ctx.render('staff/request.html', record=record, token=token,
        kind=selection('community.service.request', 'kind').get(
            record.kind),
        urgency=selection('community.service.request', 'urgency').get(
            record.urgency),
        state=state_label(ctx, record.state),
        photos=photo_count(ctx, record),
        photo_base=ctx.base + '/staff/requests/' + token)


@staff_route('/staff/requests/<token>/photos/<int:index>',
    service='requests')
def staff_request_photo(ctx, token, index):
    return photo_response(ctx, staff_request(ctx, token), index)


@staff_route('/staff/requests/<token>/<any(claim, start, done):step>',
    methods=('POST',), readonly=False, max_size=MAX_UPLOAD,
    service='requests')
def staff_request_step(ctx, token, step):
    Request = ctx.pool.get('community.service.request')
    record = staff_request(ctx, token)
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
                return ctx.render('staff/message.html', status=400,
                    error=error_text(exception))
            record.resolution = resolution[:5000]
            record.save()
            save_photos(ctx.pool, record, photos, prefix='done')
            Request.do([record])
    except UserError as exception:
        rollback()
        return ctx.render('staff/message.html', status=409,
            error=error_text(exception))
    return ctx.redirect('/staff/requests/%s' % token)
