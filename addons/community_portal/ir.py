# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.modules.community_base.migration import adopt_model_data
from trytond.pool import PoolMeta

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
