# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import PoolMeta

from trytond.modules.community_base.migration import adopt_model_data

#: the models that came from community_base (with their translations)
MODELS = [
    'community.announcement',
    'community.announcement.receipt',
    ]


class ModelData(metaclass=PoolMeta):
    __name__ = 'ir.model.data'

    @classmethod
    def __register__(cls, module):
        # first class of the module: before its models and XML are loaded,
        # take over what community_base created for them
        if module == 'community_announcement':
            adopt_model_data(module, models=MODELS)
        super().__register__(module)
