# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('community.access.credential|expire_ended',
                    "Expire Access Credentials Past Their Validity"),
                ('community.access.decision|purge',
                    "Delete Access Decisions Past Their Retention"),
                ('community.access.sync|send_due',
                    "Send the Credentials Due to the Devices"),
                ('community.access.sync|refresh_all',
                    "Refresh the Credentials of the Devices"),
                ])
