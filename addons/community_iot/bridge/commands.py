# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Build the MQTT message of a command (pure)."""
import json


def build(family, key, action, command_id, roots):
    """Return (topic, payload str) switching device ``key`` of ``family``
    ``action`` ('on'/'off'); raises ValueError for unknown families."""
    on = action == 'on'
    state = 'ON' if on else 'OFF'
    root = roots.get(family, '')
    prefix = root + '/' if root else ''
    if family == 'zigbee2mqtt':
        return prefix + key + '/set', json.dumps({'state': state})
    if family == 'tasmota':
        return prefix + 'cmnd/' + key + '/POWER', state
    if family == 'shelly':
        return prefix + key + '/rpc', json.dumps({
                'id': command_id, 'src': prefix + key + '/reply',
                'method': 'Switch.Set', 'params': {'id': 0, 'on': on}})
    if family == 'generic':
        return prefix + key + '/set', json.dumps(
            {'state': state, 'command_id': command_id})
    raise ValueError("no command for family %r" % family)
