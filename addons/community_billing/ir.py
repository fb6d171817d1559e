# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import PoolMeta

from trytond.modules.community_base.migration import adopt_model_data

#: the models that came from community_base (with their translations)
MODELS = [
    'community.apportionment',
    'community.apportionment.line',
    'community.arrears.building',
    'community.arrears.compound',
    'community.arrears.unit',
    'community.arrears.xlsx',
    'community.bill',
    'community.bill.line',
    'community.bill.run',
    'community.bill.run.create',
    'community.bill.run.create.start',
    'community.billing.configuration',
    'community.billing.configuration.company',
    'community.billing.create_chart',
    'community.billing.create_chart.start',
    'community.dunning.letter',
    'community.fee.assignment',
    'community.fee.item',
    'community.fee.price',
    'community.fee.tier',
    'community.late_fee',
    'community.late_fee.charge',
    'community.late_fee.charge.start',
    'community.late_fee.term',
    'community.late_fee.waiver',
    'community.meter',
    'community.meter.reading',
    'community.meter.reading.import',
    'community.meter.reading.import.done',
    'community.meter.reading.import.start',
    'community.meter.sheet',
    'community.payment',
    'community.payment.line',
    'community.payment.receipt',
    'community.refund',
    ]


class ModelData(metaclass=PoolMeta):
    __name__ = 'ir.model.data'

    @classmethod
    def __register__(cls, module):
        # first class of the module: before its models and XML are loaded,
        # take over what community_base created for them
        if module == 'community_billing':
            adopt_model_data(module, models=MODELS)
        super().__register__(module)
