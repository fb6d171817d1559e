# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import pathlib
import unittest

from babel.messages.pofile import read_po

from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.community_portal.portal import i18n, nav
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase

MODULE = pathlib.Path(__file__).resolve().parent.parent


class CommunityPortalTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_portal module"
    module = 'community_portal'


class PortalCatalogueTestCase(unittest.TestCase):
    "The texts of the portal's pages are translated"

    def test_zh_cn_catalogue_complete(self):
        "Every text of the templates and routes has a zh_CN translation"
        with open(MODULE / 'portal' / 'locale' / 'zh_CN.po', 'rb') as fp:
            translated = {m.id for m in read_po(fp, locale='zh_CN')
                if m.id and m.string and not m.fuzzy}
        messages = i18n.extract(MODULE)
        self.assertGreater(len(messages), 100)
        missing = ['%s (%s:%s)' % ((msgid,) + messages[msgid][0])
            for msgid in sorted(set(messages) - translated)]
        self.assertFalse(missing, msg="%d portal texts without zh_CN:\n%s"
            % (len(missing), '\n'.join(missing)))

    def test_navigation_labels_extracted(self):
        "The labels of the navigation entries are in the catalogue"
        messages = i18n.extract(MODULE)
        for entry in nav.nav_entries(nav.RESIDENT) + nav.nav_entries(
                nav.STAFF):
            self.assertIn(entry.label, messages)
            self.assertNotEqual(
                i18n.gettext('zh_CN', entry.label), entry.label)


del ModuleTestCase
