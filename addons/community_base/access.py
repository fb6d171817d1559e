# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Record rules and masking on every path that reads or links records.

``AccessMixin`` is registered for every ``ModelStorage`` of the pool
(``[register_mixin]`` in tryton.cfg), so that it holds for the models of
every module, including those written later:

- **Export** (``export_data``, hence ``export_data_domain``, the client's
  export and saved exports): Tryton checks the record rules of the
  exported records in Python (``eval_domain``), which does not hold for
  rules through a relation (``('unit.compound', 'in', …)``,
  ``('party', 'where', …)`` inherited through ``__access__``): such a leaf
  is true for any record. Before exporting, every record the export reads
  (the exported records and the records reached through the field paths)
  is checked with the rules in SQL (``ir.rule.check``). The values are then
  read with masking on (``masking_context``): ID and phone numbers come
  out masked as through ``read``.
- **Links** (``create``/``write``): a record may only be linked to records
  the user may read, so a residency (a service request, a bill …) cannot
  be moved to a unit of a compound the user is not assigned to. Tryton
  already checks the record's own rules after the write.
- **Reports** (``ReportMaskMixin``, registered for every ``Report``): the
  records of a report run by a user are read with masking on.
"""
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

MASK_KEY = '_community_masked'
RELATIONS = {'many2one', 'one2one', 'one2many', 'many2many', 'reference'}


def masking_context():
    "Return the context under which sensitive values are read masked."
    return {MASK_KEY: True}


def _clear_record_caches(transaction):
    # Values read before (clear) must not be served to the masked export,
    # nor masked values to server code reading later in the transaction.
    for cache in transaction.cache.values():
        cache.clear()


def _field_name(name):
    return name.split(':lang=')[0].split('.')[0]


def check_export_access(Model, records, paths):
    """Check the read rules of ``records`` and of the records reached
    through ``paths`` (lists of field names), in SQL."""
    Rule = Pool().get('ir.rule')
    tree = {}
    for path in paths:
        node = tree
        for name in path:
            node = node.setdefault(_field_name(name), {})

    def walk(Model, ids, tree):
        ids = sorted(i for i in ids if i is not None and i >= 0)
        if not ids:
            return
        Rule.check(Model.__name__, ids, mode='read')
        for name, subtree in tree.items():
            field = Model._fields.get(name)
            if field is None or field._type not in RELATIONS:
                continue
            targets = {}
            with without_check_access():
                for record in Model.browse(ids):
                    value = getattr(record, name)
                    if value is None:
                        continue
                    if isinstance(value, str):
                        continue
                    if not isinstance(value, (list, tuple)):
                        value = [value]
                    for target in value:
                        targets.setdefault(target.__name__, set()).add(
                            target.id)
            pool = Pool()
            for target_name, target_ids in targets.items():
                walk(pool.get(target_name), target_ids, subtree)

    walk(Model, [r.id for r in records], tree)


class AccessMixin:
    __slots__ = ()

    @classmethod
    def export_data(cls, records, fields_names, header=False):
        transaction = Transaction()
        if not transaction.check_access:
            return super().export_data(records, fields_names, header=header)
        check_export_access(
            cls, records, [x.split('/') for x in fields_names])
        _clear_record_caches(transaction)
        try:
            with transaction.set_context(masking_context()):
                records = cls.browse([r.id for r in records])
                return super().export_data(
                    records, fields_names, header=header)
        finally:
            _clear_record_caches(transaction)

    @classmethod
    def _check_link_access(cls, vlist):
        "Check that the records linked by vlist may be read by the user."
        pool = Pool()
        Rule = pool.get('ir.rule')
        targets = {}
        for values in vlist:
            for name, value in values.items():
                field = cls._fields.get(name)
                if (field is None or not value
                        or field._type not in {'many2one', 'one2one'}
                        or not isinstance(value, int)
                        or getattr(field, 'getter', None)):
                    continue
                targets.setdefault(field.model_name, set()).add(value)
        for model_name, ids in targets.items():
            Rule.check(model_name, sorted(i for i in ids if i >= 0),
                mode='read')

    @classmethod
    def create(cls, vlist):
        transaction = Transaction()
        if transaction.check_access and hasattr(cls, '_fields'):
            cls._check_link_access(vlist)
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        transaction = Transaction()
        if transaction.check_access and hasattr(cls, '_fields'):
            cls._check_link_access(args[1::2])
        super().write(*args)


class ReportMaskMixin:
    """Reports run by a user (through RPC) read their records with masking
    on: ID and phone numbers print masked, as on screen."""
    __slots__ = ()

    @classmethod
    def _get_records(cls, ids, model, data):
        transaction = Transaction()
        if not transaction.check_access:
            return super()._get_records(ids, model, data)
        _clear_record_caches(transaction)
        with transaction.set_context(masking_context()):
            return super()._get_records(ids, model, data)
