"""Generate an invented register file (no real personal data).

The demo compound 嘉州花园 in 乐山市市中区: residential buildings with two
entrances, shops and garages; owners (some co-owned with shares), tenants
and household members with valid-checksum invented resident ID numbers
(GB 11643-1999), mobile numbers and Sichuan plates (川L…, new-energy
included). Deterministic for a given seed.

Usage: gen_register.py [--units N] [--seed S] [-o FILE]
(default: ~1,000 units to addons/community_base/data/demo_register.csv)
"""
import argparse
import csv
import datetime as dt
import io
import pathlib
import random

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / 'addons' / 'community_base' / 'data' / 'demo_register.csv'
HEADERS = ['楼栋', '单元', '房号', '楼层', '建筑面积', '套内面积', '房屋类型',
    '状态', '交房日期', '姓名', '证件号码', '手机', '身份', '产权比例', '车牌']
SURNAMES = ('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭'
    '曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦')
GIVEN = ('伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红'
    '玉兰文辉力斌宇浩凯佳欣怡梓涵子轩雨桐若曦俊杰思远嘉懿晨阳一诺')
AREAS = ['511102'] * 6 + ['511111', '511112', '511113', '511123', '511124',
    '511126', '511129', '511132', '511133', '511181', '510104', '510107',
    '511121', '512501']
MOBILE_PREFIXES = ['138', '139', '135', '136', '137', '150', '151', '152',
    '158', '159', '182', '183', '187', '188', '130', '131', '132', '155',
    '156', '185', '186', '133', '153', '180', '181', '189', '177', '199']
PLATE_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'
LAYOUTS = [  # gross, usable (m²)
    ('89.50', '70.12'), ('112.30', '88.64'), ('128.75', '101.35'),
    ('143.20', '113.08')]


def check_char(body17):
    "ISO 7064 MOD 11-2 check character of the first 17 digits (stdnum)."
    from stdnum.iso7064 import mod_11_2
    return mod_11_2.calc_check_digit(body17)


class Generator:

    def __init__(self, seed=2026):
        self.rnd = random.Random(seed)
        self.ids = set()
        self.plates = set()
        self.mobiles = set()

    def name(self):
        return self.rnd.choice(SURNAMES) + ''.join(
            self.rnd.choice(GIVEN) for _ in range(self.rnd.choice((1, 2))))

    def id_number(self, born_from=1940, born_to=2005, legacy=False):
        while True:
            area = self.rnd.choice(AREAS)
            birth = dt.date(self.rnd.randint(born_from, born_to), 1, 1) + \
                dt.timedelta(days=self.rnd.randint(0, 364))
            seq = '%03d' % self.rnd.randint(1, 999)
            if legacy:
                number = area + birth.strftime('%y%m%d') + seq
            else:
                body = area + birth.strftime('%Y%m%d') + seq
                number = body + check_char(body)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def mobile(self):
        while True:
            number = self.rnd.choice(MOBILE_PREFIXES) + '%08d' % (
                self.rnd.randint(0, 99999999))
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def plate(self):
        while True:
            kind = self.rnd.random()
            if kind < 0.12:
                serial = (self.rnd.choice('DF') + self.rnd.choice(PLATE_CHARS)
                    + '%04d' % self.rnd.randint(0, 9999))
            elif kind < 0.14:
                serial = '%05d' % self.rnd.randint(0, 99999) + \
                    self.rnd.choice('DF')
            else:
                serial = ''.join(self.rnd.choice(PLATE_CHARS)
                    for _ in range(5))
            plate = '川L' + serial
            if plate not in self.plates:
                self.plates.add(plate)
                return plate

    def person(self, adult=True):
        legacy = adult and self.rnd.random() < 0.02
        if adult:
            number = self.id_number(1940, 2000 if not legacy else 1980,
                legacy=legacy)
        else:
            number = self.id_number(2008, 2022)
        return {'name': self.name(), 'id': number,
            'mobile': self.mobile() if adult else ''}


def unit_rows(gen, building, entrance, room, floor, type_, handover,
        gross, usable):
    "Rows of one unit: vacant, owned (maybe co-owned), rented or a shop."
    rnd = gen.rnd
    base = [building, entrance, room, floor, gross, usable, type_]
    rows = []

    def row(status, person=None, role='', share='', plates=''):
        rows.append(base + [status, handover] + (
                [person['name'], person['id'], person['mobile'], role,
                    share, plates] if person else [''] * 6))

    def plates():
        if rnd.random() < 0.45:
            return ' '.join(gen.plate()
                for _ in range(1 if rnd.random() < 0.85 else 2))
        return ''

    draw = rnd.random()
    if type_ == '住宅':
        if draw < 0.07:
            row('空置')
            return rows, []
        owners = [gen.person()]
        shares = ['']
        if rnd.random() < 0.3:
            owners.append(gen.person())
            shares = list(rnd.choice(
                    [('50', '50'), ('60', '40'), ('70', '30')]))
        if draw < 0.20:
            for o, s in zip(owners, shares):
                row('出租', o, '业主', s)
            tenant = gen.person()
            row('出租', tenant, '租户', plates=plates())
            if rnd.random() < 0.4:
                row('出租', gen.person(), '家庭成员')
            return rows, owners
        status = '装修' if draw < 0.23 else '自住'
        for i, (o, s) in enumerate(zip(owners, shares)):
            row(status, o, '业主', s, plates() if i == 0 else '')
        for _ in range(rnd.choice((0, 1, 1, 1, 2))):
            row(status, gen.person(adult=rnd.random() < 0.5), '家庭成员')
        return rows, owners
    # shops: an owner, often a tenant running the business
    owner = gen.person()
    if draw < 0.6:
        row('出租', owner, '业主')
        row('出租', gen.person(), '租户', plates=plates())
    else:
        row('自住', owner, '业主', plates=plates())
    return rows, [owner]


def generate_rows(units=1000, seed=2026):
    """Return the rows (lists of strings, header first) for ~``units`` units.

    About 86 % residential units in 18-floor buildings with two entrances
    of 2 rooms per floor, 4 % shops (building S) and 10 % garages
    (building P) owned by residential owners.
    """
    gen = Generator(seed)
    rnd = gen.rnd
    n_shop = max(units * 4 // 100, 1)
    n_garage = max(units * 10 // 100, 1)
    n_res = units - n_shop - n_garage
    rows = [HEADERS]
    owners = []
    count = 0
    building = 0
    while count < n_res:
        building += 1
        handover = dt.date(2015 + building % 5, 3 + building % 9, 1 + (
                building * 7) % 27).isoformat()
        for entrance in ('1', '2'):
            for floor in range(1, 19):
                for pos in (1, 2):
                    if count >= n_res:
                        break
                    gross, usable = LAYOUTS[(pos - 1) * 2 + (floor > 9)]
                    room = '%d%02d' % (floor, pos)
                    r, o = unit_rows(gen, str(building), entrance, room,
                        str(floor), '住宅', handover, gross, usable)
                    rows.extend(r)
                    owners.extend(o)
                    count += 1
    for i in range(1, n_shop + 1):
        gross = '%.2f' % rnd.choice((45.6, 62.3, 88.0, 120.5))
        r, _ = unit_rows(gen, 'S', '', '%03d' % i, '1', '商铺',
            '2016-06-01', gross, '')
        rows.extend(r)
    for i in range(1, n_garage + 1):
        gross = '%.2f' % rnd.choice((12.5, 13.2, 15.0))
        base = ['P', '', 'B%03d' % i, '-1', gross, '', '车库', '自住',
            '2016-06-01']
        if rnd.random() < 0.8 and owners:
            owner = rnd.choice(owners)
            rows.append(base + [owner['name'], owner['id'], owner['mobile'],
                    '业主', '', ''])
        else:
            base[7] = '未售'
            rows.append(base + [''] * 6)
    return rows


def to_csv(rows, encoding='utf-8-sig'):
    "Rows as CSV bytes (UTF-8 with BOM by default, as Excel writes it)."
    out = io.StringIO(newline='')
    csv.writer(out, lineterminator='\r\n').writerows(rows)
    return out.getvalue().encode(encoding)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--units', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=2026)
    parser.add_argument('-o', '--output', default=str(DEMO_FILE))
    args = parser.parse_args()
    rows = generate_rows(args.units, args.seed)
    pathlib.Path(args.output).write_bytes(to_csv(rows))
    people = sum(1 for r in rows[1:] if r[9])
    print('%s: %d rows, %d residencies' % (args.output, len(rows) - 1,
            people))


if __name__ == '__main__':
    main()
