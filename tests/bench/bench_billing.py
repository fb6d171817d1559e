"""Benchmark of the monthly bill run against Tryton customer invoices.

Usage: python tests/bench/bench_billing.py [--units 20000] [--sample 200]
                                           [--batch 2000] [--keep]

Creates a fresh database (``bench_billing`` on the project's PostgreSQL,
see scripts/devdb.py) with community_billing and account_invoice, a compound
of N units (gross area 60-140 m², one owner each) with three fee items
(property service per m², garbage fixed, parking fixed), then:

1. runs one month's bill run (each batch committed) and prints bills
   posted per second, total time and peak memory (max RSS of the process);
2. checks the ledger to the cent: receivable lines = sum of bills;
   revenue + VAT credits = sum of bill lines; debit = credit;
3. on a sample of units, makes the same bills as Tryton customer invoices
   (3 lines, VAT 6 % included) posted one by one, and prints the ratio.

Setup data is inserted with SQL (it is not what is measured). Exits 1 when
the ledger does not balance.
"""
import argparse
import datetime as dt
import os
import pathlib
import resource
import sys
import time
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))

DB = 'bench_billing'
PERIOD = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_database():
    import devdb
    uri = devdb.database_uri('pg-bench')
    os.environ['TRYTOND_DATABASE__URI'] = uri
    os.environ['DB_NAME'] = DB
    os.environ.pop('DB_CACHE', None)
    import psycopg
    dsn = devdb.dsn(uri)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
    from trytond.tests.test_tryton import activate_module
    activate_module(['community_billing', 'account_invoice'])


def setup_data(n_units):
    """Company, chart, fiscal year, compound, fee items, units (SQL)."""
    from sql.functions import CurrentTimestamp
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.modules.community_billing.account import (
        create_fiscal_year, create_property_chart)
    pool = Pool()
    Party = pool.get('party.party')
    Company = pool.get('company.company')
    Currency = pool.get('currency.currency')
    User = pool.get('res.user')
    Compound = pool.get('community.compound')
    Building = pool.get('community.building')
    Unit = pool.get('community.unit')
    Area = pool.get('community.unit.area')
    Residency = pool.get('community.residency')
    FeeItem = pool.get('community.fee.item')
    Configuration = pool.get('community.billing.configuration')
    cursor = Transaction().connection.cursor()

    cny, = Currency.create([{'name': '人民币', 'code': 'CNY',
                'symbol': '¥', 'rounding': Decimal('0.01'), 'digits': 2}])
    party, = Party.create([{'name': '乐山嘉州物业服务有限公司'}])
    company, = Company.create([{'party': party.id, 'currency': cny.id,
                'timezone': 'Asia/Shanghai'}])
    User.write([User(Transaction().user)], {
            'companies': [('add', [company.id])], 'company': company.id})
    with Transaction().set_context(company=company.id):
        chart = create_property_chart(company)
        fiscalyear = create_fiscal_year(company, PERIOD[0].year)
        add_invoice_sequences(company, fiscalyear)
        config = Configuration(1)
        config.batch_size = BATCH
        config.save()
        compound, = Compound.create([{
                    'company': company.id, 'code': 'BENCH',
                    'name': "基准花园", 'service_grade': '2'}])
        n_buildings = max(1, n_units // 200)
        buildings = Building.create([{
                    'compound': compound.id, 'code': str(i + 1),
                    'name': '%s栋' % (i + 1)} for i in range(n_buildings)])
        start = dt.date(2020, 1, 1)
        FeeItem.create([{
                    'compound': compound.id, 'code': 'WYF',
                    'name': "物业服务费", 'kind': 'area',
                    'account': chart['revenue_service'].id,
                    'tax': chart['vat6'].id,
                    'prices': [('create', [{'effective_date': start,
                                    'unit_price': Decimal('2.35')}])],
                    'assignments': [('create', [{
                                    'scope': 'compound',
                                    'start_date': start}])],
                    }, {
                    'compound': compound.id, 'code': 'LJF',
                    'name': "垃圾清运费", 'kind': 'fixed',
                    'account': chart['revenue_garbage'].id,
                    'tax': chart['vat6'].id,
                    'prices': [('create', [{'effective_date': start,
                                    'unit_price': Decimal('10.00')}])],
                    'assignments': [('create', [{
                                    'scope': 'compound',
                                    'start_date': start}])],
                    }, {
                    'compound': compound.id, 'code': 'TCF',
                    'name': "车位服务费", 'kind': 'fixed',
                    'account': chart['revenue_parking'].id,
                    'tax': chart['vat6'].id,
                    'prices': [('create', [{'effective_date': start,
                                    'unit_price': Decimal('60.00')}])],
                    'assignments': [('create', [{
                                    'scope': 'compound',
                                    'start_date': start}])],
                    }])

        now = CurrentTimestamp()
        user = Transaction().user
        party_t = Party.__table__()
        unit_t = Unit.__table__()
        area_t = Area.__table__()
        res_t = Residency.__table__()
        step = 5000
        for offset in range(0, n_units, step):
            rng = range(offset, min(n_units, offset + step))
            cursor.execute(*party_t.insert(
                    [party_t.create_uid, party_t.create_date, party_t.name,
                        party_t.code, party_t.active],
                    [[user, now, '业主%06d' % i, 'B%06d' % i, True]
                        for i in rng],
                    returning=[party_t.id]))
            party_ids = [r[0] for r in cursor]
            cursor.execute(*unit_t.insert(
                    [unit_t.create_uid, unit_t.create_date,
                        unit_t.compound, unit_t.building, unit_t.code,
                        unit_t.type, unit_t.status, unit_t.handover_date],
                    [[user, now, compound.id,
                            buildings[i // 200 % n_buildings].id,
                            '%s-%04d' % (i // 200 + 1, i % 200 + 1),
                            'residential', 'occupied', start]
                        for i in rng],
                    returning=[unit_t.id]))
            unit_ids = [r[0] for r in cursor]
            cursor.execute(*area_t.insert(
                    [area_t.create_uid, area_t.create_date, area_t.unit,
                        area_t.effective_date, area_t.gross_area],
                    [[user, now, u, start,
                            Decimal(60 + (i * 37) % 8000 / 100)]
                        for i, u in zip(rng, unit_ids)]))
            cursor.execute(*res_t.insert(
                    [res_t.create_uid, res_t.create_date, res_t.unit,
                        res_t.compound, res_t.party, res_t.role,
                        res_t.share, res_t.start_date, res_t.payer],
                    [[user, now, u, compound.id, p, 'owner', Decimal(100),
                            start, True]
                        for u, p in zip(unit_ids, party_ids)]))
    return company, compound, chart


def add_invoice_sequences(company, fiscalyear):
    "Invoice sequences of account_invoice on the fiscal year."
    from trytond.pool import Pool
    pool = Pool()
    Sequence = pool.get('ir.sequence.strict')
    ModelData = pool.get('ir.model.data')
    InvoiceSequence = pool.get('account.fiscalyear.invoice_sequence')
    sequence, = Sequence.create([{
                'name': 'invoice', 'company': company.id,
                'sequence_type': ModelData.get_id(
                    'account_invoice', 'sequence_type_account_invoice')}])
    InvoiceSequence.create([{
                'fiscalyear': fiscalyear.id, 'company': company.id,
                'in_invoice_sequence': sequence.id,
                'in_credit_note_sequence': sequence.id,
                'out_invoice_sequence': sequence.id,
                'out_credit_note_sequence': sequence.id}])


def run_bills(company, compound):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    BillRun = pool.get('community.bill.run')
    with Transaction().set_context(company=company.id):
        # A retry (table locks) resumes the same run: it is idempotent.
        runs = BillRun.search([('compound', '=', compound.id),
                ('period_start', '=', PERIOD[0])])
        run, = runs or BillRun.create([{'compound': compound.id,
                    'period_start': PERIOD[0], 'period_end': PERIOD[1]}])
        Transaction().commit()
        start = time.perf_counter()
        BillRun.process([run], commit=True)
        Transaction().commit()
        elapsed = time.perf_counter() - start
        return run.id, elapsed


def check_ledger(run):
    """Return (bills total, receivable total, lines total, revenue+VAT,
    debit, credit) of the run's moves, computed with SQL."""
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    cursor.execute('SELECT COALESCE(SUM(total_amount), 0), COUNT(*) '
        'FROM community_bill WHERE run = %s', (run.id,))
    bills_total, count = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(l.amount), 0) '
        'FROM community_bill_line l JOIN community_bill b ON b.id = l.bill '
        'WHERE b.run = %s', (run.id,))
    lines_total, = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.debit), 0) '
        'FROM account_move_line ml '
        'JOIN community_bill b ON b.move_line = ml.id WHERE b.run = %s',
        (run.id,))
    receivable, = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.credit), 0), '
        'COALESCE(SUM(ml.debit), 0) FROM account_move_line ml '
        'JOIN account_move m ON m.id = ml.move '
        "WHERE m.origin = %s AND m.state = 'posted'",
        ('community.bill.run,%s' % run.id,))
    credit, debit = cursor.fetchone()
    return count, bills_total, receivable, lines_total, credit, debit


def run_invoices(company, chart, sample):
    """Post the same bills as customer invoices, one by one; return
    (count, seconds)."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Bill = pool.get('community.bill')
    Invoice = pool.get('account.invoice')
    Address = pool.get('party.address')
    with Transaction().set_context(company=company.id):
        bills = Bill.search([], limit=sample, order=[('id', 'ASC')])
        Address.create([{'party': b.party.id} for b in bills])
        Transaction().commit()
        bill_ids = [b.id for b in bills]
        start = time.perf_counter()
        for bill_id in bill_ids:
            bill = Bill(bill_id)
            invoice = Invoice(type='out', party=bill.party,
                invoice_date=PERIOD[0], company=company,
                currency=company.currency)
            invoice.on_change_type()
            invoice.on_change_party()
            lines = []
            for bline in bill.lines:
                base = (bline.amount / Decimal('1.06')).quantize(
                    Decimal('0.01'))
                lines.append(dict(
                        type='line', account=bline.fee_item.account,
                        description=bline.fee_item.name,
                        quantity=1, unit_price=base,
                        taxes=[bline.fee_item.tax]))
            InvoiceLine = pool.get('account.invoice.line')
            invoice.lines = [InvoiceLine(**line) for line in lines]
            invoice.save()
            Invoice.post([invoice])
            Transaction().commit()
        return len(bill_ids), time.perf_counter() - start


BATCH = 2000


def in_transaction(func, *args):
    """Run func(*args) as admin in a transaction of the bench database,
    retrying with the table locks trytond asks for (singletons, strict
    sequences), as its dispatcher does. Returns func's result."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    extras = in_transaction.extras
    while True:
        try:
            with Transaction().start(DB, 0, context={}, **extras) as trans:
                admin, = Pool(DB).get('res.user').search(
                    [('login', '=', 'admin')])
                with trans.set_user(admin.id):
                    result = func(*args)
                trans.commit()
                return result
        except TransactionError as exc:
            exc.fix(extras)


in_transaction.extras = {}


def main():
    global BATCH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--units', type=int, default=20000)
    parser.add_argument('--sample', type=int, default=200)
    parser.add_argument('--batch', type=int, default=2000)
    args = parser.parse_args()
    BATCH = args.batch
    t0 = time.perf_counter()
    prepare_database()
    from trytond.pool import Pool
    print('bench: database ready in %.0f s' % (time.perf_counter() - t0),
        flush=True)
    t1 = time.perf_counter()
    company, compound, chart = [r.id if not isinstance(r, dict)
        else {k: (v.__name__, v.id) for k, v in r.items()}
        for r in in_transaction(setup_data, args.units)]
    print('bench: %d units created in %.0f s' % (
            args.units, time.perf_counter() - t1), flush=True)

    def bills():
        pool = Pool()
        return run_bills(pool.get('company.company')(company),
            pool.get('community.compound')(compound))
    rss_before = rss_mb()
    started = time.perf_counter()
    run, _ = in_transaction(bills)
    # Wall time including any retry of the transaction (conservative).
    elapsed = time.perf_counter() - started
    count, total, receivable, lines, credit, debit = in_transaction(
        lambda: check_ledger(Pool().get('community.bill.run')(run)))
    rate = count / elapsed if elapsed else 0
    print('bill run: %d units, %d bills posted in %.1f s = %.0f bills/s; '
        'peak RSS %.0f MB (%.0f MB before the run)' % (
            args.units, count, elapsed, rate, rss_mb(), rss_before),
        flush=True)
    print('ledger: bills %s, receivable lines %s, bill lines %s, '
        'revenue+VAT %s, debit %s, credit %s' % (
            total, receivable, lines, credit, debit, credit))
    balanced = (total == receivable == lines == credit == debit)
    print('ledger balanced to the cent: %s' % balanced)
    if args.sample:
        n, seconds = in_transaction(lambda: run_invoices(
                Pool().get('company.company')(company), None, args.sample))
        inv_rate = n / seconds if seconds else 0
        print('invoices: %d customer invoices posted one by one in %.1f s = '
            '%.1f invoices/s; the bill run is %.0f× faster' % (
                n, seconds, inv_rate, rate / inv_rate if inv_rate else 0))
    print('goal >= 167 bills/s: %s' % ('met' if rate >= 167 else 'NOT met'))
    return 0 if balanced else 1


if __name__ == '__main__':
    sys.exit(main())
