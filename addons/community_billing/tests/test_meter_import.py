# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Unit tests of the meter readings import (抄表导入)."""
import datetime as dt
import io
import unittest
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction

from .tools import create_unit, setup_billing

HEADER = ['小区', '表号', '房号', '收费项目', '抄表日期', '读数', '换表原因',
    '新表起始读数', '备注']


def xlsx(rows, header=HEADER):
    "An .xlsx file (bytes) with header and rows, built with openpyxl."
    import openpyxl
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def setup_meters(company):
    """The billing setup with water (tiers 0–180 at 3.45, –260 at 4.83,
    above at 5.83) and two units with a water meter each, read 1234.5 and
    20 on 2026-10-31. Returns (compound, water, meter 301, meter 302)."""
    pool = Pool()
    Party = pool.get('party.party')
    FeeItem = pool.get('community.fee.item')
    Meter = pool.get('community.meter')
    Reading = pool.get('community.meter.reading')
    compound, building, items = setup_billing(company)
    owner, other = Party.create([{'name': '吴九'}, {'name': '郑十'}])
    u301 = create_unit(building, '3-3-301', Decimal('80.00'), [(owner, 100)])
    u302 = create_unit(building, '3-3-302', Decimal('80.00'), [(other, 100)])
    water, = FeeItem.create([{
                'compound': compound.id, 'code': 'SF', 'name': "水费",
                'kind': 'metered',
                'account': items['chart']['revenue_water'].id,
                'tax': items['chart']['vat3'].id,
                'tiers': [('create', [
                            {'up_to': Decimal(180),
                                'unit_price': Decimal('3.45')},
                            {'up_to': Decimal(260),
                                'unit_price': Decimal('4.83')},
                            {'unit_price': Decimal('5.83')}])],
                }])
    m301, m302 = Meter.create([{
                'compound': compound.id, 'unit': u301.id,
                'fee_item': water.id, 'number': 'W-301', 'digits': 5}, {
                'compound': compound.id, 'unit': u302.id,
                'fee_item': water.id, 'number': 'W-302', 'digits': 4}])
    Reading.create([
            {'meter': m301.id, 'date': dt.date(2026, 10, 31),
                'value': Decimal('1234.5')},
            {'meter': m302.id, 'date': dt.date(2026, 10, 31),
                'value': Decimal('9990')}])
    return compound, water, m301, m302


class MeterImportTestCase(unittest.TestCase):
    "Test the meter readings import"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('community_billing')

    def import_(self, compound, rows, header=HEADER):
        Import = Pool().get('community.meter.reading.import', type='wizard')
        return Import.import_readings(
            compound, xlsx(rows, header), 'readings.xlsx')

    @with_transaction()
    def test_import_readings(self):
        "Import, refuse a lower reading, re-import, correct, billed"
        pool = Pool()
        Reading = pool.get('community.meter.reading')
        BillRun = pool.get('community.bill.run')
        Bill = pool.get('community.bill')
        company = create_company()
        with set_company(company):
            compound, water, m301, m302 = setup_meters(company)

            # Row 3 is lower than the October reading: nothing imported.
            with self.assertRaises(UserError) as cm:
                self.import_(compound, [
                        ['JZHY', 'W-302', '', '', '2026-11-30', 10, '翻表'],
                        ['JZHY', 'W-301', '', '', '2026-11-30', 1200],
                        ])
            self.assertIn('readings.xlsx', cm.exception.message)
            self.assertEqual(cm.exception.description,
                'Row 3, column 读数: lower than the previous reading 1234.5 '
                'of 2026-10-31; if the meter rolled over or was replaced, '
                'say so in column 换表原因 (翻表/换表)')
            self.assertEqual(Reading.search(
                    [('date', '=', dt.date(2026, 11, 30))], count=True), 0)

            # Unknown meter, bad date, unknown reason, same meter twice
            with self.assertRaises(UserError) as cm:
                self.import_(compound, [
                        ['', 'W-999', '', '', '2026-11-30', 10],
                        ['', 'W-301', '', '', '30/11/2026', 1300],
                        ['', 'W-302', '', '', '2026-11-30', 5, '坏了'],
                        ['', '', '3-3-301', 'SF', '2026-12-31', 1300],
                        ['', 'W-301', '', '', '2026-12-31', 1310],
                        ])
            lines = cm.exception.description.splitlines()
            self.assertEqual([l.split(':')[0] for l in lines], [
                    'Row 2, column 表号', 'Row 3, column 抄表日期',
                    'Row 4, column 换表原因', 'Row 6, column 抄表日期'])

            # The corrected file: 9990 → 0010 rolled over on a 4-digit
            # register (20 m³); W-301 found by unit and fee item.
            rows = [
                ['JZHY', 'W-302', '', '', '2026-11-30', 10, '翻表'],
                ['JZHY', '', '3-3-301', 'SF', dt.date(2026, 11, 30),
                    '1250.0'],
                ['JZHY', 'W-301', '', '', '', ''],  # not read: skipped
                ]
            self.assertEqual(self.import_(compound, rows),
                {'created': 2, 'updated': 0, 'unchanged': 0})
            n301, = Reading.search([('meter', '=', m301.id),
                    ('date', '=', dt.date(2026, 11, 30))])
            n302, = Reading.search([('meter', '=', m302.id),
                    ('date', '=', dt.date(2026, 11, 30))])
            self.assertEqual((n301.consumption, n302.consumption),
                (Decimal('15.5'), Decimal(20)))
            self.assertEqual(n302.reason, 'rollover')

            # The same file again changes nothing.
            self.assertEqual(self.import_(compound, rows),
                {'created': 0, 'updated': 0, 'unchanged': 2})
            self.assertEqual(Reading.search([], count=True), 4)

            # A corrected value of an unbilled reading updates it.
            rows[1][5] = '1260'
            self.assertEqual(self.import_(compound, rows),
                {'created': 0, 'updated': 1, 'unchanged': 1})
            n301 = Reading(n301.id)
            self.assertEqual(n301.consumption, Decimal('25.5'))

            # Once November is billed the reading cannot change.
            run, = BillRun.create([{'compound': compound.id,
                        'period_start': dt.date(2026, 11, 1),
                        'period_end': dt.date(2026, 11, 30)}])
            BillRun.process([run])
            bill, = Bill.search([('unit', '=', m301.unit.id),
                    ('run', '=', run.id)])
            rows[1][5] = '1270'
            with self.assertRaises(UserError) as cm:
                self.import_(compound, rows)
            self.assertEqual(cm.exception.description,
                'Row 3, column 读数: the reading of 2026-11-30 (1260) is '
                'already billed on bill %s and cannot be changed'
                % bill.number)
            with self.assertRaises(UserError):
                Reading.write([n301], {'value': Decimal(1270)})
            self.assertEqual(Reading(n301.id).value, Decimal(1260))

    @with_transaction()
    def test_replacement_and_later_reading(self):
        "A replaced meter needs the reason; a reading before a later one"
        pool = Pool()
        Reading = pool.get('community.meter.reading')
        company = create_company()
        with set_company(company):
            compound, water, m301, m302 = setup_meters(company)
            Reading.create([{'meter': m301.id,
                        'date': dt.date(2026, 12, 31),
                        'value': Decimal('1300')}])
            # A November reading above December's makes December negative.
            with self.assertRaises(UserError) as cm:
                self.import_(compound, [
                        ['', 'W-301', '', '', '2026-11-30', 1310]])
            self.assertEqual(cm.exception.description,
                'Row 2, column 读数: the next reading 1300 of 2026-12-31 '
                'would be lower than this one')
            # Replaced on 30 November: the new meter starts at 0.
            result = self.import_(compound, [
                    ['', 'W-301', '', '', '2026-11-30', 3, '换表', 0,
                        '旧表读数 1240 换新表']])
            self.assertEqual(result['created'], 1)
            november, = Reading.search([('meter', '=', m301.id),
                    ('date', '=', dt.date(2026, 11, 30))])
            self.assertEqual((november.reason, november.consumption,
                    november.note),
                ('replacement', Decimal(3), '旧表读数 1240 换新表'))
            # December now follows the new meter: 1300 − 3.
            december, = Reading.search([('meter', '=', m301.id),
                    ('date', '=', dt.date(2026, 12, 31))])
            self.assertEqual(december.consumption, Decimal(1297))

    @with_transaction()
    def test_export_sheet(self):
        "The sheet of the meters to read imports once filled in"
        import openpyxl
        pool = Pool()
        Import = pool.get('community.meter.reading.import', type='wizard')
        company = create_company()
        with set_company(company):
            compound, water, m301, m302 = setup_meters(company)
            data = Import.export_meters(compound, dt.date(2026, 11, 30))
            workbook = openpyxl.load_workbook(io.BytesIO(data))
            sheet = workbook.active
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            self.assertEqual(rows[0][:8], ['小区', '表号', '房号', '收费项目',
                    '上次抄表日期', '上次读数', '抄表日期', '读数'])
            self.assertEqual(rows[1][:8], ['JZHY', 'W-301', '3-3-301', 'SF',
                    '2026-10-31', '1234.5', '2026-11-30', None])
            # Unfilled: nothing to import
            self.assertEqual(Import.import_readings(
                    compound, data, 'sheet.xlsx'),
                {'created': 0, 'updated': 0, 'unchanged': 0})
            sheet['H2'] = 1240
            output = io.BytesIO()
            workbook.save(output)
            self.assertEqual(Import.import_readings(
                    compound, output.getvalue(), 'sheet.xlsx'),
                {'created': 1, 'updated': 0, 'unchanged': 0})
