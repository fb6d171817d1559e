# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Online decisions over HTTP, through trytond's WSGI application
(werkzeug's test client): a reader asks with its push token whether a
resident's QR code opens its door."""
import base64
import datetime as dt
import json

from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction


class OnlineDecisionTestCase(RouteTestCase):
    "The online decision endpoint of the readers"
    module = 'community_access'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Compound = pool.get('community.compound')
        Party = pool.get('party.party')
        Device = pool.get('community.iot.device')
        Door = pool.get('community.access.door')
        DoorGroup = pool.get('community.access.door.group')
        Rule = pool.get('community.access.rule')
        Credential = pool.get('community.access.credential')
        company = create_company()
        compound_a, compound_b = Compound.create([
                {'company': company.id, 'code': 'JZHY',
                    'name': "嘉州花园"},
                {'company': company.id, 'code': 'FHXQ',
                    'name': "凤凰小区"}])
        reader, other_reader, north_reader, in_reader = Device.create([
                {'name': "东门读头", 'family': 'generic',
                    'key': 'jz-east-reader', 'compound': compound_a.id},
                {'name': "西门读头", 'family': 'generic',
                    'key': 'jz-west-reader', 'compound': compound_a.id},
                {'name': "北门读头", 'family': 'generic',
                    'key': 'fh-north-reader', 'compound': compound_b.id},
                {'name': "南门入口读头", 'family': 'generic',
                    'key': 'jz-south-in', 'compound': compound_a.id},
                ])
        devices = [reader, other_reader, north_reader, in_reader]
        tokens = Device.set_push_tokens(devices)
        cls.tokens = {d.key: tokens[d.id] for d in devices}
        east, west, north, south_in = Door.create([
                {'name': "东门", 'compound': compound_a.id,
                    'location': 'gate', 'device': reader.id},
                {'name': "西门", 'compound': compound_a.id,
                    'location': 'gate', 'device': other_reader.id},
                {'name': "北门", 'compound': compound_b.id,
                    'location': 'gate', 'device': north_reader.id},
                {'name': "南门入口", 'compound': compound_a.id,
                    'location': 'gate', 'device': in_reader.id,
                    'direction': 'in', 'zone': "周界",
                    'anti_passback': 'hard'},
                ])
        group, = DoorGroup.create([{'name': "大门",
                    'compound': compound_a.id,
                    'doors': [('add', [east.id, west.id, south_in.id])]}])
        zhang, = Party.create([{'name': "张伟"}])
        Rule.create([{'name': "张伟", 'compound': compound_a.id,
                    'subject': 'party', 'party': zhang.id,
                    'door_group': group.id}])
        Credential.create([{'compound': compound_a.id, 'party': zhang.id,
                    'kind': 'qr'}])

    def code(self, age=0):
        "A code of 张伟's QR credential issued ``age`` seconds ago."
        with Transaction().start(DB_NAME, 0, readonly=True):
            Credential = Pool().get('community.access.credential')
            credential, = Credential.search([('kind', '=', 'qr')])
            return credential.qr_code(
                dt.datetime.utcnow() - dt.timedelta(seconds=age))

    def ask(self, body, device='jz-east-reader', token=None, basic=False):
        token = self.tokens.get(device) if token is None else token
        headers = {}
        if basic:
            headers['Authorization'] = 'Basic ' + base64.b64encode(
                ('reader:%s' % token).encode()).decode()
        elif token:
            headers['Authorization'] = 'Bearer ' + token
        response = self.client().post(
            '/%s/community_access/decide/%s' % (DB_NAME, device),
            data=body if isinstance(body, str) else json.dumps(body),
            headers=headers, content_type='application/json')
        return response.status_code, json.loads(response.get_data())

    def decisions(self):
        with Transaction().start(DB_NAME, 0, readonly=True):
            Decision = Pool().get('community.access.decision')
            return [(d.door.name, d.kind, d.result, d.reason)
                for d in Decision.search([], order=[('id', 'ASC')])]

    def test_qr_allowed_and_denied(self):
        """A fresh code opens; 61 s old, changed or of another compound's
        reader it is denied; every request recorded"""
        status, answer = self.ask({'code': self.code(), 'door': "东门"})
        self.assertEqual(status, 200)
        self.assertEqual(
            (answer['result'], answer['reason'], answer['open'],
                answer['name']),
            ('allow', 'granted', True, "张伟"))
        # the door may be left out: the reader has only one
        status, answer = self.ask({'code': self.code(5)})
        self.assertEqual((status, answer['result']), (200, 'allow'))
        status, answer = self.ask({'code': self.code(61), 'kind': 'qr'})
        self.assertEqual((answer['result'], answer['reason'],
                answer['open']), ('deny', 'qr_expired', False))
        self.assertNotIn('name', answer)
        code = self.code()
        tampered = code[:-2] + ('AA' if code[-2:] != 'AA' else 'BB')
        self.assertEqual(self.ask({'code': tampered})[1]['reason'],
            'qr_invalid')
        status, answer = self.ask({'code': code},
            device='fh-north-reader')
        self.assertEqual((status, answer['reason']),
            (200, 'other_compound'))
        # HTTP Basic with the token as password, never a Tryton login
        status, answer = self.ask({'code': code}, basic=True)
        self.assertEqual((status, answer['result']), (200, 'allow'))
        self.assertEqual(self.decisions()[-6:], [
                ("东门", 'qr', 'allow', 'granted'),
                ("东门", 'qr', 'allow', 'granted'),
                ("东门", 'qr', 'deny', 'qr_expired'),
                ("东门", 'qr', 'deny', 'qr_invalid'),
                ("北门", 'qr', 'deny', 'other_compound'),
                ("东门", 'qr', 'allow', 'granted'),
                ])

    def test_refused_requests(self):
        """Without the device's token 401; another reader's door, an
        unknown door or a malformed request 400; nothing recorded"""
        code = self.code()
        before = self.decisions()
        self.assertEqual(self.ask({'code': code}, token='')[0], 401)
        self.assertEqual(self.ask({'code': code}, token='x' * 43)[0], 401)
        # the token of another reader
        self.assertEqual(self.ask({'code': code},
                token=self.tokens['jz-west-reader'])[0], 401)
        self.assertEqual(self.ask({'code': code}, device='nobody')[0], 401)
        self.assertEqual(self.ask({'code': code, 'door': "西门"})[0], 400)
        self.assertEqual(self.ask({'code': code, 'door': "南门"})[0], 400)
        self.assertEqual(self.ask('{not json')[0], 400)
        self.assertEqual(self.ask({'door': "东门"})[0], 400)
        self.assertEqual(self.ask({'code': code, 'kind': 'palm'})[0], 400)
        self.assertEqual(self.decisions(), before)

    def test_retry_same_decision(self):
        """A reader that lost the answer asks again with the same request
        id: the same decision, not a second one that hard anti-passback
        would refuse; a new request is decided afresh"""
        code = self.code()
        status, first = self.ask({'code': code, 'id': 8812},
            device='jz-south-in')
        self.assertEqual((status, first['result']), (200, 'allow'))
        count = len(self.decisions())
        status, again = self.ask({'code': code, 'id': '8812'},
            device='jz-south-in')
        self.assertEqual(again, first)
        self.assertEqual(len(self.decisions()), count)
        status, other = self.ask({'code': self.code(), 'id': '8813'},
            device='jz-south-in')
        self.assertEqual((other['result'], other['reason']),
            ('deny', 'anti_passback'))
        self.assertEqual(len(self.decisions()), count + 1)
        self.assertEqual(self.ask({'code': code, 'id': 'x' * 65},
                device='jz-south-in')[0], 400)
