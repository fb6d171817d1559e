# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The devices of the resident's home (with community_iot): door and window
sensors, water-leak and smoke detectors, switches and plugs placed in the
resident's units, with their live state; a switch is switched through the
command outbox and shows "switching…" until the device reports the new
state. Owners and tenants see the devices of their units; household
members those an owner shared with them. Nobody else's device is ever
shown: the pages search within the account's units only."""
import json

from trytond.protocols.wrappers import abort

from .account import unverified
from .helpers import localtime
from .i18n import N_
from .nav import register_nav
from .web import parse_ref, route, sign_ref

MODEL = 'community.iot.device'
register_nav('devices', N_("My home"), 'devices', icon='home', order=45,
    model=MODEL)

#: the roles that see every device of their unit
OCCUPANTS = {'owner', 'tenant'}
SWITCH_KEYS = ('state', 'POWER')


def visible_domain(ctx):
    """The devices the resident may see: those of the units they own or
    rent, and those shared with the household in the units they are a
    member of."""
    occupied = [u for u, (_, role) in ctx.scope.items() if role in OCCUPANTS]
    member = [u for u, (_, role) in ctx.scope.items()
        if role not in OCCUPANTS]
    domain = ['OR', ('unit', 'in', occupied),
        [('unit', 'in', member), ('portal_shared', '=', True)]]
    return [('state', '=', 'confirmed'), domain]


def switch_levels(levels):
    "The switch levels of a device's state (Zigbee, Tasmota, Shelly)."
    return {k: v for k, v in levels.items()
        if k == 'state' or k.startswith('POWER') or k.endswith('.output')}


def readings(ctx, device, state):
    """[(key, label, text, alert)] of what the device reports now (its
    ``state``), in the page's language."""
    levels = state.get('_levels', {})
    shown = []
    switches = switch_levels(levels)
    if switches:
        on = all(switches.values())
        shown.append(('switch', ctx._("Switch"),
                ctx._("On") if on else ctx._("Off"), False))
    if 'contact' in levels:
        shown.append(('contact', ctx._("Door or window"),
                ctx._("Closed") if levels['contact'] else ctx._("Open"),
                not levels['contact']))
    for key, label, alarm in [
            ('water_leak', N_("Water leak"), N_("Water detected")),
            ('smoke', N_("Smoke"), N_("Smoke detected")),
            ]:
        if key in levels:
            shown.append((key, ctx._(label),
                    ctx._(alarm) if levels[key] else ctx._("Normal"),
                    bool(levels[key])))
    temperature = state.get('temperature')
    if isinstance(temperature, (int, float)):
        shown.append(('temperature', ctx._("Temperature"),
                '%.1f ℃' % temperature, False))
    if device.battery is not None:
        shown.append(('battery', ctx._("Battery"), '%s%%' % device.battery,
                device.battery < 20))
    return shown


def switchable(device):
    return 'switch' in (device.capabilities or ())


def pending_commands(ctx, devices):
    "{device id: action} of the commands not yet confirmed by the device."
    Command = ctx.pool.get('community.iot.command')
    pending = {}
    for command in Command.search([
                ('device', 'in', [d.id for d in devices]),
                ('state', 'in', ['pending', 'sent']),
                ], order=[('id', 'ASC')]):
        pending[command.device.id] = command.action
    return pending


def device_rows(ctx, devices):
    pending = pending_commands(ctx, devices) if devices else {}
    rows = []
    for device in devices:
        state = device.state_dict
        rows.append({
                'device': device,
                'ref': sign_ref('device', device.id),
                'readings': readings(ctx, device, state),
                'online': device.availability == 'online',
                'seen': localtime(device.last_seen, device.compound),
                'switchable': switchable(device),
                'on': all(switch_levels(
                        state.get('_levels', {})).values() or [False]),
                'pending': pending.get(device.id),
                'owner': ctx.scope.get(device.unit.id, (None, None))[1]
                == 'owner',
                })
    return rows


def resident_devices(ctx):
    Device = ctx.pool.get(MODEL)
    return Device.search(visible_domain(ctx),
        order=[('unit', 'ASC'), ('name', 'ASC')])


def resident_device(ctx, ref):
    "The device of ``ref`` if the resident may see it, else 404."
    return ctx.get_or_404(MODEL, [('id', '=', parse_ref('device', ref))]
        + visible_domain(ctx))


@route('/devices', service='devices')
def devices(ctx):
    if not ctx.scope:
        return unverified(ctx)
    rows = device_rows(ctx, resident_devices(ctx))
    Alarm = ctx.pool.get('community.iot.alarm')
    alarms = Alarm.search([
            ('device', 'in', [r['device'].id for r in rows]),
            ('state', '=', 'open'),
            ], order=[('id', 'DESC')], limit=20) if rows else []
    return ctx.render('devices.html', rows=rows, alarms=alarms)


@route('/devices/state', service='devices')
def devices_state(ctx):
    """The live state of the resident's devices as JSON, asked every few
    seconds by the page."""
    if not ctx.scope:
        abort(404)
    data = {}
    for row in device_rows(ctx, resident_devices(ctx)):
        data[row['ref']] = {
            'online': row['online'],
            'on': row['on'],
            'pending': row['pending'],
            'seen': row['seen'],
            'readings': {key: text for key, _, text, _ in row['readings']},
            }
    return ctx.response(json.dumps(data, ensure_ascii=False),
        content_type='application/json; charset=utf-8')


@route('/devices/<ref>/switch', methods=('POST',), readonly=False,
    service='devices')
def device_switch(ctx, ref):
    """Switch a device on or off: a command in the outbox (the bridge
    publishes it; the page shows the state once the device reports it).
    A command still pending for the device is replaced, not doubled."""
    device = resident_device(ctx, ref)
    action = ctx.request.form.get('action')
    if action not in {'on', 'off'} or not switchable(device):
        abort(400)
    Command = ctx.pool.get('community.iot.command')
    Command.cancel(Command.search([
                ('device', '=', device.id), ('state', '=', 'pending')]))
    Command.create([{'device': device.id, 'action': action}])
    return ctx.redirect('/devices')


@route('/devices/<ref>/share', methods=('POST',), readonly=False,
    service='devices')
def device_share(ctx, ref):
    "An owner shares a device of their unit with its household members."
    device = resident_device(ctx, ref)
    if ctx.scope.get(device.unit.id, (None, None))[1] != 'owner':
        abort(403)
    Device = ctx.pool.get(MODEL)
    Device.write([device], {
            'portal_shared': ctx.request.form.get('shared') == '1'})
    return ctx.redirect('/devices')
