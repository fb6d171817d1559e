# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Home Assistant MQTT discovery
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).

``<root>/<component>/[<node_id>/]<object_id>/config``, retained; an empty
payload removes the entity. Each config topic (below the root) is an
``entry`` of the device it announces; the device is deactivated when all
its entries are removed. Abbreviated keys (as Tasmota publishes them)
are expanded and ``~`` is replaced by the base topic. The device is
registered in the family whose root its state topic is under (Zigbee2MQTT,
Tasmota, Shelly), else as a generic device keyed by its unique id.
"""
from .base import Adapter, DecodeError, Decoded, load_json

FAMILY = 'homeassistant'
ABBREVIATIONS = {
    'stat_t': 'state_topic', 'avty_t': 'availability_topic',
    'cmd_t': 'command_topic', 'uniq_id': 'unique_id', 'dev': 'device',
    'dev_cla': 'device_class', 'pl_on': 'payload_on',
    'pl_off': 'payload_off', 'pl_avail': 'payload_available',
    'pl_not_avail': 'payload_not_available', 'val_tpl': 'value_template',
    'json_attr_t': 'json_attributes_topic', 'name': 'name',
    'unit_of_meas': 'unit_of_measurement', 'obj_id': 'object_id',
    }
DEVICE_ABBREVIATIONS = {
    'ids': 'identifiers', 'mf': 'manufacturer', 'mdl': 'model',
    'sw': 'sw_version', 'cns': 'connections', 'name': 'name',
    }
DEVICE_CLASSES = {
    'door': 'contact', 'window': 'contact', 'opening': 'contact',
    'garage_door': 'contact', 'smoke': 'smoke', 'moisture': 'water_leak',
    'motion': 'motion', 'occupancy': 'motion', 'presence': 'motion',
    'tamper': 'tamper', 'battery': 'battery', 'power': 'power',
    'energy': 'energy', 'safety': 'sos', 'temperature': 'temperature',
    }


def expand(config):
    "Expand abbreviated keys and ``~`` (base topic) of a discovery config."
    config = {ABBREVIATIONS.get(k, k): v for k, v in config.items()}
    base = config.pop('~', None)
    if base:
        for k, v in list(config.items()):
            if k.endswith('_topic') and isinstance(v, str):
                if v.startswith('~'):
                    config[k] = base + v[1:]
                elif v.endswith('~'):
                    config[k] = v[:-1] + base
    device = config.get('device')
    if isinstance(device, dict):
        config['device'] = {
            DEVICE_ABBREVIATIONS.get(k, k): v for k, v in device.items()}
    return config


def _family(state_topic, roots):
    """(family, key) of the device whose state topic this is, by the
    families' own topic rules (longest root first), or (None, None)."""
    from . import ADAPTERS
    roots = roots or {}
    for family in sorted(('zigbee2mqtt', 'tasmota', 'shelly'),
            key=lambda f: -len(roots.get(f, ''))):
        adapter, root = ADAPTERS[family], roots.get(family, '')
        prefix = root + '/' if root else ''
        if not state_topic.startswith(prefix):
            continue
        rest = state_topic[len(prefix):]
        if not (root or adapter.rootless) or not adapter.owns(rest):
            continue
        key = adapter.device_key(rest)
        if key:
            return family, key
    return None, None


def decode(rest, payload, roots=None):
    "Decode a message whose topic is ``<root>/<rest>``."
    parts = rest.split('/')
    if len(parts) not in (3, 4) or parts[-1] != 'config':
        return Decoded(FAMILY)
    component = parts[0]
    object_id = parts[-2]
    if not payload.strip():
        # the entity is withdrawn: its device goes when all its
        # entries are (see ingest._discover)
        return Decoded(FAMILY, discovered=[{
                    'family': None, 'key': None, 'unique_id': object_id,
                    'entry': rest, 'remove': True,
                    'source': 'homeassistant'}])
    config = load_json(payload)
    if not isinstance(config, dict):
        raise DecodeError("discovery config is not an object")
    config = expand(config)
    device = config.get('device') or {}
    unique_id = config.get('unique_id') or object_id
    state_topic = config.get('state_topic') or ''
    family, key = _family(state_topic, roots)
    if not family:
        family, key = 'generic', str(unique_id)
    identifiers = device.get('identifiers') or []
    if isinstance(identifiers, str):
        identifiers = [identifiers]
    capability = DEVICE_CLASSES.get(config.get('device_class'))
    if component in ('switch', 'light'):
        capability = 'switch'
    mac = None
    for conn in device.get('connections') or []:
        if isinstance(conn, list) and len(conn) == 2 and conn[0] == 'mac':
            mac = conn[1]
    return Decoded(FAMILY, discovered=[{
                'family': family,
                'key': key,
                'name': device.get('name') or config.get('name') or key,
                'model': device.get('model'),
                'vendor': device.get('manufacturer'),
                'serial': identifiers[0] if identifiers else None,
                'mac': mac,
                'capabilities': [capability] if capability else [],
                'unique_id': unique_id,
                'entry': rest,
                'source': 'homeassistant',
                'remove': False,
                }])


class HomeAssistant(Adapter):
    family = FAMILY
    default_root = 'homeassistant'

    def decode(self, rest, payload, roots):
        return decode(rest, payload, roots)

    def cleared(self, rest):
        # an empty config payload withdraws the entity (see decode)
        return decode(rest, b'', None)


ADAPTER = HomeAssistant()
