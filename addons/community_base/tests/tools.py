# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Shared test helpers for the community_* modules."""
import importlib
import pathlib

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
