# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Registering a resident from a unit (登记住户): a short form instead of
Tryton's party form."""
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import IdentityNumberError, RegisterError
from .party import check_resident_id, compact_mobile, mask
from .residency import ROLES


class RegisterResidentStart(ModelView):
    "Register a Resident"
    __name__ = 'community.unit.register_resident.start'
    unit = fields.Many2One('community.unit', "Unit", readonly=True)
    name = fields.Char("Name", required=True)
    id_number = fields.Char("ID Number",
        help="Resident ID number (居民身份证, 18 characters); the person "
        "is found by it when already registered. Shown masked afterwards.")
    mobile = fields.Char("Mobile")
    role = fields.Selection(ROLES, "Role", required=True)
    share = fields.Numeric("Share (%)", digits=(5, 2),
        states={
            'invisible': Eval('role') != 'owner',
            'required': Eval('role') == 'owner',
            })
    start_date = fields.Date("Start Date", required=True,
        help="Move-in date (入住日期), or the start of the lease.")
    end_date = fields.Date("End Date",
        domain=['OR',
            ('end_date', '=', None),
            ('end_date', '>=', Eval('start_date', None)),
            ],
        help="End of the lease, when known.")
    payer = fields.Boolean("Pays Bills",
        help="This person receives and pays the unit's bills.")

    @fields.depends('role', 'share', 'unit', 'start_date')
    def on_change_role(self):
        if self.role != 'owner':
            self.share = None
        elif self.share is None and self.unit and self.start_date:
            held = sum((r.share or 0) for r in self.unit.residencies
                if r.role == 'owner' and r.is_active(self.start_date))
            self.share = max(Decimal(100) - held, Decimal(0))


class RegisterResident(Wizard):
    """Register a Resident (登记住户)

    From a unit: the person (name, resident ID number, mobile) and their
    role in the unit (owner, tenant, household member) with the dates.
    Creates the party, unless one with that ID number exists, and the
    residency; the unit's status follows (a tenant makes it rented)."""
    __name__ = 'community.unit.register_resident'
    start = StateView('community.unit.register_resident.start',
        'community_base.register_resident_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Register", 'register', 'tryton-ok', default=True),
            ])
    register = StateTransition()

    def default_start(self, fields):
        Date = Pool().get('ir.date')
        return {
            'unit': self.record.id if self.record else None,
            'role': 'tenant',
            'start_date': Date.today(),
            'payer': False,
            }

    def transition_register(self):
        pool = Pool()
        Residency = pool.get('community.residency')
        form = self.start
        party = self.get_party(form.name, form.id_number, form.mobile)
        Residency.create([{
                    'unit': self.record.id,
                    'party': party.id,
                    'role': form.role,
                    'share': form.share if form.role == 'owner' else None,
                    'start_date': form.start_date,
                    'end_date': form.end_date,
                    'payer': bool(form.payer),
                    }])
        return 'end'

    @classmethod
    def get_party(cls, name, id_number=None, mobile=None):
        """The party of ``id_number`` (its mobile added when new), else a
        new party with them. Raises IdentityNumberError or RegisterError
        (translated) on an invalid ID number or mobile."""
        pool = Pool()
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        Mechanism = pool.get('party.contact_mechanism')
        number = None
        if id_number and id_number.strip():
            try:
                number = check_resident_id(id_number)
            except ValueError:
                raise IdentityNumberError(gettext(
                        'community_base.msg_register_resident_id_number',
                        number=mask(id_number.strip())))
        phone = None
        if mobile and mobile.strip():
            phone = compact_mobile(mobile)
            if not phone:
                raise RegisterError(gettext(
                        'community_base.msg_register_resident_mobile',
                        mobile=mobile.strip()))
        party = None
        if number:
            with Transaction().set_context(active_test=False):
                identifiers = Identifier.search([
                        ('type', '=', 'cn_ric'),
                        ('code', '=', number),
                        ], limit=1)
            if identifiers:
                party = identifiers[0].party
        if party is None:
            party, = Party.create([{
                        'name': name.strip(),
                        'identifiers': [('create', [{
                                        'type': 'cn_ric', 'code': number,
                                        }])] if number else [],
                        }])
        if phone and not any(
                m.type == 'mobile' and m.value_compact == phone
                for m in party.contact_mechanisms):
            Mechanism.create([{
                        'party': party.id, 'type': 'mobile',
                        'value': phone,
                        }])
        return party
