# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
import threading
from decimal import Decimal

from trytond import backend
from trytond.config import config
from trytond.modules.community_base.tests.tools import TranslationTestMixin
from trytond.modules.community_notification.tests.emulators import (
    APPROVED_SMS, TencentSms, configure)
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, ModuleTestCase, with_transaction)
from trytond.transaction import Transaction


def committed(func, *args):
    """Run ``func(*args)`` in its own transaction and commit, again after
    a serialization failure (as trytond's worker runs a task)."""
    while True:
        with Transaction().start(DB_NAME, 0) as transaction:
            try:
                result = func(*args)
            except backend.DatabaseOperationalError:
                transaction.rollback()
                continue
            transaction.commit()
            return result


class CommunityNotificationTestCase(
        TranslationTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test community_notification module"
    module = 'community_notification'
    extras = ['community_billing', 'community_service',
        'community_announcement', 'community_iot']

    @with_transaction()
    def test_device_alarm_in_unit(self):
        """A device alarm in a unit tells its current residents at once
        (urgent: quiet hours do not hold it), once per alarm"""
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Unit = pool.get('community.unit')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        Device = pool.get('community.iot.device')
        Event = pool.get('community.iot.event')
        Alarm = pool.get('community.iot.alarm')
        Notification = pool.get('community.notification')
        company = create_company()
        with set_company(company):
            compound, = Compound.create([{
                        'company': company.id, 'code': 'JZHY',
                        'name': "嘉州花园"}])
            building, = Building.create([{
                        'compound': compound.id, 'code': '3',
                        'name': "3栋"}])
            unit, other = Unit.create([{
                        'building': building.id, 'code': '3-1-101'}, {
                        'building': building.id, 'code': '3-1-102'}])
            owner, tenant, gone, neighbour = Party.create([
                    {'name': "李雷"}, {'name': "韩梅梅"}, {'name': "王五"},
                    {'name': "赵六"}])
            start = dt.date(2020, 1, 1)
            Residency.create([{
                        'unit': unit.id, 'party': owner.id, 'role': 'owner',
                        'share': Decimal(100), 'start_date': start}, {
                        'unit': unit.id, 'party': tenant.id,
                        'role': 'tenant', 'start_date': start}, {
                        'unit': unit.id, 'party': gone.id, 'role': 'tenant',
                        'start_date': start,
                        'end_date': dt.date(2021, 1, 1)}, {
                        'unit': other.id, 'party': neighbour.id,
                        'role': 'owner', 'share': Decimal(100),
                        'start_date': start}])
            device, = Device.create([{
                        'name': "厨房烟感", 'compound': compound.id,
                        'unit': unit.id, 'family': 'zigbee2mqtt',
                        'key': 'smoke-101'}])
            # 23:30 in Asia/Shanghai: within the default quiet hours
            time = dt.datetime(2026, 11, 20, 15, 30)
            event, again = Event.create([{
                        'device': device.id, 'compound': compound.id,
                        'kind': 'smoke', 'time': time}, {
                        'device': device.id, 'compound': compound.id,
                        'kind': 'smoke',
                        'time': time + dt.timedelta(minutes=1)}])

            alarm, new = Alarm.raise_(event, 'critical', "烟雾报警")
            self.assertTrue(new)
            notifications = Notification.search(
                [('origin', '=', str(alarm))], order=[('party.name', 'ASC')])
            self.assertEqual(
                [(n.party.name, n.template.code, n.kind, n.urgent)
                    for n in notifications],
                [("李雷", 'device_alarm', 'alarm', True),
                    ("韩梅梅", 'device_alarm', 'alarm', True)])
            self.assertEqual(notifications[0].title,
                "3-1-101 设备告警：烟雾报警")
            self.assertEqual(notifications[0].body,
                "您的 3-1-101 厨房烟感 发出告警：烟雾报警"
                "（2026-11-20 23:30）。")

            # the same alarm again: one more occurrence, nobody told twice
            same, new = Alarm.raise_(again, 'critical', "烟雾报警")
            self.assertEqual((same, new), (alarm, False))
            self.assertEqual(Notification.search_count(
                    [('template.code', '=', 'device_alarm')]), 2)

    def test_send_once_when_run_twice_at_once(self):
        """The sending task run twice at the same time, then again: each
        notification is sent once (the attempts' conditional claim and
        their exclusion constraint)"""
        pool = Pool(DB_NAME)
        Notification = pool.get('community.notification')
        Attempt = pool.get('community.notification.attempt')
        Queue = pool.get('ir.queue')
        sms = TencentSms(templates=APPROVED_SMS).start()
        self.addCleanup(sms.stop)
        configure(sms)
        self.addCleanup(config.remove_section, 'community_notification')
        numbers = ['1390013%04d' % i for i in range(12)]
        ids = committed(Notification._notify, 'device_alarm', [
                (None, None, {'mobile': n, 'unit': '3-1-101',
                        'alarm': "烟雾报警"}) for n in numbers])

        def clean():
            Notification.delete(Notification.browse(ids))
            Queue.delete(Queue.search([]))
        self.addCleanup(committed, clean)
        start = threading.Barrier(2)

        def send():
            start.wait()
            committed(Notification.send, ids)
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        committed(Notification.send, ids)
        committed(Attempt.process, committed(Attempt.search, []))

        self.assertEqual(sorted(m['to'] for m in sms.sent),
            ['+86' + n for n in numbers])

        def attempts():
            return sorted((a.address, a.state, a.tries)
                for a in Attempt.search([]))
        self.assertEqual(committed(attempts),
            [(n, 'sent', 1) for n in numbers])


del ModuleTestCase
