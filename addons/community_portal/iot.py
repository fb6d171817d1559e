# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The devices of a unit in its residents' portal (with community_iot)."""
from trytond.model import fields
from trytond.pool import PoolMeta


class Device(metaclass=PoolMeta):
    __name__ = 'community.iot.device'
    portal_shared = fields.Boolean("Shared with Household",
        help="The owner shows the device to the household members of the "
        "unit in their portal (owners and tenants always see it).")

    @classmethod
    def default_portal_shared(cls):
        return False
