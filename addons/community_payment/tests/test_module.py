# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CommunityPaymentTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_payment module"
    module = 'community_payment'


del ModuleTestCase
