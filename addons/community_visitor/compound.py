# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.model import fields
from trytond.pool import PoolMeta


class Compound(metaclass=PoolMeta):
    __name__ = 'community.compound'
    visitor_early_minutes = fields.Integer(
        "Visitor Early Arrival (min)", required=True,
        domain=[('visitor_early_minutes', '>=', 0)],
        help="How many minutes before the start of their window visitors "
        "may already enter. Copied onto each pass when it is issued.")
    visitor_retention_days = fields.Integer(
        "Visitor Data Retention (days)", required=True,
        domain=[('visitor_retention_days', '>=', 1)],
        help="Days after the end of a pass after which the visitor's name, "
        "phone and plate are erased (PIPL).")

    @classmethod
    def default_visitor_early_minutes(cls):
        return 30

    @classmethod
    def default_visitor_retention_days(cls):
        return 30
