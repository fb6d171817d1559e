# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Import and export of the register as a property company keeps it.

One row per unit and person, columns by header name (楼栋, 单元, 房号 …),
read from .xlsx (openpyxl) or .csv in UTF-8, UTF-8 with BOM or GBK/GB18030.
The import is all-or-nothing and idempotent; see ``import_register``.
"""
import datetime as dt
import io
import re
from collections import OrderedDict, defaultdict
from decimal import Decimal
from typing import NamedTuple

from sql import Literal, Null

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction, check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .display import format_decimal
from .party import check_resident_id, compact_mobile, format_mobile, mask
from .spreadsheet import (
    RowErrors, index_columns, numbered_rows, parse_choice, parse_date,
    parse_decimal, raise_errors, read_rows)
from .vehicle import normalise_plate, plate_kind

# Header (as written in the file) → key; the order is the export order.
COLUMNS = OrderedDict([
        ('楼栋', 'building'),
        ('单元', 'entrance'),
        ('房号', 'room'),
        ('楼层', 'floor'),
        ('建筑面积', 'gross_area'),
        ('套内面积', 'usable_area'),
        ('房屋类型', 'type'),
        ('状态', 'status'),
        ('交房日期', 'handover_date'),
        ('姓名', 'name'),
        ('证件号码', 'id_number'),
        ('手机', 'mobile'),
        ('身份', 'role'),
        ('产权比例', 'share'),
        ('车牌', 'plates'),
        ('入住日期', 'start_date'),
        ])
HEADERS = {v: k for k, v in COLUMNS.items()}
REQUIRED_COLUMNS = ['楼栋', '房号', '建筑面积', '姓名', '身份']
UNIT_TYPES = {
    '住宅': 'residential', '商铺': 'shop', '商业': 'shop', '办公': 'office',
    '车库': 'garage', '车位': 'garage', '储藏室': 'storage',
    '储藏间': 'storage',
    }
UNIT_TYPE_LABELS = {
    'residential': '住宅', 'shop': '商铺', 'office': '办公', 'garage': '车库',
    'storage': '储藏室'}
UNIT_STATUSES = {
    '未售': 'unsold', '空置': 'vacant', '自住': 'occupied',
    '入住': 'occupied', '出租': 'rented', '装修': 'decoration',
    '装修中': 'decoration'}
UNIT_STATUS_LABELS = {
    'unsold': '未售', 'vacant': '空置', 'occupied': '自住', 'rented': '出租',
    'decoration': '装修'}
ROLES = {
    '业主': 'owner', '租户': 'tenant', '家庭成员': 'member', '家属': 'member',
    '成员': 'member'}
ROLE_LABELS = {'owner': '业主', 'tenant': '租户', 'member': '家庭成员'}
_PLATE_SPLIT = re.compile(r'[,，;；、/\s]+')
# Records per create() call: Tryton's browse() costs O(n²) in the size of
# one call, so large imports create in slices of this size.
CHUNK = 100


def _chunks(values, size=CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _create(Model, vlist):
    "Create vlist in slices; return the records in order."
    records = []
    for sub in _chunks(vlist):
        records.extend(Model.create(sub))
    return records


def _write(Model, args):
    "Model.write(*args) in slices of CHUNK (records, values) pairs."
    for sub in _chunks(args, CHUNK * 2):
        Model.write(*sub)


def _select(query):
    "Run a python-sql query; return the rows as dicts."
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def _slices(values):
    return _chunks(sorted(values), backend.MAX_QUERY_PARAMS // 2)


class _FirstSeen(NamedTuple):
    "Where a resident ID number first stands in the file."
    row: int
    name: str


def _msg(message, /, **kw):
    "The translated text of community_base.msg_import_<message>."
    return gettext('community_base.msg_import_' + message, **kw)


def _parse_unit(n, get, errors):
    "The unit dict of row ``n`` (without people); add its errors."
    for key in ('building', 'room'):
        if not get[key]:
            errors.add(n, key, _msg('required'))
    unit = {'row': n, 'building': get['building'],
        'entrance': get['entrance'], 'room': get['room'], 'floor': None,
        'gross_area': None, 'usable_area': None, 'type': None,
        'status': None, 'handover_date': None, 'people': []}
    if get['floor']:
        try:
            unit['floor'] = int(get['floor'])
        except ValueError:
            errors.add(n, 'floor', _msg('integer'))
    for key in ('gross_area', 'usable_area'):
        if get[key]:
            value = parse_decimal(get[key])
            if value is None or value <= 0:
                errors.add(n, key, _msg('area'))
            unit[key] = value
    if (unit['gross_area'] and unit['usable_area']
            and unit['usable_area'] > unit['gross_area']):
        errors.add(n, 'usable_area', _msg('usable_area'))
    for key, choices in (('type', UNIT_TYPES), ('status', UNIT_STATUSES)):
        if get[key]:
            unit[key] = parse_choice(get[key], choices)
            if unit[key] is None:
                errors.add(n, key, _msg('choice', choices='/'.join(choices)))
    if get['handover_date']:
        unit['handover_date'] = parse_date(get['handover_date'])
        if not unit['handover_date']:
            errors.add(n, 'handover_date', _msg('date'))
    return unit


def _parse_id_number(n, get, person, errors, persons, today):
    "Check the resident ID of row ``n``; one ID number, one name."
    try:
        person['id_number'] = check_resident_id(
            get['id_number'], today=today)
    except ValueError as exception:
        errors.add(n, 'id_number', _msg('id_number', reason=str(exception)))
        return
    seen = persons.setdefault(
        person['id_number'], _FirstSeen(n, get['name']))
    if seen.name != get['name']:
        errors.add(n, 'name', _msg('id_other_name',
                row=seen.row, name=seen.name))


def _parse_role_share(n, get, person, errors):
    "Read the role (身份) and the owner's share (产权比例) of row ``n``."
    if not get['role']:
        errors.add(n, 'role', _msg('required'))
    else:
        person['role'] = parse_choice(get['role'], ROLES)
        if not person['role']:
            errors.add(n, 'role', _msg('choice', choices='/'.join(ROLES)))
    if get['share']:
        if person['role'] != 'owner':
            errors.add(n, 'share', _msg('share_not_owner'))
        else:
            person['share'] = parse_decimal(get['share'])
            if (person['share'] is None or person['share'] <= 0
                    or person['share'] > 100):
                errors.add(n, 'share', _msg('share'))


def _parse_person(n, get, errors, persons, today):
    """The person dict of row ``n``, or None when it names nobody; add its
    errors."""
    if not get['name']:
        for key in ('id_number', 'mobile', 'role', 'share', 'plates',
                'start_date'):
            if get[key]:
                errors.add(n, 'name', _msg('required'))
                break
        return None
    person = {'row': n, 'name': get['name'], 'id_number': None,
        'mobile': None, 'role': None, 'share': None, 'plates': [],
        'start_date': None}
    if get['start_date']:
        person['start_date'] = parse_date(get['start_date'])
        if not person['start_date']:
            errors.add(n, 'start_date', _msg('date'))
    if get['id_number']:
        _parse_id_number(n, get, person, errors, persons, today)
    if get['mobile']:
        person['mobile'] = compact_mobile(get['mobile'])
        if not person['mobile']:
            errors.add(n, 'mobile', _msg('mobile'))
    _parse_role_share(n, get, person, errors)
    for plate in _PLATE_SPLIT.split(get['plates']):
        if not plate:
            continue
        plate = normalise_plate(plate)
        if not plate_kind(plate):
            errors.add(n, 'plates', _msg('plate', plate=plate))
        person['plates'].append(plate)
    return person


def _merge_unit(units, code, unit, n, errors):
    """The unit of ``code`` with the values of row ``n`` merged in: a unit
    on several rows must not contradict itself."""
    if code not in units:
        units[code] = unit
        return unit
    known = units[code]
    for key in ('floor', 'gross_area', 'usable_area', 'type', 'status',
            'handover_date'):
        if unit[key] is not None:
            if known[key] is None:
                known[key] = unit[key]
            elif known[key] != unit[key]:
                errors.add(n, key, _msg('unit_conflict',
                        unit=code, row=known['row']))
    return known


def _add_person(unit, code, person, n, errors):
    "Add ``person`` to the people of ``unit`` unless it is there already."
    for other in unit['people']:
        if ((person['id_number']
                    and other['id_number'] == person['id_number'])
                or (not person['id_number']
                    and not other['id_number']
                    and other['name'] == person['name'])):
            errors.add(n, 'name', _msg('person_twice',
                    unit=code, row=other['row']))
            return
    unit['people'].append(person)


def _check_units(units, errors):
    "Check each unit of the file: its gross area, its owners' shares."
    for code, unit in units.items():
        if unit['gross_area'] is None:
            errors.add(unit['row'], 'gross_area', _msg('required'))
        owners = [p for p in unit['people'] if p['role'] == 'owner']
        if len(owners) == 1 and owners[0]['share'] is None:
            owners[0]['share'] = Decimal('100.00')
        elif owners:
            if any(p['share'] is None for p in owners):
                errors.add(owners[0]['row'], 'share', _msg('share_missing',
                        unit=code))
            else:
                total = sum(p['share'] for p in owners)
                if total != 100:
                    errors.add(owners[0]['row'], 'share', _msg('shares',
                            unit=code, total=total))


def parse_register(headers, rows, today=None):
    """Validate the rows of a register file in Python.

    Returns ``(units, errors)``: ``units`` an ordered dict of unit code →
    {'building', 'entrance', 'room', 'floor', 'gross_area', 'usable_area',
    'type', 'status', 'handover_date', 'people': [person dicts],
    'row': first row}; each person {'row', 'name', 'id_number', 'mobile'
    (E.164), 'role', 'share' (Decimal or None), 'plates', 'start_date'
    (入住日期, the start of a new residency; None: the handover date of a
    new unit, else the import date)}. ``errors`` a list
    of ``RowError`` (row number, column header, reason); rows are numbered
    as in the spreadsheet (header = row 1). Missing required columns raise
    ImportError_ at once, listing them by name.
    """
    index = index_columns(headers, COLUMNS, REQUIRED_COLUMNS)
    errors = RowErrors(HEADERS)
    units = OrderedDict()
    persons = {}  # id number → _FirstSeen
    for n, get in numbered_rows(rows, index, COLUMNS.values()):
        count = len(errors)
        unit = _parse_unit(n, get, errors)
        person = _parse_person(n, get, errors, persons, today)
        building, room = get['building'], get['room']
        if len(errors) > count or not (building and room):
            continue
        code = '-'.join(x for x in (building, get['entrance'], room) if x)
        unit = _merge_unit(units, code, unit, n, errors)
        if person:
            _add_person(unit, code, person, n, errors)
    _check_units(units, errors)
    errors.sort()
    return units, errors


class RegisterImport(Wizard):
    """Import a register file (.xlsx or .csv) into a compound.

    The work is done by ``import_register``, which the demo loader and the
    benchmark call directly.
    """
    __name__ = 'community.register.import'
    start = StateView('community.register.import.start',
        'community_base.register_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    import_ = StateTransition()
    done = StateView('community.register.import.done',
        'community_base.register_import_done_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        if self.model and self.model.__name__ == 'community.compound':
            return {'compound': self.record.id if self.record else None}
        return {}

    def transition_import_(self):
        pool = Pool()
        Compound = pool.get('community.compound')
        # The wizard runs without access checks: make sure the user may
        # work on the compound (record rules of the compounds assigned)
        with check_access():
            Compound.read([self.start.compound.id], ['id'])
        counts = self.import_register(
            self.start.compound, self.start.file, self.start.filename)
        self.done.created = counts['created']
        self.done.updated = counts['updated']
        self.done.unchanged = counts['unchanged']
        self.done.ended = counts['ended']
        return 'done'

    def default_done(self, fields):
        return {
            'created': self.done.created,
            'updated': self.done.updated,
            'unchanged': self.done.unchanged,
            'ended': self.done.ended,
            }

    @classmethod
    def import_register(cls, compound, data, filename, date=None):
        """Import a register file into compound, all or nothing.

        ``data`` (bytes) is read per ``filename`` (see ``read_rows``) and
        validated row by row (``parse_register``); any error raises
        ImportError_ listing row numbers, columns and reasons, and nothing is
        written. Otherwise buildings, entrances, units (with dated areas),
        parties (resident ID as ``cn_ric`` identifier, mobile as contact
        mechanism), residencies and vehicles are created or updated in one
        ``create``/``write`` per model. Residents of the file's units who are
        no longer in the file are ended the day before ``date`` (default:
        today); a changed area is a correction from ``date``.

        Re-importing the same file changes nothing. Returns {'created',
        'updated', 'unchanged', 'ended'}: record counts over units, parties,
        residencies and vehicles, plus the same per model under
        'details'.
        """
        pool = Pool()
        Date = pool.get('ir.date')
        if date is None:
            with Transaction().set_context(company=compound.company.id):
                date = Date.today()
        headers, rows = read_rows(data, filename)
        units, errors = parse_register(headers, rows, today=date)
        raise_errors(errors, 'community_base.msg_import_errors', filename)
        # the file says the status of its units
        with Transaction().set_context(_community_skip_share_check=True,
                _community_skip_unit_status=True):
            return cls._write_register(compound, units, date)

    @classmethod
    def _write_register(cls, compound, units, date):
        "Write the parsed ``units`` into compound; return the counts."
        details = {m: defaultdict(int) for m in (
                'unit', 'party', 'residency', 'vehicle')}
        cid = compound.id
        buildings, entrances = cls._write_buildings(cid, units)
        cls._write_units(cid, units, buildings, entrances, date, details)
        residencies, people = cls._match_parties(cid, units, date)
        cls._write_parties(people, details)
        cls._write_residencies(cid, units, residencies, date, details)
        cls._write_vehicles(cid, units, details)
        counts = {k: sum(d.get(k, 0) for d in details.values())
            for k in ('created', 'updated', 'unchanged', 'ended')}
        counts['details'] = {m: dict(d) for m, d in details.items()}
        return counts

    @classmethod
    def _write_buildings(cls, cid, units):
        """Create the buildings and entrances of ``units`` not in the
        compound yet; return ({code: id}, {(building id, code): id})."""
        pool = Pool()
        Building = pool.get('community.building')
        Entrance = pool.get('community.entrance')
        building = Building.__table__()
        buildings = {b['code']: b['id'] for b in _select(building.select(
                    building.id, building.code,
                    where=building.compound == cid))}
        new = sorted({u['building'] for u in units.values()} - set(buildings))
        if new:
            for b in _create(Building, [{'compound': cid, 'code': c,
                            'name': '%s栋' % c if c.isdigit() else c}
                        for c in new]):
                buildings[b.code] = b.id
        entrance = Entrance.__table__()
        entrances = {(e['building'], e['code']): e['id']
            for e in _select(entrance.select(
                    entrance.id, entrance.building, entrance.code,
                    where=entrance.compound == cid))}
        new = sorted({(buildings[u['building']], u['entrance'])
                for u in units.values() if u['entrance']} - set(entrances))
        if new:
            for e in _create(Entrance, [{'compound': cid, 'building': b,
                            'code': c,
                            'name': '%s单元' % c if c.isdigit() else c}
                        for b, c in new]):
                entrances[(e.building.id, e.code)] = e.id
        return buildings, entrances

    @classmethod
    def _load_compound_units(cls, cid, date):
        """Return ({code: unit row}, {unit id: area row effective on
        date}) of the compound's units."""
        pool = Pool()
        Unit = pool.get('community.unit')
        UnitArea = pool.get('community.unit.area')
        existing = {}
        unit_t = Unit.__table__()
        for record in _select(unit_t.select(
                    unit_t.id, unit_t.code, unit_t.floor, unit_t.type,
                    unit_t.status, unit_t.handover_date, unit_t.room,
                    where=unit_t.compound == cid)):
            existing[record['code']] = record
        current_area = {}
        area_t = UnitArea.__table__()
        for area in _select(area_t.join(unit_t,
                    condition=area_t.unit == unit_t.id).select(
                    area_t.id, area_t.unit, area_t.effective_date,
                    area_t.gross_area, area_t.usable_area,
                    where=unit_t.compound == cid,
                    order_by=[area_t.effective_date.asc])):
            if area['effective_date'] <= date:
                current_area[area['unit']] = area
        return existing, current_area

    @staticmethod
    def _new_unit_values(cid, code, unit, values, buildings, entrances):
        "Complete ``values`` of a unit the import creates."
        roles = {p['role'] for p in unit['people']}
        if not values['status']:
            values['status'] = ('rented' if 'tenant' in roles
                else 'occupied' if roles else 'vacant')
        values.update({
                'compound': cid,
                'building': buildings[unit['building']],
                'entrance': entrances.get((
                        buildings[unit['building']], unit['entrance'])),
                'code': code,
                })
        return values

    @classmethod
    def _write_units(cls, cid, units, buildings, entrances, date, details):
        """Create or update the units and their areas; set 'id' (and 'new'
        when created) on each unit of ``units``."""
        pool = Pool()
        Unit = pool.get('community.unit')
        UnitArea = pool.get('community.unit.area')
        existing, current_area = cls._load_compound_units(cid, date)
        to_create, to_write, area_create, area_write = [], [], [], []
        for code, unit in units.items():
            values = {
                'room': unit['room'],
                'floor': unit['floor'],
                'type': unit['type'] or 'residential',
                'status': unit['status'],
                'handover_date': unit['handover_date'],
                }
            if code not in existing:
                to_create.append(cls._new_unit_values(
                        cid, code, unit, values, buildings, entrances))
                continue
            record = existing[code]
            unit['id'] = record['id']
            changes = {k: v for k, v in values.items()
                if v is not None and record[k] != v}
            if changes:
                to_write.extend(([Unit(record['id'])], changes))
            if cls._area_change(unit, record['id'],
                    current_area.get(record['id']), date,
                    area_create, area_write):
                changes = True
            details['unit']['updated' if changes else 'unchanged'] += 1
        if to_write:
            _write(Unit, to_write)
        if to_create:
            created = _create(Unit, to_create)
            for values, record in zip(to_create, created):
                unit = units[values['code']]
                unit['id'] = record.id
                unit['new'] = True
                area_create.append({'unit': record.id,
                        'effective_date': unit['handover_date'] or date,
                        'gross_area': unit['gross_area'],
                        'usable_area': unit['usable_area']})
            details['unit']['created'] += len(created)
        if area_write:
            _write(UnitArea, area_write)
        if area_create:
            _create(UnitArea, area_create)

    @staticmethod
    def _area_change(unit, unit_id, area, date, area_create, area_write):
        """Queue the area of ``unit`` from date when it differs from the
        current ``area``; tell whether it does."""
        UnitArea = Pool().get('community.unit.area')
        gross, usable = unit['gross_area'], unit['usable_area']
        if area and area['gross_area'] == gross and (
                usable is None or area['usable_area'] == usable):
            return False
        if area and area['effective_date'] == date:
            area_write.extend(([UnitArea(area['id'])], {
                        'gross_area': gross,
                        'usable_area': usable}))
        else:
            area_create.append({'unit': unit_id,
                    'effective_date': date, 'gross_area': gross,
                    'usable_area': usable})
        return True

    @classmethod
    def _match_parties(cls, cid, units, date):
        """Find the party of each person: by resident ID, else by name
        among the unit's residents (set as 'party', None if new). Return
        (residency rows of the compound active on date, the people)."""
        pool = Pool()
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        Residency = pool.get('community.residency')
        residency = Residency.__table__()
        party_t = Party.__table__()
        residencies = _select(residency.join(party_t,
                condition=residency.party == party_t.id).select(
                residency.id, residency.unit, residency.party,
                party_t.name, residency.role, residency.share,
                residency.payer, residency.start_date, residency.end_date,
                where=(residency.compound == cid)
                & ((residency.end_date == Null)
                    | (residency.end_date >= date))))
        by_unit_name = {}
        for r in residencies:
            r['payer'] = bool(r['payer'])
            by_unit_name[(r['unit'], r['name'])] = r['party']
        ids = {p['id_number'] for u in units.values() for p in u['people']
            if p['id_number']}
        by_id_number = {}
        identifier_t = Identifier.__table__()
        for sub in _slices(ids):
            for identifier in _select(identifier_t.select(
                        identifier_t.party, identifier_t.code,
                        where=(identifier_t.type == 'cn_ric')
                        & identifier_t.code.in_(sub)
                        & (identifier_t.active == Literal(True)),
                        order_by=[identifier_t.id.asc])):
                by_id_number.setdefault(
                    identifier['code'], identifier['party'])
        people = []
        for unit in units.values():
            for person in unit['people']:
                if person['id_number']:
                    person['party'] = by_id_number.get(person['id_number'])
                else:
                    person['party'] = by_unit_name.get(
                        (unit['id'], person['name']))
                people.append(person)
        return residencies, people

    @staticmethod
    def _load_party_contacts(party_ids):
        """Return ({party id: name}, {party id: {E.164 mobiles}}) of the
        existing parties."""
        pool = Pool()
        Party = pool.get('party.party')
        Mechanism = pool.get('party.contact_mechanism')
        party_t = Party.__table__()
        names, mobiles = {}, defaultdict(set)
        mechanism_t = Mechanism.__table__()
        for sub in _slices(party_ids):
            for party in _select(party_t.select(party_t.id, party_t.name,
                        where=party_t.id.in_(sub))):
                names[party['id']] = party['name']
            for mechanism in _select(mechanism_t.select(
                        mechanism_t.party, mechanism_t.value_compact,
                        mechanism_t.value,
                        where=mechanism_t.party.in_(sub)
                        & mechanism_t.type.in_(['mobile', 'phone']))):
                mobiles[mechanism['party']].add(
                    compact_mobile(mechanism['value_compact']
                        or mechanism['value']))
        return names, mobiles

    @classmethod
    def _write_parties(cls, people, details):
        """Update the names and add the mobiles of the known parties,
        create the others; set 'party' on every person."""
        pool = Pool()
        Party = pool.get('party.party')
        Mechanism = pool.get('party.contact_mechanism')
        party_ids = sorted({p['party'] for p in people if p['party']})
        names, mobiles = cls._load_party_contacts(party_ids)
        new_parties, key2party, party_write, mechanism_create = [], {}, [], []
        seen = set()
        for person in people:
            key = person['id_number'] or (id(person),)
            if person['party']:
                party = person['party']
                if party in seen:
                    continue
                seen.add(party)
                changed = False
                if names.get(party) != person['name']:
                    party_write.extend(([Party(party)],
                            {'name': person['name']}))
                    changed = True
                if person['mobile'] and person['mobile'] not in mobiles[
                        party]:
                    mechanism_create.append({'party': party,
                            'type': 'mobile', 'value': person['mobile']})
                    mobiles[party].add(person['mobile'])
                    changed = True
                details['party']['updated' if changed else 'unchanged'] += 1
            elif key not in key2party:
                key2party[key] = len(new_parties)
                new_parties.append(person)
        if party_write:
            _write(Party, party_write)
        if new_parties:
            created = cls._create_parties(
                new_parties, mechanism_create, details)
            for person in people:
                if not person['party']:
                    key = person['id_number'] or (id(person),)
                    person['party'] = created[key2party[key]].id
        if mechanism_create:
            # Formatted as ContactMechanism.compute_fields would (no write)
            for values in mechanism_create:
                values['value_compact'] = values['value']
                values['value'] = format_mobile(values['value'])
            _create(Mechanism, mechanism_create)

    @staticmethod
    def _create_parties(new_parties, mechanism_create, details):
        """Create the parties of ``new_parties`` with their resident IDs;
        queue their mobiles in ``mechanism_create``; return them."""
        pool = Pool()
        Party = pool.get('party.party')
        Identifier = pool.get('party.identifier')
        # Party codes in one call to the sequence, not one per party
        sequence = Party._code_sequence()
        codes = (list(sequence.get_many(n=len(new_parties)))
            if sequence else [None] * len(new_parties))
        # code_alnum/code_digit as Party.compute_fields would set them,
        # which saves a write per party
        created = _create(Party, [{'name': p['name'], 'code': c,
                    'code_alnum': re.sub(r'[\W_]', '', c) if c else None,
                    'code_digit': (int(re.sub(r'\D', '', c)[-18:])
                        if c and re.sub(r'\D', '', c) else None)}
                for p, c in zip(new_parties, codes)])
        details['party']['created'] += len(created)
        _create(Identifier, [{'party': party.id, 'type': 'cn_ric',
                        'code': p['id_number']}
                for p, party in zip(new_parties, created)
                if p['id_number']])
        mechanism_create.extend({'party': party.id, 'type': 'mobile',
                'value': p['mobile']}
            for p, party in zip(new_parties, created) if p['mobile'])
        return created

    @staticmethod
    def _payer_of(unit):
        "The person who pays for unit: the first owner, tenant or member."
        for role in ('owner', 'tenant', 'member'):
            for person in unit['people']:
                if person['role'] == role:
                    return person
        return None

    @classmethod
    def _write_residencies(cls, cid, units, residencies, date, details):
        """Match (unit, party, role) to the current residencies: create the
        new ones, update the changed ones, end those not in the file."""
        Residency = Pool().get('community.residency')
        current = {}
        for r in residencies:
            current[(r['unit'], r['party'], r['role'])] = r
        res_create, res_write, res_delete = [], [], []
        keep = set()
        for unit in units.values():
            payer = cls._payer_of(unit)
            for person in unit['people']:
                key = (unit['id'], person['party'], person['role'])
                values = {
                    'share': (person['share']
                        if person['role'] == 'owner' else None),
                    'payer': person is payer,
                    }
                record = current.get(key)
                if record and key not in keep:
                    keep.add(key)
                    changes = {k: v for k, v in values.items()
                        if record[k] != v}
                    if changes:
                        res_write.extend(([Residency(record['id'])],
                                changes))
                        details['residency']['updated'] += 1
                    else:
                        details['residency']['unchanged'] += 1
                else:
                    values.update({'unit': unit['id'], 'compound': cid,
                            'party': person['party'],
                            'role': person['role'],
                            'start_date': cls._residency_start(
                                unit, person, date)})
                    res_create.append(values)
        file_units = {u['id'] for u in units.values()}
        yesterday = date - dt.timedelta(days=1)
        for key, record in current.items():
            if key[0] in file_units and key not in keep:
                if record['start_date'] > yesterday:
                    res_delete.append(Residency(record['id']))
                else:
                    res_write.extend(([Residency(record['id'])],
                            {'end_date': yesterday, 'payer': False}))
                details['residency']['ended'] += 1
        if res_delete:
            Residency.delete(res_delete)
        if res_write:
            _write(Residency, res_write)
        if res_create:
            _create(Residency, res_create)
            details['residency']['created'] += len(res_create)

    @staticmethod
    def _residency_start(unit, person, date):
        """The start of a new residency: 入住日期, else the handover of a
        unit this import creates, else the import date."""
        if person['start_date']:
            return person['start_date']
        if unit.get('new') and unit['handover_date']:
            return min(unit['handover_date'], date)
        return date

    @staticmethod
    def _file_plates(units):
        "Return {plate: {'owner': party id, 'units': [unit ids]}} of units."
        plates = OrderedDict()
        for unit in units.values():
            for person in unit['people']:
                for plate in person['plates']:
                    entry = plates.setdefault(plate, {
                            'owner': person['party'], 'units': []})
                    if unit['id'] not in entry['units']:
                        entry['units'].append(unit['id'])
        return plates

    @classmethod
    def _write_vehicles(cls, cid, units, details):
        "Create or update the vehicles of the file by plate in the compound."
        pool = Pool()
        Vehicle = pool.get('community.vehicle')
        VehicleUnit = pool.get('community.vehicle-community.unit')
        vehicle_t = Vehicle.__table__()
        link_t = VehicleUnit.__table__()
        vehicles = {v['plate']: v for v in _select(vehicle_t.select(
                    vehicle_t.id, vehicle_t.plate, vehicle_t.owner,
                    vehicle_t.active,
                    where=vehicle_t.compound == cid))}
        links = {(link['vehicle'], link['unit']) for link in _select(
                link_t.join(vehicle_t,
                    condition=link_t.vehicle == vehicle_t.id).select(
                    link_t.vehicle, link_t.unit,
                    where=vehicle_t.compound == cid))}
        plates = cls._file_plates(units)
        veh_create, veh_write, link_create = [], [], []
        for plate, entry in plates.items():
            record = vehicles.get(plate)
            if not record:
                veh_create.append({'compound': cid, 'plate': plate,
                        'owner': entry['owner']})
                continue
            changed = False
            if record['owner'] != entry['owner'] or not record['active']:
                veh_write.extend(([Vehicle(record['id'])],
                        {'owner': entry['owner'], 'active': True}))
                changed = True
            for unit_id in entry['units']:
                if (record['id'], unit_id) not in links:
                    link_create.append(
                        {'vehicle': record['id'], 'unit': unit_id})
                    changed = True
            details['vehicle']['updated' if changed else 'unchanged'] += 1
        if veh_write:
            _write(Vehicle, veh_write)
        if veh_create:
            created = _create(Vehicle, veh_create)
            for vehicle in created:
                link_create.extend({'vehicle': vehicle.id, 'unit': u}
                    for u in plates[vehicle.plate]['units'])
            details['vehicle']['created'] += len(created)
        if link_create:
            _create(VehicleUnit, link_create)

    @classmethod
    def _register_export_clear(cls, compound, party_ids):
        """Tell whether the register export may write clear numbers.

        Server-side calls may; a user (a report through RPC) only as a
        member of the reveal group, and each party's numbers exported in
        clear are logged; others get them masked, as on screen.
        """
        from .reveal import in_reveal_group, log_lookups
        if not Transaction().check_access:
            return True
        if not in_reveal_group():
            return False
        log_lookups([('community.register.export', compound.rec_name)],
            kind='export', parties=party_ids)
        return True

    @classmethod
    def export_register(cls, compound, date=None):
        """Return the register of compound as .xlsx bytes (xlsxwriter).

        Same columns as the import (``COLUMNS``), one row per unit and
        residency active on ``date`` (default today), a row without person
        for units without residents: exporting then importing the file
        changes nothing.
        """
        import xlsxwriter
        pool = Pool()
        Date = pool.get('ir.date')
        Unit = pool.get('community.unit')
        if date is None:
            date = Date.today()
        units = Unit.search([('compound', '=', compound.id)],
            order=[('code', 'ASC')])
        areas = Unit.get_area_at(units, date)
        residencies = cls._export_residencies(compound, date)
        id_numbers, mobiles = cls._export_numbers(compound, residencies)
        plates = cls._export_plates(compound)
        output = io.BytesIO()
        workbook = xlsxwriter.Workbook(output, {'in_memory': True})
        sheet = workbook.add_worksheet('房屋登记')
        sheet.write_row(0, 0, list(COLUMNS))
        line = 1
        for unit in units:
            base = cls._export_unit_cells(unit, areas[unit.id])
            for r in residencies.get(unit.id) or [None]:
                if r is None:
                    person = [''] * 7
                else:
                    person = cls._export_person_cells(
                        unit, r, id_numbers, mobiles, plates)
                sheet.write_row(line, 0, base + person)
                line += 1
        workbook.close()
        return output.getvalue()

    @staticmethod
    def _export_residencies(compound, date):
        "Return {unit id: [residencies active on date]} of compound."
        Residency = Pool().get('community.residency')
        residencies = defaultdict(list)
        for r in Residency.search([
                    ('compound', '=', compound.id),
                    ('start_date', '<=', date),
                    ['OR', ('end_date', '=', None),
                        ('end_date', '>=', date)],
                    ], order=[('id', 'ASC')]):
            residencies[r.unit.id].append(r)
        return residencies

    @classmethod
    def _export_numbers(cls, compound, residencies):
        """Return ({party id: resident ID}, {party id: mobile}) of the
        residents, masked unless the export may write them in clear."""
        pool = Pool()
        Identifier = pool.get('party.identifier')
        Mechanism = pool.get('party.contact_mechanism')
        party_ids = sorted({r.party.id for rs in residencies.values()
                for r in rs})
        id_numbers, mobiles = {}, {}
        for sub in _slices(party_ids):
            for identifier in Identifier.search([
                        ('party', 'in', sub), ('type', '=', 'cn_ric')],
                    order=[('id', 'ASC')]):
                id_numbers.setdefault(identifier.party.id, identifier.code)
            for mechanism in Mechanism.search([
                        ('party', 'in', sub), ('type', '=', 'mobile')],
                    order=[('id', 'DESC')]):
                mobiles.setdefault(mechanism.party.id,
                    (compact_mobile(mechanism.value_compact
                            or mechanism.value) or '').replace('+86', ''))
        clear = cls._register_export_clear(compound, party_ids)
        if not clear:
            id_numbers = {k: mask(v) for k, v in id_numbers.items()}
            mobiles = {k: mask(v) for k, v in mobiles.items()}
        return id_numbers, mobiles

    @staticmethod
    def _export_plates(compound):
        "Return {(unit id, owner id): [plates]} of the active vehicles."
        VehicleUnit = Pool().get('community.vehicle-community.unit')
        plates = defaultdict(list)
        for link in VehicleUnit.search([
                    ('unit.compound', '=', compound.id),
                    ('vehicle.active', '=', True)],
                order=[('id', 'ASC')]):
            plates[(link.unit.id, link.vehicle.owner.id
                    if link.vehicle.owner else None)].append(
                link.vehicle.plate)
        return plates

    @staticmethod
    def _export_unit_cells(unit, area):
        "The unit's cells of a row, 楼栋 to 交房日期."
        gross, usable = area
        return [
            unit.building.code,
            unit.entrance.code if unit.entrance else '',
            unit.room or unit.code.rsplit('-', 1)[-1],
            unit.floor if unit.floor is not None else '',
            str(gross) if gross is not None else '',
            str(usable) if usable is not None else '',
            UNIT_TYPE_LABELS[unit.type],
            UNIT_STATUS_LABELS[unit.status],
            unit.handover_date.isoformat()
            if unit.handover_date else '',
            ]

    @staticmethod
    def _export_person_cells(unit, r, id_numbers, mobiles, plates):
        "The resident's cells of a row, 姓名 to 入住日期."
        return [
            r.party.name,
            id_numbers.get(r.party.id, ''),
            mobiles.get(r.party.id, ''),
            ROLE_LABELS[r.role],
            format_decimal(r.share) if (
                r.role == 'owner' and r.share is not None)
            else '',
            ' '.join(plates.get((unit.id, r.party.id), [])),
            r.start_date.isoformat(),
            ]


class RegisterImportStart(ModelView):
    "Import Register"
    __name__ = 'community.register.import.start'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True)
    file = fields.Binary("File", required=True, filename='filename',
        help="An .xlsx or .csv file (UTF-8 or GBK) with one row per unit "
        "and person; columns 楼栋 单元 房号 楼层 建筑面积 套内面积 房屋类型 "
        "状态 交房日期 姓名 证件号码 手机 身份 产权比例 车牌 入住日期.")
    filename = fields.Char("File Name", required=True)


class RegisterImportDone(ModelView):
    "Import Register"
    __name__ = 'community.register.import.done'
    created = fields.Integer("Created", readonly=True)
    updated = fields.Integer("Updated", readonly=True)
    unchanged = fields.Integer("Unchanged", readonly=True)
    ended = fields.Integer("Ended Residencies", readonly=True)


class RegisterExport(Report):
    "Register as an .xlsx file in the import format."
    __name__ = 'community.register.export'

    @classmethod
    def _execute(cls, records, header, data, action):
        pool = Pool()
        Import = pool.get('community.register.import', type='wizard')
        compound = records[0]
        return 'xlsx', Import.export_register(compound)
