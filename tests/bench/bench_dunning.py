"""Benchmark of Create Dunnings (催缴) after a bill run.

Usage: python tests/bench/bench_dunning.py [--units 5000] [--paid 0.25]

Creates a fresh database (``bench_dunning`` on the project's PostgreSQL,
see scripts/devdb.py) with the data of bench_billing.py (N units, one owner
each, three fee items, the default dunning procedure 物业费催缴 with levels
at 15, 45 and 90 days), runs March 2026's bill run, pays a share of the
bills at the counter (``--paid``), then creates the dunnings as of 1 June
2026 (``community`` override of ``account.dunning.generate_dunnings``, the
method of the Create Dunnings wizard) in one transaction. Prints:

1. dunnings created per second;
2. whether the result is right: one dunning per unpaid bill, all at
   the first level (Tryton starts a dunning at the first level whose
   delay has passed: 15 days), none for a paid bill, and each dunning's
   amount the bill's open amount;
3. the time of a second run (it creates nothing).

Exits 1 when a check fails.
"""
import argparse
import datetime as dt
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_billing  # noqa: E402
import bench_payment  # noqa: E402
from bench_billing import in_transaction  # noqa: E402

bench_billing.DB = 'bench_dunning'
DATE = dt.date(2026, 6, 1)


def generate(company):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Dunning = Pool().get('account.dunning')
    with Transaction().set_context(company=company):
        before = Dunning.search([], count=True)
        Dunning.generate_dunnings(date=DATE)
        return Dunning.search([], count=True) - before


def check(company):
    "Return (ok, figures)."
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Dunning = pool.get('account.dunning')
    Bill = pool.get('community.bill')
    with Transaction().set_context(company=company):
        dunnings = Dunning.search([])
        bills = Bill.search([('state', '=', 'posted')])
        open_ = {b.id: b.amount_to_pay for b in bills if b.amount_to_pay > 0}
        dunned = {d.bill.id: d for d in dunnings if d.bill}
        levels = {d.level.sequence for d in dunnings}
        right_amounts = all(d.amount == open_.get(b)
            for b, d in dunned.items())
    figures = dict(dunnings=len(dunnings), open=len(open_),
        paid=len(bills) - len(open_), levels=sorted(levels))
    ok = (set(dunned) == set(open_) and len(dunnings) == len(open_)
        and right_amounts and len(levels) == 1)
    return ok, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--units', type=int, default=5000)
    parser.add_argument('--paid', type=float, default=0.25,
        help="share of the bills paid before the dunnings")
    parser.add_argument('--profile', metavar='FILE',
        help="write a cProfile of the first run to FILE (pstats format)")
    args = parser.parse_args()
    bench_billing.prepare_database()
    from trytond.pool import Pool
    company, compound, _ = [r.id if not isinstance(r, dict) else None
        for r in in_transaction(bench_billing.setup_data, args.units)]

    def bills():
        pool = Pool()
        return bench_billing.run_bills(pool.get('company.company')(company),
            pool.get('community.compound')(compound))
    in_transaction(bills)
    todo = in_transaction(bench_payment.open_bills, company)
    step = int(1 / args.paid) if args.paid else 0
    paid = todo[::step] if step else []
    for unit, party, unit_bills in paid:
        in_transaction(bench_payment.pay, company, compound, unit, party,
            unit_bills)
    print('bench: %d units billed, %d paid' % (len(todo), len(paid)),
        flush=True)
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    cpu = time.process_time()
    n = in_transaction(generate, company)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    print('dunnings: %.1f s of Python CPU (this process, not PostgreSQL)'
        % cpu, flush=True)
    if args.profile:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print('dunnings: %d created in %.1f s = %.0f dunnings/s' % (
            n, elapsed, n / elapsed if elapsed else 0), flush=True)
    started = time.perf_counter()
    again = in_transaction(generate, company)
    print('second run: %d created in %.1f s' % (
            again, time.perf_counter() - started), flush=True)
    ok, figures = in_transaction(check, company)
    print('check: %(dunnings)d dunnings for %(open)d open bills (%(paid)d '
        'paid), levels %(levels)s' % figures)
    print('one dunning per open bill, open amounts, one level: %s' % ok)
    return 0 if ok and not again else 1


if __name__ == '__main__':
    sys.exit(main())
