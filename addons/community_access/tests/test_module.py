# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from trytond.modules.community_base.tests.test_module import create_compound
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, create_employee, set_company)
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

    @with_transaction()
    def test_rule_subjects_and_validity(self):
        "Rules by unit and role, named person, staff group; validities"
        pool = Pool()
        Unit = pool.get('community.unit')
        Residency = pool.get('community.residency')
        Party = pool.get('party.party')
        Door = pool.get('community.access.door')
        DoorGroup = pool.get('community.access.door.group')
        Rule = pool.get('community.access.rule')
        Credential = pool.get('community.access.credential')
        Group = pool.get('res.group')
        User = pool.get('res.user')
        company = create_company()
        with set_company(company):
            compound, building = create_compound(company)
            entrance, = building.entrances
            unit, other_unit = Unit.create([{
                        'building': building.id, 'entrance': entrance.id,
                        'code': c} for c in ['3-2-1201', '3-2-1202']])
            owner, tenant, visitor, cleaner = Party.create([
                    {'name': n} for n in ["王芳", "孙丽", "周敏", "保洁 刘"]])
            Residency.create([
                    {'unit': unit.id, 'party': owner.id, 'role': 'owner',
                        'share': 100, 'start_date': dt.date(2026, 1, 1)},
                    {'unit': unit.id, 'party': tenant.id, 'role': 'tenant',
                        'start_date': dt.date(2026, 1, 1),
                        'end_date': dt.date(2026, 11, 30)},
                    ])
            door, = Door.create([{'name': "3栋2单元门",
                        'compound': compound.id, 'location': 'entrance',
                        'building': building.id, 'entrance': entrance.id}])
            group, = DoorGroup.create([{'name': "3-2",
                        'compound': compound.id,
                        'doors': [('add', [door.id])]}])
            cleaners, = Group.create([{'name': "保洁"}])
            employee = create_employee(company, name="保洁 刘")
            employee.party = cleaner
            employee.save()
            User.create([{'login': 'cleaner', 'name': "保洁 刘",
                        'groups': [('add', [cleaners.id])],
                        'companies': [('add', [company.id])],
                        'employees': [('add', [employee.id])]}])
            Rule.create([
                    {'name': "1201 业主", 'compound': compound.id,
                        'subject': 'residents', 'unit': unit.id,
                        'roles': ['owner', 'tenant'],
                        'door_group': group.id},
                    {'name': "访客 周敏", 'compound': compound.id,
                        'subject': 'party', 'party': visitor.id,
                        'door_group': group.id,
                        'valid_from': dt.datetime(2026, 12, 2, 1),
                        'valid_to': dt.datetime(2026, 12, 2, 3)},
                    {'name': "保洁", 'compound': compound.id,
                        'subject': 'staff', 'group': cleaners.id,
                        'door_group': group.id},
                    ])
            Credential.create([{'compound': compound.id, 'party': p.id,
                        'kind': 'card', 'identifier': uid}
                    for p, uid in [(owner, 'C1'), (tenant, 'C2'),
                        (visitor, 'C3'), (cleaner, 'C4')]])
            Credential.create([{'compound': compound.id,
                        'party': owner.id, 'kind': 'card',
                        'identifier': 'C5',
                        'valid_from': dt.datetime(2026, 12, 3),
                        'valid_to': dt.datetime(2026, 12, 4)}])

            def decide(uid, at):
                decision = Door.decide(door, 'card', uid, at)
                return decision.result, decision.reason

            # 2 December 2026 02:00 UTC (10:00 in Shanghai)
            at = dt.datetime(2026, 12, 2, 2)
            self.assertEqual(decide('C1', at), ('allow', 'granted'))
            # the tenancy ended on 30 November
            self.assertEqual(decide('C2', at), ('deny', 'no_rule'))
            self.assertEqual(
                decide('C2', dt.datetime(2026, 11, 29, 2)),
                ('allow', 'granted'))
            # the visitor's rule: [01:00, 03:00) UTC
            self.assertEqual(decide('C3', at), ('allow', 'granted'))
            self.assertEqual(decide('C3', at.replace(hour=3)),
                ('deny', 'no_rule'))
            self.assertEqual(decide('C4', at), ('allow', 'granted'))
            # the second card: [3 Dec, 4 Dec) UTC
            self.assertEqual(decide('C5', at), ('deny', 'not_yet_valid'))
            self.assertEqual(decide('C5', dt.datetime(2026, 12, 3)),
                ('allow', 'granted'))
            self.assertEqual(decide('C5', dt.datetime(2026, 12, 4)),
                ('deny', 'expired'))
            # a revoked card keeps its reason; its UID may be issued again
            card, = Credential.search([('identifier', '=', 'C1')])
            Credential.revoke([card])
            self.assertEqual(decide('c1', at), ('deny', 'revoked'))
            Credential.create([{'compound': compound.id,
                        'party': owner.id, 'kind': 'card',
                        'identifier': 'C1'}])
            self.assertEqual(decide('C1', at), ('allow', 'granted'))
            # a door taken out of service
            Door.write([door], {'active': False})
            self.assertEqual(decide('C1', at), ('deny', 'door_inactive'))

    @with_transaction()
    def test_qr_age_on_server_clock(self):
        """A QR code's minute is counted at the arrival of the device's
        message, whatever time the device's clock claims"""
        pool = Pool()
        Party = pool.get('party.party')
        Door = pool.get('community.access.door')
        DoorGroup = pool.get('community.access.door.group')
        Rule = pool.get('community.access.rule')
        Credential = pool.get('community.access.credential')
        Device = pool.get('community.iot.device')
        Message = pool.get('community.iot.message')
        Event = pool.get('community.iot.event')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            party, = Party.create([{'name': "张伟"}])
            device, = Device.create([{'name': "东门读头",
                        'family': 'generic', 'key': 'east',
                        'compound': compound.id}])
            door, = Door.create([{'name': "东门", 'compound': compound.id,
                        'location': 'gate', 'device': device.id}])
            group, = DoorGroup.create([{'name': "大门",
                        'compound': compound.id,
                        'doors': [('add', [door.id])]}])
            Rule.create([{'name': "张伟", 'compound': compound.id,
                        'subject': 'party', 'party': party.id,
                        'door_group': group.id}])
            credential, = Credential.create([{'compound': compound.id,
                        'party': party.id, 'kind': 'qr'}])
            issued = dt.datetime(2026, 12, 2, 1, 0)
            code = credential.qr_code(issued)

            def attempt(device_time, received):
                message, = Message.create([{'topic': 'access/east/attempt',
                            'dedup_key': str(received), 'device': device.id,
                            'received': received,
                            'device_time': device_time,
                            'state': 'processed'}])
                event, = Event.create([{'device': device.id,
                            'compound': compound.id,
                            'message': message.id, 'kind': 'button',
                            'time': device_time}])
                decision = Door.decide(door, 'qr', code, device_time,
                    event=event)
                return decision.result, decision.reason

            second = dt.timedelta(seconds=1)
            self.assertEqual(attempt(issued + 5 * second,
                    issued + 6 * second), ('allow', 'granted'))
            # the device's clock 90 s behind: a screenshot 100 s old
            self.assertEqual(attempt(issued + 10 * second,
                    issued + 100 * second), ('deny', 'qr_expired'))
            # without an event, the time given is the server's
            self.assertEqual(
                Door.decide(door, 'qr', code, issued + 61 * second).reason,
                'qr_expired')

    @with_transaction()
    def test_expiry_and_retention(self):
        """Credentials past their validity expire (the window excludes its
        end); decisions older than the compound's retention are deleted,
        per compound, the others kept"""
        pool = Pool()
        Credential = pool.get('community.access.credential')
        Decision = pool.get('community.access.decision')
        Door = pool.get('community.access.door')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            other, _ = create_compound(company, code='LS02', name="滨江花园")
            self.assertEqual(compound.access_log_retention_days, 180)
            other.access_log_retention_days = 30
            other.save()
            party, = Party.create([{'name': "李强"}])
            now = dt.datetime(2026, 12, 2, 8)
            ended, ending, open_, suspended = Credential.create([{
                        'compound': compound.id, 'party': party.id,
                        'kind': 'card', 'identifier': uid,
                        'valid_to': valid_to} for uid, valid_to in [
                        ('A1', now - dt.timedelta(days=1)),
                        ('A2', now),
                        ('A3', now + dt.timedelta(seconds=1)),
                        ('A4', now - dt.timedelta(hours=1)),
                        ]])
            Credential.suspend([suspended])
            expired = Credential.expire_ended(now)
            self.assertEqual(sorted(c.identifier for c in expired),
                ['A1', 'A2', 'A4'])
            self.assertEqual([c.state for c in Credential.browse(
                        [ended, ending, open_, suspended])],
                ['expired', 'expired', 'active', 'expired'])
            self.assertEqual(Credential.expire_ended(now), [])

            doors = Door.create([{'name': "大门", 'compound': c.id,
                        'location': 'gate'} for c in [compound, other]])
            Decision.create([{'compound': d.compound.id, 'door': d.id,
                        'time': now - dt.timedelta(days=days),
                        'kind': 'card', 'result': 'deny',
                        'reason': 'unknown_credential', 'direction': 'in'}
                    for d in doors for days in [1, 31, 181]])
            self.assertEqual(Decision.purge(now), 3)
            self.assertEqual(sorted((d.compound.code, (now - d.time).days)
                    for d in Decision.search([])),
                [(compound.code, 1), (compound.code, 31), ('LS02', 1)])
            self.assertEqual(Decision.purge(now), 0)

    @with_transaction()
    def test_face_consent(self):
        """A face needs a given consent and another credential; a child's
        consent is the guardian's; withdrawing revokes the faces; the
        person id on the devices is random, never an ID number"""
        pool = Pool()
        Credential = pool.get('community.access.credential')
        Consent = pool.get('community.access.face_consent')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            compound, _ = create_compound(company)
            adult, child, mother = Party.create([
                    {'name': "李强", 'identifiers': [('create', [{
                                        'type': 'cn_ric',
                                        'code': '511102198001010012'}])]},
                    {'name': "李小宝", 'identifiers': [('create', [{
                                        'type': 'cn_ric',
                                        'code': '511102201805050022'}])]},
                    {'name': "王芳"}])
            consent, = Consent.create([{'compound': compound.id,
                        'party': adult.id, 'date': dt.date(2026, 12, 1)}])
            face = {'compound': compound.id, 'party': adult.id,
                'kind': 'face', 'face_consent': consent.id}
            # no other way in yet
            with self.assertRaisesRegex(Exception, 'only way in'):
                Credential.create([face])
            Credential.create([{'compound': compound.id,
                        'party': adult.id, 'kind': 'card',
                        'identifier': 'A1B2C3D4'}])
            credential, = Credential.create([face])
            self.assertRegex(credential.identifier, r'^[0-9A-F]{16}$')
            # without consent, or with another person's
            with self.assertRaisesRegex(Exception, '"Face Consent"'):
                Credential.create([dict(face, face_consent=None)])

            # a child of 8: the guardian consents
            with self.assertRaisesRegex(Exception, 'under 14'):
                Consent.create([{'compound': compound.id,
                            'party': child.id,
                            'date': dt.date(2026, 12, 1)}])
            child_consent, = Consent.create([{'compound': compound.id,
                        'party': child.id, 'guardian': mother.id,
                        'date': dt.date(2026, 12, 1)}])
            self.assertEqual(child_consent.state, 'given')

            Consent.withdraw([consent])
            self.assertEqual((consent.state, credential.state),
                ('withdrawn', 'revoked'))
            self.assertIsNotNone(consent.withdrawn)
            with self.assertRaisesRegex(Exception, '"Face Consent"'):
                Credential.create([face])


del ModuleTestCase
