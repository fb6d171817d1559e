"""Benchmark the register import (not a timed test).

Generates a register of ``--units`` units (default 20,000; about two
residencies per unit), creates a fresh database with community_base,
imports the file through ``community.register.import.import_register`` and
prints the seconds and rows per second; then imports the same file again
(nothing changes) and prints that time too.

Usage: .venv/bin/python tests/bench/bench_register_import.py [--units N]
(`make bench-register`). The database is TRYTOND_DATABASE__URI if set, else
the project-local PostgreSQL (scripts/devdb.py, .local/pg-bench).
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))
import devdb  # noqa: E402
import gen_register  # noqa: E402

DATABASE = 'bench_register'


def create_database(uri):
    import psycopg
    dsn = devdb.dsn(uri)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DATABASE)
        conn.execute('CREATE DATABASE "%s" ENCODING \'UTF8\'' % DATABASE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--units', type=int, default=20000)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--profile', action='store_true',
        help="print the 30 most expensive calls of the first import")
    args = parser.parse_args()

    rows = gen_register.generate_rows(args.units, args.seed)
    data = gen_register.to_csv(rows)
    n_units = len({tuple(r[:3]) for r in rows[1:]})
    n_res = sum(1 for r in rows[1:] if r[9])
    print('generated %d rows: %d units, %d residencies (%.1f MB)' % (
            len(rows) - 1, n_units, n_res, len(data) / 1e6), flush=True)

    uri = os.environ.get('TRYTOND_DATABASE__URI') or devdb.database_uri(
        'pg-bench')
    os.environ['TRYTOND_DATABASE__URI'] = uri
    create_database(uri)
    local = ROOT / '.local'
    local.mkdir(exist_ok=True)
    passfile = local / 'bench-admin-password'
    passfile.write_text('admin\n')
    env = dict(os.environ, TRYTONPASSFILE=str(passfile))
    start = time.monotonic()
    subprocess.run([str(pathlib.Path(sys.executable).parent / 'trytond-admin'),
            '-d', DATABASE, '--activate-dependencies', '-u',
            'community_base', '--email', 'admin@example.com'],
        env=env, check=True)
    print('database ready in %.0f s' % (time.monotonic() - start),
        flush=True)

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(DATABASE)
    pool.init()
    with Transaction().start(DATABASE, 0) as transaction:
        Currency = pool.get('currency.currency')
        Party = pool.get('party.party')
        Company = pool.get('company.company')
        Compound = pool.get('community.compound')
        cny, = Currency.create([{'name': '人民币', 'code': 'CNY',
                    'symbol': '¥', 'rounding': Decimal('0.01'), 'digits': 2}])
        party, = Party.create([{'name': '乐山嘉州物业服务有限公司'}])
        company, = Company.create([{'party': party.id,
                    'currency': cny.id}])
        with transaction.set_context(company=company.id):
            compound, = Compound.create([{'company': company.id,
                        'code': 'BENCH', 'name': '基准小区',
                        'area_code': '511102001001'}])
        transaction.commit()
    Import = pool.get('community.register.import', type='wizard')
    for attempt in ('first import', 'same file again'):
        with Transaction().start(DATABASE, 0, context={
                    'company': company.id}) as transaction:
            start = time.monotonic()
            cpu = time.process_time()
            if args.profile:
                import cProfile
                import pstats
                profile = cProfile.Profile()
                counts = profile.runcall(Import.import_register,
                    Compound(compound.id), data, 'bench.csv')
                pstats.Stats(profile).sort_stats(
                    os.environ.get('BENCH_SORT', 'cumulative')
                    ).print_stats(40)
            else:
                counts = Import.import_register(
                    Compound(compound.id), data, 'bench.csv')
            transaction.commit()
            seconds = time.monotonic() - start
            cpu = time.process_time() - cpu
        print('%s: %.1f s for %d rows (%d units, %d residencies): '
            '%.0f rows/s (%.0f s CPU in this process; load average %.1f); '
            'created %d, updated %d, unchanged %d' % (
                attempt, seconds, len(rows) - 1, n_units, n_res,
                (len(rows) - 1) / seconds, cpu, os.getloadavg()[0],
                counts['created'], counts['updated'], counts['unchanged']),
            flush=True)


if __name__ == '__main__':
    main()
