# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Translations of the portal's pages: gettext catalogues.

The pages are written in English (the msgids of ``_()`` in the routes and
of ``{% trans %}``/``_()`` in the templates); each module that adds pages
ships ``portal/locale/<lang>.po`` and calls ``register_locale_dir`` once.
The catalogues are read with Babel (``read_po``) and compiled in memory
when first used: no compile step, no ``.mo`` file in the repository.

The language of a page: the one the resident chose (the switch of the
layout, stored on the portal account), else the one chosen before login
(the ``portal_lang`` cookie), else the browser's ``Accept-Language`` if it
prefers one of LANGUAGES, else zh_CN.
"""
import io
import pathlib
import threading

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ('zh_CN', 'en')
DEFAULT_LANGUAGE = 'zh_CN'
_locale_dirs = []
_cache = {}
_lock = threading.Lock()
#: incremented when a catalogue directory is added (the templates'
#: environments are built again)
generation = 0


def N_(message):
    "Mark ``message`` for extraction; it is translated when shown."
    return message


def register_locale_dir(path):
    "Add the ``<lang>.po`` catalogues of ``path`` (a module's portal)."
    global generation
    path = pathlib.Path(path)
    with _lock:
        if path not in _locale_dirs:
            _locale_dirs.append(path)
            _cache.clear()
            generation += 1


def read_catalog(path, lang):
    "Return the Babel catalog of ``path`` (a .po file) for ``lang``."
    with open(path, 'rb') as fp:
        return read_po(fp, locale=lang)


def translations(lang):
    "Return the gettext translations of ``lang`` (all modules merged)."
    result = _cache.get(lang)
    if result is not None:
        return result
    with _lock:
        if lang == 'en':
            result = NullTranslations()
        else:
            result = None
            for directory in _locale_dirs:
                po = directory / ('%s.po' % lang)
                if not po.exists():
                    continue
                buffer = io.BytesIO()
                write_mo(buffer, read_catalog(po, lang))
                buffer.seek(0)
                catalog = Translations(fp=buffer)
                if result is None:
                    result = catalog
                else:
                    result.merge(catalog)
            result = result or NullTranslations()
        _cache[lang] = result
    return result


def gettext(lang, message, **variables):
    "Translate ``message`` in ``lang``, then fill its %(name)s variables."
    text = translations(lang).gettext(message)
    return text % variables if variables else text


LANG_COOKIE = 'portal_lang'


def choose_language(request, user=None):
    """The language of the page: the account's choice
    (``web.user.portal_language``), else the ``portal_lang`` cookie (the
    choice made before login), else the browser's (``Accept-Language``),
    else DEFAULT_LANGUAGE. (The party's language is a per-company
    multi-value field of Tryton: reading it cost a sixth of a page's time;
    the account's is a column of the row already read.)"""
    chosen = getattr(user, 'portal_language', None) if user else None
    if chosen in LANGUAGES:
        return chosen
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(
        ['zh-CN', 'zh', 'en'], default=None)
    if best and best.startswith('en'):
        return 'en'
    return DEFAULT_LANGUAGE


def extract(directory):
    """Return {msgid: [(file, line)]} of the texts to translate under
    ``directory`` (a module's ``portal`` directory and its module):
    ``_()``/``N_()`` in Python, ``_()``/``{% trans %}`` in the templates.
    """
    from babel.messages.extract import extract_from_dir
    method_map = [
        ('**/templates/**.html', 'jinja2.ext:babel_extract'),
        ('**.py', 'python'),
        ]
    options_map = {'**/templates/**.html': {
            'extensions': 'jinja2.ext.i18n',
            'trim_blocks': 'True', 'lstrip_blocks': 'True'}}
    result = {}
    for filename, lineno, message, _, _ in extract_from_dir(
            str(directory), method_map, options_map,
            keywords={'_': None, 'N_': None}):
        if isinstance(message, tuple):
            message = message[0]
        result.setdefault(message, []).append((filename, lineno))
    return result
