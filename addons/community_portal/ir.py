# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.modules.community_base.migration import adopt_model_data
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

#: the models that community_base registered before the portal became a
#: module of its own
MODELS = [
    'community.portal.staff_session',
    'community.portal.binding_code',
    'community.portal.payment',
    'community.portal.payment.line',
    'community.portal.configuration',
    ]


class ModelData(metaclass=PoolMeta):
    __name__ = 'ir.model.data'

    @classmethod
    def __register__(cls, module):
        # registered first: the records of portal.xml and message.xml that
        # community_base created (groups' menus, binding codes' views,
        # messages…) become community_portal's before its XML is loaded
        super().__register__(module)
        if module == 'community_portal':
            adopt_model_data(module, models=MODELS)


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.domain.help += (
            '\n- "portal_party" as the id of the party of the resident '
            'of a portal page (-1 elsewhere)')

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        return (*key, Transaction().context.get('portal_party', -1))

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        context['portal_party'] = Transaction().context.get(
            'portal_party', -1)
        return context
