# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Tools of the foundation shared by the other modules."""
import contextlib
import gc


@contextlib.contextmanager
def gc_frozen():
    """Keep Python's cyclic garbage collector off the objects alive when
    entering (the pool, the modules, the caches of a trytond process: a
    few million objects) for the time of a batch job: each full
    collection otherwise walks them all, and a job creating millions of
    short-lived objects (a bill run of 20,000 units) triggers dozens,
    about a third of its time. Objects made inside are collected as
    usual; the frozen ones are put back when leaving (``gc.unfreeze``),
    also after an error."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def ensure_secret(Model, name, new):
    """Give the singleton ``Model`` (one row) the secret of its field
    ``name`` once, from ``new()``: in ``__register__``, so that the row
    and its key exist before any request (two first requests at once
    never make two keys), and a row without a key gets one."""
    from sql.functions import CurrentTimestamp

    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    table = Model.__table__()
    column = getattr(table, name)
    cursor.execute(*table.select(table.id, column,
            order_by=[table.id.asc], limit=1))
    row = cursor.fetchone()
    if not row:
        cursor.execute(*table.insert(
                [table.create_uid, table.create_date, column],
                [[0, CurrentTimestamp(), new()]]))
    elif not row[1]:
        cursor.execute(*table.update(
                [column], [new()], where=table.id == row[0]))
