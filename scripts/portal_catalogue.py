"""Update the portal catalogues of a module: extract the texts of its
templates and routes (Babel) and merge them into
``addons/<module>/portal/locale/zh_CN.po``, keeping the translations.

Usage: .venv/bin/python scripts/portal_catalogue.py [community_portal]
New texts get an empty translation: fill them in (a module test fails on
an empty or missing one)."""
import pathlib
import sys

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from trytond.modules.community_portal.portal.i18n import extract

ROOT = pathlib.Path(__file__).resolve().parent.parent


def update(module, lang='zh_CN'):
    directory = ROOT / 'addons' / module
    path = directory / 'portal' / 'locale' / ('%s.po' % lang)
    old = {}
    header = ''
    if path.exists():
        text = path.read_text(encoding='utf-8')
        header = text[:text.index('msgid ""')]
        with open(path, 'rb') as fp:
            old = {m.id: m.string for m in read_po(fp, locale=lang) if m.id}
    catalog = Catalog(locale=lang, project=module, charset='utf-8')
    messages = extract(directory)
    for msgid in sorted(messages):
        catalog.add(msgid, old.get(msgid, ''), locations=[
                (f.replace('\\', '/'), line) for f, line in messages[msgid]])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'wb') as fp:
        write_po(fp, catalog, width=79, omit_header=True, sort_output=True)
    body = path.read_text(encoding='utf-8')
    path.write_text(header + 'msgid ""\nmsgstr ""\n'
        '"Language: %s\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        % lang + body, encoding='utf-8')
    missing = [m for m in messages if not old.get(m)]
    print('%s: %d texts, %d to translate' % (path, len(messages),
            len(missing)))
    for msgid in missing:
        print('  ', msgid)


if __name__ == '__main__':
    for name in sys.argv[1:] or ['community_portal']:
        update(name)
