"""Load benchmark of the resident portal: N concurrent logged-in residents
on the bill list page.

Usage: .venv/bin/python tests/bench/bench_portal.py [--users 50]
    [--duration 20] [--think 0 [1 …]]

Starts trytond with the portal fixture database (tests/portal_server.py)
plus N bound resident accounts, logs every resident in, then runs one
thread per resident requesting ``/bills`` over a kept-alive connection
for ``--duration`` seconds, pausing ``--think`` seconds between requests
(0: closed loop, as fast as possible; else uniformly ±50 %). Prints
requests/s and the p50, p95 and p99 latencies in ms. Goal: p95 ≤ 150 ms
on 2 cores.

``--workers N`` serves trytond's WSGI application
(``trytond.application:app``) with gunicorn, N processes of 4 threads,
instead of ``trytond`` (one process, threads: its command line has no
option for several processes).
"""
import argparse
import http.client
import os
import random
import pathlib
import statistics
import sys
import threading
import time
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from portal_client import PortalClient  # noqa: E402
from portal_server import PASSWORD, PortalServer  # noqa: E402


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float('nan')
    k = max(0, min(len(values) - 1, int(round(q / 100 * len(values))) - 1))
    return values[k]


def worker(url, cookie, deadline, think, latencies, errors):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = parts.path + '/bills'
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            conn.request('GET', path, headers={'Cookie': cookie})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or "我的账单".encode() not in body:
                errors.append(response.status)
            else:
                latencies.append((time.perf_counter() - start) * 1000)
            if response.getheader('Connection', '').lower() == 'close':
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=30)
        if think:
            # residents do not click in step: ±50 % around the think time
            time.sleep(think * random.uniform(0.5, 1.5))
    conn.close()


def measure(url, cookies, duration, think):
    "One thread per resident for ``duration`` seconds; print the figures."
    latencies, errors = [], []
    deadline = time.monotonic() + duration
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(
                url, cookie, deadline, think, latencies, errors))
        for cookie in cookies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    print("portal /bills: %d concurrent residents, %.0f s, think %.1f s"
        % (len(cookies), elapsed, think))
    print("requests: %d ok, %d errors" % (len(latencies), len(errors)))
    print("requests/s: %.1f" % (len(latencies) / elapsed))
    print("latency ms: p50 %.1f  p95 %.1f  p99 %.1f  mean %.1f" % (
            percentile(latencies, 50), percentile(latencies, 95),
            percentile(latencies, 99),
            statistics.mean(latencies) if latencies else float('nan')),
        flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--users', type=int, default=50)
    parser.add_argument('--duration', type=float, default=20)
    parser.add_argument('--think', type=float, nargs='+', default=[0],
        help="think time(s) in seconds; several values run one after the "
        "other on the same server, e.g. --think 0 1")
    parser.add_argument('--workers', type=int, default=0,
        help="serve with gunicorn, N worker processes of 4 threads "
        "(trytond.application:app; pip install gunicorn) instead of the "
        "threaded trytond server")
    args = parser.parse_args(argv)
    os.environ['PORTAL_BENCH_RESIDENTS'] = str(args.users)
    server = PortalServer('test_portal_bench', workers=args.workers)
    print("preparing database and server …", flush=True)
    server.start()
    try:
        mobiles = server.data['bench']
        cookies = []
        for mobile in mobiles:
            client = PortalClient(server.url)
            client.login(mobile, PASSWORD)
            cookies.append('; '.join(
                    '%s=%s' % (c.name, c.value) for c in client.jar))
        # warm-up
        warm = []
        worker(server.url, cookies[0], time.monotonic() + 2, 0, warm, [])
        for think in args.think:
            measure(server.url, cookies, args.duration, think)
    finally:
        server.stop()


if __name__ == '__main__':
    main()
