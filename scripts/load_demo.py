"""Load the demo data into a database (idempotent).

Usage: load_demo.py -c trytond.conf -d DATABASE

Each step checks what exists and only adds what is missing, so running
`make demo` again reuses the data and does not duplicate it.
"""
import argparse
import datetime as dt

from trytond.config import config


def steps():
    "Return the demo steps in order; each takes no argument."
    return [setup_company, setup_portal]


def setup_company():
    """The property management company with CNY, admin in zh_CN."""
    from trytond.pool import Pool
    pool = Pool()
    Company = pool.get('company.company')
    Party = pool.get('party.party')
    Currency = pool.get('currency.currency')
    User = pool.get('res.user')
    Lang = pool.get('ir.lang')
    cny, = Currency.search([('code', '=', 'CNY')], limit=1) or [None]
    if not cny:
        cny, = Currency.create([{'name': '人民币', 'code': 'CNY',
                    'symbol': '¥', 'rounding': '0.01', 'digits': 2}])
    companies = Company.search([])
    if companies:
        company = companies[0]
    else:
        party, = Party.create([{'name': '乐山嘉州物业服务有限公司'}])
        company, = Company.create([{'party': party.id, 'currency': cny.id,
                    'timezone': 'Asia/Shanghai'}])
    lang, = Lang.search([('code', '=', 'zh_CN')])
    admin, = User.search([('login', '=', 'admin')])
    User.write([admin], {'companies': [('add', [company.id])],
            'company': company.id, 'language': lang.id})
    return company


def setup_portal():
    """Service categories, a welcome announcement and portal accounts for
    a few owners of the demo units (printed into .local/demo-logins.txt);
    does nothing without units."""
    import pathlib
    from trytond.pool import Pool
    pool = Pool()
    Category = pool.get('community.service.category')
    Residency = pool.get('community.residency')
    WebUser = pool.get('web.user')
    Code = pool.get('community.portal.binding_code')
    Announcement = pool.get('community.announcement')
    if not Category.search([], limit=1):
        Category.create([
                {'name': "水电维修", 'kind': 'repair', 'response_hours': 2,
                    'completion_hours': 24, 'chargeable': True},
                {'name': "公共设施", 'kind': 'repair', 'response_hours': 4,
                    'completion_hours': 72},
                {'name': "环境卫生", 'kind': 'complaint',
                    'response_hours': 4, 'completion_hours': 24},
                {'name': "意见建议", 'kind': 'suggestion'},
                ])
    owners = Residency.search([
            ('role', '=', 'owner'), ('active', '=', True)],
        order=[('id', 'ASC')], limit=4)
    if not owners:
        print('demo: no units, no portal accounts', flush=True)
        return
    compounds = {r.compound for r in owners}
    for compound in compounds:
        if not Announcement.search([('compound', '=', compound.id)], limit=1):
            announcement, = Announcement.create([{
                        'compound': compound.id, 'pinned': True,
                        'title': "欢迎使用业主服务平台",
                        'body': "缴费、报修、公告都可以在手机上办理。",
                        }])
            Announcement.publish([announcement])
    password = 'portal-demo-123'
    lines = []
    for i, residency in enumerate(owners[:3]):
        mobile = '1390000%04d' % (i + 1)
        if not WebUser.search([('mobile', '=', mobile)], limit=1):
            WebUser.create([{
                        'mobile': mobile, 'password': password,
                        'party': residency.party.id,
                        'nickname': residency.party.name}])
        lines.append('  portal: %s / %s (%s %s, owner)' % (
                mobile, password, residency.compound.name,
                residency.unit.code))
    # a code for the office to hand to the 4th owner at sign-up
    if len(owners) > 3:
        residency = owners[3]
        codes = Code.search([('party', '=', residency.party.id),
                ('used_at', '=', None)], limit=1)
        code = codes[0] if codes else Code.create([{
                    'unit': residency.unit.id,
                    'party': residency.party.id,
                    'expires_at': dt.datetime.now()
                    + dt.timedelta(days=365)}])[0]
        lines.append('  portal binding code for %s: %s (sign up first)' % (
                residency.unit.code, code.code))
    database = Pool().database_name
    listen = config.get('web', 'listen', default='127.0.0.1:8000')
    text = ('Resident portal (phones): http://%s/%s/portal/\n'
        'Staff phone pages: http://%s/%s/portal/staff/ (Tryton login)\n'
        % (listen, database, listen, database)) + '\n'.join(lines) + '\n'
    path = pathlib.Path(__file__).resolve().parent.parent / '.local'
    path.mkdir(exist_ok=True)
    logins = path / 'demo-logins.txt'
    existing = logins.read_text() if logins.exists() else ''
    if text not in existing:
        with logins.open('a') as f:
            f.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    args = parser.parse_args()
    config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(args.database)
    pool.init()
    for step in steps():
        with Transaction().start(args.database, 0, context={
                    'language': 'zh_CN'}) as transaction:
            admin = pool.get('res.user').search([('login', '=', 'admin')])
            company = pool.get('company.company').search([], limit=1)
            ctx = {'company': company[0].id} if company else {}
            with transaction.set_user(admin[0].id), \
                    transaction.set_context(ctx):
                step()
            transaction.commit()
        print('demo: %s done' % step.__name__, flush=True)


if __name__ == '__main__':
    main()
