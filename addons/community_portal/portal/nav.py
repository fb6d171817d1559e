# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The navigation of the portal: one registry that modules add to.

``register_nav('bills', N_("Bills"), 'bills', icon='bill', order=20)``
adds the entry "Bills" to the residents' bottom bar. An entry of a module
that a database may not have activated names its ``model``: it is shown,
and its pages answer, only in a database whose pool has that model (the
routes of every module found are registered in every database a trytond
serves). A compound's portal
configuration (``community.portal.compound``) enables entries by key and
orders them; a compound without configuration shows every resident entry.
"""
from collections import namedtuple

NavEntry = namedtuple('NavEntry',
    ['key', 'label', 'url', 'icon', 'order', 'audience', 'service',
        'always', 'badge', 'model'])

RESIDENT = 'resident'
STAFF = 'staff'
_entries = {}


def register_nav(key, label, url, icon='', order=100, audience=RESIDENT,
        service=None, always=False, badge=None, model=None):
    """Add (or replace) the navigation entry ``key``.

    ``label``: an English msgid (marked with ``N_``), translated when
    shown; ``url``: the path under the portal root (``''`` is home);
    ``audience``: RESIDENT or STAFF; ``service``: for a STAFF entry, the
    key of the residents' service it serves (shown only to staff of a
    compound offering it; None: always shown). ``always``: a RESIDENT
    entry shown whatever the compound's configuration (as home: the
    inbox), not one of its services. ``badge``: ``func(ctx)`` returning
    the number shown on the entry (e.g. unread messages), 0 for none.
    ``model``: the entry exists only in the databases whose pool has it."""
    if audience not in {RESIDENT, STAFF}:
        raise ValueError(audience)
    _entries[key] = NavEntry(key, label, url, icon, order, audience,
        service if audience == STAFF else key, always, badge, model)


def activated(entry, pool):
    """Whether ``entry`` exists in the database of ``pool`` (its model
    is registered there); every entry when ``pool`` is None."""
    if entry is None or entry.model is None or pool is None:
        return True
    try:
        pool.get(entry.model)
    except KeyError:
        return False
    return True


def nav_entries(audience=RESIDENT, pool=None):
    """The entries of ``audience`` in their default order (those of the
    database of ``pool`` when given)."""
    return sorted((e for e in _entries.values()
            if e.audience == audience and activated(e, pool)),
        key=lambda e: (e.order, e.key))


def nav_entry(key):
    return _entries.get(key)


def nav_keys(audience=RESIDENT, pool=None):
    """(key, label) of the entries a compound may enable, for the
    selection of the back office (not those always shown)."""
    return [(e.key, e.label) for e in nav_entries(audience, pool)
        if not e.always]


def staff_nav(offered, pool=None):
    """The staff entries shown to a staff member: ``offered`` the service
    keys the compounds they work for offer, None when one of them has no
    configuration (every service)."""
    return [e for e in nav_entries(STAFF, pool)
        if (offered is None or e.service is None or e.service in offered)
        and activated(nav_entry(e.service), pool)]


def compound_nav(enabled, pool=None):
    """The resident entries of a compound: ``enabled`` the keys it enables
    in its order, None when it has no configuration (every entry).
    Home is always first; the entries shown always (the inbox) come
    after the enabled ones, before "Me" (profile)."""
    entries = nav_entries(RESIDENT, pool)
    if enabled is None:
        return entries
    by_key = {e.key: e for e in entries}
    result = [by_key['home']] if 'home' in by_key else []
    result += [by_key[k] for k in enabled
        if k in by_key and k != 'home' and not by_key[k].always]
    always = [e for e in entries if e.always and e.key != 'home']
    if result and result[-1].key == 'profile':
        return result[:-1] + always + result[-1:]
    return result + always
