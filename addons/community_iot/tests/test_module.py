# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CommunityIotTestCase(CompanyTestMixin, ModuleTestCase):
    "Test community_iot module"
    module = 'community_iot'


del ModuleTestCase
