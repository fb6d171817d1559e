# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CommunityNotificationTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_notification module"
    module = 'community_notification'
    extras = ['community_billing', 'community_service',
        'community_announcement']


del ModuleTestCase
