# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Meter reading on the staff's phone: a building's meters in walk order,
the next one to read with its last reading."""
from trytond.exceptions import UserError
from trytond.protocols.wrappers import abort

from .helpers import parse_decimal
from .i18n import N_
from .nav import STAFF, register_nav
from .web import error_text, parse_ref, rollback, sign_ref, staff_route

register_nav('staff_meters', N_("Meters"), 'staff/meters', order=30,
    audience=STAFF)


def walk_key(meter):
    "Walk order: entrance, floor, unit, meter number."
    unit = meter.unit
    return (unit.entrance.sequence or 0 if unit.entrance else 0,
        unit.entrance.code if unit.entrance else '',
        unit.floor or 0, unit.code, meter.number)


def walk(ctx, building):
    """Return [(meter, last reading or None)] of the active meters of the
    building in walk order; the last readings in one query."""
    pool = ctx.pool
    Meter = pool.get('community.meter')
    Reading = pool.get('community.meter.reading')
    meters = sorted(Meter.search([
                ('unit.building', '=', building.id),
                ('active', '=', True),
                ]), key=walk_key)
    last = {}
    if meters:
        # readings are ordered by meter then date descending
        for reading in Reading.search([
                    ('meter', 'in', [m.id for m in meters]),
                    ]):
            last.setdefault(reading.meter.id, reading)
    return [(m, last.get(m.id)) for m in meters]


def staff_building(ctx, ref):
    "The building of ``ref`` if the staff user's rules let them see it."
    return ctx.get_or_404('community.building',
        [('id', '=', parse_ref('building', ref))])


def staff_meter(ctx, ref):
    "The meter of ``ref`` if the staff user's rules let them see it."
    return ctx.get_or_404('community.meter',
        [('id', '=', parse_ref('meter', ref))])


@staff_route('/staff/meters')
def staff_meters(ctx):
    "Meter reading: the buildings of the staff user's compounds."
    Building = ctx.pool.get('community.building')
    buildings = [(b, sign_ref('building', b.id))
        for b in Building.search([], limit=200)]
    return ctx.render('staff/meters.html', buildings=buildings)


def walk_page(ctx, building, current=None, status=200, error=None,
        form=None):
    """The walk of a building: the next meter not read today (or
    ``current``) with its form, then every meter with its last reading."""
    Date = ctx.pool.get('ir.date')
    Reading = ctx.pool.get('community.meter.reading')
    today = Date.today()
    meters = walk(ctx, building)
    todo = [(m, r) for m, r in meters if not r or r.date < today]
    if current is None and todo:
        current = todo[0][0]
    last = None
    if current is not None:
        last = {m.id: r for m, r in meters}.get(current.id)
        if last and last.date >= today:
            # re-entering today's meter: show the reading before it
            before = Reading.search([
                    ('meter', '=', current.id), ('date', '<', today)],
                order=[('date', 'DESC')], limit=1)
            last = before[0] if before else None
    reasons = ctx.selection('community.meter.reading', 'reason')
    form = form or {}
    return ctx.render('staff/walk.html', status=status, error=error,
        building=building, bref=sign_ref('building', building.id),
        walk=[(m, r, sign_ref('meter', m.id)) for m, r in meters],
        done=len(meters) - len(todo), today=today, current=current,
        mref=sign_ref('meter', current.id) if current else None,
        last=last, reasons=[(v or '', label) for v, label in reasons.items()],
        value=form.get('value', ''), reason=form.get('reason') or '',
        start_value=form.get('start_value', ''))


@staff_route('/staff/meters/<ref>')
def staff_meter_walk(ctx, ref):
    building = staff_building(ctx, ref)
    current = None
    if ctx.request.args.get('meter'):
        current = staff_meter(ctx, ctx.request.args['meter'])
        if current.unit.building.id != building.id:
            abort(404)
    return walk_page(ctx, building, current)


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
    building = staff_building(ctx, bref)
    meter = staff_meter(ctx, mref)
    if meter.unit.building.id != building.id:
        abort(404)
    Reading = ctx.pool.get('community.meter.reading')
    Date = ctx.pool.get('ir.date')
    form = ctx.request.form
    reason = form.get('reason') or None
    if reason not in ctx.selection('community.meter.reading', 'reason'):
        abort(400)
    value = _decimal(form.get('value'))
    start_value = _decimal(form.get('start_value'))
    entered = {'value': (form.get('value') or '')[:20], 'reason': reason,
        'start_value': (form.get('start_value') or '')[:20]}
    if value is None or value is False or start_value is False:
        return walk_page(ctx, building, meter, status=400,
            error=ctx._("Enter a valid reading."), form=entered)
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
        rollback()
        return walk_page(ctx, building, meter, status=409,
            error=error_text(exception), form=entered)
    return ctx.redirect('/staff/meters/%s' % bref)
