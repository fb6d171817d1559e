# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Build the MQTT message of a command (pure): each family's adapter
encodes its own (``Adapter.command``)."""
from .adapters import command


def build(family, key, action, command_id, roots, expires=None, data=None):
    """Return (topic, payload str) of ``action`` to device ``key`` of
    ``family`` (with its expiry, naive UTC, when it has one, and its
    parameters ``data``, a dict, for the actions that carry some); raises
    ValueError for unknown families or actions."""
    return command(family, key, action, command_id, roots, expires=expires,
        data=data)
