# This file is part of the community OS.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Moving records between modules when a module is split.

When models, views, menus, groups, messages… move from one module to
another, the records that the old module created from its XML must become
the new module's records *before* the new module loads its XML: otherwise
Tryton creates them again under the new module and, at the end of the
update, deletes the old ones (a group loses its users, a message its
translations, a sequence its numbers).

``adopt_model_data(module)`` is called by the first class a new module
registers (see ``ModelData.__register__`` of the new modules): every
``<record id>`` and ``<menuitem id>`` of the module's XML files that is
still owned by another module of the project (``community_base`` before
the split) is given to the module, with the translations of those
records and of the module's models.
"""
import configparser
import logging
import os
import xml.etree.ElementTree as ET

from sql import Literal
from sql.operators import Like

from trytond import backend
from trytond.tools import file_open
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

#: the modules that held what the new modules now define
PREVIOUS_OWNERS = ['community_base']


def module_xml_ids(module):
    "The ids of the records and menu items of ``module``'s XML files."
    with file_open(os.path.join(module, 'tryton.cfg')) as fp:
        parser = configparser.ConfigParser()
        parser.read_file(fp)
    ids = set()
    for filename in parser.get('tryton', 'xml', fallback='').split():
        with file_open(os.path.join(module, filename), 'rb') as fp:
            tree = ET.parse(fp)
        for element in tree.iter():
            if element.tag in {'record', 'menuitem'} and element.get('id'):
                if '.' not in element.get('id'):
                    ids.add(element.get('id'))
    return ids


def adopt_model_data(module, models=(), owners=PREVIOUS_OWNERS):
    """Give ``module`` the ir.model.data of its XML ids still owned by one
    of ``owners``, and the translations of those records and of
    ``models`` (model names). Returns the number of records adopted."""
    transaction = Transaction()
    if not backend.TableHandler.table_exist('ir_model_data'):
        return 0
    fs_ids = module_xml_ids(module)
    if not fs_ids:
        return 0
    from trytond.pool import Pool
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Translation = pool.get('ir.translation')
    data = ModelData.__table__()
    translation = Translation.__table__()
    cursor = transaction.connection.cursor()
    cursor.execute(*data.select(data.fs_id, where=data.module == module))
    own = {r[0] for r in cursor}
    moving = sorted(fs_ids - own)
    if not moving:
        return 0
    cursor.execute(*data.select(data.id, data.model, data.db_id,
            where=data.module.in_(list(owners)) & data.fs_id.in_(moving)))
    rows = cursor.fetchall()
    if not rows:
        return 0
    cursor.execute(*data.update([data.module], [module],
            where=data.id.in_([r[0] for r in rows])))
    # translations of the moved records (messages, selections, groups…)
    by_model = {}
    for _, model, db_id in rows:
        if db_id is not None:
            by_model.setdefault(model, []).append(db_id)
    for model, db_ids in by_model.items():
        cursor.execute(*translation.update([translation.module], [module],
                where=translation.module.in_(list(owners))
                & Like(translation.name, model + ',%')
                & translation.res_id.in_(db_ids)))
    # the module's models and the translations of their fields
    if models:
        Model = pool.get('ir.model')
        ir_model = Model.__table__()
        cursor.execute(*ir_model.update([ir_model.module], [module],
                where=ir_model.name.in_(list(models))
                & ir_model.module.in_(list(owners))))
    for name in models:
        cursor.execute(*translation.update([translation.module], [module],
                where=translation.module.in_(list(owners))
                & (Like(translation.name, name + ',%')
                    | (translation.name == Literal(name)))
                & (translation.res_id == -1)))
    logger.info("%s adopts %d records of %s",
        module, len(rows), ', '.join(owners))
    return len(rows)
