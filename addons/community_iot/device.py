# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Devices of a compound and the places they are installed at."""
import datetime as dt
import hashlib
import hmac
import json
import secrets

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import DeviceError

FAMILIES = [
    ('zigbee2mqtt', "Zigbee2MQTT"),
    ('tasmota', "Tasmota"),
    ('shelly', "Shelly Gen2"),
    ('generic', "Generic JSON"),
    ('access', "Access Controller (JSON)"),
    ('hikvision', "Hikvision ISAPI (HTTP)"),
    ('zkteco', "ZKTeco ADMS (HTTP)"),
    ('dean', "Face Terminal (德安 MQTT)"),
    ]
CAPABILITIES = [
    ('contact', "Contact"),
    ('smoke', "Smoke"),
    ('water_leak', "Water Leak"),
    ('sos', "SOS Button"),
    ('motion', "Motion"),
    ('tamper', "Tamper"),
    ('fall', "Fall Detection"),
    ('battery', "Battery"),
    ('power', "Power Meter"),
    ('energy', "Energy Meter"),
    ('switch', "Switch"),
    ('button', "Button"),
    ('temperature', "Temperature"),
    ]


class Place(DeactivableMixin, ModelSQL, ModelView):
    "A place of a compound that is not a building, entrance or unit"
    __name__ = 'community.iot.place'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='CASCADE')
    kind = fields.Selection([
            ('gate', "Gate"),
            ('parking', "Parking Lot"),
            ('common_area', "Common Area"),
            ('plant_room', "Plant Room"),
            ('other', "Other"),
            ], "Kind", required=True)
    name = fields.Char("Name", required=True)

    @classmethod
    def default_kind(cls):
        return 'common_area'


class Device(DeactivableMixin, Workflow, ModelSQL, ModelView):
    """A connected device (sensor, button, plug, meter, relay …).

    ``key`` is the identifier the device uses in its MQTT topics: the
    Zigbee2MQTT friendly name (may contain ``/``), the Tasmota topic, the
    Shelly topic prefix or the generic JSON device id. It is unique per
    family. New families are added by extending the ``family`` selection
    (in ``__setup__``) and registering an adapter (a
    ``bridge.adapters.base.Adapter``) in
    ``community_iot.bridge.adapters.ADAPTERS``.
    """
    __name__ = 'community.iot.device'
    _rec_name = 'name'
    name = fields.Char("Name", required=True)
    compound = fields.Many2One(
        'community.compound', "Compound", ondelete='RESTRICT',
        states={'required': Eval('state') == 'confirmed'})
    building = fields.Many2One(
        'community.building', "Building", ondelete='SET NULL',
        domain=[If(Eval('compound'),
                ('compound', '=', Eval('compound', -1)), ())])
    entrance = fields.Many2One(
        'community.entrance', "Entrance", ondelete='SET NULL',
        domain=[If(Eval('building'),
                ('building', '=', Eval('building', -1)), ())])
    unit = fields.Many2One(
        'community.unit', "Unit", ondelete='SET NULL',
        domain=[If(Eval('compound'),
                ('compound', '=', Eval('compound', -1)), ())])
    place = fields.Many2One(
        'community.iot.place', "Place", ondelete='SET NULL',
        domain=[If(Eval('compound'),
                ('compound', '=', Eval('compound', -1)), ())],
        help="A gate, parking lot or common area.")
    family = fields.Selection(FAMILIES, "Family", required=True,
        states={'readonly': Eval('state') != 'discovered'})
    key = fields.Char("Topic Key", required=True,
        help="The name of the device in its MQTT topics.")
    model = fields.Char("Model")
    vendor = fields.Char("Vendor")
    ieee_address = fields.Char("IEEE Address")
    serial = fields.Char("Serial Number")
    mac = fields.Char("MAC Address")
    capabilities = fields.MultiSelection(CAPABILITIES, "Capabilities")
    state = fields.Selection([
            ('discovered', "Discovered"),
            ('confirmed', "Confirmed"),
            ], "State", readonly=True, required=True)
    discovery = fields.Selection([
            (None, ""),
            ('zigbee2mqtt', "Zigbee2MQTT bridge/devices"),
            ('homeassistant', "Home Assistant discovery"),
            ('manual', "Manual"),
            ], "Discovered By", readonly=True)
    discovery_entries = fields.Text("Discovery Entries", readonly=True,
        help="The Home Assistant discovery config topics (below the root) "
        "that announce the device, as a JSON list.")
    removed = fields.Timestamp("Removed", readonly=True,
        help="When the discovery source withdrew the device (it was "
        "deactivated then; announced again, it is reactivated).")
    availability = fields.Selection([
            ('unknown', "Unknown"),
            ('online', "Online"),
            ('offline', "Offline"),
            ], "Availability", readonly=True, required=True)
    last_seen = fields.Timestamp("Last Seen", readonly=True,
        help="Time of the last message received from the device.")
    state_time = fields.Timestamp("State Time", readonly=True,
        help="The device time of the newest reading applied to the state: "
        "an older reading arriving later does not overwrite it.")
    battery = fields.Integer("Battery (%)", readonly=True)
    link_quality = fields.Integer("Link Quality", readonly=True,
        help="0–255 for Zigbee devices.")
    expected_interval = fields.Integer("Expected Interval (min)",
        help="The device is marked offline when nothing is heard "
        "within this many minutes. Empty: no check.")
    latest_state = fields.Text("Latest State", readonly=True,
        help="The last state reported by the device, as JSON.")
    push_token_hash = fields.Char("Push Token Hash", readonly=True,
        strip=False, states={'invisible': True},
        help="SHA-256 of the token a device pushing over HTTP (Hikvision "
        "ISAPI) presents; the token itself is never stored.")
    events = fields.One2Many('community.iot.event', 'device', "Events",
        readonly=True)
    alarms = fields.One2Many('community.iot.alarm', 'device', "Alarms",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('family_key_unique', Unique(t, t.family, t.key),
                'community_iot.msg_device_key_unique'),
            ]
        cls._order = [('compound', 'ASC'), ('name', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {('discovered', 'confirmed')}
        cls._buttons.update({
                'confirm': {
                    'invisible': Eval('state') != 'discovered',
                    'icon': 'tryton-ok',
                    },
                'new_push_token': {
                    'invisible': Eval('family') != 'hikvision',
                    'icon': 'tryton-refresh',
                    },
                })

    @classmethod
    def default_state(cls):
        return 'confirmed'

    @classmethod
    def default_availability(cls):
        return 'unknown'

    @classmethod
    def default_discovery(cls):
        return 'manual'

    @fields.depends('unit', 'building', 'entrance', 'compound')
    def on_change_unit(self):
        if self.unit:
            self.compound = self.unit.compound
            self.building = self.unit.building
            self.entrance = self.unit.entrance

    @fields.depends('building', 'compound')
    def on_change_building(self):
        if self.building:
            self.compound = self.building.compound

    @property
    def state_dict(self):
        "The latest state as a dict (empty when unknown)."
        try:
            return json.loads(self.latest_state or '{}')
        except ValueError:
            return {}

    @classmethod
    @ModelView.button_action('community_iot.wizard_device_push_token')
    def new_push_token(cls, devices):
        pass

    @classmethod
    def set_push_tokens(cls, devices):
        """Give each device a new random HTTP push token (256 bits from
        ``secrets``), store only its SHA-256 and return {device id:
        token} to show once."""
        tokens = {}
        for device in devices:
            token = secrets.token_urlsafe(32)
            device.push_token_hash = hashlib.sha256(
                token.encode()).hexdigest()
            tokens[device.id] = token
        cls.save(devices)
        return tokens

    def check_push_token(self, token):
        "Whether ``token`` is the device's HTTP push token."
        if not self.push_token_hash or not token:
            return False
        return hmac.compare_digest(self.push_token_hash,
            hashlib.sha256(token.encode('utf-8', 'replace')).hexdigest())

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, devices):
        "Confirm discovered devices; each must be placed in a compound."
        for device in devices:
            if not device.compound:
                raise DeviceError(gettext(
                        'community_iot.msg_device_confirm_compound',
                        device=device.rec_name))

    @classmethod
    def check_offline(cls, now=None):
        """Mark offline the online devices not heard within their expected
        interval; an ``offline`` event is recorded for each (so rules and
        alarms apply). Returns the devices marked offline."""
        pool = Pool()
        Event = pool.get('community.iot.event')
        Rule = pool.get('community.iot.rule')
        now = now or dt.datetime.utcnow()
        devices = cls.search([
                ('availability', '!=', 'offline'),
                ('expected_interval', '>', 0),
                ('state', '=', 'confirmed'),
                ])
        silent = [d for d in devices
            if d.last_seen is None or d.last_seen
            < now - dt.timedelta(minutes=d.expected_interval)]
        if not silent:
            return []
        cls.write(silent, {'availability': 'offline'})
        events = Event.create([{
                    'device': d.id,
                    'compound': d.compound.id if d.compound else None,
                    'kind': 'offline', 'time': now,
                    'data': json.dumps({'reason': 'silent',
                            'last_seen': str(d.last_seen)}),
                    } for d in silent])
        Rule.apply(events)
        return silent


class DevicePushTokenShow(ModelView):
    "New Push Token"
    __name__ = 'community.iot.device.push_token.show'
    token = fields.Char("Token", readonly=True,
        help="Shown only now: enter it as the password of the device's "
        "HTTP host; only its hash is kept.")
    url = fields.Char("URL", readonly=True,
        help="The path of the device's HTTP host on this server.")


class DevicePushToken(Wizard):
    "New Push Token"
    __name__ = 'community.iot.device.push_token'
    start = StateTransition()
    show = StateView('community.iot.device.push_token.show',
        'community_iot.device_push_token_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def transition_start(self):
        self._token = self.model.set_push_tokens([self.record])[
            self.record.id]
        return 'show'

    def default_show(self, fields):
        from trytond.transaction import Transaction
        return {'token': getattr(self, '_token', None),
            'url': '/%s/community_iot/hikvision/%s' % (
                Transaction().database.name, self.record.key)}
