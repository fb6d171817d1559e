# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
import pathlib
import unittest
from decimal import Decimal

from babel.messages.pofile import read_po

from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.community_base.party import mask
from trytond.modules.community_portal.portal import helpers, i18n, nav
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase

MODULE = pathlib.Path(__file__).resolve().parent.parent


class CommunityPortalTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_portal module"
    module = 'community_portal'
    extras = ['community_iot']


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
        """The labels of the navigation entries are in the catalogues (of
        this module, or of the module adding the entry)"""
        import trytond.modules.community_portal.routes  # noqa: F401
        messages = {}
        # each registered catalogue is <module>/portal/locale
        for directory in [MODULE / 'portal' / 'locale'] + list(
                i18n._locale_dirs):
            messages.update(i18n.extract(directory.parent.parent))
        for entry in nav.nav_entries(nav.RESIDENT) + nav.nav_entries(
                nav.STAFF):
            self.assertIn(entry.label, messages)
            self.assertNotEqual(
                i18n.gettext('zh_CN', entry.label), entry.label)



class PortalHelpersTestCase(unittest.TestCase):
    "How the pages show values"

    def test_money(self):
        "Money: ¥, two decimals, never in exponent notation"
        self.assertEqual(helpers.money(Decimal('3.1E+2')), '¥310.00')
        self.assertEqual(helpers.money(Decimal('1E+1')), '¥10.00')
        self.assertEqual(helpers.money(Decimal('0.605')), '¥0.61')
        self.assertEqual(helpers.money(None), '¥0.00')
        self.assertEqual(helpers.decimal2(Decimal('1.1E+2')), '110.00')

    def test_localtime(self):
        "Times of the database (UTC) in the compound's time zone"
        compound = type('C', (), {'timezone': 'Asia/Urumqi'})()
        value = dt.datetime(2026, 3, 16, 1, 30)
        self.assertEqual(helpers.localtime(value), '2026-03-16 09:30')
        self.assertEqual(helpers.localtime(value, compound),
            '2026-03-16 07:30')
        self.assertEqual(helpers.localtime(None), '')

    def test_one_mask(self):
        "The portal masks as community_base does"
        for value in ['13800138000', '11010519491231002X']:
            self.assertEqual(helpers.mask_mobile(value), mask(value))
            self.assertEqual(helpers.mask_identifier(value), mask(value))

    def test_parse_decimal(self):
        "Numbers typed in forms: plain digits only"
        self.assertEqual(helpers.parse_decimal('12,50'), Decimal('12.50'))
        for text in ['NaN', 'Infinity', '1e3', '-1', '', '1.1234567']:
            self.assertIsNone(helpers.parse_decimal(text), text)

    def test_qr_svg_without_style(self):
        "QR codes are inline SVG without style attributes (CSP)"
        svg = helpers.qr_svg('http://example.com/db/portal/sandbox/x')
        self.assertTrue(svg.startswith('<svg'))
        self.assertNotIn('style=', svg)

    def test_compound_nav(self):
        "A compound's services in its order, home first"
        import trytond.modules.community_portal.routes  # noqa: F401
        self.assertEqual([e.key for e in nav.compound_nav(None)],
            [e.key for e in nav.nav_entries(nav.RESIDENT)])
        self.assertEqual(
            [e.key for e in nav.compound_nav(['requests', 'bills', 'nope'])],
            ['home', 'requests', 'bills', 'inbox'])
        # the inbox is always shown, before "Me"; no compound enables it
        self.assertEqual(
            [e.key for e in nav.compound_nav(['bills', 'profile'])],
            ['home', 'bills', 'inbox', 'profile'])
        self.assertNotIn('inbox', dict(nav.nav_keys()))

    def test_nav_of_a_module_not_activated(self):
        """An entry naming a model is left out in a database whose pool
        lacks it (its module not activated), kept where it has it"""
        import trytond.modules.community_portal.routes  # noqa: F401

        class FakePool:
            def __init__(self, models):
                self.models = models

            def get(self, name):
                if name not in self.models:
                    raise KeyError(name)
                return name
        nav.register_nav('test_absent', 'Absent', 'absent', order=26,
            model='test.absent.model')
        nav.register_nav('test_staff_absent', 'Absent', 'staff/absent',
            audience=nav.STAFF, service='test_absent')
        try:
            without, with_ = FakePool(set()), FakePool({'test.absent.model'})
            for enabled in [None, ['test_absent', 'bills']]:
                self.assertNotIn('test_absent', [e.key
                        for e in nav.compound_nav(enabled, without)])
                self.assertIn('test_absent', [e.key
                        for e in nav.compound_nav(enabled, with_)])
            self.assertNotIn('test_absent', dict(nav.nav_keys(
                        nav.RESIDENT, without)))
            self.assertNotIn('test_staff_absent', [e.key
                    for e in nav.staff_nav(None, without)])
            self.assertIn('test_staff_absent', [e.key
                    for e in nav.staff_nav(None, with_)])
        finally:
            nav._entries.pop('test_absent')
            nav._entries.pop('test_staff_absent')


del ModuleTestCase
