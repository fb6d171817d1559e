# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Service requests of the residents: list, new (with photos), detail,
photos, confirmation and rating."""
import io

from trytond.i18n import gettext
from trytond.protocols.wrappers import abort

from ..exceptions import PortalError
from .account import unverified
from .i18n import N_
from .nav import register_nav
from .web import error_text, parse_ref, route, sign_ref

register_nav('requests', N_("Repairs"), 'requests', icon='tool', order=20)

MAX_PHOTO_SIZE = 8 * 1024 * 1024
MAX_UPLOAD = 4 * MAX_PHOTO_SIZE
# Pictures are checked by their content (Pillow), not their declared type
PHOTO_FORMATS = {'JPEG', 'PNG', 'WEBP', 'GIF', 'MPO'}
PHOTO_MAX_SIDE = 2560
PHOTO_MAX_PIXELS = 50 * 1000 * 1000
PHOTO_TYPES = {
    'jpg': 'image/jpeg', 'png': 'image/png', 'webp': 'image/webp',
    'gif': 'image/gif', 'heic': 'image/heic',
    }
# What a resident reads of a request's state: the request as seen from
# their side (e.g. "done" is "to confirm" for them), not the back office's
# labels of the model's selection
RESIDENT_STATES = {
    'new': N_("Received"), 'assigned': N_("Dispatched"),
    'in_progress': N_("In progress"), 'done': N_("To confirm"),
    'confirmed': N_("Completed"), 'cancelled': N_("Cancelled"),
    }


def state_label(ctx, state):
    return ctx._(RESIDENT_STATES[state]) if state in RESIDENT_STATES else (
        state)


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


def save_photos(pool, request_record, photos, prefix='photo'):
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


def photo_count(ctx, record):
    Attachment = ctx.pool.get('ir.attachment')
    return Attachment.search([('resource', '=', str(record))], count=True)


def photo_response(ctx, record, index):
    Attachment = ctx.pool.get('ir.attachment')
    photos = Attachment.search([('resource', '=', str(record))],
        order=[('id', 'ASC')])
    if index < 1 or index > len(photos):
        abort(404)
    photo = photos[index - 1]
    extension = photo.name.rsplit('.', 1)[-1].lower()
    return ctx.response(photo.data, content_type=PHOTO_TYPES.get(
            extension, 'application/octet-stream'))


def my_requests_domain(ctx):
    owned = [u.id for u, role in ctx.scope.values() if role == 'owner']
    return [
        ('unit', 'in', list(ctx.scope.keys())),
        ['OR',
            ('requester', '=', ctx.party.id),
            ('unit', 'in', owned),
            ],
        ]


def get_request(ctx, token):
    "Return the request of ``token`` seen by the resident, or 404."
    if not ctx.scope:
        abort(404)
    return ctx.get_or_404('community.service.request',
        [('token', '=', token)] + my_requests_domain(ctx))


@route('/requests', service='requests')
def requests_list(ctx):
    if not ctx.scope:
        return unverified(ctx)
    Request = ctx.pool.get('community.service.request')
    kinds = ctx.selection('community.service.request', 'kind')
    items = [(r, kinds.get(r.kind, r.kind), state_label(ctx, r.state))
        for r in Request.search(my_requests_domain(ctx), limit=100)]
    return ctx.render('requests.html', items=items)


@route('/requests/new', methods=('GET', 'POST'), readonly=False,
    max_size=MAX_UPLOAD, service='requests')
def request_new(ctx):
    if not ctx.scope:
        return unverified(ctx)
    pool = ctx.pool
    error = None
    form = ctx.request.form
    kinds = ctx.selection('community.service.request', 'kind')
    urgencies = ctx.selection('community.service.request', 'urgency')
    if ctx.request.method == 'POST':
        Request = pool.get('community.service.request')
        unit_id = parse_ref('unit', form.get('unit', ''))
        if unit_id not in ctx.scope:
            abort(404)
        kind = form.get('kind')
        urgency = form.get('urgency', 'normal')
        title = form.get('title', '').strip()[:200]
        photos = None
        try:
            photos = check_photos(ctx.request.files.getlist('photos'))
        except PortalError as exception:
            error = error_text(exception)
        if kind not in kinds or urgency not in urgencies or not title:
            error = ctx._("Fill in the title and choose the type.")
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
            save_photos(pool, record, photos)
            return ctx.redirect('/requests/%s' % record.token)
    return ctx.render('request_new.html', error=error,
        status=400 if error else 200,
        units=[(sign_ref('unit', u.id), '%s %s' % (u.compound.name, u.code))
            for u, _ in ctx.scope.values()],
        kinds=[(k, v) for k, v in kinds.items() if k],
        urgencies=[(k, v) for k, v in urgencies.items() if k])


@route('/requests/<token>')
def request_detail(ctx, token):
    record = get_request(ctx, token)
    kinds = ctx.selection('community.service.request', 'kind')
    return ctx.render('request.html', record=record, token=token,
        kind=kinds.get(record.kind, record.kind),
        state=state_label(ctx, record.state),
        photos=photo_count(ctx, record),
        photo_base=ctx.base + '/requests/' + token,
        ratings=[(str(i), '★' * i) for i in range(5, 0, -1)])


@route('/requests/<token>/photos/<int:index>')
def request_photo(ctx, token, index):
    return photo_response(ctx, get_request(ctx, token), index)


@route('/requests/<token>/rate', methods=('POST',), readonly=False)
def request_rate(ctx, token):
    record = get_request(ctx, token)
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
