"""Remove duplicate entries from Tryton .po files after a union merge.

Usage: po_dedupe.py FILE.po [...]

Keeps, for each (msgctxt, msgid), the first entry that has a translation;
the header stays first.
"""
import sys

import polib


def dedupe(path):
    po = polib.pofile(path, wrapwidth=78)
    seen = {}
    for entry in po:
        key = (entry.msgctxt, entry.msgid)
        if key not in seen or (not seen[key].msgstr and entry.msgstr):
            seen[key] = entry
    removed = len(po) - len(seen)
    keep = set(map(id, seen.values()))
    po[:] = [e for e in po if id(e) in keep]
    po.save(path)
    return removed


if __name__ == '__main__':
    for path in sys.argv[1:]:
        print('%s: %d duplicates removed' % (path, dedupe(path)))
