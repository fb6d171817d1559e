"""Run every test of the project on PostgreSQL and print a summary line.

- each module's ``tests/test_*.py`` under addons/ (``test_module``,
  ``test_scenario`` with the scenario doctests, …), loaded by dotted name
  with unittest's loader (pytest would skip the .rst scenarios);
- the top-level ``tests/`` with pytest.

The database is the one given by TRYTOND_DATABASE__URI, else a local
server (see devdb.py). Exits 1 when anything failed or errored.

The module tests run as tasks (a scenario, a test file), each in its
own process with its own database, TEST_JOBS (2) at a time, beside
pytest: a task is mostly one process waiting on PostgreSQL or the other
way round, so several keep both cores busy.

Options: module names to restrict the module tests (e.g. community_base),
``--no-top`` to skip tests/, ``--only-top``, ``--write-durations`` to
record how long each task took (scripts/test_durations.json, the order
of the next runs).
"""
import os
import pathlib
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import devdb  # noqa: E402

ROOT = devdb.ROOT


def modules():
    return sorted(p.name for p in (ROOT / 'addons').iterdir()
        if (p / 'tryton.cfg').exists())


TEST_NAME = "datname LIKE 'test%%' OR datname LIKE 'tmp_test%%'"
STATE = ROOT / '.local' / 'test-databases.txt'


def test_databases(uri):
    "Names of the test-like databases on the server."
    import psycopg
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        return {r[0] for r in conn.execute(
                'SELECT datname FROM pg_database WHERE ' + TEST_NAME)}


def drop_databases(uri, names):
    import psycopg
    with psycopg.connect(devdb.dsn(uri), autocommit=True) as conn:
        for name in sorted(names):
            conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                % name.replace('"', '""'))


def is_cache_template(name):
    "Whether ``name`` is a template of trytond's test cache (test-<hash>)."
    return bool(re.fullmatch(r'test-[0-9a-f]{40}', name))


def start_databases(uri):
    """Drop what an earlier run of this checkout created and left (it
    stopped half-way) and the templates of trytond's test cache (a cache
    left by any earlier run would serve its old models and XML), and
    return the databases present now, which are not ours: a shared
    server's other test databases are never dropped."""
    before = test_databases(uri)
    stale = {n for n in before if is_cache_template(n)}
    if STATE.exists():
        stale |= before - set(STATE.read_text().split())
    if stale:
        drop_databases(uri, stale)
        before = test_databases(uri)
    STATE.parent.mkdir(exist_ok=True)
    STATE.write_text('\n'.join(sorted(before)))
    return before


def end_databases(uri, before):
    "Drop the databases this run created (its cache templates too)."
    drop_databases(uri, test_databases(uri) - before)
    STATE.unlink(missing_ok=True)


class TimedResult(unittest.TextTestResult):
    "Records (test id, seconds) of every test in ``durations``."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.durations = []

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.durations.append(
            (test.id(), time.monotonic() - self._started))


def main(argv):
    args = [a for a in argv if not a.startswith('--')]
    only_top = '--only-top' in argv
    no_top = '--no-top' in argv
    task = [a[len('--task='):] for a in argv if a.startswith('--task=')]
    if task:
        result = [a[len('--result='):] for a in argv
            if a.startswith('--result=')]
        return run_task(task[0], result[0])
    uri = devdb.database_uri('pg-test')
    os.environ['TRYTOND_DATABASE__URI'] = uri
    os.environ.setdefault('DB_NAME', 'test_community')
    # Template databases as cache, valid for this run only: the run drops
    # every database it created when it ends (and first those that an
    # interrupted run of this checkout left, and any cache template of
    # trytond), so that a changed model or
    # XML is never served from a stale cache; the other databases of a
    # shared server are never touched.
    os.environ['DB_CACHE'] = 'postgresql://'
    os.environ.setdefault('TRYTOND_EMAIL__FROM', 'noreply@example.com')
    before = start_databases(uri)
    try:
        return run(argv, args, only_top, no_top)
    finally:
        end_databases(uri, before)


def start_top(args, no_top):
    """Start pytest on the top-level tests/ in its own process, beside the
    module tests (the run is mostly one process waiting on PostgreSQL or
    the other way round: two use both cores); its output goes to a file
    printed when it ends. It gets no DB_CACHE: the templates of trytond's
    cache are the module tests' own (two processes creating one template
    would clash), and the top-level tests name their own databases.
    Return (process, report, output) or None."""
    top = ROOT / 'tests'
    if no_top or args or not any(top.glob('test_*.py')):
        return None
    report = ROOT / '.local' / 'pytest-report.xml'
    output = ROOT / '.local' / 'pytest-output.txt'
    report.parent.mkdir(exist_ok=True)
    report.unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop('DB_CACHE', None)
    with open(output, 'wb') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'pytest', str(top),
                '-p', 'no:cacheprovider', '-v', '-rfEs', '--durations=10',
                '--junitxml=%s' % report], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT)
    return proc, report, output


DURATIONS = ROOT / 'scripts' / 'test_durations.json'


def tasks(args):
    """The module tests cut into tasks that run in their own process:
    each scenario doctest alone, each other tests/test_*.py file alone,
    the longest first: as long as a run measured it (DURATIONS, seconds
    on 2 busy cores; ``--write-durations`` renews it), else guessed from
    the file's size (a scenario is long, a bigger file longer)."""
    import json
    measured = (json.loads(DURATIONS.read_text())
        if DURATIONS.exists() else {})
    found = []
    for module in (args or modules()):
        tests_dir = ROOT / 'addons' / module / 'tests'
        for path in sorted(tests_dir.glob('test_*.py')):
            if path.stem == 'test_scenario':
                for rst in sorted(tests_dir.glob('*.rst')):
                    task = '%s/%s/%s' % (module, path.stem, rst.name)
                    found.append((measured.get(task,
                                rst.stat().st_size / 100), task))
            else:
                task = '%s/%s' % (module, path.stem)
                found.append((measured.get(task,
                            path.stat().st_size / 100), task))
    return [t for _, t in sorted(found, key=lambda f: -f[0])]


def run_task(task, result_path):
    """In a worker process: run one task (module/test file[/scenario]) and
    write its counts, durations and failures to ``result_path``."""
    import json
    module, stem, *scenario = task.split('/')
    loader = unittest.TestLoader()
    if scenario:
        # load_doc_tests keeps the scenarios matching the loader's patterns
        loader.testNamePatterns = scenario
    dotted = 'trytond.modules.%s.tests.%s' % (module, stem)
    suite = loader.loadTestsFromName(dotted)
    _tolerate_shared_cache()
    result = unittest.TextTestRunner(verbosity=2,
        resultclass=TimedResult).run(suite)
    pathlib.Path(result_path).write_text(json.dumps({
                'run': result.testsRun,
                'failed': len(result.failures) + len(result.errors),
                'skipped': len(result.skipped),
                'durations': result.durations,
                }))
    return 0


def _tolerate_shared_cache():
    """Two workers may finish the same template of trytond's test cache at
    once: the second one's CREATE DATABASE finds it made (duplicate
    database), which is as good as making it."""
    from trytond.tests import test_tryton, tools
    backup = test_tryton.backup_db_cache

    def backup_db_cache(name):
        try:
            backup(name)
        except Exception as exception:
            # psycopg's sqlstate, psycopg2's pgcode: duplicate_database
            code = (getattr(exception, 'sqlstate', None)
                or getattr(exception, 'pgcode', None))
            if code != '42P04':
                raise
    test_tryton.backup_db_cache = backup_db_cache
    tools.backup_db_cache = backup_db_cache


def run_modules(args, jobs):
    """Run the module tests' tasks, ``jobs`` at a time, each in its own
    process with its own database (DB_NAME); print each task's output as
    it ends. Return (passed, failed, skipped, durations)."""
    import json
    import tempfile
    todo = tasks(args)
    running = {}
    passed = failed = skipped = 0
    durations = []
    seconds = {}
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='runtests-'))
    free = list(range(1, jobs + 1))
    while todo or running:
        while todo and free:
            slot = free.pop(0)
            task = todo.pop(0)
            env = dict(os.environ)
            env['DB_NAME'] = '%s_%d' % (os.environ['DB_NAME'], slot)
            name = task.replace('/', '.')
            out = open(workdir / (name + '.txt'), 'wb')
            proc = subprocess.Popen([sys.executable, __file__,
                    '--task=' + task,
                    '--result=%s' % (workdir / (name + '.json'))],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            running[proc] = (slot, task, name, out, time.monotonic())
        ended = _wait_any(running)
        slot, task, name, out, started = running.pop(ended)
        out.close()
        free.append(slot)
        seconds[task] = round(time.monotonic() - started)
        sys.stdout.write('\n== %s (%d s) ==\n' % (task, seconds[task]))
        sys.stdout.flush()
        sys.stdout.buffer.write((workdir / (name + '.txt')).read_bytes())
        sys.stdout.flush()
        result = workdir / (name + '.json')
        if ended.returncode or not result.exists():
            print('task %s exited with %s' % (task, ended.returncode))
            failed += 1
            continue
        data = json.loads(result.read_text())
        failed += data['failed']
        skipped += data['skipped']
        passed += data['run'] - data['failed'] - data['skipped']
        durations.extend(data['durations'])
    if '--write-durations' in sys.argv:
        DURATIONS.write_text(json.dumps(seconds, indent=0, sort_keys=True)
            + '\n')
    return passed, failed, skipped, durations


def _wait_any(running):
    "The first of the running processes to end."
    while True:
        for proc in running:
            if proc.poll() is not None:
                return proc
        time.sleep(0.2)


def run(argv, args, only_top, no_top):
    passed = failed = skipped = 0
    start = time.monotonic()
    top_run = start_top(args, no_top)
    if not only_top:
        jobs = int(os.environ.get('TEST_JOBS', 2))
        m_passed, m_failed, m_skipped, durations = run_modules(args, jobs)
        passed += m_passed
        failed += m_failed
        skipped += m_skipped
        slowest = sorted(durations, key=lambda d: -d[1])[:15]
        print('\n== slowest module tests ==')
        for name, seconds in slowest:
            print('%7.1f s  %s' % (seconds, name))
        print('== module tests: %.0f s ==' % (time.monotonic() - start))
    if top_run:
        proc, report, output = top_run
        returncode = proc.wait()
        print('\n== top-level tests (tests/) ==')
        sys.stdout.flush()
        sys.stdout.buffer.write(output.read_bytes())
        sys.stdout.flush()
        if returncode not in (0, 1, 5):
            failed += 1
        if report.exists():
            import xml.etree.ElementTree as ET
            root = ET.parse(report).getroot()
            suites = [root] if root.tag == 'testsuite' else list(root)
            for s in suites:
                tests = int(s.get('tests', 0))
                fails = int(s.get('failures', 0)) + int(s.get('errors', 0))
                skips = int(s.get('skipped', 0))
                failed += fails
                skipped += skips
                passed += tests - fails - skips
    print('\n== community OS tests: %.0f s ==' % (time.monotonic() - start))
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
    if passed == 0 and failed == 0:
        print('no test ran')
        return 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
