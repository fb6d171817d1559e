# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Validators of the register (plates, ID numbers, mobiles) and the import."""
import datetime as dt
import unittest
from decimal import Decimal

import stdnum.cn.ric

from trytond.exceptions import UserError
from trytond.modules.community_base.party import (
    check_resident_id, compact_mobile, is_valid_resident_id, mask)
from trytond.modules.community_base.vehicle import (
    default_plate_colour, is_valid_plate, normalise_plate, plate_kind)
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

HEADER = ('楼栋,单元,房号,楼层,建筑面积,套内面积,房屋类型,'
    '姓名,证件号码,手机,身份,产权比例,车牌')


class ValidatorTestCase(unittest.TestCase):
    "Plates (GA 36-2018), resident ID numbers (GB 11643-1999), mobiles"

    def test_plates(self):
        "Regular and new-energy plates, normalised"
        self.assertEqual(normalise_plate(' 川l·a 1234 '), '川LA1234')
        self.assertEqual(plate_kind('川L12345'), 'regular')
        self.assertEqual(plate_kind('川LA1B2C'), 'regular')
        self.assertEqual(plate_kind('京A1234学'), 'special')
        self.assertEqual(plate_kind('川LD12345'), 'small_ne')
        self.assertEqual(plate_kind('川LFA1234'), 'small_ne')
        self.assertEqual(plate_kind('川L12345D'), 'large_ne')
        self.assertTrue(is_valid_plate('粤B·D12345'))
        for plate in ['川L1234', '川LI2345', '川LO2345', '川L12O45',
                'XL12345', '川1L2345', '川LA12345', '川LD1234A',
                '川L1234D5', '川LE12345']:
            with self.subTest(plate=plate):
                self.assertFalse(is_valid_plate(plate))
        self.assertEqual(default_plate_colour('川LD12345'), 'green')
        self.assertEqual(default_plate_colour('川L12345F'), 'yellow_green')
        self.assertEqual(default_plate_colour('川L12345'), None)

    def test_resident_ids(self):
        "GB 11643-1999: checksum, real past date; accepted where stdnum fails"
        # The example of the standard and python-stdnum
        self.assertEqual(check_resident_id('11010519491231002x'),
            '11010519491231002X')
        self.assertTrue(is_valid_resident_id('360426199101010071'))
        self.assertFalse(is_valid_resident_id('360426199101010072'))
        # 乐山市市中区 got code 511102 in 1985: stdnum rejects people born
        # before, yet their IDs carry it.
        number = '511102196001010013'
        self.assertFalse(stdnum.cn.ric.is_valid(number))
        self.assertTrue(is_valid_resident_id(number))
        # 仁寿县 moved from 511121 to Meishan in 1997: the code stays valid.
        self.assertTrue(is_valid_resident_id('51112119680502003X'))
        # Legacy 15-digit number: YYMMDD of the 1900s, no check character
        self.assertTrue(is_valid_resident_id('511102600101001'))
        self.assertFalse(is_valid_resident_id('511102601301001'))
        # Impossible and future dates, unknown province
        self.assertFalse(is_valid_resident_id('511102199902300012'))
        with self.assertRaises(ValueError):
            check_resident_id('511102203001010016',
                today=dt.date(2026, 11, 29))
        self.assertFalse(is_valid_resident_id('991102196001010012'))
        self.assertFalse(is_valid_resident_id('5111021960010100'))

    def test_mobiles_and_masks(self):
        "Mobiles in E.164; masked values keep the last 4 characters"
        self.assertEqual(compact_mobile('138 0013 8000'), '+8613800138000')
        self.assertEqual(compact_mobile('+86 13800138000'), '+8613800138000')
        self.assertEqual(compact_mobile('12345'), None)
        self.assertEqual(compact_mobile('028-85551234'), None)
        self.assertEqual(mask('511102196001011234'), '5111**********1234')
        self.assertEqual(mask('13812345678'), '138****5678')
        self.assertEqual(mask(''), '')


class RegisterImportTestCase(unittest.TestCase):
    "Import of register files"

    @classmethod
    def setUpClass(cls):
        activate_module('community_base')

    def _compound(self):
        pool = Pool()
        Compound = pool.get('community.compound')
        company = create_company()
        compound, = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': '嘉州花园'}])
        return company, compound

    @with_transaction()
    def test_import_update_and_export(self):
        "Import, re-import (no change), corrected file, export round-trip"
        pool = Pool()
        Import = pool.get('community.register.import', type='wizard')
        Unit = pool.get('community.unit')
        Residency = pool.get('community.residency')
        Vehicle = pool.get('community.vehicle')
        company, compound = self._compound()
        lines = [HEADER,
            '3,2,1201,12,89.50,70.10,住宅,张伟,511102196001010013,'
            '13800138000,业主,60,川L12345',
            '3,2,1201,12,89.50,70.10,住宅,李娜,51112119680502003X,'
            '13900139000,业主,40,',
            '3,2,1201,12,89.50,70.10,住宅,张小明,,,家庭成员,,',
            'S,,001,1,120.25,,商铺,王芳,360426199101010071,'
            '13700137000,租户,,川LD12345',
            'S,,001,1,120.25,,商铺,张伟,511102196001010013,'
            '13800138000,业主,,',
            ]
        data = ('\r\n'.join(lines) + '\r\n').encode('gbk')
        date = dt.date(2026, 3, 1)
        with set_company(company):
            counts = Import.import_register(compound, data, 'r.csv',
                date=date)
            self.assertEqual(counts['details'], {
                    'unit': {'created': 2}, 'party': {'created': 4},
                    'residency': {'created': 5},
                    'vehicle': {'created': 2}})
            unit, = Unit.search([('code', '=', '3-2-1201')])
            self.assertEqual(Unit.get_area_at([unit], date)[unit.id],
                (Decimal('89.50'), Decimal('70.10')))
            shares = sorted((r.party.name, r.share, r.payer)
                for r in unit.residencies if r.role == 'owner')
            self.assertEqual(shares, [
                    ('张伟', Decimal('60.00'), True),
                    ('李娜', Decimal('40.00'), False)])
            vehicle, = Vehicle.search([('plate', '=', '川LD12345')])
            self.assertEqual(vehicle.colour, 'green')
            self.assertEqual(vehicle.owner.name, '王芳')

            counts = Import.import_register(compound, data, 'r.csv',
                date=date)
            self.assertEqual((counts['created'], counts['updated']), (0, 0))
            self.assertEqual(counts['unchanged'], 2 + 4 + 5 + 2)

            # Corrected file: area fixed, 李娜 sold her share, member left
            lines[1] = lines[1].replace('89.50', '91.20').replace(
                ',60,', ',100,')
            lines[2] = lines[2].replace('89.50', '91.20')
            lines[2] = lines[2].replace(',40,', ',,').replace('业主', '租户')
            del lines[3]
            data = ('\r\n'.join(lines)).encode('utf-8-sig')
            later = dt.date(2026, 4, 1)
            counts = Import.import_register(compound, data, 'r.csv',
                date=later)
            self.assertEqual(counts['details']['residency'], {
                    'created': 1, 'updated': 1, 'unchanged': 2,
                    'ended': 2})
            self.assertEqual(Unit.get_area_at([unit], later)[unit.id][0],
                Decimal('91.20'))
            self.assertEqual(Unit.get_area_at([unit], date)[unit.id][0],
                Decimal('89.50'))
            with Transaction().set_context(active_test=False):
                ended = Residency.search([('unit', '=', unit.id),
                        ('end_date', '!=', None)])
            self.assertEqual(sorted((r.party.name, r.end_date)
                    for r in ended), [
                    ('张小明', dt.date(2026, 3, 31)),
                    ('李娜', dt.date(2026, 3, 31))])

            # Export then import: nothing changes
            content = Import.export_register(compound, date=later)
            self.assertEqual(content[:2], b'PK')
            counts = Import.import_register(compound, content,
                'export.xlsx', date=later)
            self.assertEqual((counts['created'], counts['updated'],
                    counts['ended']), (0, 0, 0))

    @with_transaction()
    def test_import_residency_start(self):
        """Residencies start on 入住日期, else 交房日期 of a new unit, else
        the import date: a register imported in June bills January"""
        pool = Pool()
        Import = pool.get('community.register.import', type='wizard')
        Residency = pool.get('community.residency')
        company, compound = self._compound()
        header = '楼栋,房号,建筑面积,交房日期,姓名,身份,入住日期'
        data = '\n'.join([header,
                '3,101,89.50,2019-05-01,张伟,业主,2020-03-15',
                '3,101,89.50,2019-05-01,张小明,家庭成员,',
                '3,102,90.00,,李娜,业主,2021/7/1',
                '3,103,90.00,,王芳,业主,',
                ]).encode()
        with set_company(company):
            Import.import_register(compound, data, 'r.csv',
                date=dt.date(2026, 6, 15))
            self.assertEqual(sorted((r.unit.code, r.party.name, r.start_date)
                    for r in Residency.search([])), [
                    ('3-101', '张伟', dt.date(2020, 3, 15)),
                    ('3-101', '张小明', dt.date(2019, 5, 1)),
                    ('3-102', '李娜', dt.date(2021, 7, 1)),
                    ('3-103', '王芳', dt.date(2026, 6, 15))])
            # a person added later to a unit already registered starts on
            # the import date, not on the unit's handover
            data = '\n'.join([header,
                    '3,101,89.50,2019-05-01,张伟,业主,2020-03-15',
                    '3,101,89.50,2019-05-01,张小明,家庭成员,',
                    '3,101,89.50,2019-05-01,赵六,租户,',
                    ]).encode()
            Import.import_register(compound, data, 'r.csv',
                date=dt.date(2026, 7, 1))
            tenant, = Residency.search([('role', '=', 'tenant')])
            self.assertEqual(tenant.start_date, dt.date(2026, 7, 1))
            # export: the column is written, the round trip changes nothing
            content = Import.export_register(
                compound, date=dt.date(2026, 7, 1))
            import openpyxl
            import io
            sheet = openpyxl.load_workbook(io.BytesIO(content)).active
            header_row = [c.value for c in sheet[1]]
            self.assertIn('入住日期', header_row)
            starts = {row[header_row.index('姓名')]:
                row[header_row.index('入住日期')]
                for row in sheet.iter_rows(min_row=2, values_only=True)}
            self.assertEqual(starts['张伟'], '2020-03-15')
            counts = Import.import_register(compound, content, 'e.xlsx',
                date=dt.date(2026, 7, 1))
            self.assertEqual((counts['created'], counts['updated'],
                    counts['ended']), (0, 0, 0))
            with self.assertRaises(UserError) as cm:
                Import.import_register(compound, '\n'.join([header,
                            '3,104,90.00,,钱七,业主,2021-13-01']).encode(),
                    'r.csv')
            self.assertIn('Row 2, column 入住日期', cm.exception.description)

    @with_transaction()
    def test_import_errors(self):
        "Bad rows abort the import and are listed; missing columns named"
        pool = Pool()
        Import = pool.get('community.register.import', type='wizard')
        Unit = pool.get('community.unit')
        company, compound = self._compound()
        with set_company(company):
            with self.assertRaises(UserError) as cm:
                Import.import_register(compound,
                    '楼栋,房号,姓名\n1,101,张三\n'.encode(), 'r.csv')
            self.assertIn('建筑面积', cm.exception.message)
            self.assertIn('身份', cm.exception.message)
            data = '\n'.join([HEADER,
                    '1,1,101,1,89.5,,住宅,张三,511102196001010014,'
                    '13800138000,业主,,',
                    '1,1,102,1,abc,,住宅,李四,,1380013800,业主,,川LI2345',
                    '1,1,103,1,90,,住宅,王五,,,业主,60,',
                    ]).encode()
            with self.assertRaises(UserError) as cm:
                Import.import_register(compound, data, 'r.csv')
            detail = cm.exception.description
            self.assertIn('Row 2, column 证件号码', detail)
            self.assertIn('Row 3, column 建筑面积', detail)
            self.assertIn('Row 3, column 手机', detail)
            self.assertIn('Row 3, column 车牌', detail)
            self.assertIn('Row 4, column 产权比例', detail)
            # one ID number under two names: a row error, not a crash
            data = '\n'.join([HEADER,
                    '1,1,104,1,90,,住宅,赵六,11010519491231002X,,业主,,',
                    '1,1,105,1,90,,住宅,钱七,11010519491231002X,,业主,,',
                    ]).encode()
            with self.assertRaises(UserError) as cm:
                Import.import_register(compound, data, 'r.csv')
            self.assertIn('Row 3, column 姓名: the same ID number has the '
                'name "赵六" in row 2', cm.exception.description)
            self.assertEqual(Unit.search([]), [])


class ParkingCommitteeTestCase(unittest.TestCase):
    "Parking spaces and committees of a compound"

    @classmethod
    def setUpClass(cls):
        activate_module('community_base')

    @with_transaction()
    def test_parking_and_committees(self):
        "Public spaces have no party; committees are parties with members"
        pool = Pool()
        Compound = pool.get('community.compound')
        Party = pool.get('party.party')
        Space = pool.get('community.parking.space')
        Vehicle = pool.get('community.vehicle')
        Committee = pool.get('community.compound.committee')
        company = create_company()
        with set_company(company):
            compound, = Compound.create([{'company': company.id,
                        'code': 'JZHY', 'name': '嘉州花园'}])
            owner, committee_party = Party.create([
                    {'name': '张伟'}, {'name': '嘉州花园业主委员会'}])
            vehicle, = Vehicle.create([{'compound': compound.id,
                        'plate': '川l d1234 5', 'owner': owner.id}])
            self.assertEqual((vehicle.plate, vehicle.colour),
                ('川LD12345', 'green'))
            with self.assertRaises(UserError):
                Vehicle.create([{'compound': compound.id,
                            'plate': '川LI2345'}])
            space, = Space.create([{'compound': compound.id,
                        'code': 'G-001', 'kind': 'leased',
                        'party': owner.id, 'vehicle': vehicle.id}])
            self.assertEqual(space.rec_name, 'G-001')
            with self.assertRaises(UserError):
                Space.create([{'compound': compound.id, 'code': 'G-002',
                            'kind': 'public', 'party': owner.id}])
            committee, = Committee.create([{'compound': compound.id,
                        'kind': 'owners', 'party': committee_party.id,
                        'start_date': dt.date(2024, 6, 1),
                        'members': [('create', [{'party': owner.id,
                                        'role': 'director'}])]}])
            self.assertEqual(committee.rec_name, '嘉州花园业主委员会')
            self.assertEqual(committee.members[0].compound, compound)
            # last: a constraint violation aborts the transaction
            with self.assertRaises(UserError):
                Space.create([{'compound': compound.id, 'code': 'G-001',
                            'kind': 'public'}])
