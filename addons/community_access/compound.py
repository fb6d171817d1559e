# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.model import fields
from trytond.pool import PoolMeta


class Compound(metaclass=PoolMeta):
    __name__ = 'community.compound'
    access_log_retention_days = fields.Integer(
        "Access Log Retention (days)", required=True,
        domain=[('access_log_retention_days', '>=', 1)],
        help="Days after which the access decisions of the compound (whose "
        "whereabouts are sensitive personal data, PIPL art. 28) are "
        "deleted by a scheduled action.")

    @classmethod
    def default_access_log_retention_days(cls):
        return 180
