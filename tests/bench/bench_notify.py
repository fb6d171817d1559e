"""Benchmark of a bill run notifying every payer (inbox, WeChat, SMS).

Usage: python tests/bench/bench_notify.py [--units 20000] [--workers 2]
    [--repeat 2]

1. On a fresh database with community_billing and community_notification
   (``bench_notify``, from a template) and the data of bench_billing.py
   (N units, one owner each, three fee items), every payer with a mobile
   number and every other one with a portal account bound through
   WeChat, runs March's bill run twice: once with the notification step
   of each batch of bills left out (community_notification's
   ``BillRun._insert_bills`` calling only community_billing's), once as
   it is: each batch puts a notification in each payer's inbox (one bulk
   INSERT per batch) and queues their sending; ``--repeat`` times each,
   alternately, a fresh database each time (a run on another machine's
   load or on other data differs by more than the notifications cost).
   Prints each run, the slowdown of the medians and the time the
   notification step took within the runs (goal: ≤ 10 %).
2. Starts ``--workers`` trytond-worker processes (``[queue] worker =
   True``, as ``make demo``) with the WeChat and SMS accounts pointing at
   the providers' emulators (``community_notification/tests/
   emulators.py``: TC3-HMAC-SHA256 signatures checked, access tokens,
   approved templates), and measures the time until every WeChat message
   and SMS of the last run is sent: messages/s (goal: ≥ 200 messages/s on
   2 cores).

Checks one inbox notification per bill, one sent attempt per notification
(WeChat for the bound payers, SMS for the others) and as many messages
received by the emulators. Exits 1 when a check fails.
"""
import argparse
import datetime as dt
import os
import pathlib
import signal
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / 'scripts'))
import bench_billing  # noqa: E402
from bench_billing import in_transaction  # noqa: E402

# no customer invoices here (account_invoice is not activated)
bench_billing.add_invoice_sequences = lambda company, fiscalyear: None
BIN = pathlib.Path(sys.executable).parent
LOCAL = ROOT / '.local' / 'bench-notify'


def modules_fingerprint():
    "A digest of the modules' code and data (their tables follow them)."
    import hashlib
    digest = hashlib.sha256()
    for path in sorted((ROOT / 'addons').glob('*/*')):
        if path.suffix in {'.py', '.xml', '.cfg'}:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare_database(name, modules):
    """A fresh database ``name`` with ``modules`` (from a template cache,
    dropped when the modules changed since it was made)."""
    import devdb
    uri = devdb.database_uri('pg-bench')
    os.environ['TRYTOND_DATABASE__URI'] = uri
    os.environ['DB_NAME'] = name
    os.environ['DB_CACHE'] = 'postgresql://bench'
    import psycopg
    LOCAL.mkdir(parents=True, exist_ok=True)
    stamp = LOCAL / 'cache-fingerprint'
    fingerprint = modules_fingerprint()
    if 'trytond.pool' in sys.modules:
        # a database of that name made before in this process: its pool
        # and caches go with it
        from trytond.cache import Cache
        from trytond.pool import Pool
        Pool.stop(name)
        Cache.drop(name)
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        if not stamp.exists() or stamp.read_text() != fingerprint:
            for cache, in conn.execute("SELECT datname FROM pg_database "
                    "WHERE datname ~ '^test-[0-9a-f]+$'").fetchall():
                conn.execute(
                    'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % cache)
            stamp.write_text(fingerprint)
    from trytond.tests import test_tryton
    test_tryton.DB_NAME = name
    test_tryton.DB_CACHE = 'postgresql://bench'
    # create_db's default name is the one of its import
    test_tryton.create_db.__defaults__ = (name, 'en')
    test_tryton.activate_module(modules)
    bench_billing.DB = name
    return uri


def setup(n_units, reachable):
    "The data of bench_billing; with ``reachable``, mobiles and WeChat."
    from sql.functions import CurrentTimestamp
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    company, compound, _ = bench_billing.setup_data(n_units)
    if reachable:
        pool = Pool()
        Party = pool.get('party.party')
        Contact = pool.get('party.contact_mechanism')
        WebUser = pool.get('web.user')
        Compound = pool.get('community.compound')
        # quiet hours off: the SMS go now, whatever the hour of the run
        Compound.write([compound], {'quiet_start': dt.time(0, 0),
                'quiet_end': dt.time(0, 0)})
        cursor = Transaction().connection.cursor()
        party = Party.__table__()
        cursor.execute(*party.select(party.id, order_by=[party.id.asc],
                where=party.code.like('B%')))
        ids = [r[0] for r in cursor]
        contact = Contact.__table__()
        user = WebUser.__table__()
        now = CurrentTimestamp()
        uid = Transaction().user
        for i in range(0, len(ids), 5000):
            chunk = ids[i:i + 5000]
            cursor.execute(*contact.insert(
                    [contact.create_uid, contact.create_date, contact.party,
                        contact.type, contact.value, contact.active,
                        contact.sequence],
                    [[uid, now, p, 'mobile', '139%08d' % p, True, 10]
                        for p in chunk]))
            cursor.execute(*user.insert(
                    [user.create_uid, user.create_date, user.email,
                        user.active, user.party, user.wechat_openid],
                    [[uid, now, 'p%s@example.com' % p, True, p, 'oWX-%s' % p]
                        for j, p in enumerate(chunk, i) if j % 2 == 0]))
    return company.id, compound.id


def bill_run(company, compound):
    from trytond.pool import Pool
    pool = Pool()
    return bench_billing.run_bills(pool.get('company.company')(company),
        pool.get('community.compound')(compound))


def counts():
    """(queue tasks not done, notifications, attempts by state)."""
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    cursor.execute('SELECT COUNT(*) FROM ir_queue WHERE finished_at IS NULL')
    tasks, = cursor.fetchone()
    cursor.execute('SELECT COUNT(*) FROM community_notification')
    notifications, = cursor.fetchone()
    cursor.execute('SELECT channel, state, COUNT(*) '
        'FROM community_notification_attempt GROUP BY channel, state')
    attempts = {(c, s): n for c, s, n in cursor}
    cursor.execute('SELECT COUNT(*) FROM community_bill')
    bills, = cursor.fetchone()
    return tasks, notifications, attempts, bills


def sending_span():
    "Seconds from the first to the last message sent."
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    cursor.execute("SELECT EXTRACT(EPOCH FROM MAX(sent_at) - MIN(sent_at)) "
        "FROM community_notification_attempt WHERE state = 'sent'")
    span, = cursor.fetchone()
    return float(span or 0)


class NotificationStep:
    """community_notification's step of a bill run's batches, left out
    when ``notify`` is False (community_billing's alone then), timed
    (``seconds``) when it runs."""

    def __init__(self):
        from trytond.modules.community_billing import bill
        from trytond.modules.community_notification import billing
        self.notify, self.seconds = True, 0.0
        notifying = billing.BillRun._insert_bills
        plain = bill.BillRun._insert_bills
        step = self

        def _insert_bills(run, sql, bills, due_date):
            if not step.notify:
                return plain(run, sql, bills, due_date)
            started = time.perf_counter()
            inner = [0.0]

            def timed_plain(*args):
                begin = time.perf_counter()
                try:
                    return plain(*args)
                finally:
                    inner[0] += time.perf_counter() - begin
            bill.BillRun._insert_bills = timed_plain
            try:
                return notifying(run, sql, bills, due_date)
            finally:
                bill.BillRun._insert_bills = plain
                step.seconds += time.perf_counter() - started - inner[0]
        billing.BillRun._insert_bills = _insert_bills


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return (values[middle] if len(values) % 2
        else (values[middle - 1] + values[middle]) / 2)


def load():
    "The machine's load (other processes share it)."
    return 'load average %.1f %.1f %.1f' % os.getloadavg()


def write_config(options):
    LOCAL.mkdir(parents=True, exist_ok=True)
    conf = LOCAL / 'worker.conf'
    conf.write_text('[queue]\nworker = True\n[community_notification]\n'
        + ''.join('%s = %s\n' % kv for kv in options.items()))
    return conf


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--units', type=int, default=20000)
    parser.add_argument('--workers', type=int, default=2,
        help="trytond-worker processes sending the messages")
    parser.add_argument('--batch', type=int, default=2000)
    parser.add_argument('--timeout', type=float, default=3600)
    parser.add_argument('--repeat', type=int, default=2,
        help="runs without and with notifications, alternately")
    args = parser.parse_args()
    bench_billing.BATCH = args.batch
    import devdb
    # before trytond reads its configuration
    os.environ['TRYTOND_DATABASE__URI'] = devdb.database_uri('pg-bench')

    # 1. the bill run without and with its notification step
    from trytond import config
    from trytond.modules.community_notification.tests.emulators import (
        APPROVED_SMS, WECHAT_TEMPLATES, TencentSms, WeChat, configure)
    config.set('queue', 'worker', 'True')  # the bill run queues, never sends
    step = NotificationStep()
    runs = {False: [], True: []}
    for notify in [False, True] * args.repeat:
        t0 = time.perf_counter()
        uri = prepare_database('bench_notify',
            ['community_billing', 'community_notification'])
        company, compound = in_transaction(setup, args.units, True)
        step.notify = notify
        before = step.seconds
        _, seconds = in_transaction(bill_run, company, compound)
        runs[notify].append(seconds)
        print('bill run %s notifications: %d units in %.1f s%s '
            '(database and data ready in %.0f s; %s)' % (
                'with' if notify else 'without', args.units, seconds,
                ', of which %.1f s notifying' % (step.seconds - before)
                if notify else '', time.perf_counter() - t0 - seconds,
                load()), flush=True)
    tasks, notifications, attempts, bills = in_transaction(counts)
    plain, notified = median(runs[False]), median(runs[True])
    slower = (notified / plain - 1) * 100
    share = step.seconds / (sum(runs[True]) - step.seconds) * 100
    print('bill run with notifications: %d inbox notifications, %d sending '
        'tasks queued; medians %.1f s without, %.1f s with: %+.1f %%; the '
        'notification step took %.1f %% of the time of the rest of the runs '
        '(goal <= +10 %%: %s)' % (notifications, tasks, plain, notified,
            slower, share, 'met' if max(slower, share) <= 10
            else 'NOT met'), flush=True)

    # 3. the workers send
    sms = TencentSms(templates=APPROVED_SMS).start()
    wechat = WeChat(openids={'oWX-%s' % i for i in range(1, 10 * args.units)},
        templates=WECHAT_TEMPLATES).start()
    configure(sms, wechat)
    options = dict(sms.config(), **wechat.config())
    conf = write_config(options)
    env = dict(os.environ, TRYTOND_DATABASE__URI=uri)
    log = open(LOCAL / 'worker.log', 'w')
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / 'trytond-worker'), '-c', str(conf),
            '-d', 'bench_notify', '-n', str(args.workers)], env=env,
        start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            tasks, notifications, attempts, bills = in_transaction(counts)
            if not tasks:
                break
            if proc.poll() is not None:
                raise RuntimeError("worker exited, see %s" % (
                        LOCAL / 'worker.log'))
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        sms.stop()
        wechat.stop()
    sent = sum(n for (c, s), n in attempts.items() if s == 'sent')
    span = in_transaction(sending_span)
    print('sending: %d trytond-worker processes, %d tasks left; attempts %s'
        % (args.workers, tasks, dict(sorted(attempts.items()))))
    print('messages: %d sent (%d WeChat, %d SMS) in %.1f s after the run = '
        '%.1f messages/s (goal >= 200/s: %s)' % (sent, len(wechat.sent),
            len(sms.sent), elapsed, sent / elapsed,
            'met' if sent / elapsed >= 200 else 'NOT met'), flush=True)
    print('from the first message to the last: %.1f s = %.1f messages/s '
        '(the time before includes the workers\' start); %s' % (
            span, sent / span if span else 0, load()), flush=True)
    print('bill run + sending: %.1f s until every payer was told' % (
            notified + elapsed))
    ok = (notifications == bills == sent == len(wechat.sent) + len(sms.sent)
        and not tasks and len(wechat.sent) == (bills + 1) // 2)
    print('one inbox notification per bill and one message per '
        'notification: %s (bills %d, notifications %d)' % (
            ok, bills, notifications))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
