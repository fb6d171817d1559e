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
import re

from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

MASK_KEY = '_community_masked'
NO_NUMBER_SEARCH_KEY = '_community_no_number_search'
# Fields holding ID or phone numbers, by model; a later model holding a
# number adds itself here (its read masks them, see reveal.py).
SENSITIVE_FIELDS = {
    'party.identifier': {'code', 'code_compact', 'rec_name'},
    'party.contact_mechanism': {
        'value', 'value_compact', 'rec_name', 'url', 'other_value',
        'email', 'website', 'skype', 'sip'},
    'party.party': {'phone', 'mobile', 'fax'},
    }
# An ID number (18 or 15 characters) or a phone number, possibly with +86,
# spaces or dashes: any run of 7 digits or more
_NUMBER = re.compile(r'(?:\+?86[\s-]?)?\d[\d\s-]{5,}[\dXx]')
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


def mask_numbers(text):
    "Return text with every ID or phone number in it masked."
    from .party import mask

    def repl(match):
        value = re.sub(r'[\s-]', '', match.group(0))
        if value.startswith('+86'):
            value = value[3:]
        elif value.startswith('86') and len(value) == 13:
            value = value[2:]
        return mask(value)
    return _NUMBER.sub(repl, text)


def sensitive_path(Model, path):
    """Tell whether the field path (list of names) of Model ends on a
    sensitive field or on records holding one (shown by their name)."""
    for name in path:
        name = _field_name(name)
        if name in SENSITIVE_FIELDS.get(Model.__name__, ()):
            return True
        field = Model._fields.get(name)
        if field is None or not hasattr(field, 'get_target'):
            return False
        try:
            Model = field.get_target()
        except (KeyError, AttributeError):
            return False
    return Model.__name__ in {'party.identifier', 'party.contact_mechanism'}


def sensitive_leaves(Model, domain):
    "Yield (Model, leaf) of the leaves of domain on sensitive fields."
    if not isinstance(domain, (list, tuple)):
        return
    if (len(domain) >= 3 and isinstance(domain[0], str)
            and isinstance(domain[1], str)
            and domain[0] not in {'AND', 'OR'}):
        Target = Model
        names = domain[0].split('.')
        for name in names:
            if name in SENSITIVE_FIELDS.get(Target.__name__, ()):
                yield Target, (name,) + tuple(domain[1:3])
                return
            field = Target._fields.get(name)
            if field is None or not hasattr(field, 'get_target'):
                return
            try:
                Target = field.get_target()
            except (KeyError, AttributeError):
                return
        if domain[1] in {'where', 'not where'}:
            yield from sensitive_leaves(Target, domain[2])
        return
    for item in domain:
        yield from sensitive_leaves(Model, item)


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
                data = super().export_data(
                    records, fields_names, header=header)
        finally:
            _clear_record_caches(transaction)
        # Values of sensitive fields reached through other records may come
        # from caches filled without masking: mask the columns themselves.
        masked = [i for i, name in enumerate(fields_names)
            if sensitive_path(cls, name.split('/'))]
        start = 1 if header else 0
        for row in data[start:]:
            for i in masked:
                if isinstance(row[i], str):
                    row[i] = mask_numbers(row[i])
        return data

    @classmethod
    def search(cls, domain, *args, **kwargs):
        from .reveal import check_sensitive_search, in_reveal_group
        transaction = Transaction()
        if (not transaction.check_access
                or transaction.context.get(NO_NUMBER_SEARCH_KEY)):
            return super().search(domain, *args, **kwargs)
        leaves = list(sensitive_leaves(cls, domain))
        if leaves:
            check_sensitive_search(leaves)
        if in_reveal_group():
            return super().search(domain, *args, **kwargs)
        with transaction.set_context({NO_NUMBER_SEARCH_KEY: True}):
            return super().search(domain, *args, **kwargs)

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
