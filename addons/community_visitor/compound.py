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

    visitor_confirm_minutes = fields.Integer(
        "Walk-in Answer Time (min)", required=True,
        domain=[('visitor_confirm_minutes', '>=', 1)],
        help="Minutes the residents of the host unit have to answer for a "
        "visitor registered at the gate; then a person decides.")
    visitor_walk_in_minutes = fields.Integer(
        "Walk-in Pass Validity (min)", required=True,
        domain=[('visitor_walk_in_minutes', '>=', 1)],
        help="How long a walk-in visitor's pass may be used after they "
        "were registered at the gate.")

    @classmethod
    def default_visitor_confirm_minutes(cls):
        return 3

    @classmethod
    def default_visitor_walk_in_minutes(cls):
        return 60

    @classmethod
    def default_visitor_early_minutes(cls):
        return 30

    @classmethod
    def default_visitor_retention_days(cls):
        return 30
