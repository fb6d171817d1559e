# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from decimal import Decimal

from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction


class CommunityBillingTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_billing module"
    module = 'community_billing'
    # the dunning screens and the fiscal years and periods (会计期间)
    zh_cn_office_terms = {
        'account_dunning': None,
        'account': r'fiscalyear|period',
        }

    @with_transaction()
    def test_dunning_level_name(self):
        "A dunning level reads as the office says it, not 0@procedure"
        from ..dunning import create_dunning_procedure
        company = create_company()
        with set_company(company):
            procedure = create_dunning_procedure(company)
            self.assertEqual([l.rec_name for l in procedure.levels], [
                    "第一次催缴 (物业费催缴)", "第二次催缴 (物业费催缴)",
                    "最后催告 (物业费催缴)"])

    @with_transaction()
    def test_property_chart_from_templates(self):
        "The property chart is created from the account templates"
        pool = Pool()
        Account = pool.get('account.account')
        ModelData = pool.get('ir.model.data')
        from ..account import create_property_chart
        company = create_company()
        with set_company(company):
            chart = create_property_chart(company)
            receivable = chart['receivable']
            self.assertEqual(receivable.template.id, ModelData.get_id(
                    'community_billing',
                    'account_template_property_receivable'))
            self.assertEqual((receivable.code, receivable.name),
                ('1122', "应收账款-物业费"))
            self.assertTrue(receivable.type.receivable)
            self.assertTrue(receivable.party_required)
            self.assertEqual(chart['vat6'].template.id, ModelData.get_id(
                    'community_billing', 'tax_template_property_vat6'))
            self.assertEqual(chart['vat6'].rate, Decimal('0.06'))
            self.assertEqual(chart['vat6'].invoice_account, chart['vat'])
            count = Account.search_count([('company', '=', company.id)])
            # 16 accounts and the root
            self.assertEqual(count, 17)
            # again: nothing more
            self.assertEqual(create_property_chart(company)['receivable'],
                receivable)
            self.assertEqual(
                Account.search_count([('company', '=', company.id)]), count)


del ModuleTestCase
