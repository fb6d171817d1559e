"""Complete the sao web client's zh_CN catalogue with the project's, and
install the project's custom.js.

sao 8.0's own zh_CN catalogue leaves some of its terms untranslated (the
"Restore" button of every list in a form, the favourites, the chat…),
which the office would read in English. config/sao/zh_CN.po holds their
Chinese; this merges it into sao's locale/zh_CN.json (the file the
client loads), where sao has no translation of its own. Idempotent.

config/sao/custom.js is copied to the package, where sao's index.html
loads it after the client (fixes of the client's behaviour, see the file).

Usage: .venv/bin/python scripts/sao_locale.py [.local/sao/package]
(run by ``make sao``; the browser tests' server runs it too).
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUPPLEMENTS = ROOT / 'config' / 'sao'


def complete(package):
    """Merge config/sao/<lang>.po into the catalogues of the sao
    ``package`` directory; return the number of terms added."""
    from babel.messages.pofile import read_po
    added = 0
    for po in sorted(SUPPLEMENTS.glob('*.po')):
        target = pathlib.Path(package) / 'locale' / (po.stem + '.json')
        if not target.exists():
            continue
        catalogue = json.loads(target.read_text(encoding='utf-8'))
        with po.open('rb') as fp:
            messages = [m for m in read_po(fp) if m.id and m.string]
        changed = 0
        for message in messages:
            entry = catalogue.get(message.id)
            if not entry or not entry[-1]:
                catalogue[message.id] = [None, message.string]
                changed += 1
        if changed:
            target.write_text(json.dumps(catalogue, ensure_ascii=False),
                encoding='utf-8')
        added += changed
    install_custom(package)
    return added


def install_custom(package):
    "Copy config/sao/custom.js into the sao ``package`` when it differs."
    source = SUPPLEMENTS / 'custom.js'
    target = pathlib.Path(package) / 'custom.js'
    if not target.exists() or target.read_bytes() != source.read_bytes():
        target.write_bytes(source.read_bytes())


if __name__ == '__main__':
    package = sys.argv[1] if len(sys.argv) > 1 else (
        ROOT / '.local' / 'sao' / 'package')
    print('sao: %s terms translated by the project' % complete(package))
