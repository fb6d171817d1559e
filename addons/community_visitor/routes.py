# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The portal's visitor pages (community_portal's framework):

- ``/visitors``: the resident's passes (as host), newest first;
- ``/visitors/new``: invite a visitor (name, phone, day, from–to in the
  compound's time zone, entries); the answer shows the pass's link and QR
  code once: only the token's hash is stored;
- ``/visitors/pass/<token>``: the visitor's page of the link (no login):
  the QR code shown at the gate, the compound and the window.
"""
import datetime as dt
import pathlib
import re
from zoneinfo import ZoneInfo

from trytond.model.exceptions import ValidationError
from trytond.modules.community_base.party import compact_mobile
from trytond.modules.community_portal.portal import i18n
from trytond.modules.community_portal.portal.account import unverified
from trytond.modules.community_portal.portal.i18n import N_
from trytond.modules.community_portal.portal.nav import register_nav
from trytond.modules.community_portal.portal.web import (
    error_text, parse_ref, register_templates, route, sign_ref)
from trytond.protocols.wrappers import abort

from .visitor import hash_token

HERE = pathlib.Path(__file__).parent / 'portal'
register_templates(HERE / 'templates')
i18n.register_locale_dir(HERE / 'locale')
register_nav('visitors', N_("Visitors"), 'visitors', icon='user', order=25)

MODEL = 'community.visitor.pass'
MAX_ENTRIES = 10
MAX_DAYS_AHEAD = 90
TIME = re.compile(r'([01][0-9]|2[0-3]):([0-5][0-9])')
TOKEN = re.compile(r'[A-Za-z0-9_-]{16,64}')


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
    return ctx.render('visitors.html', items=items)


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
