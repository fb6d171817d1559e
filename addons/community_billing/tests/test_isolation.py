# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Isolation between compounds and companies, and masking, on every path.

The walk (``test_walk_every_model_and_report``) goes through every model of
the installed community_* modules (and the Tryton models that hold
residents' data) and every report, as a staff user of compound A calling
as through RPC (``_check_access``), and proves that nothing of compound B
(same company) or of compound C (another company) comes back by search,
read or export (asking by id), and that no clear ID or phone number comes
back.
"""
import datetime as dt
import io
import unittest
import zipfile
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model import ModelSQL
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

from .tools import bill_month, create_unit, setup_billing

# clear numbers of the residents of A, B and C (valid GB 11643 / mobiles)
NUMBERS = {
    'A': ('511102196001010013', '13800138000'),
    'B': ('51112119680502003X', '13900139000'),
    'C': ('360426199101010071', '13700137000'),
    }
EXTRA_MODELS = [
    'party.party', 'party.identifier', 'party.contact_mechanism',
    'party.address', 'web.user', 'account.move', 'account.move.line',
    'account.dunning', 'res.user-community.compound',
    ]
SKIP_FIELDS = {'binary', 'dict', 'multiselection'}


def resident(name, key):
    Party = Pool().get('party.party')
    code, mobile = NUMBERS[key]
    party, = Party.create([{
                'name': name,
                'identifiers': [('create', [{
                                'type': 'cn_ric', 'code': code}])],
                'contact_mechanisms': [('create', [{
                                'type': 'mobile', 'value': mobile}])],
                }])
    return party


def walked_models():
    pool = Pool()
    names = set(EXTRA_MODELS)
    for name, Model in pool.iterobject():
        if (name.startswith('community.') and issubclass(Model, ModelSQL)
                and not Model.__name__.startswith('community.bench')):
            names.add(name)
    return sorted(n for n in names if n in dict(pool.iterobject()))


def as_user(user):
    "Context of an RPC call of user (record rules and masks apply)."
    transaction = Transaction()
    ctx = transaction.set_user(user.id)
    return ctx


def contains_clear(value, numbers):
    text = str(value).replace(' ', '').replace('-', '')
    return [n for n in numbers if n in text]


def report_text(content):
    if isinstance(content, str):
        return content
    content = bytes(content)
    if content[:2] == b'PK':
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return ''.join(archive.read(n).decode('utf-8', 'replace')
                for n in archive.namelist())
    return content.decode('utf-8', 'replace')


class IsolationTestCase(unittest.TestCase):
    "Compounds and companies are isolated on every path; numbers masked"

    @classmethod
    def setUpClass(cls):
        # the whole system: the walk covers every community_* module
        activate_module(['community_billing', 'community_service',
                'community_announcement', 'community_iot'])

    def setup_compounds(self):
        """Compound A (company 1, billed, paid), the staff user of A,
        then compound B (company 1) and C (company 2).

        Returns (staff, records of A, foreign ids by model)."""
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        FeeItem = pool.get('community.fee.item')
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')

        company = create_company()
        other_company = create_company(name="Other Property Co.")
        with set_company(company):
            compound_a, building_a, items = setup_billing(company)
            zhang = resident("张伟", 'A')
            unit_a = create_unit(building_a, '3-1-101', Decimal('90.00'),
                [(zhang, 100)])
            bill_month(compound_a, 2026, 1)
        groups = [ModelData.get_id(
                'community_billing' if g == 'cashier' else 'community_base',
                'group_community_%s' % g)
            for g in ['manager', 'accountant', 'cashier', 'staff',
                'auditor']]
        staff, = User.create([{
                    'login': 'staff_a', 'name': "前台 A",
                    'groups': [('add', groups)],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [compound_a.id])],
                    }])
        with set_company(company):
            bill_a, = Bill.search([('unit', '=', unit_a.id)])
            payment_a, = Payment.create([{
                        'compound': compound_a.id, 'unit': unit_a.id,
                        'party': zhang.id, 'date': dt.date(2026, 2, 1),
                        'method': 'cash', 'amount': Decimal('10.00'),
                        'lines': [('create', [{'bill': bill_a.id,
                                        'amount': Decimal('10.00')}])]}])
            Payment.post([payment_a])

        before = {name: set(pool.get(name).search([]))
            for name in walked_models()}

        with set_company(company):
            compound_b, = Compound.create([{
                        'company': company.id, 'code': 'FHXQ',
                        'name': "凤凰小区", 'service_grade': '2'}])
            building_b, = Building.create([{
                        'compound': compound_b.id, 'code': '1',
                        'name': '1栋'}])
            FeeItem.create([{
                        'compound': compound_b.id, 'code': 'LJF',
                        'name': "垃圾清运费", 'kind': 'fixed',
                        'account': items['chart']['revenue_garbage'].id,
                        'tax': items['chart']['vat6'].id,
                        'prices': [('create', [{
                                        'effective_date': dt.date(2026, 1, 1),
                                        'unit_price': Decimal('10.00')}])],
                        'assignments': [('create', [{
                                        'scope': 'compound',
                                        'start_date': dt.date(2026, 1, 1)}])],
                        }])
            li = resident("李娜", 'B')
            unit_b = create_unit(building_b, '1-1-101', Decimal('80.00'),
                [(li, 100)])
            empty_b = create_unit(building_b, '1-1-102', Decimal('80.00'), [])
            bill_month(compound_b, 2026, 1)
            bill_b, = Bill.search([('unit', '=', unit_b.id)])
            payment_b, = Payment.create([{
                        'compound': compound_b.id, 'unit': unit_b.id,
                        'party': li.id, 'date': dt.date(2026, 2, 1),
                        'method': 'cash', 'amount': Decimal('10.00'),
                        'lines': [('create', [{'bill': bill_b.id,
                                        'amount': Decimal('10.00')}])]}])
            Payment.post([payment_b])
        with set_company(other_company):
            compound_c, = Compound.create([{
                        'company': other_company.id, 'code': 'QTXQ',
                        'name': "其他小区"}])
            building_c, = Building.create([{
                        'compound': compound_c.id, 'code': '1',
                        'name': '1栋'}])
            wang = resident("王芳", 'C')
            create_unit(building_c, '1-1-101', Decimal('70.00'),
                [(wang, 100)])

        foreign = {}
        for name, ids in before.items():
            new = set(pool.get(name).search([])) - ids
            if new:
                foreign[name] = sorted(r.id for r in new)
        return staff, {
            'company': company, 'compound': compound_a, 'unit': unit_a,
            'party': zhang, 'compound_b': compound_b, 'unit_b': unit_b,
            'party_b': li, 'empty_b': empty_b, 'payment': payment_a}, foreign

    @with_transaction()
    def test_walk_every_model_and_report(self):
        "Staff of A: nothing of B or C, no clear number, on every path"
        pool = Pool()
        staff, records, foreign = self.setup_compounds()
        # the fixture reaches every compound-scoped model it should
        for name in ['community.compound', 'community.unit',
                'community.residency', 'community.bill',
                'community.payment', 'party.party', 'party.identifier',
                'party.contact_mechanism']:
            self.assertIn(name, foreign)
        clear = [n for key in 'ABC' for n in NUMBERS[key]]
        leaks = []
        transaction = Transaction()
        with transaction.set_user(staff.id), \
                transaction.set_context(
                    _check_access=True, company=records['company'].id):
            for name in walked_models():
                Model = pool.get(name)
                try:
                    own = Model.search([])
                except AccessError:
                    own = []
                found = {r.id for r in own} & set(foreign.get(name, []))
                if found:
                    leaks.append('%s search: %s' % (name, sorted(found)))
                for id_ in foreign.get(name, [])[:5]:
                    for method in ['read', 'export']:
                        try:
                            if method == 'read':
                                Model.read([id_], ['rec_name'])
                            else:
                                Model.export_data(
                                    Model.browse([id_]), ['rec_name'])
                        except AccessError:
                            continue
                        leaks.append('%s %s by id %s' % (name, method, id_))
                leaks.extend(self.clear_numbers(Model, own, clear))
            leaks.extend(self.reports(records, foreign, clear))
        self.assertEqual(leaks, [])

    def clear_numbers(self, Model, records, clear):
        "Read and export every field of records; list clear numbers."
        found = []
        if not records:
            return found
        records = records[:20]
        ids = [r.id for r in records]
        for fname, field in sorted(Model._fields.items()):
            if field._type in SKIP_FIELDS:
                continue
            paths = [fname]
            if field._type in {'many2one', 'one2many', 'many2many'}:
                paths.append(fname + '/rec_name')
                if field.get_target().__name__ == 'party.party':
                    paths += [fname + '/' + p for p in [
                            'mobile', 'phone', 'identifiers/code',
                            'contact_mechanisms/value']]
            for path in paths:
                try:
                    if '/' not in path:
                        rows = Model.read(ids, [path])
                        values = [row[path] for row in rows]
                    else:
                        values = Model.export_data(
                            Model.browse(ids), [path])
                    values += Model.export_data(Model.browse(ids), [path])
                except UserError:
                    continue
                numbers = contains_clear(values, clear)
                if numbers:
                    found.append('%s %s: %s' % (
                            Model.__name__, path, numbers))
        return found

    def reports(self, records, foreign, clear):
        "Run every report of the modules on A's and on foreign records."
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        ModelData = pool.get('ir.model.data')
        found = []
        with Transaction().set_user(0):
            actions = ActionReport.browse([d.db_id for d in ModelData.search([
                            ('module', 'like', 'community_%'),
                            ('model', '=', 'ir.action.report')])])
            actions = [(a.id, a.report_name, a.model) for a in actions]
        self.assertTrue(actions)
        for action_id, report_name, model in actions:
            Report = pool.get(report_name, type='report')
            Model = pool.get(model)
            own = [r.id for r in Model.search([])][:5]
            for ids, kind in [(own, 'own'),
                    (foreign.get(model, [])[:1], 'foreign')]:
                if not ids:
                    continue
                data = {'model': model, 'id': ids[0], 'ids': ids,
                    'action_id': action_id}
                try:
                    _, content, _, _ = Report.execute(ids, data)
                except AccessError:
                    continue
                if kind == 'foreign':
                    found.append('%s on foreign %s' % (report_name, ids))
                numbers = contains_clear(report_text(content), clear)
                if numbers:
                    found.append('%s: %s' % (report_name, numbers))
        return found

    @with_transaction()
    def test_export_by_id_and_masked(self):
        "Export of another compound's identifier by id; export is masked"
        pool = Pool()
        Identifier = pool.get('party.identifier')
        Mechanism = pool.get('party.contact_mechanism')
        Party = pool.get('party.party')
        staff, records, foreign = self.setup_compounds()
        other, = Identifier.search([('party', '=', records['party_b'].id)])
        own, = Identifier.search([('party', '=', records['party'].id)])
        transaction = Transaction()
        with transaction.set_user(staff.id), \
                transaction.set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Identifier.export_data([Identifier(other.id)], ['code'])
            with self.assertRaises(AccessError):
                Party.export_data([Party(records['party_b'].id)], ['name'])
            self.assertEqual(
                Identifier.export_data([Identifier(own.id)], ['code']),
                [['5111**********0013']])
            self.assertEqual(Party.export_data([Party(records['party'].id)],
                    ['name', 'mobile', 'identifiers/code',
                        'contact_mechanisms/value']),
                [['张伟', '138****8000', '5111**********0013',
                        '138****8000']])
            mechanism, = Mechanism.search(
                [('party', '=', records['party'].id)])
            self.assertEqual(Mechanism.export_data([mechanism],
                    ['value', 'rec_name']),
                [['138****8000', '张伟 <138****8000>']])

    @with_transaction()
    def test_search_numbers_exact_only(self):
        "Numbers are searched by the whole value only, and logged"
        pool = Pool()
        Identifier = pool.get('party.identifier')
        Mechanism = pool.get('party.contact_mechanism')
        Party = pool.get('party.party')
        Log = pool.get('community.reveal.log')
        staff, records, _ = self.setup_compounds()
        transaction = Transaction()
        with transaction.set_user(staff.id), \
                transaction.set_context(_check_access=True):
            for Model, domain in [
                    (Identifier, [('code', 'like', '5111%')]),
                    (Identifier, [('rec_name', 'ilike', '%0013')]),
                    (Identifier, [('code', '>', '5111')]),
                    (Mechanism, [('value', 'like', '138%')]),
                    (Mechanism, [('value_compact', 'ilike', '%8000')]),
                    (Party, [('identifiers.code', 'like', '5111%')]),
                    (Party, [('contact_mechanisms.value', 'like', '138%')]),
                    ]:
                with self.assertRaises(UserError, msg=str(domain)):
                    Model.search(domain)
            # a party is still found by its name
            self.assertEqual(Party.search([('rec_name', 'ilike', '%张伟%')]),
                [records['party']])
            self.assertEqual(
                [i.party for i in Identifier.search(
                        [('code', '=', NUMBERS['A'][0])])],
                [records['party']])
        logs = Log.search([('user', '=', staff.id)])
        self.assertEqual([(l.kind, l.lookup) for l in logs],
            [('lookup', 'party.identifier: 5111**********0013')])

    @with_transaction()
    def test_move_to_another_compound(self):
        "A residency moved to a unit of another compound follows it"
        pool = Pool()
        Residency = pool.get('community.residency')
        staff, records, _ = self.setup_compounds()
        residency, = Residency.search([('unit', '=', records['unit'].id)])
        transaction = Transaction()
        with transaction.set_user(staff.id), \
                transaction.set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Residency.write([Residency(residency.id)],
                    {'unit': records['empty_b'].id})
        # moved by headquarters (server side), it belongs to B
        Residency.write([residency], {'unit': records['empty_b'].id})
        residency = Residency(residency.id)
        self.assertEqual(residency.compound, records['compound_b'])
        with transaction.set_user(staff.id), \
                transaction.set_context(_check_access=True):
            self.assertEqual(Residency.search(
                    [('id', '=', residency.id)]), [])

    @with_transaction()
    def test_register_export_masked(self):
        "The register export is masked but for the reveal group (logged)"
        pool = Pool()
        Import = pool.get('community.register.import', type='wizard')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Log = pool.get('community.reveal.log')
        staff, records, _ = self.setup_compounds()
        transaction = Transaction()
        with transaction.set_user(staff.id), \
                transaction.set_context(_check_access=True):
            text = report_text(Import.export_register(records['compound']))
        self.assertIn('5111**********0013', text)
        self.assertNotIn(NUMBERS['A'][0], text)
        self.assertNotIn(NUMBERS['A'][1], text)
        User.write([staff], {'groups': [('add', [ModelData.get_id(
                            'community_base', 'group_community_reveal')])]})
        with transaction.set_user(staff.id), \
                transaction.set_context(_check_access=True):
            text = report_text(Import.export_register(records['compound']))
        self.assertIn(NUMBERS['A'][0], text)
        logs = Log.search([('user', '=', staff.id)])
        self.assertEqual([(l.kind, l.party) for l in logs],
            [('export', records['party'])])
