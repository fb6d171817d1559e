"""Find or start the PostgreSQL server the project uses.

``TRYTOND_DATABASE__URI`` (a ``postgresql://`` URI) wins when set;
otherwise a project-local server is started from the ``pgserver`` package
with its data under ``.local/<name>`` (ignored by git).

Used by scripts/runtests.py and scripts/demo.py; the server started here
stops when the calling process exits (pgserver's cleanup).
"""
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def database_uri(name='pg'):
    """Return a trytond database URI, starting a local server if needed.

    The returned URI has no database path (trytond adds the name).
    """
    uri = os.environ.get('TRYTOND_DATABASE__URI')
    if uri:
        return uri
    import pgserver
    datadir = ROOT / '.local' / name
    datadir.parent.mkdir(parents=True, exist_ok=True)
    server = database_uri._servers.get(name)
    if server is None:
        server = pgserver.get_server(datadir, cleanup_mode='stop')
        database_uri._servers[name] = server
    # postgresql://postgres:@/postgres?host=/path -> no database path
    socket_dir = str(datadir)
    return 'postgresql://postgres@/?host=%s' % socket_dir


database_uri._servers = {}


def dsn(uri, database='postgres'):
    """Return a libpq URI for ``database`` on the server of a trytond URI.

    ``uri`` is a trytond database URI without database path (possibly with
    a ``?host=/socket/dir`` query); the default database is the maintenance
    database, for CREATE/DROP DATABASE.
    """
    base, _, query = uri.partition('?')
    return base.rstrip('/') + '/' + database + ('?' + query if query else '')
