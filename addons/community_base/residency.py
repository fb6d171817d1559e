# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Residencies: the role of a party in a unit (owner, tenant, member)."""
import datetime as dt
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .exceptions import ShareError
from .unit import UnitCompoundMixin

ROLES = [
    ('owner', "Owner"),
    ('tenant', "Tenant"),
    ('member', "Household Member"),
    ]


class Residency(UnitCompoundMixin, ModelSQL, ModelView):
    """Residency: a party's role in a unit over a period.

    Owners carry a share in percent; on every day, the shares of a unit's
    owners total exactly 100. Ending a residency sets ``end_date``; records
    are never deleted so the history is kept. ``payer`` marks who pays the
    unit's bills.
    """
    __name__ = 'community.residency'
    unit = fields.Many2One(
        'community.unit', "Unit", required=True, ondelete='CASCADE')
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='RESTRICT')
    role = fields.Selection(ROLES, "Role", required=True)
    share = fields.Numeric("Share (%)", digits=(5, 2),
        states={
            'invisible': Eval('role') != 'owner',
            'required': Eval('role') == 'owner',
            })
    start_date = fields.Date("Start Date", required=True)
    end_date = fields.Date("End Date",
        domain=['OR',
            ('end_date', '=', None),
            ('end_date', '>=', Eval('start_date', None)),
            ])
    payer = fields.Boolean("Pays Bills",
        help="This party receives and pays the unit's bills.")
    active = fields.Function(fields.Boolean("Active"), 'get_active',
        searcher='search_active')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[0:0] = [('unit', 'ASC'), ('role', 'ASC'),
            ('start_date', 'ASC')]

    @staticmethod
    def default_role():
        return 'owner'

    @staticmethod
    def default_start_date():
        return Pool().get('ir.date').today()

    @fields.depends('unit', '_parent_unit.compound')
    def on_change_unit(self):
        self.compound = self.unit.compound if self.unit else None

    @fields.depends('role', 'share')
    def on_change_role(self):
        if self.role != 'owner':
            self.share = None
        elif self.share is None:
            self.share = Decimal(100)

    def get_rec_name(self, name):
        return '%s / %s' % (self.unit.rec_name, self.party.rec_name)

    def is_active(self, date):
        return (self.start_date <= date
            and (not self.end_date or self.end_date >= date))

    @classmethod
    def get_active(cls, residencies, name):
        Date = Pool().get('ir.date')
        date = Transaction().context.get('date') or Date.today()
        return {r.id: r.is_active(date) for r in residencies}

    @classmethod
    def search_active(cls, name, clause):
        Date = Pool().get('ir.date')
        date = Transaction().context.get('date') or Date.today()
        _, operator, value = clause
        active = ((operator == '=' and value)
            or (operator == '!=' and not value))
        domain = [
            ('start_date', '<=', date),
            ['OR', ('end_date', '=', None), ('end_date', '>=', date)],
            ]
        if active:
            return domain
        return ['OR',
            ('start_date', '>', date),
            ('end_date', '<', date),
            ]

    @classmethod
    def validate(cls, residencies):
        super().validate(residencies)
        # The register import checks the shares of the file in Python.
        if not Transaction().context.get('_community_skip_share_check'):
            cls.check_shares({r.unit for r in residencies})

    @classmethod
    def check_shares(cls, units):
        """Raise ShareError unless owners' shares total 100 on every day.

        The check runs at each date where the set of owners changes.
        """
        for unit in units:
            owners = [r for r in unit.residencies if r.role == 'owner']
            if not owners:
                continue
            dates = {r.start_date for r in owners}
            dates |= {r.end_date + dt.timedelta(days=1)
                for r in owners if r.end_date}
            for date in sorted(dates):
                active = [r for r in owners if r.is_active(date)]
                if not active:
                    continue
                total = sum((r.share or 0) for r in active)
                if total != 100:
                    raise ShareError(gettext(
                            'community_base.msg_residency_shares',
                            unit=unit.rec_name, date=date, total=total))

    @classmethod
    def delete(cls, residencies):
        units = {r.unit for r in residencies}
        super().delete(residencies)
        cls.check_shares(units)
        cls._update_unit_status(units)

    @classmethod
    def on_modification(cls, mode, residencies, field_names=None):
        super().on_modification(mode, residencies, field_names=field_names)
        if mode == 'create' or (field_names or set()) & {
                'unit', 'role', 'start_date', 'end_date'}:
            cls._update_unit_status({r.unit for r in residencies})

    @classmethod
    def _update_unit_status(cls, units):
        "The unit's status follows its residencies (not in register imports)."
        if Transaction().context.get('_community_skip_unit_status'):
            return
        Unit = Pool().get('community.unit')
        Unit.update_status([u.id for u in units])

    @classmethod
    def end(cls, residencies, date):
        "End the residencies on date (inclusive), keeping their history."
        cls.write(residencies, {'end_date': date})
