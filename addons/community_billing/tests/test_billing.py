# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Unit tests of fees and bills (loaded by test_module)."""
import datetime as dt
import unittest
import unittest.mock
from decimal import Decimal

from trytond.backend import DatabaseOperationalError
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction

from trytond.transaction import Transaction, TransactionError

from ..fee import month_slices, prorate, round_money
from .tools import (  # noqa: F401
    bill_month, billing_company, counter_payment, create_unit, owned_unit,
    run_bills, setup_billing)


class BillingTestCase(unittest.TestCase):
    "Test fees and bills"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('community_billing')

    def test_month_slices(self):
        "Part months are split on calendar months with their own days"
        self.assertEqual(
            month_slices(dt.date(2026, 1, 20), dt.date(2026, 3, 5)), [
                (dt.date(2026, 1, 20), dt.date(2026, 1, 31), 31),
                (dt.date(2026, 2, 1), dt.date(2026, 2, 28), 28),
                (dt.date(2026, 3, 1), dt.date(2026, 3, 5), 31)])

    def test_prorate(self):
        "Area and price changes split the period by day"
        segments, total = prorate(
            dt.date(2026, 3, 1), dt.date(2026, 3, 31),
            [(dt.date(2020, 1, 1), Decimal('89.50')),
                (dt.date(2026, 3, 16), Decimal('91.20'))],
            [(dt.date(2026, 1, 1), Decimal('2.50'))])
        # 89.50×2.5×15/31 + 91.20×2.5×16/31 = 108.266… + 117.677…
        self.assertEqual(round_money(total), Decimal('225.94'))
        self.assertEqual([s[4] for s in segments], [15, 16])
        self.assertEqual(round_money(Decimal('0.125')), Decimal('0.13'))

    @with_transaction()
    def test_bill_run_full_month(self):
        "A full month: one bill per unit, posted in one move, balanced"
        pool = Pool()
        Party = pool.get('party.party')
        Bill = pool.get('community.bill')
        Line = pool.get('community.bill.line')
        MoveLine = pool.get('account.move.line')
        with billing_company() as (company, compound, building, items):
            a, b = Party.create([{'name': '张三'}, {'name': '李四'}])
            u1 = create_unit(building, '3-1-101', Decimal('89.50'), [(a, 100)])
            u2 = create_unit(building, '3-1-102', Decimal('120.00'),
                [(b, 100)], handover=dt.date(2026, 3, 20))
            run = bill_month(compound, 2026, 3)
            self.assertEqual(run.state, 'done')
            self.assertEqual((run.unit_total, run.unit_done), (2, 2))
            bill1, = Bill.search([('unit', '=', u1.id)])
            bill2, = Bill.search([('unit', '=', u2.id)])
            # 89.50 × 2.50 = 223.75 + garbage 10.00
            self.assertEqual(bill1.total_amount, Decimal('233.75'))
            self.assertEqual(bill1.party, a)
            # 12 days of 31: 120 × 2.5 × 12/31 = 116.13; 10 × 12/31 = 3.87
            self.assertEqual(
                sorted(l.amount for l in bill2.lines),
                [Decimal('3.87'), Decimal('116.13')])
            self.assertEqual(bill2.total_amount, Decimal('120.00'))
            self.assertEqual(run.bill_count, 2)
            self.assertEqual(run.amount, Decimal('353.75'))
            self.assertEqual(bill1.move_line.debit, Decimal('233.75'))
            self.assertEqual(bill1.move_line.party, a)
            self.assertEqual(bill1.move_line.maturity_date,
                dt.date(2026, 3, 31))
            self.assertEqual(bill1.move.state, 'posted')
            self.assertEqual(bill1.amount_to_pay, Decimal('233.75'))
            lines = MoveLine.search([('move', '=', bill1.move.id)])
            self.assertEqual(sum(l.debit for l in lines), Decimal('353.75'))
            self.assertEqual(sum(l.credit for l in lines), Decimal('353.75'))
            revenue = [l for l in lines
                if l.account == items['chart']['revenue_service']]
            vat = [l for l in lines if l.account == items['chart']['vat']]
            # service 223.75 + 116.13 = 339.88 → base 320.64, VAT 19.24
            self.assertEqual(revenue[0].credit, Decimal('320.64'))
            self.assertEqual(sum(l.credit for l in vat),
                Decimal('19.24') + Decimal('13.87') - Decimal('13.08'))

            # Arrears on 15 May: March is 45 days overdue, exported and
            # read back cell by cell.
            import io
            import openpyxl
            from ..arrears import arrears_rows, write_arrears_xlsx
            output = io.BytesIO()
            count, totals = write_arrears_xlsx(
                arrears_rows([compound.id], dt.date(2026, 5, 15)), output)
            self.assertEqual(count, 2)
            self.assertEqual(totals['31-90'], Decimal('353.75'))
            book = openpyxl.load_workbook(io.BytesIO(output.getvalue()))
            sheet = book['欠费明细']
            self.assertEqual(sheet['A1'].value, '小区')
            self.assertEqual(sheet['L1'].value, '欠费金额')
            self.assertEqual(
                [c.value for c in sheet[2]][:6],
                ['嘉州花园', '3栋', '3-1-101', '张三', '', bill1.number])
            self.assertEqual(sheet['I2'].value, dt.datetime(2026, 3, 31))
            self.assertEqual(sheet['J2'].value, 45)
            self.assertEqual(sheet['K2'].value, '31-90')
            self.assertEqual(sheet['L2'].value, 233.75)
            self.assertEqual(sheet['L3'].value, 120.0)
            # the total row
            self.assertEqual((sheet['A4'].value, sheet['L4'].value,
                    sheet['M4'].value, sheet['N4'].value),
                ('合计', 353.75, 0, 353.75))
            summary = book['账龄汇总']
            self.assertEqual(summary['A3'].value, '31-90')
            self.assertEqual(summary['B3'].value, 353.75)

            # Arrears totals per unit, building and compound (due before
            # today)
            ArrearsUnit = pool.get('community.arrears.unit')
            ArrearsBuilding = pool.get('community.arrears.building')
            ArrearsCompound = pool.get('community.arrears.compound')
            self.assertEqual(
                [(a.unit, a.building, a.bill_count, a.amount)
                    for a in ArrearsUnit.search(
                        [('compound', '=', compound.id)])],
                [(u1, building, 1, Decimal('233.75')),
                    (u2, building, 1, Decimal('120.00'))])
            by_building, = ArrearsBuilding.search(
                [('compound', '=', compound.id)])
            self.assertEqual(
                (by_building.building, by_building.bill_count,
                    by_building.amount, by_building.oldest_due_date),
                (building, 2, Decimal('353.75'), dt.date(2026, 3, 31)))
            by_compound, = ArrearsCompound.search(
                [('compound', '=', compound.id)])
            self.assertEqual(by_compound.amount, Decimal('353.75'))

            # Re-run: no duplicate
            run2 = bill_month(compound, 2026, 3)
            self.assertEqual(Bill.search(
                    [('compound', '=', compound.id)], count=True), 2)
            self.assertEqual(run2.bill_count, 0)

            # The database refuses a duplicate line
            with self.assertRaises(UserError):
                Line.create([{
                            'bill': bill1.id, 'compound': compound.id,
                            'unit': u1.id, 'fee_item': items['service'].id,
                            'period_start': dt.date(2026, 3, 1),
                            'period_end': dt.date(2026, 3, 31),
                            'amount': Decimal(1)}])

    @with_transaction()
    def test_arrears_ageing_local_day(self):
        "The arrears ageing counts the compound's calendar days"
        pool = Pool()
        Bill = pool.get('community.bill')
        Compound = pool.get('community.compound')
        ArrearsUnit = pool.get('community.arrears.unit')
        from ..arrears import local_today
        with billing_company() as (company, compound, building, items):
            _, unit = owned_unit(
                building, '3-1-501', Decimal('100.00'), '周九')
            bill_month(compound, 2026, 3)
            bill, = Bill.search([('unit', '=', unit.id)])
            # due yesterday in Kiritimati (UTC+14), which is today or
            # tomorrow in Pago Pago (UTC-11): 25 hours apart, the compound's
            # day decides, not the database's
            due = local_today('Pacific/Kiritimati') - dt.timedelta(days=1)
            table = Bill.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update([table.due_date], [due],
                    where=table.id == bill.id))
            Compound.write([compound], {'timezone': 'Pacific/Kiritimati'})
            arrears, = ArrearsUnit.search([('unit', '=', unit.id)])
            self.assertEqual((arrears.amount, arrears.amount_0_30),
                (bill.total_amount, bill.total_amount))
            Compound.write([compound], {'timezone': 'Pacific/Pago_Pago'})
            self.assertEqual(
                ArrearsUnit.search([('unit', '=', unit.id)]), [])

    def test_format_decimal(self):
        "Decimals are shown in fixed point, never in exponent notation"
        from trytond.modules.community_base.display import (
            format_decimal, format_money)
        self.assertEqual(format_decimal(Decimal('310')), '310')
        self.assertEqual(format_decimal(Decimal('310.00')), '310')
        self.assertEqual(format_decimal(Decimal('10.00')), '10')
        self.assertEqual(format_decimal(Decimal('2.50')), '2.5')
        self.assertEqual(format_decimal(Decimal('1E+3')), '1000')
        self.assertEqual(format_decimal(Decimal('-0.00')), '0')
        self.assertEqual(format_decimal(Decimal('89.50'), strip=False),
            '89.50')
        self.assertEqual(format_decimal(Decimal('1E+2'), strip=False), '100')
        self.assertEqual(format_decimal(None), '')
        self.assertEqual(format_money(Decimal('310')), '310.00')
        self.assertEqual(format_money(Decimal('1E+1')), '10.00')
        self.assertEqual(format_money(Decimal('0.125')), '0.13')

    @with_transaction()
    def test_bill_line_description_prices(self):
        "Line descriptions print 310 and 10.00 as 310 and 10"
        pool = Pool()
        Bill = pool.get('community.bill')
        Assignment = pool.get('community.fee.assignment')
        FeePrice = pool.get('community.fee.price')
        with billing_company() as (company, compound, building, items):
            _, unit = owned_unit(
                building, '3-1-301', Decimal('100.00'), '郑十')
            FeePrice.write(list(items['service'].prices), {
                    'unit_price': Decimal('3.00')})
            FeePrice.create([{'fee_item': items['parking'].id,
                        'effective_date': dt.date(2026, 3, 1),
                        'unit_price': Decimal('310')}])
            Assignment.create([{'fee_item': items['parking'].id,
                        'scope': 'unit', 'unit': unit.id,
                        'start_date': dt.date(2026, 1, 1),
                        'quantity': Decimal(1)}])
            bill_month(compound, 2026, 3)
            bill, = Bill.search([('unit', '=', unit.id)])
            self.assertEqual(
                sorted((l.fee_item.code, l.description, l.amount)
                    for l in bill.lines), [
                    ('LJF', '1×10×31/31', Decimal('10.00')),
                    ('TCF', '1×310×31/31', Decimal('310.00')),
                    ('WYF', '100.00×3×31/31', Decimal('300.00'))])

    @with_transaction()
    def test_overlapping_periods(self):
        """A run overlapping billed days bills only the days not yet
        billed; the database refuses overlapping lines"""
        pool = Pool()
        Bill = pool.get('community.bill')
        Line = pool.get('community.bill.line')
        with billing_company() as (company, compound, building, items):
            _, unit = owned_unit(
                building, '3-2-201', Decimal('89.50'), '钱七')
            march = bill_month(compound, 2026, 3)
            self.assertEqual(march.amount, Decimal('233.75'))
            # mid-month to mid-month after the calendar month
            run = run_bills(
                compound, dt.date(2026, 3, 16), dt.date(2026, 4, 15))
            bill, = Bill.search([('run', '=', run.id)])
            # 1 to 15 April only: 89.50 × 2.50 × 15/30 = 111.875 → 111.88,
            # 10.00 × 15/30 = 5.00
            self.assertEqual(
                sorted((l.fee_item.code, l.period_start, l.period_end,
                        l.days, l.amount) for l in bill.lines), [
                    ('LJF', dt.date(2026, 4, 1), dt.date(2026, 4, 15), 15,
                        Decimal('5.00')),
                    ('WYF', dt.date(2026, 4, 1), dt.date(2026, 4, 15), 15,
                        Decimal('111.88'))])
            self.assertEqual(bill.total_amount, Decimal('116.88'))
            self.assertEqual(
                (bill.period_start, bill.period_end),
                (dt.date(2026, 3, 16), dt.date(2026, 4, 15)))
            # April afterwards: 16 to 30 April
            april = bill_month(compound, 2026, 4)
            self.assertEqual(april.amount, Decimal('116.88'))
            # a whole year over billed months: nothing billed twice
            year = run_bills(
                compound, dt.date(2026, 1, 1), dt.date(2026, 4, 30))
            bill, = Bill.search([('run', '=', year.id)])
            self.assertEqual(
                sorted((l.fee_item.code, l.period_start, l.period_end,
                        l.amount) for l in bill.lines), [
                    ('LJF', dt.date(2026, 1, 1), dt.date(2026, 2, 28),
                        Decimal('20.00')),
                    ('WYF', dt.date(2026, 1, 1), dt.date(2026, 2, 28),
                        Decimal('447.50'))])
            # cancelled bills do not count: March billed again
            Bill.cancel(Bill.search([('run', '=', march.id)]))
            again = bill_month(compound, 2026, 3)
            self.assertEqual(again.amount, Decimal('233.75'))
            # every bill its own number: a period from the 16th is
            # YYYYMMDD, March billed again after cancelling takes -2
            code = '%s-%%s-3-2-201' % compound.code
            self.assertEqual(sorted(b.number for b in Bill.search(
                        [('unit', '=', unit.id)])), sorted([
                        code % '202603', code % '20260316', code % '202604',
                        code % '202601', code % '202603' + '-2']))
            # the database accepts a line right after the billed days ...
            Line.create([{
                        'bill': bill.id, 'compound': compound.id,
                        'unit': unit.id, 'fee_item': items['service'].id,
                        'period_start': dt.date(2026, 5, 1),
                        'period_end': dt.date(2026, 5, 1),
                        'amount': Decimal(1)}])
            # ... and refuses a line overlapping a billed one, even with
            # another start (last: the transaction is aborted)
            with self.assertRaises(UserError) as cm:
                Line.create([{
                            'bill': bill.id, 'compound': compound.id,
                            'unit': unit.id, 'fee_item': items['service'].id,
                            'period_start': dt.date(2026, 3, 20),
                            'period_end': dt.date(2026, 5, 10),
                            'amount': Decimal(1)}])
            self.assertEqual(cm.exception.message,
                "A unit can be billed only once per fee item and day.")

    @with_transaction()
    def test_overlap_constraint_migration(self):
        """A database with the old constraint (equal period starts) gets
        the overlap constraint on update; overlapping lines are named"""
        pool = Pool()
        Line = pool.get('community.bill.line')
        Bill = pool.get('community.bill')
        cursor = Transaction().connection.cursor()
        table = Line._table

        def constraints():
            cursor.execute("SELECT conname FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'x'", (table,))
            return sorted(r[0] for r in cursor)
        self.assertEqual(constraints(),
            ['community_bill_line_unit_fee_days_exclude'])
        with billing_company() as (company, compound, building, items):
            _, unit = owned_unit(
                building, '7-1-101', Decimal('89.50'), '陈八')
            bill_month(compound, 2026, 3)
            bill, = Bill.search([('unit', '=', unit.id)])
            # the previous version's constraint, and a line it let in
            cursor.execute('ALTER TABLE "%s" DROP CONSTRAINT '
                '"community_bill_line_unit_fee_days_exclude"' % table)
            cursor.execute('ALTER TABLE "%s" ADD CONSTRAINT '
                '"community_bill_line_unit_fee_period_exclude" EXCLUDE '
                'USING btree (unit WITH =, fee_item WITH =, '
                'period_start WITH =) WHERE (state != \'cancelled\')'
                % table)
            line = bill.lines[0]
            cursor.execute('INSERT INTO "%s" (bill, compound, unit, '
                'fee_item, period_start, period_end, state, amount) '
                'VALUES (%%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s)' % table,
                (bill.id, compound.id, unit.id, line.fee_item.id,
                    dt.date(2026, 3, 16), dt.date(2026, 4, 15), 'posted', 1))
            with self.assertRaises(UserError) as cm:
                Line.__register__('community_base')
            self.assertIn(bill.number, cm.exception.message)
            cursor.execute('DELETE FROM "%s" WHERE period_start = %%s'
                % table, (dt.date(2026, 3, 16),))
            Line.__register__('community_base')
            self.assertEqual(constraints(),
                ['community_bill_line_unit_fee_days_exclude'])

    @with_transaction()
    def test_late_fee_as_of_payment_date(self):
        """Late fees due up to a payment's local day are charged when it is
        paid, whenever the scheduled action last ran"""
        pool = Pool()
        Party = pool.get('party.party')
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        LateFee = pool.get('community.late_fee')
        Term = pool.get('community.late_fee.term')
        Cron = pool.get('ir.cron')
        from .. import late_fee as late_fee_module
        with billing_company() as (company, compound, building, items):
            term, = Term.create([{'compound': compound.id,
                        'account': items['chart']['revenue_other'].id}])
            a, b, c = Party.create(
                [{'name': '孙一'}, {'name': '周二'}, {'name': '吴三'}])
            u1, u2, u3 = [create_unit(building, code, Decimal('100.00'),
                    [(party, 100)]) for code, party in (
                    ('5-1-101', a), ('5-1-102', b), ('5-1-103', c))]
            bill_month(compound, 2026, 3)  # 260.00 each, due 31 March
            bill1, bill2, bill3 = [Bill.search([('unit', '=', u.id)])[0]
                for u in (u1, u2, u3)]
            self.assertEqual(LateFee.search([]), [])

            # 1 April, the scheduled action has not run: paying all lists
            # the late fee of the first overdue day, 260.00 × 0.05 % = 0.13
            payment = counter_payment(u1, a, dt.date(2026, 4, 1), Decimal(0),
                [], post=False)
            Payment.pay_open([payment])
            self.assertEqual([(l.bill, bool(l.late_fee), l.amount)
                    for l in payment.lines], [
                    (bill1, False, Decimal('260.00')),
                    (bill1, True, Decimal('0.13'))])
            self.assertEqual(payment.amount, Decimal('260.13'))
            Payment.post([payment])
            fee1, = LateFee.search([('bill', '=', bill1.id)])
            self.assertEqual(
                (fee1.date_from, fee1.date, fee1.days, fee1.amount,
                    fee1.amount_to_pay),
                (dt.date(2026, 4, 1), dt.date(2026, 4, 1), 1,
                    Decimal('0.13'), Decimal(0)))

            # the bill alone paid on 1 April: the late fee of the day is
            # charged on the principal open before the payment
            counter_payment(u2, b, dt.date(2026, 4, 1), Decimal('260.00'),
                [{'bill': bill2.id}])
            fee2, = LateFee.search([('bill', '=', bill2.id)])
            self.assertEqual(
                (fee2.date, fee2.principal, fee2.amount, fee2.amount_to_pay),
                (dt.date(2026, 4, 1), Decimal('260.00'), Decimal('0.13'),
                    Decimal('0.13')))
            self.assertEqual(Bill(bill2.id).amount_to_pay, Decimal(0))

            # The scheduled action runs every hour at minute 5 and charges
            # a compound once a local day, after its local midnight
            cron, = Cron.search(
                [('method', '=', 'community.late_fee|charge_due')])
            self.assertEqual(
                (cron.interval_number, cron.interval_type, cron.minute),
                (1, 'hours', 5))
            with unittest.mock.patch.object(late_fee_module, 'local_today',
                    lambda tz: dt.date(2026, 4, 3)):
                fees = [f for f in LateFee.charge_due()
                    if f.compound == compound]
                self.assertEqual([(f.bill, f.days, f.amount) for f in fees],
                    [(bill3, 3, Decimal('0.39'))])
                self.assertEqual(Term(term.id).charged_until,
                    dt.date(2026, 4, 3))
                self.assertEqual([f for f in LateFee.charge_due()
                        if f.compound == compound], [])

            # The arrears export on 3 April lists 5-1-102 for its late fee
            # (its bill is paid) and 5-1-103 with its late fees, the
            # payers' mobiles masked unless shown in clear
            from ..arrears import arrears_rows, payer_mobiles
            Mechanism = pool.get('party.contact_mechanism')
            Mechanism.create([{'party': b.id, 'type': 'mobile',
                        'value': '13800138000'}])
            for clear, mobile in [(False, '138****8000'),
                    (True, '13800138000')]:
                rows = list(arrears_rows([compound.id], dt.date(2026, 4, 3),
                        lambda ids, clear=clear: payer_mobiles(ids, clear)))
                self.assertEqual([(r[2], r[4], r[9], r[10], r[11], r[12],
                            r[13]) for r in rows], [
                        ('5-1-102', mobile, 3, '0-30', Decimal(0),
                            Decimal('0.13'), Decimal('0.13')),
                        ('5-1-103', '', 3, '0-30', Decimal('260.00'),
                            Decimal('0.39'), Decimal('260.39'))])

    @with_transaction()
    def test_metered_water(self):
        "Metered water with annual tiers; lower readings need a reason"
        pool = Pool()
        FeeItem = pool.get('community.fee.item')
        Meter = pool.get('community.meter')
        Reading = pool.get('community.meter.reading')
        Bill = pool.get('community.bill')
        with billing_company() as (company, compound, building, items):
            _, unit = owned_unit(
                building, '3-3-301', Decimal('80.00'), '吴九')
            water, = FeeItem.create([{
                        'compound': compound.id, 'code': 'SF',
                        'name': "水费", 'kind': 'metered',
                        'account': items['chart']['revenue_water'].id,
                        'tax': items['chart']['vat3'].id,
                        'tiers': [('create', [
                                    {'up_to': Decimal(180),
                                        'unit_price': Decimal('2.80')},
                                    {'up_to': Decimal(260),
                                        'unit_price': Decimal('3.90')},
                                    {'unit_price': Decimal('6.10')}])],
                        }])
            meter, = Meter.create([{'compound': compound.id,
                        'unit': unit.id, 'fee_item': water.id,
                        'number': 'W-301', 'digits': 4}])
            Reading.create([
                    {'meter': meter.id, 'date': dt.date(2026, 1, 1),
                        'value': Decimal(9000)},
                    {'meter': meter.id, 'date': dt.date(2026, 2, 28),
                        'value': Decimal(9170)}])
            with self.assertRaises(UserError) as cm:
                Reading.create([{'meter': meter.id,
                            'date': dt.date(2026, 3, 31),
                            'value': Decimal(10)}])
            self.assertIn('W-301', cm.exception.message)
            # The real March reading is 9190 (20 m³).
            march, = Reading.create([{'meter': meter.id,
                        'date': dt.date(2026, 3, 31),
                        'value': Decimal(9190)}])
            self.assertEqual(march.consumption, Decimal(20))
            # In April the 4-digit register passes 9999: 9190 → 0010 is
            # 10000 - 9190 + 10 = 820 m³, accepted with the reason.
            rolled, = Reading.create([{'meter': meter.id,
                        'date': dt.date(2026, 4, 30), 'value': Decimal(10),
                        'reason': 'rollover'}])
            self.assertEqual(rolled.consumption, Decimal(820))
            bill_month(compound, 2026, 3)
            bill, = Bill.search([('unit', '=', unit.id)])
            line, = [l for l in bill.lines if l.fee_item == water]
            # 170 m³ used before March: 10 × 2.80 + 10 × 3.90
            self.assertEqual(line.amount, Decimal('67.00'))
            self.assertEqual(line.description, '10×2.8 + 10×3.9')
            self.assertEqual(line.quantity, Decimal('20.00'))

    @with_transaction()
    def test_configuration_per_company(self):
        "Accounts and journal of the billing configuration per company"
        pool = Pool()
        Configuration = pool.get('community.billing.configuration')
        Bill = pool.get('community.bill')
        from ..account import create_fiscal_year, create_property_chart
        company_a = create_company()
        company_b = create_company()
        with set_company(company_b):
            chart_b = create_property_chart(company_b)
            create_fiscal_year(company_b, 2026)
        with set_company(company_a):
            compound, building, items = setup_billing(company_a)
            owned_unit(building, '3-2-201', Decimal('100.00'), '冯二')
        chart_a = items['chart']
        config = Configuration(1)
        for company, chart in [(company_a, chart_a), (company_b, chart_b)]:
            self.assertEqual(config.get_multivalue(
                    'receivable_account', company=company.id),
                chart['receivable'])
            self.assertEqual(config.get_multivalue(
                    'prepayment_account', company=company.id),
                chart['prepayment'])
            with set_company(company):
                self.assertEqual(Configuration(1).receivable_account,
                    chart['receivable'])
        self.assertNotEqual(chart_a['receivable'], chart_b['receivable'])
        # A run of company A's compound started in company B's context
        # posts on company A's accounts.
        with set_company(company_b):
            run = bill_month(compound, 2026, 7)
            bill, = Bill.search([('run', '=', run.id)])
            self.assertEqual(bill.move_line.account, chart_a['receivable'])
            self.assertEqual(bill.move.company, company_a)

    @with_transaction()
    def test_zz_two_cashiers(self):
        "Two cashiers paying the same bill: never a double settlement"
        pool = Pool()
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        transaction = Transaction()
        with billing_company('CONC') as (company, compound, building, items):
            owner, unit = owned_unit(
                building, '9-9-901', Decimal('100.00'), '周八')
            bill_month(compound, 2026, 5)
            bill, = Bill.search([('unit', '=', unit.id)])
            self.assertEqual(bill.total_amount, Decimal('260.00'))
            transaction.commit()

            def pay(amount):
                return counter_payment(unit, owner, dt.date(2026, 5, 3),
                    amount, [{'bill': bill.id}], method='wechat',
                    reference='WX%s' % amount)

            first = pay(Decimal('260.00'))  # not committed yet
            with transaction.new_transaction() as other:
                with set_company(company):
                    with self.assertRaises(UserError) as cm:
                        pay(Decimal('260.00'))
                    self.assertIn(bill.number, cm.exception.message)
                other.rollback()
            transaction.commit()
            self.assertTrue(first.receipt_number)
            with transaction.new_transaction() as other:
                with set_company(company):
                    with self.assertRaises(UserError):
                        pay(Decimal('260.00'))
                other.rollback()
            bill = Bill(bill.id)
            self.assertEqual(bill.amount_to_pay, Decimal(0))
            self.assertIsNotNone(bill.move_line.reconciliation)
            self.assertEqual(Payment.search(
                    [('unit', '=', unit.id)], count=True), 1)

    @with_transaction()
    def test_payments_of_one_bill_in_one_call(self):
        "Payments of one bill posted together share its open amount"
        pool = Pool()
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        with billing_company() as (company, compound, building, items):
            owner, unit = owned_unit(
                building, '9-9-902', Decimal('100.00'), '吴九')
            bill_month(compound, 2026, 5)
            bill, = Bill.search([('unit', '=', unit.id)])
            self.assertEqual(bill.amount_to_pay, Decimal('260.00'))

            def payments(first, second):
                return [counter_payment(unit, owner, dt.date(2026, 6, 1),
                        amount, [{'bill': bill.id, 'amount': line}],
                        post=False)
                    for amount, line in [first, second]]
            # in one slice (moves not saved yet), then in two slices (the
            # first slice's move saved): the second payment gets the rest
            # (slice size, second payment's line, its prepayment)
            for size, rest, kept in [
                    (100, Decimal('160.00'), Decimal('10.00')),
                    (1, Decimal('150.00'), Decimal('20.00'))]:
                Payment._post_slice = size
                try:
                    one, two = payments((Decimal('100.00'), Decimal('100.00')),
                        (Decimal('170.00'), None))
                    Payment.post([one, two])
                finally:
                    del Payment._post_slice
                self.assertEqual([l.amount for l in two.lines], [rest])
                self.assertEqual(two.prepayment_amount, kept)
                bill = Bill(bill.id)
                self.assertEqual(bill.amount_to_pay, Decimal(0))
                self.assertIsNotNone(bill.move_line.reconciliation)
                # a third one finds nothing to pay
                three, _ = payments((Decimal('1.00'), None),
                    (Decimal('1.00'), None))
                with self.assertRaises(UserError):
                    Payment.post([three])
                Payment.delete([three, _])
                if size == 100:
                    # again on June's bill (the run applies the 10.00
                    # prepaid: 250.00 left)
                    bill_month(compound, 2026, 6)
                    bill, = Bill.search([('unit', '=', unit.id),
                            ('period_start', '=', dt.date(2026, 6, 1))])
                    self.assertEqual(bill.amount_to_pay, Decimal('250.00'))

    @with_transaction()
    def test_zz_two_cashiers_late_fee(self):
        "Two cashiers paying the same late fee: never a double settlement"
        pool = Pool()
        Bill = pool.get('community.bill')
        Payment = pool.get('community.payment')
        LateFee = pool.get('community.late_fee')
        Term = pool.get('community.late_fee.term')
        transaction = Transaction()
        with billing_company('CONF') as (company, compound, building, items):
            Term.create([{'compound': compound.id,
                        'account': items['chart']['revenue_other'].id}])
            owner, unit = owned_unit(
                building, '9-9-902', Decimal('100.00'), '吴九')
            bill_month(compound, 2026, 5)
            bill, = Bill.search([('unit', '=', unit.id)])
            # 260.00 × 0.05 % × 10 days (1 to 10 June)
            fee, = LateFee.charge(compound, dt.date(2026, 6, 10))
            self.assertEqual(fee.amount, Decimal('1.30'))
            transaction.commit()

            def pay():
                return counter_payment(unit, owner, dt.date(2026, 6, 11),
                    Decimal('1.30'), [{'bill': bill.id, 'late_fee': fee.id}])

            first = pay()  # not committed yet
            with transaction.new_transaction() as other:
                with set_company(company):
                    with self.assertRaises(UserError) as cm:
                        pay()
                    self.assertIn(bill.number, cm.exception.message)
                other.rollback()
            transaction.commit()
            self.assertTrue(first.receipt_number)
            with transaction.new_transaction() as other:
                with set_company(company):
                    with self.assertRaises(UserError):
                        pay()
                other.rollback()
            fee = LateFee(fee.id)
            self.assertEqual(fee.amount_to_pay, Decimal(0))
            self.assertIsNotNone(fee.move_line.reconciliation)
            self.assertEqual(Bill(bill.id).amount_to_pay, Decimal('260.00'))

            def pay_bill():
                counter_payment(unit, owner, dt.date(2026, 6, 11),
                    Decimal('260.00'), [{'bill': bill.id}])

            # A cashier whose transaction saw the bill open before another
            # cashier's payment committed: the lock fails to serialize
            # (trytond retries the request) instead of paying twice
            # (the user's company is committed: set_company would write the
            # user in both transactions and wait on itself)
            company_context = {'company': company.id}
            with transaction.new_transaction() as stale, \
                    stale.set_context(company_context):
                self.assertEqual(Bill(bill.id).amount_to_pay,
                    Decimal('260.00'))
                # the receipt sequence locks its table at the start of the
                # transaction: restarted with the lock (TransactionError)
                extras = {}
                while True:
                    with transaction.new_transaction(**extras) as other, \
                            other.set_context(company_context):
                        try:
                            pay_bill()
                        except TransactionError as e:
                            other.rollback()
                            e.fix(extras)
                            continue
                        other.commit()
                        break
                with self.assertRaises(DatabaseOperationalError):
                    try:
                        pay_bill()
                    except TransactionError:
                        # it went on to take a receipt number
                        self.fail("paid on a stale snapshot")
                stale.rollback()
            # paid once, by the other cashier (a fresh snapshot)
            with transaction.new_transaction():
                self.assertEqual(Bill(bill.id).amount_to_pay, Decimal(0))
                self.assertEqual(Payment.search([('lines.bill', '=', bill.id),
                            ('state', '=', 'posted'),
                            ('lines.late_fee', '=', None)], count=True), 1)


    @with_transaction()
    def test_zz_bill_run_progress(self):
        "Other sessions see units done of units grow as batches commit"
        pool = Pool()
        BillRun = pool.get('community.bill.run')
        Configuration = pool.get('community.billing.configuration')
        Wizard = pool.get('community.bill.run.create', type='wizard')
        transaction = Transaction()
        with billing_company('PROG') as (company, compound, building, items):
            config = Configuration(1)
            config.batch_size = 2
            config.save()
            for i in range(5):
                owned_unit(building, '3-1-%s' % (101 + i), Decimal('80.00'),
                    '业主%s' % i)

            # The wizard only queues the run and shows it.
            session_id, _, _ = Wizard.create()
            wizard = Wizard(session_id)
            wizard.start.compound = compound
            wizard.start.period_start = dt.date(2026, 6, 1)
            wizard.start.period_end = dt.date(2026, 6, 30)
            wizard.start.due_date = None
            action, _ = wizard.do_run({'views': [(1, 'tree'), (2, 'form')]})
            run = BillRun(action['res_id'][0])
            self.assertEqual((run.state, run.unit_done, run.progress),
                ('draft', 0, 0.0))
            self.assertEqual(len(transaction.tasks), 1)
            transaction.tasks.clear()
            transaction.commit()

            seen = []
            commit = transaction.commit

            def commit_and_look():
                commit()
                with transaction.new_transaction() as other:
                    cursor = other.connection.cursor()
                    cursor.execute('SELECT unit_done, unit_total, state '
                        'FROM community_bill_run WHERE id = %s', (run.id,))
                    seen.append(cursor.fetchone())
            transaction.commit = commit_and_look
            try:
                BillRun.process_in_batches([run])
            finally:
                del transaction.commit
            self.assertEqual(seen, [(0, 5, 'running'), (2, 5, 'running'),
                    (4, 5, 'running'), (5, 5, 'running')])
            transaction.commit()
            run = BillRun(run.id)
            self.assertEqual((run.state, run.bill_count, run.progress),
                ('done', 5, 1.0))

            config.batch_size = None
            config.save()
            transaction.commit()

    @with_transaction()
    def test_office_bill_filters_and_front_desk_rights(self):
        """The bill list's filters (未缴/部分缴/已缴, 逾期, 楼栋, 期间), the
        unit's amount due; the front desk cannot run bill runs, dunning or
        late-fee charging"""
        pool = Pool()
        Bill = pool.get('community.bill')
        BillRun = pool.get('community.bill.run')
        Unit = pool.get('community.unit')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        transaction = Transaction()
        with billing_company('DESK') as (company, compound, building, items):
            owner1, unit1 = owned_unit(
                building, '3-1-101', Decimal('100.00'), '王一')
            owner2, unit2 = owned_unit(
                building, '3-1-102', Decimal('100.00'), '王二')
            owner3, unit3 = owned_unit(
                building, '3-1-103', Decimal('100.00'), '王三')
            bill_month(compound, 2026, 5)
            bill1, = Bill.search([('unit', '=', unit1.id)])
            bill2, = Bill.search([('unit', '=', unit2.id)])
            bill3, = Bill.search([('unit', '=', unit3.id)])
            self.assertEqual(bill1.total_amount, Decimal('260.00'))
            counter_payment(unit2, owner2, dt.date(2026, 5, 3),
                Decimal('100.00'),
                [{'bill': bill2.id, 'amount': Decimal('100.00')}])
            counter_payment(unit3, owner3, dt.date(2026, 5, 3),
                Decimal('260.00'), [{'bill': bill3.id}])

            def ids(domain):
                return [b.id for b in Bill.search(
                        domain, order=[('id', 'ASC')])]
            self.assertEqual(ids([('payment_state', '=', 'unpaid')]),
                [bill1.id])
            self.assertEqual(ids([('payment_state', '=', 'partial')]),
                [bill2.id])
            self.assertEqual(ids([('payment_state', '=', 'paid')]),
                [bill3.id])
            self.assertEqual(
                [(b.payment_state, b.amount_to_pay)
                    for b in Bill.browse([bill1, bill2, bill3])],
                [('unpaid', Decimal('260.00')),
                    ('partial', Decimal('160.00')),
                    ('paid', Decimal('0'))])
            # due in 2026-05, overdue on any later day
            with unittest.mock.patch.object(pool.get('ir.date'), 'today',
                    return_value=dt.date(2026, 12, 1)):
                self.assertEqual(ids([('overdue', '=', True)]),
                    [bill1.id, bill2.id])
                self.assertEqual([b.overdue for b in Bill.browse(
                            [bill1, bill2, bill3])], [True, True, False])
            self.assertEqual(ids([('building', '=', building.id)]),
                [bill1.id, bill2.id, bill3.id])
            self.assertEqual(ids([('period', '=', '2026-05')]),
                [bill1.id, bill2.id, bill3.id])
            self.assertEqual(ids([('period', '=', '2026-06')]), [])
            self.assertEqual(bill1.period, '2026-05')
            self.assertEqual(
                [u.amount_due for u in Unit.browse([unit1, unit2, unit3])],
                [Decimal('260.00'), Decimal('160.00'), Decimal('0')])

            desk, = User.create([{
                        'login': 'desk', 'name': "前台",
                        'groups': [('add', [ModelData.get_id(
                                        'community_base',
                                        'group_community_staff')])],
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'compounds': [('add', [compound.id])],
                        }])
            for wizard in ['community.bill.run.create',
                    'account.dunning.create', 'community.late_fee.charge']:
                Wizard = pool.get(wizard, type='wizard')
                with transaction.set_user(desk.id), \
                        transaction.set_context(_check_access=True):
                    with self.assertRaises(AccessError, msg=wizard):
                        Wizard.check_access()
            with transaction.set_user(desk.id), \
                    transaction.set_context(_check_access=True):
                self.assertEqual(len(Bill.search([])), 3)
                with self.assertRaises(AccessError):
                    BillRun.create([{'compound': compound.id,
                                'period_start': dt.date(2026, 6, 1),
                                'period_end': dt.date(2026, 6, 30)}])
                with self.assertRaises(AccessButtonError):
                    BillRun.process(BillRun.search([]))

    @with_transaction()
    def test_next_fiscal_year_and_billed_period(self):
        """The next fiscal year and its periods are created ahead; a
        period already billed is refused; the wizard proposes the next
        unbilled month"""
        pool = Pool()
        BillRun = pool.get('community.bill.run')
        Period = pool.get('account.period')
        Start = pool.get('community.bill.run.create.start')
        Date = pool.get('ir.date')
        with billing_company('FY') as (company, compound, building, items):
            owned_unit(building, '3-1-101', Decimal('100.00'), '赵一')
            year = Date.today().year
            created = BillRun.create_fiscal_years()
            self.assertEqual([f.name for f in created], [str(year + 1)])
            self.assertEqual(BillRun.create_fiscal_years(), [])
            january = Period.find(company, date=dt.date(year + 1, 1, 15))
            self.assertEqual((january.start_date, january.end_date),
                (dt.date(year + 1, 1, 1), dt.date(year + 1, 1, 31)))

            bill_month(compound, 2026, 5)
            again, = BillRun.create([{'compound': compound.id,
                        'period_start': dt.date(2026, 5, 1),
                        'period_end': dt.date(2026, 5, 31)}])
            with self.assertRaises(UserError) as cm:
                again._check_billed()
            self.assertIn('choose the next period', cm.exception.message)
            start = Start(compound=compound)
            start.on_change_compound()
            self.assertEqual((start.period_start, start.period_end),
                (dt.date(2026, 6, 1), dt.date(2026, 6, 30)))


class ChineseNumeralsTestCase(unittest.TestCase):
    "Amounts in Chinese capital numerals (大写)"

    def test_amount_in_words(self):
        from ..payment import amount_in_words
        for amount, words in [
                ('1234.50', '壹仟贰佰叁拾肆元伍角整'),
                ('1004.05', '壹仟零肆元零伍分'),
                ('100010', '壹拾万零壹拾元整'),
                ('1000000', '壹佰万元整'),
                ('100000001', '壹亿零壹元整'),
                ('0.5', '伍角整'),
                ('0.05', '伍分'),
                ('0', '零元整'),
                ('10.00', '壹拾元整'),
                ('260.00', '贰佰陆拾元整'),
                ('30005.67', '叁万零伍元陆角柒分'),
                ('120400', '壹拾贰万零肆佰元整'),
                ('-12.345', '负壹拾贰元叁角伍分'),
                ]:
            self.assertEqual(amount_in_words(Decimal(amount)), words, amount)


class ApportionmentTestCase(unittest.TestCase):
    "Common-area apportionment by largest remainder"

    def test_largest_remainder_area(self):
        "1000.00 CNY of common electricity over three units by area"
        from ..apportionment import largest_remainder
        parts = largest_remainder(Decimal('1000.00'), {
                1: Decimal('89.50'), 2: Decimal('120.25'),
                3: Decimal('95.00')})
        # exact 293.6833…, 394.5857…, 311.7309…: floors total 999.99,
        # the fen left goes to the largest remainder (unit 2)
        self.assertEqual(parts, {1: Decimal('293.68'),
                2: Decimal('394.59'), 3: Decimal('311.73')})
        self.assertEqual(sum(parts.values()), Decimal('1000.00'))

    def test_largest_remainder_households(self):
        "100.00 over three households: one fen goes to the first"
        from ..apportionment import largest_remainder
        parts = largest_remainder(Decimal('100.00'),
            {1: Decimal(1), 2: Decimal(1), 3: Decimal(1)})
        self.assertEqual(parts, {1: Decimal('33.34'), 2: Decimal('33.33'),
                3: Decimal('33.33')})
        with self.assertRaises(ValueError):
            largest_remainder(Decimal(1), {1: Decimal(0)})


class LateFeeTestCase(unittest.TestCase):
    "Late fees"

    def test_late_fee_month_boundary(self):
        "0.05 % a day after 5 grace days, over the end of April"
        from ..arrears import bucket_of, late_fee
        # due 31 March, 5 grace days, counted to 3 May: 33 - 5 = 28 days
        days, fee = late_fee(Decimal('260.00'), dt.date(2026, 3, 31),
            dt.date(2026, 5, 3), Decimal('0.0005'), grace_days=5)
        self.assertEqual((days, fee), (28, Decimal('3.64')))
        self.assertEqual(late_fee(Decimal('260.00'), dt.date(2026, 3, 31),
                dt.date(2026, 4, 5), Decimal('0.0005'), grace_days=5),
            (0, Decimal('0.00')))
        # capped at the principal
        self.assertEqual(late_fee(Decimal('100.00'), dt.date(2020, 1, 1),
                dt.date(2026, 1, 1), Decimal('0.01'))[1], Decimal('100.00'))
        self.assertEqual([bucket_of(d) for d in [0, 30, 31, 90, 91, 180,
                        181, 365, 366]],
            ['0-30', '0-30', '31-90', '31-90', '91-180', '91-180',
                '181-365', '181-365', '>365'])

    def test_late_fee_amount_cap(self):
        "A run's late fee: half-up, capped with what is already charged"
        from ..late_fee import late_fee_amount
        # 131.25 × 0.05 % × 10 = 0.65625 → 0.66 half-up
        self.assertEqual(late_fee_amount(Decimal('131.25'),
                Decimal('0.0005'), 10, Decimal(1)), Decimal('0.66'))
        # cap 10 % of 200.00 = 20.00, 18.50 already charged: 1.50 left
        self.assertEqual(late_fee_amount(Decimal('200.00'),
                Decimal('0.01'), 30, Decimal('0.1'), Decimal('18.50')),
            Decimal('1.50'))
        # a cap above 1 is never applied above the principal
        self.assertEqual(late_fee_amount(Decimal('100.00'),
                Decimal('0.01'), 500, Decimal(5)), Decimal('100.00'))
        self.assertEqual(late_fee_amount(Decimal('100.00'),
                Decimal('0.0005'), 0, Decimal(1)), Decimal('0.00'))
