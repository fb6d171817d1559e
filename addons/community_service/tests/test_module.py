# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from decimal import Decimal

from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


class CommunityServiceTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_service module"
    module = 'community_service'
    # the chargeable repairs on the bill ([register community_billing])
    extras = ['community_billing']

    @with_transaction()
    def test_chargeable_repair_on_next_bill(self):
        "A done chargeable repair is on the unit's next bill exactly once"
        pool = Pool()
        Party = pool.get('party.party')
        FeeItem = pool.get('community.fee.item')
        Compound = pool.get('community.compound')
        Request = pool.get('community.service.request')
        BillRun = pool.get('community.bill.run')
        Bill = pool.get('community.bill')
        company = create_company()
        with set_company(company):
            from trytond.modules.community_billing.tests.tools import (
                create_unit, setup_billing)
            compound, building, items = setup_billing(company)
            repair, = FeeItem.create([{
                        'compound': compound.id, 'code': 'WXF',
                        'name': "有偿维修费", 'kind': 'one_off',
                        'account': items['chart']['revenue_other'].id}])
            Compound.write([compound], {'repair_fee_item': repair.id})
            a, = Party.create([{'name': '张三'}])
            unit = create_unit(building, '3-1-101', Decimal('89.50'),
                [(a, 100)])
            tap, lamp, door = Request.create([{
                        'unit': unit.id, 'title': "换水龙头",
                        'chargeable': True, 'charge_amount': Decimal('45.00'),
                        'resolution': "已更换"}, {
                        'unit': unit.id, 'title': "换灯泡",
                        'chargeable': True, 'charge_amount': Decimal('12.50'),
                        'resolution': "已更换"}, {
                        'unit': unit.id, 'title': "修门锁",
                        'chargeable': True, 'charge_amount': Decimal('30.00'),
                        'resolution': "已修"}])
            Request.write([tap, lamp, door], {'assigned_to': 1})
            Request.dispatch([tap, lamp, door])
            Request.start([tap, lamp, door])
            Request.do([tap, lamp])

            def run(start, end):
                run, = BillRun.create([{'compound': compound.id,
                            'period_start': start, 'period_end': end}])
                BillRun.process([run])
                bill, = Bill.search([('run', '=', run.id)])
                return bill
            march = run(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
            line, = [l for l in march.lines if l.fee_item == repair]
            self.assertEqual((line.quantity, line.amount),
                (Decimal('2.00'), Decimal('57.50')))
            # 89.50 × 2.50 + 10.00 + 57.50
            self.assertEqual(march.total_amount, Decimal('291.25'))
            self.assertEqual((tap.charged, lamp.charged, door.charged),
                (True, True, False))
            self.assertEqual(tap.charge_origin, str(line))

            # Re-running March adds nothing; the door done later is on
            # April's bill, the others not again.
            rerun, = BillRun.create([{'compound': compound.id,
                        'period_start': dt.date(2026, 3, 1),
                        'period_end': dt.date(2026, 3, 31)}])
            Request.do([door])
            BillRun.process([rerun])
            self.assertEqual(rerun.bill_count, 0)
            self.assertFalse(door.charged)
            april = run(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
            line, = [l for l in april.lines if l.fee_item == repair]
            self.assertEqual(line.amount, Decimal('30.00'))
            self.assertEqual(april.total_amount, Decimal('263.75'))
            self.assertTrue(door.charged)
            self.assertEqual(Request.pending_charges([unit]), [])

    @with_transaction()
    def test_service_level(self):
        "SLA per category and the overdue list, on filed and done times"
        pool = Pool()
        Party = pool.get('party.party')
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Unit = pool.get('community.unit')
        Category = pool.get('community.service.category')
        Request = pool.get('community.service.request')
        Level = pool.get('community.service.sla')
        Overdue = pool.get('community.service.request.overdue')
        company = create_company()
        with set_company(company):
            compound, = Compound.create([{'company': company.id,
                        'code': 'JZHY', 'name': "嘉州花园"}])
            building, = Building.create([{'compound': compound.id,
                        'code': '1', 'name': "1栋"}])
            unit, = Unit.create([{'building': building.id,
                        'code': '1-1-101'}])
            Party.create([{'name': "张三"}])
            water, = Category.create([{'name': "水电维修", 'kind': 'repair',
                        'response_hours': 2, 'completion_hours': 24}])
            now = dt.datetime.now().replace(microsecond=0)
            day = now - dt.timedelta(days=2)
            h = dt.timedelta(hours=1)
            # on time; responded late but completed on time; new and past
            # its response time (overdue); in progress past its completion
            # time (overdue)
            requests = Request.create([{
                        'unit': unit.id, 'category': water.id,
                        'title': str(i), 'filed_at': filed}
                    for i, filed in enumerate([day, day, now - 3 * h,
                            now - 30 * h])])
            ok, late, new, slow = requests
            Request.write([ok], {'state': 'done', 'assigned_at': day + h,
                    'done_at': day + 5 * h, 'rating': '5',
                    'resolution': "已修"},
                [late], {'state': 'done', 'assigned_at': day + 3 * h,
                    'done_at': day + 9 * h, 'rating': '4',
                    'resolution': "已修"},
                [slow], {'state': 'in_progress',
                    'assigned_at': now - 29 * h})
            today = dt.date.today()
            with Transaction().set_context(compound=compound.id,
                    from_date=today - dt.timedelta(days=3),
                    to_date=today + dt.timedelta(days=1)):
                level, = Level.search([])
            self.assertEqual((level.category, level.request_count,
                    level.done_count, level.open_count), (water, 4, 2, 2))
            # responses: ok 1 h, late 3 h, slow 1 h on time; new late
            self.assertEqual((level.response_on_time, level.response_late,
                    level.response_rate), (2, 2, Decimal('50.00')))
            self.assertEqual((level.completion_on_time,
                    level.completion_late, level.completion_rate),
                (2, 1, Decimal('66.67')))
            self.assertEqual(level.overdue_count, 2)
            self.assertEqual((level.response_hours, level.completion_hours),
                (Decimal('1.7'), Decimal('7.0')))
            self.assertEqual(level.rating, Decimal('4.50'))
            self.assertEqual([(o.request, o.due_at, o.hours_overdue)
                    for o in Overdue.search([])], [
                    (slow, slow.filed_at + 24 * h, Decimal('6.0')),
                    (new, new.filed_at + 2 * h, Decimal('1.0'))])


    @with_transaction()
    def test_front_desk_intake_from_unit(self):
        "A resident calls: the request is opened from the unit in one form"
        pool = Pool()
        Party = pool.get('party.party')
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Unit = pool.get('community.unit')
        Residency = pool.get('community.residency')
        Request = pool.get('community.service.request')
        Intake = pool.get('community.service.intake', type='wizard')
        company = create_company()
        with set_company(company):
            compound, = Compound.create([{'company': company.id,
                        'code': 'JZHY', 'name': "嘉州花园"}])
            building, = Building.create([{'compound': compound.id,
                        'code': '1', 'name': "1栋"}])
            unit, = Unit.create([{'building': building.id,
                        'code': '1-2-301'}])
            owner, tenant = Party.create([{'name': "王五"}, {'name': "赵六"}])
            Residency.create([{'unit': unit.id, 'party': owner.id,
                        'role': 'owner', 'share': Decimal(100),
                        'start_date': dt.date(2020, 1, 1)}, {
                        'unit': unit.id, 'party': tenant.id,
                        'role': 'tenant', 'payer': True,
                        'start_date': dt.date(2024, 1, 1)}])

            session_id, _, _ = Intake.create()
            with Transaction().set_context(active_model='community.unit',
                    active_id=unit.id, active_ids=[unit.id]):
                defaults = Intake.execute(session_id, {}, 'start')
                form = {k: v for k, v in
                    defaults['view']['defaults'].items() if '.' not in k}
                # the unit, its payer who calls, a repair by phone
                self.assertEqual(
                    (form['unit'], form['requester'], form['kind'],
                        form['channel']),
                    (unit.id, tenant.id, 'repair', 'phone'))
                self.assertEqual(
                    sorted(form['residents']), sorted([owner.id, tenant.id]))
                # the unit typed in the form: the caller and the residents
                # follow (a list as on_change_with: no record to change)
                Start = pool.get('community.service.intake.start')
                start = Start(unit=unit.id, requester=None)
                start.on_change(['unit'])
                changes = start._changed_values()
                self.assertEqual(
                    (changes['requester'], 'residents' in changes),
                    (tenant.id, False))
                self.assertEqual(sorted(start.on_change_with_residents()),
                    sorted([owner.id, tenant.id]))
                form.update(title="厨房水管漏水", urgency='high')
                result = Intake.execute(
                    session_id, {'start': form}, 'create_')
            Intake.delete(session_id)
            request, = Request.search([])
            (action, data), = result['actions']
            self.assertEqual(data['res_id'], [request.id])
            self.assertEqual(
                (request.compound, request.unit, request.requester,
                    request.channel, request.title, request.state),
                (compound, unit, tenant, 'phone', "厨房水管漏水", 'new'))

            # done, it waits for the resident's confirmation; a request
            # nobody filed (a device, the staff's round) closes at once
            round_, = Request.create([{'unit': unit.id,
                        'title': "楼道灯不亮", 'channel': 'office'}])
            both = [request, round_]
            Request.write(both, {'assigned_to': 1})
            Request.dispatch(both)
            Request.start(both)
            Request.do(both)
            self.assertEqual((request.state, round_.state),
                ('done', 'confirmed'))
            self.assertTrue(round_.confirmed_at)


del ModuleTestCase
