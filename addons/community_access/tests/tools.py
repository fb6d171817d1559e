# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Fixtures for scenarios of community_access and the modules built on
it."""
import datetime as dt
from zoneinfo import ZoneInfo

from proteus import config as pconfig


def present(door, kind, value, local, config=None):
    """Present ``value`` of credential ``kind`` at ``door`` at the naive
    ``local`` time of the compound, as a device adapter does (one
    committed transaction). Returns (result, reason) of the decision."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    config = config or pconfig.get_config()
    with Transaction().start(config.database_name, 0) as transaction:
        pool = Pool(config.database_name)
        Door = pool.get('community.access.door')
        door = Door(door.id)
        zone = ZoneInfo(door.compound.timezone)
        at = local.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(
            tzinfo=None)
        decision = Door.decide(door, kind, value, at)
        result = decision.result, decision.reason
        transaction.commit()
    return result


def resident_qr(credential, local, config=None):
    """The code the resident's portal page shows for QR ``credential``,
    issued at the naive ``local`` time of its compound."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    config = config or pconfig.get_config()
    with Transaction().start(config.database_name, 0, readonly=True):
        pool = Pool(config.database_name)
        Credential = pool.get('community.access.credential')
        credential = Credential(credential.id)
        zone = ZoneInfo(credential.compound.timezone)
        at = local.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(
            tzinfo=None)
        return credential.qr_code(at)
