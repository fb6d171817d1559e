"""Benchmark of WeChat Pay notifications arriving at once.

Usage: python tests/bench/bench_payment_notify.py [--payments 5000]
    [--clients 16] [--workers 0] [--duplicates 500]

Creates a fresh database (``bench_payment_notify`` on the project's
PostgreSQL, see scripts/devdb.py) with community_payment and
community_notification (as the demo has them), the data of
bench_billing.py (N units, one owner each, three fee items) and March's
bill run, a WeChat Pay merchant account whose keys come from the WeChat Pay
emulator (``community_payment/tests/emulators.py``) and one pending online
payment per unit paying its bill. Every order is paid at the emulator and
its TRANSACTION.SUCCESS notification built as WeChat Pay sends it
(RSA-SHA256 signed, resource AES-256-GCM encrypted with the APIv3 key).

Then starts the server as ``make demo`` runs it — ``trytond`` (one
process, a thread per request) and ``trytond-worker`` with ``[queue]
worker = True`` — or, with ``--workers N``, trytond's WSGI application
under gunicorn (N processes of 4 threads), and posts all the
notifications at once from ``--clients`` concurrent HTTP clients (kept-alive
connections) to ``/<db>/community_payment/notify/<merchant>``. An answer
503 (the database asked to retry) is sent again, as WeChat Pay does.
Then ``--duplicates`` notifications are sent a second time.

Prints notifications/s and the latency percentiles (goal: ≥ 100/s and p95
≤ 300 ms on 2 cores) — a notification is answered once verified and its
payment marked paid; the receipt is posted after commit by the queue
(trytond-worker), in batches — then the time until every payment is
booked, and checks that every payment is paid and booked
exactly once (one posted receipt of method WeChat Pay per payment, no
duplicate transaction id, receipt numbers unique), every bill settled and
the ledger balanced to the cent. Exits 1 when a check fails.
"""
import argparse
import datetime as dt
import http.client
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / 'scripts'))
import bench_billing  # noqa: E402
from bench_billing import in_transaction  # noqa: E402

DB = bench_billing.DB = 'bench_payment_notify'
# no customer invoices here (account_invoice is not activated)
bench_billing.add_invoice_sequences = lambda company, fiscalyear: None
MODULES = ['community_payment', 'community_notification']
BIN = pathlib.Path(sys.executable).parent
LOCAL = ROOT / '.local' / 'bench-notify'


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float('nan')
    k = max(0, min(len(values) - 1, int(round(q / 100 * len(values))) - 1))
    return values[k]


def prepare_database():
    import devdb
    uri = devdb.database_uri('pg-bench')
    os.environ['TRYTOND_DATABASE__URI'] = uri
    os.environ['DB_NAME'] = DB
    # the activated modules are kept as a template database on the bench
    # server: the next run starts from a copy of it
    os.environ['DB_CACHE'] = 'postgresql://bench'
    import psycopg
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
    from trytond.tests.test_tryton import activate_module
    activate_module(MODULES)
    return uri


def setup_payments(company, wechat, notify_url):
    """The merchant account and one pending payment per unit with an open
    bill; return (merchant id, [(reference, amount)])."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.modules.community_payment.providers import new_reference
    pool = Pool()
    Merchant = pool.get('community.payment.merchant')
    Payment = pool.get('community.payment.online')
    Bill = pool.get('community.bill')
    with Transaction().set_context(company=company):
        merchant, = Merchant.create([{
                    'name': "基准物业 微信支付", 'company': company,
                    'provider': 'wechat', 'app_id': wechat.appid,
                    'mch_id': wechat.mchid, 'serial_no': wechat.serial_no,
                    'public_key_id': wechat.public_key_id,
                    'provider_public_key': wechat.platform_public_key,
                    'private_key': wechat.merchant_private_key,
                    'apiv3_key': wechat.apiv3_key,
                    'gateway_url': wechat.gateway_url,
                    'notify_url': notify_url,
                    }])
        bills = Bill.search([('state', '=', 'posted')],
            order=[('unit', 'ASC'), ('id', 'ASC')])
        expire = dt.datetime.now() + dt.timedelta(days=1)
        vlist = []
        for bill in bills:
            amount = bill.amount_to_pay
            vlist.append({
                    'reference': new_reference(),
                    'compound': bill.compound.id, 'unit': bill.unit.id,
                    'party': bill.party.id, 'merchant': merchant.id,
                    'provider': 'wechat', 'amount': amount,
                    'description': '%s %s' % (bill.compound.name,
                        bill.unit.code),
                    'expire_at': expire,
                    'lines': [('create', [{'bill': bill.id,
                                    'amount': amount}])],
                    })
        payments = []
        for i in range(0, len(vlist), 1000):
            payments += Payment.create(vlist[i:i + 1000])
        return merchant.id, [(p.reference, p.amount) for p in payments]


def build_notifications(wechat, orders, notify_url):
    "Open, pay and notify each order at the emulator: [(headers, body)]."
    from trytond.modules.community_payment.providers import fen
    result = []
    for reference, amount in orders:
        wechat.orders[reference] = {
            'out_trade_no': reference, 'total': fen(amount),
            'notify_url': notify_url, 'description': reference,
            'trade_state': 'NOTPAY', 'transaction_id': None,
            'refunded': 0,
            }
        wechat.pay(reference)
        result.append(wechat.notification(reference))
    return result


def write_config(port, workers):
    LOCAL.mkdir(parents=True, exist_ok=True)
    (LOCAL / 'data').mkdir(exist_ok=True)
    conf = LOCAL / 'trytond.conf'
    conf.write_text(
        '[database]\npath = %s\nlanguage = zh_CN\n'
        '[web]\nlisten = 127.0.0.1:%s\n'
        '[queue]\nworker = True\n'
        % (LOCAL / 'data', port))
    return conf


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(uri, workers):
    port = free_port()
    conf = write_config(port, workers)
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri)
    log = open(LOCAL / 'server.log', 'w')
    if workers:
        env['TRYTOND_CONFIG'] = str(conf)
        env['TRYTOND_DATABASE_NAMES'] = DB
        server = [str(BIN / 'gunicorn'), '--workers', str(workers),
            '--worker-class', 'gthread', '--threads', '4',
            '--bind', '127.0.0.1:%s' % port, 'trytond.application:app']
    else:
        server = [str(BIN / 'trytond'), '-c', str(conf), '-d', DB]
    procs = [subprocess.Popen(command, env=env, start_new_session=True,
            stdout=log, stderr=subprocess.STDOUT) for command in [
            server,
            [str(BIN / 'trytond-worker'), '-c', str(conf), '-d', DB,
                '-n', '1']]]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if procs[0].poll() is not None:
            raise RuntimeError("server exited, see %s" % (
                    LOCAL / 'server.log'))
        try:
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
            # loads the database's pool (as the first request does)
            conn.request('POST', '/%s/community_payment/notify/0' % DB,
                body=b'{}')
            conn.getresponse().read()
            conn.close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        raise RuntimeError("server did not answer")
    return 'http://127.0.0.1:%s' % port, procs


def stop_server(procs):
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def post_all(url, path, notifications, clients):
    """Post every notification from ``clients`` threads; return
    (seconds, latencies ms, retries, errors)."""
    todo = queue.SimpleQueue()
    for item in notifications:
        todo.put(item)
    latencies, errors = [], []
    retries = [0]
    lock = threading.Lock()
    parts = urllib.parse.urlsplit(url)
    barrier = threading.Barrier(clients + 1)

    def client():
        conn = http.client.HTTPConnection(parts.hostname, parts.port,
            timeout=120)
        barrier.wait()
        while True:
            try:
                headers, body = todo.get_nowait()
            except queue.Empty:
                break
            for _attempt in range(10):
                start = time.perf_counter()
                try:
                    conn.request('POST', path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(parts.hostname,
                        parts.port, timeout=120)
                    status = repr(exc)
                elapsed = (time.perf_counter() - start) * 1000
                if status == 204:
                    with lock:
                        latencies.append(elapsed)
                    break
                with lock:
                    retries[0] += 1
            else:
                with lock:
                    errors.append(status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, retries[0], errors


def waiting(merchant):
    "Payments paid and not yet booked."
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    cursor.execute('SELECT COUNT(*) FROM community_payment_online '
        "WHERE merchant = %s AND state = 'paid' AND settlement IS NULL",
        (merchant,))
    return cursor.fetchone()[0]


def wait_booked(merchant, started, timeout):
    """Wait until the queue has booked every paid payment; return the
    seconds since ``started`` (None on timeout)."""
    from trytond.transaction import Transaction
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # without the table locks in_transaction keeps for its retries
        with Transaction().start(DB, 0, readonly=True):
            left = waiting(merchant)
        if not left:
            return time.perf_counter() - started
        time.sleep(0.5)
    return None


def check(merchant, n_payments):
    """Return (ok, figures) computed with SQL."""
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    cursor.execute('SELECT COUNT(*), COUNT(settlement), '
        'COUNT(DISTINCT settlement), COUNT(DISTINCT transaction_id), '
        'COALESCE(SUM(amount), 0) FROM community_payment_online '
        "WHERE merchant = %s AND state = 'paid'", (merchant,))
    paid, settled, distinct_settled, distinct_tx, paid_amount = (
        cursor.fetchone())
    cursor.execute('SELECT COUNT(*), COUNT(DISTINCT reference), '
        'COUNT(DISTINCT receipt_number), COALESCE(SUM(amount), 0) '
        "FROM community_payment WHERE state = 'posted' "
        "AND method = 'wechat'")
    receipts, distinct_refs, distinct_numbers, received = cursor.fetchone()
    cursor.execute('SELECT COUNT(*), COUNT(ml.reconciliation), '
        'COALESCE(SUM(b.total_amount), 0) FROM community_bill b '
        'JOIN account_move_line ml ON ml.id = b.move_line')
    bills, reconciled, billed = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.debit), 0), '
        'COALESCE(SUM(ml.credit), 0) FROM account_move_line ml '
        'JOIN account_move m ON m.id = ml.move '
        "WHERE m.origin LIKE 'community.payment,%%' AND m.state = 'posted'")
    debit, credit = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.debit - ml.credit), 0) '
        'FROM account_move_line ml '
        'JOIN account_account a ON a.id = ml.account '
        "WHERE a.code = '1012'")
    wallet, = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(ml.debit - ml.credit), 0) '
        'FROM account_move_line ml '
        'JOIN account_account a ON a.id = ml.account '
        "WHERE a.code = '1122' AND ml.party IS NOT NULL")
    receivable, = cursor.fetchone()
    cursor.execute('SELECT COALESCE(SUM(debit), 0), '
        'COALESCE(SUM(credit), 0) FROM account_move_line')
    all_debit, all_credit = cursor.fetchone()
    figures = dict(payments=n_payments, paid=paid, settled=settled,
        distinct_settled=distinct_settled, distinct_tx=distinct_tx,
        paid_amount=paid_amount, receipts=receipts,
        distinct_refs=distinct_refs, distinct_numbers=distinct_numbers,
        received=received, bills=bills, reconciled=reconciled,
        billed=billed, debit=debit, credit=credit, wallet=wallet,
        receivable=receivable, all_debit=all_debit, all_credit=all_credit)
    once = (paid == settled == distinct_settled == distinct_tx == receipts
        == distinct_refs == distinct_numbers == n_payments)
    balanced = (paid_amount == received == billed == wallet == debit
        == credit and reconciled == bills and receivable == 0
        and all_debit == all_credit)
    return once, balanced, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--payments', type=int, default=5000)
    parser.add_argument('--clients', type=int, default=16,
        help="concurrent HTTP clients (WeChat Pay's senders)")
    parser.add_argument('--workers', type=int, default=0,
        help="serve with gunicorn, N processes of 4 threads, instead of "
        "trytond (one process, a thread per request, as make demo)")
    parser.add_argument('--duplicates', type=int, default=500,
        help="notifications sent a second time after the run")
    parser.add_argument('--batch', type=int, default=2000)
    parser.add_argument('--timeout', type=float, default=3600,
        help="seconds to wait for the queue to book every payment")
    args = parser.parse_args()
    bench_billing.BATCH = args.batch
    t0 = time.perf_counter()
    uri = prepare_database()
    from trytond.pool import Pool
    from trytond.modules.community_payment.tests.emulators import (
        WeChatPayEmulator)
    print('bench: database ready in %.0f s' % (time.perf_counter() - t0),
        flush=True)
    company, compound, _ = [r.id if not isinstance(r, dict) else None
        for r in in_transaction(bench_billing.setup_data, args.payments)]

    def bills():
        pool = Pool()
        return bench_billing.run_bills(pool.get('company.company')(company),
            pool.get('community.compound')(compound))
    started = time.perf_counter()
    in_transaction(bills)
    print('bill run: %d units billed in %.1f s' % (
            args.payments, time.perf_counter() - started), flush=True)

    wechat = WeChatPayEmulator()
    notify_url = 'https://wy.example.com/%s/community_payment/notify' % DB
    merchant, orders = in_transaction(
        setup_payments, company, wechat, notify_url)
    started = time.perf_counter()
    notifications = build_notifications(wechat, orders, notify_url)
    print('payments: %d pending, %d notifications signed and encrypted in '
        '%.1f s' % (len(orders), len(notifications),
            time.perf_counter() - started), flush=True)

    url, procs = start_server(uri, args.workers)
    try:
        path = '/%s/community_payment/notify/%s' % (DB, merchant)
        started = time.perf_counter()
        elapsed, latencies, retries, errors = post_all(
            url, path, notifications, args.clients)
        rate = len(latencies) / elapsed if elapsed else 0
        print('server: %s' % ('gunicorn, %d processes of 4 threads'
                % args.workers if args.workers
                else 'trytond (threads) + trytond-worker'))
        print('notifications: %d answered 204 in %.1f s = %.1f '
            'notifications/s by %d concurrent clients; %d retried (503), '
            '%d failed' % (len(latencies), elapsed, rate, args.clients,
                retries, len(errors)), flush=True)
        print('latency ms: p50 %.0f  p95 %.0f  p99 %.0f  max %.0f' % (
                percentile(latencies, 50), percentile(latencies, 95),
                percentile(latencies, 99),
                max(latencies) if latencies else float('nan')), flush=True)
        goal = rate >= 100 and percentile(latencies, 95) <= 300
        print('goal >= 100/s and p95 <= 300 ms: %s' % (
                'met' if goal else 'NOT met'), flush=True)
        booked = wait_booked(merchant, started, args.timeout)
        if booked is None:
            print('booking: NOT finished after %.0f s' % args.timeout)
            errors.append('booking timeout')
        else:
            print('booking (trytond-worker, after commit): all %d booked '
                '%.1f s after the first notification = %.1f receipts/s' % (
                    len(orders), booked, len(orders) / booked), flush=True)
        if args.duplicates:
            dup = notifications[:args.duplicates]
            elapsed2, lat2, retries2, errors2 = post_all(
                url, path, dup, args.clients)
            print('duplicates: %d sent again, %d answered 204 in %.1f s '
                '(p95 %.0f ms), %d failed' % (len(dup), len(lat2), elapsed2,
                    percentile(lat2, 95), len(errors2)), flush=True)
            errors += errors2
    finally:
        stop_server(procs)
        wechat.stop()
    once, balanced, figures = in_transaction(check, merchant, len(orders))
    print('booked: %(paid)s paid of %(payments)s, %(settled)s with a '
        'receipt (%(distinct_settled)s distinct), %(receipts)s WeChat Pay '
        'receipts posted (%(distinct_refs)s distinct transaction ids, '
        '%(distinct_numbers)s distinct numbers)' % figures)
    print('booked exactly once: %s' % once)
    print('ledger: paid %(paid_amount)s, received %(received)s, billed '
        '%(billed)s, 1012 balance %(wallet)s, receipts debit %(debit)s '
        'credit %(credit)s, bills reconciled %(reconciled)s of %(bills)s, '
        'receivable left %(receivable)s, all moves debit %(all_debit)s '
        'credit %(all_credit)s' % figures)
    print('ledger balanced to the cent: %s' % balanced)
    return 0 if once and balanced and not errors else 1


if __name__ == '__main__':
    sys.exit(main())
