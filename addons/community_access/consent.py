# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Face consent (人脸信息单独同意): a face is sensitive personal
information (PIPL art. 28–29): it is used at the doors of a compound only
with the person's separate consent, recorded here with the signed form as
an attachment, a guardian's for a child under 14 (art. 31). A face is never
the only way in (最高法 人脸识别 规定 第十条): the person keeps another
credential. Withdrawing the consent revokes the face credentials at once,
and the device sync deletes the face from every device."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from trytond.modules.community_base.party import check_resident_id

from .exceptions import AccessValidationError

#: under this age (years) a guardian consents (PIPL art. 31)
GUARDIAN_AGE = 14


def birth_date(party):
    """The birth date of ``party`` read from their resident ID number, or
    None when they have none."""
    with Transaction().set_user(0), Transaction().set_context(
            _check_access=False):
        for identifier in party.identifiers:
            if identifier.type != 'cn_ric' or not identifier.code:
                continue
            try:
                number = check_resident_id(identifier.code)
            except ValueError:
                continue
            date = (number[6:14] if len(number) == 18
                else '19' + number[6:12])
            return dt.date(int(date[:4]), int(date[4:6]), int(date[6:8]))
    return None


def age_on(birth, day):
    return day.year - birth.year - (
        (day.month, day.day) < (birth.month, birth.day))


class FaceConsent(Workflow, ModelSQL, ModelView):
    """Face Consent (人脸信息单独同意): a person's separate consent to the
    use of their face at the doors of a compound."""
    __name__ = 'community.access.face_consent'
    _states = {'readonly': Eval('state') != 'given'}
    compound = fields.Many2One('community.compound', "Compound",
        required=True, ondelete='RESTRICT',
        states={'readonly': Eval('id', -1) >= 0})
    party = fields.Many2One('party.party', "Person", required=True,
        ondelete='RESTRICT', states={'readonly': Eval('id', -1) >= 0})
    guardian = fields.Many2One('party.party', "Guardian",
        ondelete='RESTRICT', states=_states,
        help="Who consented for a child under 14 (PIPL art. 31).")
    date = fields.Date("Consent Date", required=True, states=_states)
    method = fields.Selection([
            ('paper', "Signed Form"),
            ('portal', "Portal"),
            ], "Method", required=True, states=_states,
        help="A signed form is attached to the consent.")
    withdrawn = fields.Date("Withdrawn", readonly=True)
    state = fields.Selection([
            ('given', "Given"),
            ('withdrawn', "Withdrawn"),
            ], "State", required=True, readonly=True)
    credentials = fields.One2Many('community.access.credential',
        'face_consent', "Face Credentials", readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('given', 'withdrawn')}
        cls._buttons.update({
                'withdraw': {
                    'invisible': Eval('state') != 'given',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'given'

    @staticmethod
    def default_method():
        return 'paper'

    @staticmethod
    def default_date():
        return Pool().get('ir.date').today()

    def get_rec_name(self, name):
        return '%s (%s)' % (self.party.rec_name, self.date)

    @classmethod
    def validate_fields(cls, consents, field_names):
        super().validate_fields(consents, field_names)
        if field_names & {'party', 'guardian', 'date'}:
            cls.check_guardian(consents)

    @classmethod
    def check_guardian(cls, consents):
        "A child under 14 needs a guardian's consent, not their own."
        for consent in consents:
            birth = birth_date(consent.party)
            if birth and age_on(birth, consent.date) < GUARDIAN_AGE:
                if (not consent.guardian
                        or consent.guardian == consent.party):
                    raise AccessValidationError(gettext(
                            'community_access.msg_face_consent_guardian',
                            person=consent.party.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('withdrawn')
    def withdraw(cls, consents):
        """Withdraw the consents: their face credentials are revoked at
        once (the device sync deletes the faces from every device)."""
        pool = Pool()
        Credential = pool.get('community.access.credential')
        Date = pool.get('ir.date')
        cls.write(consents, {'withdrawn': Date.today()})
        faces = Credential.search([
                ('face_consent', 'in', [c.id for c in consents]),
                ('state', 'in', ['active', 'suspended']),
                ])
        if faces:
            Credential.revoke(faces)
