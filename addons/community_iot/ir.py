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
                ('community.iot.device|check_offline',
                    "Mark Silent Devices Offline"),
                ('community.iot.alarm|escalate',
                    "Escalate Unacknowledged Alarms"),
                ('community.iot.command|retry_stale',
                    "Retry or Fail Stale Commands"),
                ('community.iot.message|purge',
                    "Purge Processed MQTT Messages"),
                ])
