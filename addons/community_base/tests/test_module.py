# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from .tools import TranslationTestMixin


def create_compound(company, code='LS01', name="嘉州花园"):
    pool = Pool()
    Compound = pool.get('community.compound')
    Building = pool.get('community.building')
    compound, = Compound.create([{
                'company': company.id, 'code': code, 'name': name,
                'area_code': '511102001001',
                }])
    building, = Building.create([{
                'compound': compound.id, 'code': '3', 'name': '3栋',
                'entrances': [('create', [{'code': '2'}])],
                }])
    return compound, building


class CommunityBaseTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_base module"
    module = 'community_base'
    # the party form: its fields, addresses and contact mechanisms
    zh_cn_office_terms = {
        'party': r'^(field|selection|view):party\.(party|address|'
        r'contact_mechanism|identifier)[,:]',
        }

    @with_transaction()
    def test_year_without_grouping(self):
        "A year reads 2023 in the client, not 2,023"
        from lxml import etree
        Compound = Pool().get('community.compound')
        arch = etree.fromstring(
            Compound.fields_view_get(view_type='form')['arch'])
        field, = arch.xpath('//field[@name="area_code_year"]')
        self.assertEqual(field.get('grouping'), '0')

    @with_transaction()
    def test_unit_area_history(self):
        "Area corrections apply from their date; history is kept"
        pool = Pool()
        Unit = pool.get('community.unit')
        company = create_company()
        with set_company(company):
            compound, building = create_compound(company)
            unit, = Unit.create([{
                        'building': building.id,
                        'entrance': building.entrances[0].id,
                        'code': '3-2-1201', 'floor': 12,
                        'areas': [('create', [
                                    {'effective_date': dt.date(2020, 1, 1),
                                        'gross_area': Decimal('89.50')},
                                    {'effective_date': dt.date(2026, 3, 16),
                                        'gross_area': Decimal('91.20')},
                                    ])],
                        }])
            self.assertEqual(unit.compound, compound)
            self.assertEqual(
                Unit.get_area_at([unit], dt.date(2026, 3, 15))[unit.id][0],
                Decimal('89.50'))
            self.assertEqual(
                Unit.get_area_at([unit], dt.date(2026, 3, 16))[unit.id][0],
                Decimal('91.20'))
            self.assertEqual(
                unit.area_periods(dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
                [(dt.date(2026, 3, 1), dt.date(2026, 3, 15),
                        Decimal('89.50'), None),
                    (dt.date(2026, 3, 16), dt.date(2026, 3, 31),
                        Decimal('91.20'), None)])

    @with_transaction()
    def test_unit_natural_order(self):
        "Units and buildings sort as people read their codes"
        pool = Pool()
        Unit = pool.get('community.unit')
        Building = pool.get('community.building')
        company = create_company()
        with set_company(company):
            compound, building = create_compound(company)
            Building.create([{'compound': compound.id, 'code': c}
                    for c in ['10', '2', 'B1']])
            codes = ['3-2-1001', '3-2-101', '3-2-201', '3-2-99', '3-2-1201A']
            Unit.create([{'building': building.id, 'code': c}
                    for c in codes])
            self.assertEqual(
                [u.code for u in Unit.search([])],
                ['3-2-99', '3-2-101', '3-2-201', '3-2-1001', '3-2-1201A'])
            self.assertEqual(
                [u.code for u in Unit.search([], order=[('code', 'DESC')])],
                ['3-2-1201A', '3-2-1001', '3-2-201', '3-2-101', '3-2-99'])
            self.assertEqual(
                [b.code for b in Building.search(
                        [('compound', '=', compound.id)])],
                ['2', '3', '10', 'B1'])

    @with_transaction()
    def test_unit_search_by_code(self):
        "Units are found by their code as people type it, exact code first"
        pool = Pool()
        Unit = pool.get('community.unit')
        Building = pool.get('community.building')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            one, eleven = Building.create([
                    {'compound': compound.id, 'code': c} for c in ['1', '11']])
            Unit.create([{'building': b.id, 'code': c} for b, c in [
                        (eleven, '11-2-301'), (one, '1-2-3012'),
                        (one, '1-2-301'), (one, '1-2-302')]])
            for text in ['1-2-301', '1栋2单元301', '1-2-301室',
                    '1号楼2单元301室', ' 1 - 2 - 301 ']:
                self.assertEqual(
                    [u.code for u in Unit.search(
                            [('rec_name', 'ilike', '%' + text + '%')])],
                    ['1-2-301'], text)
                self.assertEqual(
                    [r['name'] for r in Unit.autocomplete(text)],
                    ['1-2-301'], text)
            self.assertEqual(
                [u.code for u in Unit.search(
                        [('rec_name', '=', '1栋2单元301')])],
                ['1-2-301'])
            # no unit of that code: the codes containing it, naturally sorted
            self.assertEqual(
                [u.code for u in Unit.search(
                        [('rec_name', 'ilike', '%1-2-30%')])],
                ['1-2-301', '1-2-302', '1-2-3012', '11-2-301'])
            self.assertEqual(
                [u.code for u in Unit.search(
                        [('rec_name', 'not ilike', '%1栋2单元301%')])],
                ['1-2-302', '1-2-3012', '11-2-301'])

    @with_transaction()
    def test_owner_shares_total_100(self):
        "Owners' shares must total 100 on every day"
        pool = Pool()
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        company = create_company()
        with set_company(company):
            compound, building = create_compound(company)
            unit, = Unit.create([{'building': building.id, 'code': '3-1-101'}])
            a, b = Party.create([{'name': '张三'}, {'name': '李四'}])
            Residency.create([
                    {'unit': unit.id, 'party': a.id, 'role': 'owner',
                        'share': Decimal(60),
                        'start_date': dt.date(2024, 1, 1)},
                    {'unit': unit.id, 'party': b.id, 'role': 'owner',
                        'share': Decimal(40),
                        'start_date': dt.date(2024, 1, 1)},
                    ])
            with self.assertRaises(UserError):
                Residency.create([{
                            'unit': unit.id, 'party': b.id, 'role': 'owner',
                            'share': Decimal(10),
                            'start_date': dt.date(2025, 1, 1)}])


    @with_transaction()
    def test_register_resident(self):
        "A tenant registered from the unit: party, masked ID, unit rented"
        pool = Pool()
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        Residency = pool.get('community.residency')
        Register = pool.get('community.unit.register_resident',
            type='wizard')
        from ..access import masking_context
        company = create_company()
        with set_company(company):
            compound, building = create_compound(company)
            unit, = Unit.create([{'building': building.id, 'code': '3-1-101',
                        'status': 'vacant'}])

            def register(**values):
                session_id, _, _ = Register.create()
                form = dict({'unit': unit.id, 'role': 'tenant',
                        'start_date': dt.date.today(), 'payer': False},
                    **values)
                with Transaction().set_context(active_model='community.unit',
                        active_id=unit.id, active_ids=[unit.id]):
                    Register.execute(session_id, {'start': form}, 'register')
                Register.delete(session_id)

            with self.assertRaises(UserError) as cm:
                register(name="张三", id_number='11010519491231002Y')
            self.assertIn('1101', cm.exception.message)
            with self.assertRaises(UserError):
                register(name="张三", id_number='11010519491231002X',
                    mobile='1380013800')
            self.assertEqual(Party.search_count([('name', '=', "张三")]), 0)

            register(name=" 张三 ", id_number='110105 19491231 002x',
                mobile='138 0013 8000',
                end_date=dt.date.today() + dt.timedelta(days=365))
            party, = Party.search([('name', '=', "张三")])
            identifier, = party.identifiers
            self.assertEqual((identifier.type, identifier.code),
                ('cn_ric', '11010519491231002X'))
            mechanism, = party.contact_mechanisms
            self.assertEqual((mechanism.type, mechanism.value_compact),
                ('mobile', '+8613800138000'))
            residency, = Residency.search([('unit', '=', unit.id)])
            self.assertEqual((residency.party, residency.role),
                (party, 'tenant'))
            self.assertEqual(Unit(unit.id).status, 'rented')
            # read back through the client: masked
            with Transaction().set_context(masking_context()):
                code, = Identifier.read([identifier.id], ['code'])
            self.assertEqual(code['code'], '1101**********002X')

            # the same person again (found by the ID number) as a member
            register(name="张三", id_number='11010519491231002X',
                role='member')
            self.assertEqual(Party.search_count([('name', '=', "张三")]), 1)
            self.assertEqual(
                Residency.search_count([('party', '=', party.id)]), 2)

    @with_transaction()
    def test_unit_status_follows_residencies(self):
        "A tenant moving in rents the unit; when the lease ends it is vacant"
        pool = Pool()
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        company = create_company()
        with set_company(company):
            compound, building = create_compound(company)
            unit, decorated = Unit.create([
                    {'building': building.id, 'code': '3-1-101',
                        'status': 'unsold'},
                    {'building': building.id, 'code': '3-1-102',
                        'status': 'decoration'}])
            owner, tenant = Party.create([{'name': '张三'}, {'name': '李四'}])
            today = dt.date.today()
            Residency.create([{'unit': unit.id, 'party': owner.id,
                        'role': 'owner', 'share': Decimal(100),
                        'start_date': today - dt.timedelta(days=400)}])
            self.assertEqual(Unit(unit.id).status, 'occupied')
            lease, = Residency.create([{'unit': unit.id,
                        'party': tenant.id, 'role': 'tenant',
                        'start_date': today,
                        'end_date': today + dt.timedelta(days=30)}])
            self.assertEqual(Unit(unit.id).status, 'rented')
            # the lease ends: the scheduled action sees it the next day
            self.assertEqual(Unit.update_status(
                    [unit], today + dt.timedelta(days=31)), [unit])
            self.assertEqual(Unit(unit.id).status, 'occupied')
            # an owner registered on a unit under decoration keeps it so
            Residency.create([{'unit': decorated.id, 'party': owner.id,
                        'role': 'owner', 'share': Decimal(100),
                        'start_date': today}])
            self.assertEqual(Unit(decorated.id).status, 'decoration')
            # a register import says the status itself
            Unit.write([unit], {'status': 'rented'})
            with Transaction().set_context(_community_skip_unit_status=True):
                Residency.delete([lease])
            self.assertEqual(Unit(unit.id).status, 'rented')


del ModuleTestCase
