# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Build the MQTT message of a command (pure): each family's adapter
encodes its own (``Adapter.command``)."""
from .adapters import command


def build(family, key, action, command_id, roots):
    """Return (topic, payload str) switching device ``key`` of ``family``
    ``action`` ('on'/'off'); raises ValueError for unknown families."""
    return command(family, key, action, command_id, roots)
