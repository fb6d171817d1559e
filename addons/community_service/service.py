# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Service requests (报修/投诉/建议), their categories and follow-up calls."""
import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.modules.community_base.unit import UnitCompoundMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateAction, StateView, Wizard

from .exceptions import ServiceRequestError

KINDS = [
    ('repair', "Repair"),
    ('complaint', "Complaint"),
    ('suggestion', "Suggestion"),
    ]
URGENCIES = [
    ('low', "Low"),
    ('normal', "Normal"),
    ('high', "High"),
    ]
STATES = [
    ('new', "New"),
    ('assigned', "Assigned"),
    ('in_progress', "In Progress"),
    ('done', "Done"),
    ('confirmed', "Confirmed"),
    ('cancelled', "Cancelled"),
    ]
RATINGS = [
    (None, ""),
    ('1', "1 - Very dissatisfied"),
    ('2', "2 - Dissatisfied"),
    ('3', "3 - Neutral"),
    ('4', "4 - Satisfied"),
    ('5', "5 - Very satisfied"),
    ]
OPEN_STATES = {'new', 'assigned', 'in_progress'}


def _now():
    "Return the current UTC time (database times are UTC)."
    return dt.datetime.now()


class ServiceCategory(DeactivableMixin, ModelSQL, ModelView):
    """Service category with its service-level agreement (SLA).

    ``response_hours``: hours from filing until a technician is assigned;
    ``completion_hours``: hours from filing until the work is done.
    Both are wall-clock hours; empty means no target.
    """
    __name__ = 'community.service.category'
    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code")
    kind = fields.Selection(KINDS, "Kind", required=True)
    response_hours = fields.Integer("Response Time (h)",
        domain=['OR', ('response_hours', '=', None),
            ('response_hours', '>=', 0)])
    completion_hours = fields.Integer("Completion Time (h)",
        domain=['OR', ('completion_hours', '=', None),
            ('completion_hours', '>=', 0)])
    chargeable = fields.Boolean("Chargeable",
        help="Repairs of this category are charged to the unit by default.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @staticmethod
    def default_kind():
        return 'repair'


class ServiceRequest(UnitCompoundMixin, Workflow, ModelSQL, ModelView):
    """Service request: a repair (报修), complaint (投诉) or suggestion.

    Workflow: new → assigned (dispatched by a supervisor, or claimed by a
    technician: 抢单) → in progress → done → confirmed by the resident with
    a satisfaction rating 1-5, or reopened (back to assigned). Open requests
    may be cancelled.

    SLA: ``response_due``/``completion_due`` are the filing time plus the
    category's hours; ``overdue`` is true while a due time has passed and
    the corresponding step is not reached.

    Chargeable repairs: ``chargeable`` and ``charge_amount`` (Decimal,
    2 digits, ROUND_HALF_UP) say what is owed; ``pending_charges(units)``
    lists done or confirmed chargeable requests not yet on a bill and
    ``mark_charged(requests, origin)`` records the bill line that took them.

    ``token`` is a random reference used in portal URLs instead of the id.
    """
    __name__ = 'community.service.request'
    _rec_name = 'number'
    number = fields.Char("Number", readonly=True)
    token = fields.Char("Token", readonly=True, required=True, strip=False)
    compound = fields.Many2One(
        'community.compound', "Compound", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'new'})
    unit = fields.Many2One(
        'community.unit', "Unit", ondelete='RESTRICT',
        domain=[('compound', '=', Eval('compound', -1))],
        states={'readonly': Eval('state') != 'new'})
    requester = fields.Many2One(
        'party.party', "Requester", ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'new'})
    contact_phone = fields.Char("Contact Phone")
    kind = fields.Selection(KINDS, "Kind", required=True,
        states={'readonly': Eval('state') != 'new'})
    category = fields.Many2One(
        'community.service.category', "Category", ondelete='RESTRICT',
        domain=[('kind', '=', Eval('kind'))])
    title = fields.Char("Title", required=True)
    description = fields.Text("Description")
    urgency = fields.Selection(URGENCIES, "Urgency", required=True)
    origin = fields.Reference("Origin", selection='get_origin',
        readonly=True,
        help="The record that raised the request, e.g. an IoT alarm.")
    channel = fields.Selection([
            ('office', "Office"),
            ('phone', "Phone"),
            ('portal', "Resident Portal"),
            ('device', "Device"),
            ], "Channel", required=True)
    filed_at = fields.Timestamp("Filed at", required=True, readonly=True)
    assigned_to = fields.Many2One('res.user', "Technician",
        states={
            'readonly': ~Eval('state').in_(['new', 'assigned']),
            })
    assigned_at = fields.Timestamp("Assigned at", readonly=True)
    started_at = fields.Timestamp("Started at", readonly=True)
    done_at = fields.Timestamp("Done at", readonly=True)
    confirmed_at = fields.Timestamp("Confirmed at", readonly=True)
    resolution = fields.Text("Resolution",
        states={'required': Eval('state').in_(['done', 'confirmed'])})
    rating = fields.Selection(RATINGS, "Satisfaction",
        states={
            'required': (Eval('state') == 'confirmed')
            & Bool(Eval('requester')),
            'readonly': Eval('state') != 'done',
            })
    rating_comment = fields.Text("Resident Comment",
        states={'readonly': Eval('state') != 'done'})
    reopen_count = fields.Integer("Reopened", readonly=True)
    chargeable = fields.Boolean("Chargeable",
        states={'invisible': Eval('kind') != 'repair'})
    charge_amount = fields.Numeric("Charge", digits=(16, 2),
        states={
            'invisible': ~Eval('chargeable'),
            'required': Bool(Eval('chargeable')),
            })
    charged = fields.Boolean("Charged", readonly=True,
        help="The charge is on a bill.")
    charge_origin = fields.Char("Charge Bill Line", readonly=True)
    follow_ups = fields.One2Many(
        'community.service.request.follow_up', 'request', "Follow-up Calls")
    response_due = fields.Function(
        fields.Timestamp("Response Due"), 'get_due')
    completion_due = fields.Function(
        fields.Timestamp("Completion Due"), 'get_due')
    overdue = fields.Function(fields.Boolean("Overdue"), 'get_overdue')
    photo_count = fields.Function(
        fields.Integer("Photos"), 'get_photo_count')
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('token_unique', Unique(t, t.token),
                'community_service.msg_service_request_token_unique'),
            ]
        cls._order = [('filed_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('new', 'assigned'),
            ('assigned', 'in_progress'),
            ('assigned', 'new'),
            ('in_progress', 'done'),
            ('done', 'confirmed'),
            ('done', 'assigned'),
            ('new', 'cancelled'),
            ('assigned', 'cancelled'),
            ('in_progress', 'cancelled'),
            }
        cls._buttons.update({
                'dispatch': {
                    'invisible': Eval('state') != 'new',
                    'readonly': ~Eval('assigned_to'),
                    'icon': 'tryton-forward',
                    },
                'claim': {
                    'invisible': Eval('state') != 'new',
                    'icon': 'tryton-forward',
                    },
                'unassign': {
                    'invisible': Eval('state') != 'assigned',
                    'icon': 'tryton-back',
                    },
                'start': {
                    'invisible': Eval('state') != 'assigned',
                    'icon': 'tryton-launch',
                    },
                'do': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-ok',
                    },
                'confirm': {
                    'invisible': Eval('state') != 'done',
                    'readonly': ~Eval('rating'),
                    'icon': 'tryton-ok',
                    },
                'reopen': {
                    'invisible': Eval('state') != 'done',
                    'icon': 'tryton-undo',
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(list(OPEN_STATES)),
                    'icon': 'tryton-cancel',
                    },
                })

    @staticmethod
    def default_token():
        return uuid.uuid4().hex

    @classmethod
    def default_compound(cls):
        "The compound of the unit given by the context (from a unit)."
        unit = Transaction().context.get('default_unit')
        if isinstance(unit, int) and unit >= 0:
            return Pool().get('community.unit')(unit).compound.id

    @staticmethod
    def default_state():
        return 'new'

    @staticmethod
    def default_kind():
        return 'repair'

    @staticmethod
    def default_urgency():
        return 'normal'

    @staticmethod
    def default_channel():
        return 'office'

    @staticmethod
    def default_filed_at():
        return _now()

    @staticmethod
    def default_reopen_count():
        return 0

    @staticmethod
    def default_chargeable():
        return False

    @staticmethod
    def default_charged():
        return False

    @classmethod
    def _get_origin(cls):
        "Return the model names allowed as origin (extended by IoT)."
        return ['community.service.request']

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        get_name = IrModel.get_name
        return [(None, '')] + [(m, get_name(m)) for m in cls._get_origin()]

    @fields.depends('unit', '_parent_unit.compound')
    def on_change_unit(self):
        if self.unit:
            self.compound = self.unit.compound

    @fields.depends('category', 'kind', 'chargeable')
    def on_change_category(self):
        if self.category:
            self.kind = self.category.kind
            self.chargeable = bool(self.category.chargeable)

    def get_due(self, name):
        if not self.category or not self.filed_at:
            return None
        hours = getattr(self.category, name.replace('_due', '_hours'))
        if hours is None:
            return None
        return self.filed_at + dt.timedelta(hours=hours)

    def is_overdue(self, now=None):
        """Return True when an SLA due time has passed unmet at ``now``."""
        now = now or _now()
        if self.state in {'new'} and self.response_due:
            if now > self.response_due:
                return True
        if self.state in OPEN_STATES and self.completion_due:
            if now > self.completion_due:
                return True
        return False

    @classmethod
    def get_overdue(cls, requests, name):
        now = _now()
        return {r.id: r.is_overdue(now) for r in requests}

    @classmethod
    def get_photo_count(cls, requests, name):
        Attachment = Pool().get('ir.attachment')
        result = {r.id: 0 for r in requests}
        attachments = Attachment.search([
                ('resource', 'in', [str(r) for r in requests]),
                ])
        for attachment in attachments:
            result[attachment.resource.id] += 1
        return result

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            values.setdefault('token', cls.default_token())
        requests = super().create(vlist)
        to_number = [r for r in requests if not r.number]
        for request in to_number:
            request.number = 'SR%s%05d' % (
                request.filed_at.strftime('%y%m%d'), request.id)
        cls.save(to_number)
        return requests

    @classmethod
    def copy(cls, requests, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'token', 'assigned_to', 'assigned_at',
                'started_at', 'done_at', 'confirmed_at', 'rating',
                'rating_comment', 'resolution', 'follow_ups', 'charged',
                'charge_origin', 'origin']:
            default.setdefault(name, None)
        default.setdefault('filed_at', None)
        default.setdefault('reopen_count', 0)
        return super().copy(requests, default=default)

    @classmethod
    def validate_fields(cls, requests, field_names):
        super().validate_fields(requests, field_names)
        if field_names & {'unit', 'compound'}:
            for request in requests:
                if request.unit and request.unit.compound != request.compound:
                    raise ServiceRequestError(gettext(
                            'community_service.msg_service_request_unit_compound',
                            request=request.rec_name))
        if field_names & {'charge_amount'}:
            for request in requests:
                if request.charge_amount is not None and (
                        request.charge_amount < 0):
                    raise ServiceRequestError(gettext(
                            'community_service.msg_service_request_charge',
                            request=request.rec_name))

    @classmethod
    def check_modification(cls, mode, requests, values=None, external=False):
        super().check_modification(
            mode, requests, values=values, external=external)
        if mode == 'delete':
            for request in requests:
                if request.state not in {'new', 'cancelled'}:
                    raise ServiceRequestError(gettext(
                            'community_service.msg_service_request_delete',
                            request=request.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('assigned')
    def dispatch(cls, requests):
        "Assign to the technician set in ``assigned_to`` (supervisor)."
        for request in requests:
            if not request.assigned_to:
                raise ServiceRequestError(gettext(
                        'community_service.msg_service_request_no_technician',
                        request=request.rec_name))
        cls.write(requests, {'assigned_at': _now()})

    @classmethod
    @ModelView.button
    def claim(cls, requests):
        """Claim new requests for the current user (抢单).

        Raises ServiceRequestError if one is no longer new (claimed by
        someone else); the row lock makes two claims of one request
        serialise.
        """
        user = Transaction().user
        cls.lock(requests)
        for request in requests:
            if request.state != 'new':
                raise ServiceRequestError(gettext(
                        'community_service.msg_service_request_claimed',
                        request=request.rec_name))
        cls.write(requests, {
                'assigned_to': user,
                'assigned_at': _now(),
                'state': 'assigned',
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('new')
    def unassign(cls, requests):
        cls.write(requests, {'assigned_to': None, 'assigned_at': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start(cls, requests):
        cls.write(requests, {'started_at': _now()})

    @classmethod
    @ModelView.button
    def do(cls, requests):
        """Mark the work done; a request with no resident to confirm it
        (raised by a device or by the staff) is closed at once."""
        cls._do(requests)
        cls.close_unattended(requests)

    @classmethod
    def close_unattended(cls, requests):
        "Close the done requests that have no requester to confirm them."
        requests = [r for r in cls.browse(requests)
            if r.state == 'done' and not r.requester]
        if requests:
            cls.write(requests, {
                    'state': 'confirmed',
                    'confirmed_at': _now(),
                    })

    @classmethod
    @Workflow.transition('done')
    def _do(cls, requests):
        to_write = []
        for request in requests:
            values = {'done_at': _now()}
            if not request.resolution:
                values['resolution'] = '-'
            if request.chargeable and request.charge_amount is not None:
                values['charge_amount'] = request.charge_amount.quantize(
                    Decimal('0.01'), rounding=ROUND_HALF_UP)
            to_write.extend([[request], values])
        if to_write:
            cls.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, requests):
        "Confirm done requests; each must carry a rating 1-5."
        for request in requests:
            if not request.rating:
                raise ServiceRequestError(gettext(
                        'community_service.msg_service_request_rating',
                        request=request.rec_name))
        cls.write(requests, {'confirmed_at': _now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('assigned')
    def reopen(cls, requests):
        "Send done requests back to their technician."
        to_write = []
        for request in requests:
            to_write.extend([[request], {
                        'reopen_count': (request.reopen_count or 0) + 1,
                        'done_at': None,
                        'started_at': None,
                        'rating': None,
                        'assigned_at': _now(),
                        }])
        if to_write:
            cls.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, requests):
        pass

    @classmethod
    def pending_charges(cls, units):
        """Return chargeable done/confirmed requests of ``units`` not billed.

        For the billing run: each request's ``charge_amount`` becomes a line
        of the unit's next bill; then call ``mark_charged``.
        """
        return cls.search([
                ('unit', 'in', [u.id for u in units]),
                ('chargeable', '=', True),
                ('charged', '=', False),
                ('charge_amount', '>', 0),
                ('state', 'in', ['done', 'confirmed']),
                ])

    @classmethod
    def mark_charged(cls, requests, origin=None):
        "Record that the charges of ``requests`` are on a bill (``origin``)."
        cls.write(requests, {
                'charged': True,
                'charge_origin': str(origin) if origin else None,
                })


class ServiceRequestFollowUp(ModelSQL, ModelView):
    "Follow-up call (回访) on a service request."
    __name__ = 'community.service.request.follow_up'
    request = fields.Many2One(
        'community.service.request', "Request", required=True,
        ondelete='CASCADE')
    compound = fields.Function(
        fields.Many2One('community.compound', "Compound"),
        'on_change_with_compound', searcher='search_compound')
    date = fields.Timestamp("Date", required=True)
    user = fields.Many2One('res.user', "Caller", required=True)
    method = fields.Selection([
            ('phone', "Phone"),
            ('visit', "Visit"),
            ('message', "Message"),
            ], "Method", required=True)
    reached = fields.Boolean("Reached")
    satisfaction = fields.Selection(RATINGS, "Satisfaction")
    notes = fields.Text("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('date', 'DESC'))

    @staticmethod
    def default_date():
        return _now()

    @staticmethod
    def default_user():
        return Transaction().user

    @staticmethod
    def default_method():
        return 'phone'

    @staticmethod
    def default_reached():
        return True

    @fields.depends('request', '_parent_request.compound')
    def on_change_with_compound(self, name=None):
        return self.request.compound if self.request else None

    @classmethod
    def search_compound(cls, name, clause):
        return [('request.' + clause[0],) + tuple(clause[1:])]


class Unit(metaclass=PoolMeta):
    __name__ = 'community.unit'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'open_service_request': {
                    'invisible': Eval('id', -1) < 0,
                    'icon': 'tryton-add',
                    'depends': ['id'],
                    },
                })

    @classmethod
    @ModelView.button_action('community_service.wizard_service_intake')
    def open_service_request(cls, units):
        "Open the front desk's short form of a repair request (报修)."


class ServiceIntakeStart(ModelView):
    "Open a Service Request"
    __name__ = 'community.service.intake.start'
    unit = fields.Many2One('community.unit', "Unit", required=True)
    residents = fields.Many2Many('party.party', None, None, "Residents",
        readonly=True)
    requester = fields.Many2One('party.party', "Requester",
        domain=[('id', 'in', Eval('residents', []))],
        help="The resident of the unit who called.")
    contact_phone = fields.Char("Contact Phone")
    kind = fields.Selection(KINDS, "Kind", required=True)
    category = fields.Many2One('community.service.category', "Category",
        domain=[('kind', '=', Eval('kind'))])
    title = fields.Char("Title", required=True)
    description = fields.Text("Description")
    urgency = fields.Selection(URGENCIES, "Urgency", required=True)
    channel = fields.Selection([
            ('phone', "Phone"),
            ('office', "Office"),
            ], "Channel", required=True)

    # the residents as on_change_with: a form that is no record cannot
    # return a list as a change
    @fields.depends('unit')
    def on_change_with_residents(self):
        return [p.id for p in unit_residents(self.unit)[0]]

    @fields.depends('unit', 'requester')
    def on_change_unit(self):
        self.requester = unit_residents(self.unit)[1]


def unit_residents(unit):
    """The parties living in ``unit`` today (owners, tenants, members) and
    the one who most likely calls: the payer, else a tenant, else the
    first."""
    if not unit:
        return [], None
    Date = Pool().get('ir.date')
    today = Date.today()
    active = [r for r in unit.residencies if r.is_active(today)]
    order = {'tenant': 0, 'owner': 1, 'member': 2}
    active.sort(key=lambda r: (not r.payer, order.get(r.role, 3)))
    parties = []
    for residency in active:
        if residency.party not in parties:
            parties.append(residency.party)
    return parties, (parties[0] if parties else None)


class ServiceIntake(Wizard):
    """Open a Service Request (报修登记)

    The front desk takes a resident's call: from the unit, the request's
    unit, its resident and the phone channel are already there; the
    request is created and shown."""
    __name__ = 'community.service.intake'
    start = StateView('community.service.intake.start',
        'community_service.service_intake_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Create", 'create_', 'tryton-ok', default=True),
            ])
    create_ = StateAction('community_service.act_service_request_form')

    def default_start(self, fields):
        values = {
            'kind': 'repair',
            'urgency': 'normal',
            'channel': 'phone',
            }
        if self.model and self.model.__name__ == 'community.unit' \
                and self.record:
            residents, requester = unit_residents(self.record)
            values.update({
                    'unit': self.record.id,
                    'residents': [p.id for p in residents],
                    'requester': requester.id if requester else None,
                    })
        return values

    def do_create_(self, action):
        Request = Pool().get('community.service.request')
        form = self.start
        request, = Request.create([{
                    'unit': form.unit.id,
                    'compound': form.unit.compound.id,
                    'requester': (form.requester.id
                        if form.requester else None),
                    'contact_phone': form.contact_phone,
                    'kind': form.kind,
                    'category': form.category.id if form.category else None,
                    'chargeable': bool(form.category
                        and form.category.chargeable
                        and form.kind == 'repair'),
                    'title': form.title,
                    'description': form.description,
                    'urgency': form.urgency,
                    'channel': form.channel,
                    }])
        action['views'].reverse()
        return action, {'res_id': [request.id]}
