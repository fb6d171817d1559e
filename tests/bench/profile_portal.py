"""Server CPU time per request of the portal's bill list, in-process.

Usage: .venv/bin/python tests/bench/profile_portal.py [--requests 300]
    [--residents 5] [--profile] [--code DIR] [--reuse]

Prepares the portal fixture database ``test_portal_profile`` (the bench
residents of tests/portal_server.py, plus the fixture's residents with
bills), then serves ``/bills`` with werkzeug's test client in this process
(no HTTP, no threads) and prints the CPU time (``time.process_time``) per
request, for the bench residents (no bill) and for 王芳's co-owner 李强
(bills and late fees). ``--profile`` prints the cProfile top functions.
``--code DIR``: load community_base and community_portal from the
``addons`` of another checkout (e.g. a worktree of an older commit) to
compare before/after on the same database (prepare it with --reuse off
first, with the current code).
"""
import argparse
import cProfile
import importlib.util
import os
import pathlib
import pstats
import re
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from portal_server import PASSWORD, PortalServer  # noqa: E402

DATABASE = 'test_portal_profile'


def load_code(directory, names=('community_base', 'community_portal')):
    "Import the modules ``names`` from ``directory``/addons (if there)."
    import trytond.modules
    for name in names:
        path = pathlib.Path(directory) / 'addons' / name
        if not path.exists():
            continue
        spec = importlib.util.spec_from_file_location(
            'trytond.modules.' + name, path / '__init__.py',
            submodule_search_locations=[str(path)])
        module = importlib.util.module_from_spec(spec)
        sys.modules['trytond.modules.' + name] = module
        setattr(trytond.modules, name, module)
        spec.loader.exec_module(module)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--residents', type=int, default=5)
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--code')
    parser.add_argument('--reuse', action='store_true',
        help="use the database prepared by a previous run")
    args = parser.parse_args(argv)
    server = PortalServer(DATABASE)
    data_file = server.local / (DATABASE + '.json')
    if not args.reuse:
        os.environ['PORTAL_BENCH_RESIDENTS'] = str(args.residents)
        server.start()
        server.stop()
        import json
        data_file.write_text(json.dumps(server.data))
    import json
    data = json.loads(data_file.read_text())
    os.environ['TRYTOND_DATABASE__URI'] = server.env()[
        'TRYTOND_DATABASE__URI']
    from trytond import config
    server.port = 0
    config.update_etc(str(server.config()))
    if args.code:
        load_code(args.code)
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from trytond.pool import Pool
    from trytond.wsgi import app
    Pool.start()
    Pool(DATABASE).init()
    import trytond.modules.community_portal.routes  # noqa: F401
    base = '/%s/portal' % DATABASE

    def logged_in(mobile):
        client = Client(app, Response)
        page = client.get(base + '/login').get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        response = client.post(base + '/login', data={
                'login': mobile, 'password': PASSWORD, 'csrf': csrf})
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    for label, mobiles in [
            ("bench residents (no bill)", data['bench']),
            ("李强 (bills, late fees)", [data['accounts']['li']])]:
        clients = [logged_in(m) for m in mobiles]
        for client in clients:   # warm-up: templates, caches
            for _ in range(5):
                assert client.get(base + '/bills').status_code == 200
        profiler = cProfile.Profile() if args.profile else None
        start = time.process_time()
        if profiler:
            profiler.enable()
        for i in range(args.requests):
            response = clients[i % len(clients)].get(base + '/bills')
            assert response.status_code == 200
        if profiler:
            profiler.disable()
        cpu = (time.process_time() - start) / args.requests * 1000
        print("%s: %.2f ms CPU per /bills request (%d requests)"
            % (label, cpu, args.requests), flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats('cumulative').print_stats(40)


if __name__ == '__main__':
    main()
