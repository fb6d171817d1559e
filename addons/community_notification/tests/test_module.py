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


del ModuleTestCase
