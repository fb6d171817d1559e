# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Shared test helpers for the community_* modules."""
import importlib
import pathlib
import re

import polib

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction


class TranslationTestMixin:
    """Check that every label of ``self.module`` has a zh_CN translation.

    Compares the terms Tryton would export for the module (its fields,
    models, selections, views, menus, actions, groups and messages) with
    the non-empty entries of the module's ``locale/zh_CN.po``.
    """

    @with_transaction()
    def test_zh_cn_translations(self):
        "Every label of the module has a zh_CN translation"
        Translation = Pool().get('ir.translation')
        exported = Translation.translation_export('en', self.module)
        source = polib.pofile(exported.decode('utf-8')) if exported else []
        package = importlib.import_module('trytond.modules.%s' % self.module)
        path = pathlib.Path(package.__file__).parent / 'locale' / 'zh_CN.po'
        translated = {(e.msgctxt, e.msgid)
            for e in polib.pofile(str(path))
            if e.msgstr and not e.fuzzy}
        missing = []
        for entry in source:
            ttype, name, _ = entry.msgctxt.split(':', 2)
            if ttype == 'help' and name.split(',')[0].split('.')[0] in {
                    'ir', 'res'} and name != 'res.user,compounds':
                # help texts of core fields extended by the module
                continue
            if (entry.msgctxt, entry.msgid) not in translated:
                missing.append('%s %r' % (entry.msgctxt, entry.msgid))
        self.assertFalse(missing, msg="%d untranslated zh_CN labels in %s:\n%s"
            % (len(missing), self.module, '\n'.join(missing)))

    #: Tryton modules whose terms the office sees, in this module's
    #: ``locale/override/zh_CN.po``: {module: regular expression of the
    #: msgctxt of the terms checked (None: every term of the module)}
    zh_cn_office_terms = {}
    #: translations that stay as written (product names)
    zh_cn_verbatim = {'Skype', 'SIP', 'IRC', 'Jabber', 'URL'}

    def _override_path(self):
        package = importlib.import_module('trytond.modules.%s' % self.module)
        return (pathlib.Path(package.__file__).parent / 'locale'
            / 'override' / 'zh_CN.po')

    @staticmethod
    def _upstream_po(module):
        package = importlib.import_module(
            'trytond.%s' % module if module in {'ir', 'res'}
            else 'trytond.modules.%s' % module)
        return (pathlib.Path(package.__file__).parent / 'locale'
            / 'zh_CN.po')

    def _overrides(self):
        "{module: {(msgctxt, msgid): msgstr}} of locale/override/zh_CN.po"
        path = self._override_path()
        result = {}
        if not path.exists():
            return result
        for entry in polib.pofile(str(path)):
            ttype, name, res_id = entry.msgctxt.split(':')
            module, _, fs_id = res_id.partition('.')
            result.setdefault(module, {})[
                ('%s:%s:%s' % (ttype, name, fs_id), entry.msgid)] = (
                entry.msgstr)
        return result

    def test_zh_cn_overrides(self):
        """The zh_CN overrides of Tryton's modules name terms Tryton loaded
        (else the module update fails) and give Chinese for every term the
        office sees"""
        cjk = re.compile(r'[\u4e00-\u9fff]')
        overrides = self._overrides()
        problems = []
        for module, entries in overrides.items():
            upstream = {(e.msgctxt, e.msgid): e.msgstr for e in polib.pofile(
                    str(self._upstream_po(module)))}
            for key, value in entries.items():
                if key not in upstream:
                    problems.append('%s %r: not in %s zh_CN.po' % (
                            key[0], key[1], module))
                elif not value or (not cjk.search(value)
                        and value not in self.zh_cn_verbatim):
                    problems.append('%s %r: %r is not Chinese' % (
                            key[0], key[1], value))
        for module, pattern in self.zh_cn_office_terms.items():
            upstream = polib.pofile(str(self._upstream_po(module)))
            mine = overrides.get(module, {})
            for entry in upstream:
                if pattern and not re.search(pattern, entry.msgctxt):
                    continue
                key = (entry.msgctxt, entry.msgid)
                value = mine.get(key, entry.msgstr)
                if (not cjk.search(value or '')
                        and value not in self.zh_cn_verbatim):
                    problems.append('%s %r: %r in the office' % (
                            key[0], key[1], value))
        self.assertFalse(problems, msg="%d zh_CN override problems in %s:\n%s"
            % (len(problems), self.module, '\n'.join(problems)))

    @with_transaction()
    def test_zh_cn_overrides_loaded(self):
        """Tryton loads the zh_CN overrides over its modules' own
        translations (as trytond-admin -l zh_CN does)"""
        pool = Pool()
        Translation = pool.get('ir.translation')
        ModelData = pool.get('ir.model.data')
        overrides = self._overrides()
        if not overrides:
            return
        for module in overrides:
            Translation.translation_import(
                'zh_CN', module, [str(self._upstream_po(module))])
        Translation.translation_import(
            'zh_CN', self.module, [str(self._override_path())])
        wrong = []
        for module, entries in overrides.items():
            for (msgctxt, msgid), value in entries.items():
                ttype, name, fs_id = msgctxt.split(':')
                domain = [('lang', '=', 'zh_CN'), ('module', '=', module),
                    ('type', '=', ttype), ('name', '=', name),
                    ('res_id', '=', ModelData.get_id(module, fs_id)
                        if fs_id else -1)]
                if ttype in {'selection', 'view'}:
                    domain.append(('src', '=', msgid))
                values = {t.value for t in Translation.search(domain)}
                if value not in values:
                    wrong.append('%s %r: %r' % (msgctxt, msgid, values))
        self.assertFalse(wrong, msg="%d zh_CN overrides not loaded:\n%s"
            % (len(wrong), '\n'.join(wrong)))
