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
    return [setup_company, load_billing]


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


def load_billing():
    """Chart of accounts, fiscal years, fee items of the demo compounds,
    bill runs of the last 3 months and some payments (billing).

    Runs after the register steps; without units it bills nobody."""
    import calendar
    from decimal import Decimal
    from trytond.pool import Pool
    from trytond.modules.community_base.account import (
        create_fiscal_year, create_property_chart)
    pool = Pool()
    Company = pool.get('company.company')
    Compound = pool.get('community.compound')
    FeeItem = pool.get('community.fee.item')
    BillRun = pool.get('community.bill.run')
    Bill = pool.get('community.bill')
    Payment = pool.get('community.payment')
    Date = pool.get('ir.date')
    company, = Company.search([], limit=1)
    chart = create_property_chart(company)
    today = Date.today()
    months = []
    first = today.replace(day=1)
    for _ in range(3):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        months.insert(0, (first, first.replace(
                    day=calendar.monthrange(first.year, first.month)[1])))
    for year in sorted({m[0].year for m in months} | {today.year}):
        create_fiscal_year(company, year)
    start = months[0][0]
    for compound in Compound.search([('company', '=', company.id)]):
        if not FeeItem.search([('compound', '=', compound.id)]):
            FeeItem.create([{
                        'compound': compound.id, 'code': 'WYF',
                        'name': "物业服务费", 'kind': 'area', 'sequence': 1,
                        'account': chart['revenue_service'].id,
                        'tax': chart['vat6'].id,
                        'prices': [('create', [{
                                        'effective_date': start,
                                        'unit_price': Decimal('2.50')}])],
                        'assignments': [('create', [{
                                        'scope': 'compound',
                                        'start_date': start}])],
                        }, {
                        'compound': compound.id, 'code': 'LJF',
                        'name': "垃圾清运费", 'kind': 'fixed', 'sequence': 2,
                        'account': chart['revenue_garbage'].id,
                        'tax': chart['vat6'].id,
                        'prices': [('create', [{
                                        'effective_date': start,
                                        'unit_price': Decimal('10.00')}])],
                        'assignments': [('create', [{
                                        'scope': 'unit_type',
                                        'unit_type': 'residential',
                                        'start_date': start}])],
                        }])
        for period_start, period_end in months:
            runs = BillRun.search([('compound', '=', compound.id),
                    ('period_start', '=', period_start),
                    ('state', '=', 'done')])
            if not runs:
                run, = BillRun.create([{'compound': compound.id,
                            'period_start': period_start,
                            'period_end': period_end}])
                BillRun.process([run])
        if Payment.search([('compound', '=', compound.id)], limit=1):
            continue
        # Two units in three pay their oldest bill at the counter; one in
        # ten pays half; the rest stays in arrears.
        bills = Bill.search([('compound', '=', compound.id),
                ('period_start', '=', months[0][0]),
                ('state', '=', 'posted')], order=[('number', 'ASC')])
        payments = []
        for i, bill in enumerate(bills):
            if i % 3 == 2:
                continue
            amount = bill.total_amount
            if i % 10 == 1:
                amount = (amount / 2).quantize(Decimal('0.01'))
            method = ['cash', 'wechat', 'alipay', 'bank'][i % 4]
            payments.append(Payment(compound=compound, unit=bill.unit,
                    party=bill.party, date=months[0][1], method=method,
                    reference=(None if method == 'cash'
                        else 'DEMO%08d' % bill.id),
                    amount=amount,
                    lines=[{'bill': bill.id, 'amount': amount}]))
        Payment.save(payments)
        Payment.post(payments)


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
    from trytond.transaction import TransactionError
    for step in steps():
        extras = {}
        while True:
            # Singletons and strict sequences lock tables: retry with the
            # locks taken up-front, as trytond's dispatcher does.
            try:
                with Transaction().start(args.database, 0, context={
                            'language': 'zh_CN'}, **extras) as transaction:
                    admin = pool.get('res.user').search(
                        [('login', '=', 'admin')])
                    company = pool.get('company.company').search(
                        [], limit=1)
                    ctx = {'company': company[0].id} if company else {}
                    with transaction.set_user(admin[0].id), \
                            transaction.set_context(ctx):
                        step()
                    transaction.commit()
                break
            except TransactionError as exc:
                exc.fix(extras)
        print('demo: %s done' % step.__name__, flush=True)


if __name__ == '__main__':
    main()
