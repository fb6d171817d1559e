# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The portal's goods release pages in-process (werkzeug's test client): a
tenant applies, the owner agrees, the property approves, the tenant shows
the QR code and the guard releases the goods once with the quantities
counted and a photo; the arrears warning never blocks; another resident
and a guard of another compound see nothing."""
import datetime as dt
import io
import re
import unittest
from decimal import Decimal
from zoneinfo import ZoneInfo

from PIL import Image

from trytond.modules.community_portal.tests.tools import (
    ZH, PortalPages, catalogue_gaps, create_residents)
from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from ..goods_slip import hash_token

PASSWORD = 'release-route-test-1'
MODULE = __import__('pathlib').Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo('Asia/Shanghai')
MODEL = 'community.release.goods_slip'


def jpeg():
    out = io.BytesIO()
    Image.new('RGB', (40, 30), (200, 120, 40)).save(out, 'JPEG')
    return out.getvalue()


class ReleaseCatalogueTestCase(unittest.TestCase):
    "The texts of the release pages are translated"

    def test_zh_cn_catalogue_complete(self):
        "Every text of the templates and routes has a zh_CN translation"
        messages, untranslated = catalogue_gaps(MODULE)
        self.assertGreater(len(messages), 30)
        self.assertEqual(untranslated, [])


class ReleaseRouteTestCase(PortalPages, RouteTestCase):
    "The goods release pages of the portal and of the guards"
    module = 'community_release'
    extras = ['community_portal']
    password = PASSWORD

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Building = pool.get('community.building')
        Party = pool.get('party.party')
        Residency = pool.get('community.residency')
        WebUser = pool.get('web.user')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        company = create_company()
        compound, other = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': "嘉州花园"}, {
                    'company': company.id, 'code': 'FHXQ',
                    'name': "凤凰小区"}])
        building, = Building.create([{'compound': compound.id,
                    'code': '3'}])
        (unit, _), _ = create_residents(building, [
                ('3-2-1201', "钱多", '13900139006'),
                ('3-2-1202', "孙少", '13900139007')], PASSWORD)
        tenant, = Party.create([{'name': "周租"}])
        Residency.create([{'unit': unit.id, 'party': tenant.id,
                    'role': 'tenant', 'start_date': dt.date(2020, 1, 1)}])
        WebUser.create([{'mobile': '13900139008', 'party': tenant.id,
                    'password': PASSWORD}])
        staff = ModelData.get_id('community_base', 'group_community_staff')
        User.create([{
                    'name': "嘉州门岗", 'login': 'guard_jz',
                    'password': PASSWORD, 'groups': [('add', [staff])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [compound.id])],
                    }, {
                    'name': "凤凰门岗", 'login': 'guard_fh',
                    'password': PASSWORD, 'groups': [('add', [staff])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'compounds': [('add', [other.id])],
                    }])


    @property
    def today(self):
        return dt.datetime.now(SHANGHAI).date()

    @property
    def tomorrow(self):
        return self.today + dt.timedelta(days=1)

    def apply(self, client, **values):
        page = client.get(self.url('/release/new'), headers=ZH)
        self.assertEqual(page.status_code, 200)
        unit = re.search(r'<option value="([^"]+)"',
            page.get_data(as_text=True)).group(1)
        data = {'csrf': self.csrf(page), 'unit': unit,
            'start': self.tomorrow.isoformat(),
            'last': self.tomorrow.isoformat(), 'plate': '川L12345',
            'item_1': "冰箱", 'quantity_1': '1',
            'item_2': "纸箱", 'quantity_2': '3'}
        data.update(values)
        return client.post(self.url('/release/new'), data=data,
            headers=ZH)

    def slip_ref(self, html):
        return re.search(r'/release/([0-9]+\.[0-9a-f]+)/', html).group(1)

    def approve_in_back_office(self, item):
        "The property approves the slip of ``item`` (back office)."
        with Transaction().start(DB_NAME, 0) as transaction:
            Slip = Pool().get(MODEL)
            slip, = Slip.search([('lines.item', '=', item)])
            Slip.approve([slip])
            transaction.commit()

    def test_tenant_owner_guard(self):
        """A tenant applies for today and tomorrow; the owner agrees in the
        portal, the property approves; the tenant's QR code opens the guard's
        page,
        which warns of the unit's arrears but releases the goods once with
        the quantities counted and a photo; the second scan is refused"""
        tenant = self.login('13900139008')
        listing = tenant.get(self.url('/release'), headers=ZH)
        self.assertEqual(listing.status_code, 200)
        html = listing.get_data(as_text=True)
        self.assertIn('申请物品放行', html)
        self.assertIn('data-nav="release"', html)

        response = self.apply(tenant, start=self.today.isoformat())
        self.assertEqual(response.status_code, 303)
        page = tenant.get(response.headers['Location'], headers=ZH)
        html = page.get_data(as_text=True)
        self.assertIn('等待业主同意', html)
        self.assertIn('租户', html)
        self.assertNotIn('id="approve"', html)
        ref = self.slip_ref(html)
        # the tenant cannot agree in the owner's place
        self.assertEqual(tenant.post(self.url('/release/%s/approve' % ref),
                data={'csrf': self.csrf(page)}).status_code, 404)

        # another resident sees nothing of it
        other = self.login('13900139007')
        self.assertNotIn('冰箱', other.get(self.url('/release'),
                headers=ZH).get_data(as_text=True))
        self.assertEqual(other.get(self.url('/release/%s' % ref),
                headers=ZH).status_code, 404)

        # the owner is told in their inbox, sees it waiting for them and
        # agrees
        owner = self.login('13900139006')
        self.assertIn('周租 申请物品放行，等您同意', owner.get(
                self.url('/notifications'),
                headers=ZH).get_data(as_text=True))
        html = owner.get(self.url('/release'),
            headers=ZH).get_data(as_text=True)
        self.assertIn('等待您同意', html)
        self.assertIn('周租', html)
        page = owner.get(self.url('/release/%s' % ref), headers=ZH)
        self.assertIn('id="approve"', page.get_data(as_text=True))
        response = owner.post(self.url('/release/%s/approve' % ref),
            data={'csrf': self.csrf(page)})
        self.assertEqual(response.status_code, 303)
        html = owner.get(self.url('/release/%s' % ref),
            headers=ZH).get_data(as_text=True)
        self.assertIn('业主已同意，等待物业审批', html)
        self.assertIn('钱多', html)

        self.approve_in_back_office("冰箱")

        # the tenant shows the QR code: a link to the guard's page
        page = tenant.get(self.url('/release/%s' % ref), headers=ZH)
        self.assertIn('id="qr"', page.get_data(as_text=True))
        shown = tenant.post(self.url('/release/%s/qr' % ref),
            data={'csrf': self.csrf(page)}, headers=ZH)
        self.assertEqual(shown.status_code, 200)
        html = shown.get_data(as_text=True)
        self.assertIn('<svg', html)
        self.assertIn('仅可放行一次', html)
        with Transaction().start(DB_NAME, 0, readonly=True):
            Slip = Pool().get(MODEL)
            slip, = Slip.search([('lines.item', '=', "冰箱")])
            token_hash = slip.token_hash
            self.assertEqual(
                (slip.state, slip.relation, slip.applicant.name,
                    slip.owner_approved_by.name, slip.plate),
                ('approved', 'tenant', "周租", "钱多", '川L12345'))
            self.assertEqual((slip.start, slip.end),
                (self.today, self.tomorrow + dt.timedelta(days=1)))
        token = re.search(r'<p class="pre" id="code">([A-Za-z0-9_-]+)<',
            html).group(1)
        self.assertEqual(hash_token(token), token_hash)
        slip_id = slip.id

        # the guard of another compound does not find it
        stranger = self.staff_login('guard_fh')
        page = stranger.get(self.url('/staff/release'), query_string={
                'token': token}, headers=ZH)
        self.assertEqual(page.status_code, 404)
        self.assertIn('无效的放行条', page.get_data(as_text=True))
        self.assertNotIn('冰箱', page.get_data(as_text=True))

        # the guard scans it: the unit's arrears are a warning only
        guard = self.staff_login('guard_jz')
        html = guard.get(self.url('/staff/release'),
            headers=ZH).get_data(as_text=True)
        self.assertIn('data-nav="staff_release"', html)
        # the slips expected today at the gate, without their codes
        self.assertIn('今日待放行', html)
        self.assertIn('冰箱 × 1、纸箱 × 3', html)
        self.assertNotIn(token, html)
        self.assertNotIn('冰箱', stranger.get(self.url('/staff/release'),
                headers=ZH).get_data(as_text=True))
        Slip = Pool(DB_NAME).get(MODEL)
        get_arrears = Slip.get_arrears
        Slip.get_arrears = classmethod(
            lambda cls, slips, name: {s.id: Decimal('1280.50')
                for s in slips})
        try:
            page = guard.get(self.url('/staff/release'), query_string={
                    'token': token}, headers=ZH)
        finally:
            Slip.get_arrears = get_arrears
        self.assertEqual(page.status_code, 200)
        html = page.get_data(as_text=True)
        self.assertIn('欠费不影响物品放行', html)
        self.assertIn('1280.50', html)
        self.assertIn('周租', html)
        self.assertEqual(len(re.findall(r'name="quantity_([0-9]+)"',
                    html)), 2)
        quantities = dict(re.findall(
                r'<td>([^<]+)</td><td class="r">[0-9]+</td><td><input '
                r'name="(quantity_[0-9]+)"', html))
        self.assertEqual(sorted(quantities), ["冰箱", "纸箱"])
        data = {'csrf': self.csrf(page), 'token': token,
            quantities["冰箱"]: '1', quantities["纸箱"]: '2',
            'photos': (io.BytesIO(jpeg()), 'goods.jpg')}
        response = guard.post(self.url('/staff/release'), data=data,
            content_type='multipart/form-data', headers=ZH)
        self.assertEqual(response.status_code, 303)
        done = guard.get(response.headers['Location'], headers=ZH)
        html = done.get_data(as_text=True)
        self.assertIn('已放行', html)
        self.assertIn('嘉州门岗', html)
        self.assertEqual(html.count('class="photo"'), 1)
        photo = re.search(r'src="([^"]+/photos/1)"', html).group(1)
        self.assertEqual(guard.get(photo).headers['Content-Type'],
            'image/jpeg')
        with Transaction().start(DB_NAME, 0, readonly=True):
            Slip = Pool().get(MODEL)
            slip = Slip(slip_id)
            self.assertEqual(slip.state, 'released')
            self.assertEqual(
                sorted((line.item, line.quantity, line.released_quantity)
                    for line in slip.lines),
                [("冰箱", 1, 1), ("纸箱", 3, 2)])
            self.assertEqual(slip.released_by.login, 'guard_jz')

        # the copy of the code is refused at the second scan
        page = guard.get(self.url('/staff/release'), query_string={
                'token': token}, headers=ZH)
        html = page.get_data(as_text=True)
        self.assertIn('此放行条已放行过', html)
        self.assertNotIn('id="release"', html)
        data['photos'] = (io.BytesIO(jpeg()), 'goods.jpg')
        response = guard.post(self.url('/staff/release'), data=data,
            content_type='multipart/form-data', headers=ZH)
        self.assertEqual(response.status_code, 409)
        self.assertIn('此放行条已放行过', response.get_data(as_text=True))
        with Transaction().start(DB_NAME, 0, readonly=True):
            Attachment = Pool().get('ir.attachment')
            self.assertEqual(Attachment.search([
                        ('resource', '=', '%s,%s' % (MODEL, slip_id))],
                    count=True), 1)

    def test_apply_refused(self):
        """Days in the past, no goods or a wrong quantity are answered 400
        in Chinese; no CSRF, 403; an owner's own slip waits for the
        property only"""
        owner = self.login('13900139006')
        yesterday = (self.tomorrow - dt.timedelta(days=2)).isoformat()
        response = self.apply(owner, start=yesterday, item_1="沙发")
        self.assertEqual(response.status_code, 400)
        self.assertIn('请选择今天起的日期', response.get_data(as_text=True))
        response = self.apply(owner, item_1='', quantity_1='',
            item_2='', quantity_2='')
        self.assertEqual(response.status_code, 400)
        self.assertIn('请填写要搬出的物品', response.get_data(as_text=True))
        response = self.apply(owner, item_1="沙发", quantity_1='0')
        self.assertEqual(response.status_code, 400)
        forged = owner.post(self.url('/release/new'), data={
                'item_1': "沙发"}, headers=ZH)
        self.assertEqual(forged.status_code, 403)
        with Transaction().start(DB_NAME, 0, readonly=True):
            Slip = Pool().get(MODEL)
            self.assertEqual(Slip.search([('lines.item', '=', "沙发")]), [])

        response = self.apply(owner, item_1="书柜", item_2='',
            quantity_2='')
        self.assertEqual(response.status_code, 303)
        html = owner.get(response.headers['Location'],
            headers=ZH).get_data(as_text=True)
        self.assertIn('等待审批', html)
        self.assertNotIn('id="approve"', html)
        page = owner.get(response.headers['Location'], headers=ZH)
        ref = self.slip_ref(html)
        cancelled = owner.post(self.url('/release/%s/cancel' % ref),
            data={'csrf': self.csrf(page)})
        self.assertEqual(cancelled.status_code, 303)
        with Transaction().start(DB_NAME, 0, readonly=True):
            Slip = Pool().get(MODEL)
            slip, = Slip.search([('lines.item', '=', "书柜")])
            self.assertEqual((slip.state, slip.relation),
                ('cancelled', 'owner'))

    def test_owner_refuses_new_code_replaces(self):
        """The owner refuses a tenant's slip with a reason the tenant reads;
        showing the QR code again makes the previous code unknown at the
        gate"""
        tenant = self.login('13900139008')
        response = self.apply(tenant, item_1="衣柜", item_2='',
            quantity_2='')
        self.assertEqual(response.status_code, 303)
        ref = self.slip_ref(tenant.get(response.headers['Location'],
                headers=ZH).get_data(as_text=True))
        owner = self.login('13900139006')
        page = owner.get(self.url('/release/%s' % ref), headers=ZH)
        response = owner.post(self.url('/release/%s/reject' % ref),
            data={'csrf': self.csrf(page), 'reason': "租金未结清"})
        self.assertEqual(response.status_code, 303)
        html = tenant.get(self.url('/release/%s' % ref),
            headers=ZH).get_data(as_text=True)
        self.assertIn('已驳回', html)
        self.assertIn('租金未结清', html)
        self.assertNotIn('id="qr"', html)
        # refused once, it no longer waits for the owner
        self.assertEqual(owner.post(self.url('/release/%s/approve' % ref),
                data={'csrf': self.csrf(page)}).status_code, 404)

        response = self.apply(owner, item_1="书桌", item_2='',
            quantity_2='', start=self.today.isoformat())
        ref = self.slip_ref(owner.get(response.headers['Location'],
                headers=ZH).get_data(as_text=True))
        self.approve_in_back_office("书桌")
        tokens = []
        for _ in range(2):
            page = owner.get(self.url('/release/%s' % ref), headers=ZH)
            html = owner.post(self.url('/release/%s/qr' % ref),
                data={'csrf': self.csrf(page)},
                headers=ZH).get_data(as_text=True)
            tokens.append(re.search(
                    r'<p class="pre" id="code">([A-Za-z0-9_-]+)<',
                    html).group(1))
        guard = self.staff_login('guard_jz')
        old = guard.get(self.url('/staff/release'), query_string={
                'token': tokens[0]}, headers=ZH)
        self.assertEqual(old.status_code, 404)
        new = guard.get(self.url('/staff/release'), query_string={
                'token': tokens[1]}, headers=ZH)
        self.assertEqual(new.status_code, 200)
        self.assertIn('id="release"', new.get_data(as_text=True))
        self.assertIn('书桌', new.get_data(as_text=True))
