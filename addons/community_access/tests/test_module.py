# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from trytond.modules.community_base.tests.test_module import create_compound
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction


class CommunityAccessTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_access module"
    module = 'community_access'

    @with_transaction()
    def test_schedule_half_open_ranges(self):
        "A range includes its start, excludes its end; 00:00 ends the day"
        pool = Pool()
        Schedule = pool.get('community.access.schedule')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            schedule, = Schedule.create([{
                        'name': "Weekdays", 'compound': compound.id,
                        'statutory_holidays': True,
                        'ranges': [('create', [
                                    {'weekday': str(d),
                                        'start_time': dt.time(6),
                                        'end_time': dt.time(23)}
                                    for d in range(5)] + [
                                    {'weekday': '5',
                                        'start_time': dt.time(22),
                                        'end_time': dt.time(0)}])],
                        'exceptions': [('create', [
                                    {'date': dt.date(2026, 12, 24),
                                        'name': "平安夜",
                                        'start_time': dt.time(8),
                                        'end_time': dt.time(12)}])],
                        }])
            wed = dt.datetime(2026, 12, 2)  # a Wednesday
            self.assertEqual([schedule.allows(wed.replace(hour=h, minute=m))
                    for h, m in [(5, 59), (6, 0), (22, 59), (23, 0)]],
                [False, True, True, False])
            sat = dt.datetime(2026, 12, 5, 23, 59, 59)
            self.assertTrue(schedule.allows(sat))
            self.assertFalse(schedule.allows(sat.replace(hour=21)))
            # 国庆节 (statutory holiday, no holiday range): closed
            self.assertFalse(schedule.allows(dt.datetime(2026, 10, 1, 9)))
            # the override of a Thursday: only 08:00–12:00
            self.assertEqual([schedule.allows(dt.datetime(2026, 12, 24, h))
                    for h in (7, 8, 11, 12, 13)],
                [False, True, True, False, False])

    @with_transaction()
    def test_pin_stored_as_hash_and_unique(self):
        "A PIN is 6 digits, stored only as a keyed hash, found by it"
        pool = Pool()
        Credential = pool.get('community.access.credential')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            party, = Party.create([{'name': "李强"}])
            credentials = Credential.create([{
                        'compound': compound.id, 'party': party.id,
                        'kind': 'pin'} for _ in range(20)])
            pins = Credential.set_pins(credentials)
            self.assertEqual(len(set(pins.values())), 20)
            for credential in credentials:
                pin = pins[credential.id]
                self.assertRegex(pin, r'^\d{6}$')
                self.assertNotIn(pin, credential.secret_hash)
                self.assertEqual(len(credential.secret_hash), 64)
                self.assertEqual(
                    Credential.lookup(compound, 'pin', pin), credential)
            other, _ = create_compound(company, code='LS02', name="滨江花园")
            self.assertIsNone(Credential.lookup(
                    other, 'pin', pins[credentials[0].id]))


del ModuleTestCase
