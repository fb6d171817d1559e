"""Benchmark of counter payments (收费) after a bill run.

Usage: python tests/bench/bench_payment.py [--units 5000] [--batch 2000]

Creates a fresh database (``bench_payment`` on the project's PostgreSQL,
see scripts/devdb.py) with the data of bench_billing.py (N units, one owner
each, three fee items), runs March's bill run, then pays each unit's open
bills at the counter: one ``community.payment`` per unit (cash, the amount
to pay, one line per bill) posted with ``Payment.post`` — the method of the
cashier's Post button — each in its own transaction as a cashier's request
would be. Prints:

1. payments posted per second (and the p50/p99 time of one payment);
2. whether the receipt numbers are gapless (1..N per the compound's strict
   sequence, no duplicate);
3. whether the ledger balances to the cent: cash debits = payments =
   bills; each payment move balanced; every bill's receivable line
   reconciled and the receivable balance of the payers zero.

Exits 1 when a check fails.
"""
import argparse
import datetime as dt
import pathlib
import re
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_billing  # noqa: E402
from bench_billing import in_transaction  # noqa: E402

bench_billing.DB = 'bench_payment'
PAY_DATE = dt.date(2026, 3, 20)


def open_bills(company):
    "Return [(unit id, party id, [(bill id, amount to pay)])] by unit."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Bill = Pool().get('community.bill')
    with Transaction().set_context(company=company):
        bills = Bill.search([('state', '=', 'posted')],
            order=[('unit', 'ASC'), ('id', 'ASC')])
        by_unit = {}
        for bill in bills:
            if bill.amount_to_pay > 0:
                by_unit.setdefault((bill.unit.id, bill.party.id), []).append(
                    (bill.id, bill.amount_to_pay))
    return [(u, p, b) for (u, p), b in by_unit.items()]


def pay(company, compound, unit, party, bills):
    "Pay the bills of a unit at the counter, as the cashier does."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Payment = Pool().get('community.payment')
    with Transaction().set_context(company=company):
        payment, = Payment.create([{
                    'compound': compound, 'unit': unit, 'party': party,
                    'date': PAY_DATE, 'method': 'cash',
                    'amount': sum(a for _, a in bills),
                    'lines': [('create', [{'bill': b} for b, _ in bills])],
                    }])
        Payment.post([payment])
        return payment.receipt_number


def prepay_all(company, compound, todo):
    """Deposit each unit's open amount as a prepayment (cash, no line):
    all the payments created and posted by one call."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Payment = Pool().get('community.payment')
    with Transaction().set_context(company=company):
        payments = Payment.create([{
                    'compound': compound, 'unit': unit, 'party': party,
                    'date': PAY_DATE, 'method': 'cash',
                    'amount': sum(a for _, a in bills),
                    } for unit, party, bills in todo])
        Payment.post(payments)
        return len(payments)


def apply_all(company):
    "Apply the prepayments to the due bills (the scheduled action's work)."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Payment = Pool().get('community.payment')
    with Transaction().set_context(company=company):
        return len(Payment.apply_prepayments(date=PAY_DATE))


def check(run, company):
    """Return (gapless, balanced, figures dict) computed with SQL."""
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    cursor.execute('SELECT receipt_number FROM community_payment '
        "WHERE state = 'posted' AND method != 'prepayment'")
    numbers = [r[0] for r in cursor]
    serials = sorted(int(re.search(r'(\d+)$', n).group(1)) for n in numbers)
    gapless = (len(set(numbers)) == len(numbers)
        and serials == list(range(1, len(numbers) + 1)))
    cursor.execute('SELECT COUNT(*), COALESCE(SUM(amount), 0) '
        "FROM community_payment WHERE state = 'posted'")
    n_payments, paid = cursor.fetchone()
    cursor.execute('SELECT COUNT(*), COALESCE(SUM(total_amount), 0), '
        'COUNT(ml.reconciliation) FROM community_bill b '
        'JOIN account_move_line ml ON ml.id = b.move_line '
        'WHERE b.run = %s', (run,))
    n_bills, billed, reconciled = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.debit), 0), '
        'COALESCE(SUM(ml.credit), 0) FROM account_move_line ml '
        'JOIN account_move m ON m.id = ml.move '
        "WHERE m.origin LIKE 'community.payment,%%' AND m.state = 'posted'")
    debit, credit = cursor.fetchone()
    cursor.execute('SELECT COUNT(*) FROM ('
        'SELECT ml.move FROM account_move_line ml '
        'JOIN account_move m ON m.id = ml.move '
        "WHERE m.origin LIKE 'community.payment,%%' "
        'GROUP BY ml.move HAVING SUM(ml.debit) <> SUM(ml.credit)) AS u')
    unbalanced, = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.debit - ml.credit), 0) '
        'FROM account_move_line ml '
        'JOIN account_account a ON a.id = ml.account '
        "WHERE a.code = '1122' AND ml.party IS NOT NULL")
    receivable, = cursor.fetchone()
    figures = dict(payments=n_payments, paid=paid, bills=n_bills,
        billed=billed, reconciled=reconciled, debit=debit, credit=credit,
        unbalanced=unbalanced, receivable=receivable)
    # in --prepaid mode each bill is paid twice over: deposited, then
    # applied (a payment of method prepayment)
    deposited = 2 if n_payments == 2 * n_bills else 1
    balanced = (paid == deposited * billed and debit == credit == paid
        and not unbalanced and reconciled == n_bills and receivable == 0)
    return gapless, balanced, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--units', type=int, default=5000)
    parser.add_argument('--batch', type=int, default=2000)
    parser.add_argument('--profile', metavar='FILE',
        help="write a cProfile of the payments to FILE (pstats format)")
    parser.add_argument('--prepaid', action='store_true',
        help="instead of counter payments: every unit deposits its open "
        "amount as prepayment (one call posts them all), then the "
        "prepayments are applied to the bills (apply_prepayments)")
    args = parser.parse_args()
    bench_billing.BATCH = args.batch
    t0 = time.perf_counter()
    bench_billing.prepare_database()
    from trytond.pool import Pool
    print('bench: database ready in %.0f s' % (time.perf_counter() - t0),
        flush=True)
    company, compound, _ = [r.id if not isinstance(r, dict) else None
        for r in in_transaction(bench_billing.setup_data, args.units)]

    def bills():
        pool = Pool()
        return bench_billing.run_bills(pool.get('company.company')(company),
            pool.get('community.compound')(compound))
    started = time.perf_counter()
    run, _ = in_transaction(bills)
    print('bill run: %d units billed in %.1f s' % (
            args.units, time.perf_counter() - started), flush=True)

    todo = in_transaction(open_bills, company)
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    if args.prepaid:
        started = time.perf_counter()
        n = in_transaction(prepay_all, company, compound, todo)
        elapsed = time.perf_counter() - started
        print('prepayments: %d deposits posted in one call in %.1f s = '
            '%.1f payments/s' % (n, elapsed, n / elapsed), flush=True)
        started = time.perf_counter()
        n = in_transaction(apply_all, company)
        elapsed = time.perf_counter() - started
        print('applied: %d prepayment applications in %.1f s = %.1f '
            'payments/s' % (n, elapsed, n / elapsed), flush=True)
        todo = []
    times = []
    started = time.perf_counter()
    cpu = time.process_time()
    for unit, party, unit_bills in todo:
        t = time.perf_counter()
        in_transaction(pay, company, compound, unit, party, unit_bills)
        times.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    if args.profile:
        profiler.disable()
        profiler.dump_stats(args.profile)
    rate = len(todo) / elapsed if elapsed else 0
    if todo:
        # the CPU of this process (trytond's Python, not PostgreSQL's):
        # a figure that holds on a loaded machine
        print('payments: %.1f ms of Python CPU per payment' % (
                cpu / len(todo) * 1000), flush=True)
    times.sort()
    if todo:
        print('payments: %d counter payments (%d bills) posted one per '
            'transaction in %.1f s = %.1f payments/s; one payment p50 '
            '%.0f ms, p99 %.0f ms' % (len(todo),
                sum(len(b) for _, _, b in todo), elapsed, rate,
                statistics.median(times) * 1000,
                times[int(len(times) * 0.99) - 1] * 1000 if times else 0),
            flush=True)
    gapless, balanced, figures = in_transaction(check, run, company)
    print('receipts: %d numbers, gapless 1..N without duplicate: %s' % (
            figures['payments'], gapless))
    print('ledger: paid %(paid)s, billed %(billed)s, cash debit %(debit)s, '
        'credit %(credit)s, unbalanced moves %(unbalanced)s, bills '
        'reconciled %(reconciled)s of %(bills)s, receivable left '
        '%(receivable)s' % figures)
    print('ledger balanced to the cent: %s' % balanced)
    return 0 if gapless and balanced else 1


if __name__ == '__main__':
    sys.exit(main())
