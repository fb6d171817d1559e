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
    return [setup_company]


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
