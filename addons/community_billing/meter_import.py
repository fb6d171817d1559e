# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Import of meter readings (抄表导入) from .xlsx or .csv, and the sheet of
the meters to read (抄表单) in the same format.

One row per meter and date, columns by header name (表号, 抄表日期, 读数 …).
The import is all-or-nothing and idempotent; see ``import_readings``.
"""
import io
from collections import OrderedDict, defaultdict
from decimal import Decimal
from typing import NamedTuple, Optional

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.report import Report
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from trytond.modules.community_base.display import format_decimal
from trytond.modules.community_base.register_import import _create, _write
from trytond.modules.community_base import spreadsheet

from .meter import compute_consumption

# Header (as written in the file) → key; the order is the export order.
# 上次抄表日期 and 上次读数 are written by the export for the reader and
# ignored by the import.
COLUMNS = OrderedDict([
        ('小区', 'compound'),
        ('表号', 'meter'),
        ('房号', 'unit'),
        ('收费项目', 'fee_item'),
        ('上次抄表日期', 'previous_date'),
        ('上次读数', 'previous_value'),
        ('抄表日期', 'date'),
        ('读数', 'value'),
        ('换表原因', 'reason'),
        ('新表起始读数', 'start_value'),
        ('备注', 'note'),
        ])
HEADERS = {v: k for k, v in COLUMNS.items()}
REQUIRED_COLUMNS = ['抄表日期', '读数']
REASONS = {
    '翻表': 'rollover', '表具翻转': 'rollover', '回零': 'rollover',
    '换表': 'replacement', '更换': 'replacement', '换新表': 'replacement',
    }


class _Entry(NamedTuple):
    "A reading of the file: its row, its meter (or stored reading), values."
    row: int
    meter: object  # community.meter, or community.meter.reading to write
    values: dict


class _Point(NamedTuple):
    "A meter's reading once imported: its row in the file (None: stored)."
    row: Optional[int]
    value: Decimal
    reason: Optional[str]
    start_value: Optional[Decimal]


class _Dated(NamedTuple):
    "The previous reading of a meter: its date and value."
    date: object  # datetime.date
    value: Decimal


class _Actions(NamedTuple):
    "What the import does: readings to create, to write, unchanged count."
    to_create: list
    to_write: list
    unchanged: int


def _fmt(value):
    "Decimal without trailing zeros: 1234.50 → '1234.5'."
    return format_decimal(value)


def _msg(name, **kw):
    "The text of community_billing.msg_meter_import_*, else community_base's."
    module = ('community_billing' if name.startswith('meter_import')
        else 'community_base')
    return gettext('%s.msg_%s' % (module, name), **kw)


class MeterReadingImport(Wizard):
    """Import a meter readings file (.xlsx or .csv) into a compound.

    The work is done by ``import_readings``, which scripts may call
    directly.
    """
    __name__ = 'community.meter.reading.import'
    start = StateView('community.meter.reading.import.start',
        'community_billing.meter_reading_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    import_ = StateTransition()
    done = StateView('community.meter.reading.import.done',
        'community_billing.meter_reading_import_done_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        if not self.model or not self.record:
            return {}
        if self.model.__name__ == 'community.compound':
            return {'compound': self.record.id}
        if self.model.__name__ == 'community.meter':
            return {'compound': self.record.compound.id}
        if self.model.__name__ == 'community.meter.reading':
            return {'compound': self.record.meter.compound.id}
        return {}

    def transition_import_(self):
        pool = Pool()
        Compound = pool.get('community.compound')
        # The wizard runs without access checks: make sure the user may
        # work on the compound (record rules of the compounds assigned)
        with check_access():
            Compound.read([self.start.compound.id], ['id'])
        counts = self.import_readings(
            self.start.compound, self.start.file, self.start.filename)
        self.done.created = counts['created']
        self.done.updated = counts['updated']
        self.done.unchanged = counts['unchanged']
        return 'done'

    def default_done(self, fields):
        return {
            'created': self.done.created,
            'updated': self.done.updated,
            'unchanged': self.done.unchanged,
            }

    @classmethod
    def import_readings(cls, compound, data, filename):
        """Import a meter readings file into compound, all or nothing.

        ``data`` (bytes) is read per ``filename`` (see
        ``spreadsheet.read_rows``). Each row names a meter by 表号, or by
        房号 (unit code) and 收费项目 (fee item code or name) when the unit
        has one meter of that item, and gives 抄表日期 and 读数; 换表原因
        (翻表 = rolled over, 换表 = replaced, with 新表起始读数) explains a
        reading lower than the previous one, 备注 is a note. Rows without
        读数 (meters not read) are skipped.

        Every reading is checked against the previous one of its meter (in
        the database or in the file); any error raises ImportError_ listing
        row numbers, columns and reasons, and nothing is written.

        Idempotent: a reading of the same meter and date with the same
        values is left unchanged, different values update it unless it is
        billed (an error). Returns {'created', 'updated', 'unchanged'}.
        """
        headers, rows = spreadsheet.read_rows(data, filename)
        entries, errors = cls._parse(compound, headers, rows)
        if not errors:
            actions = cls._check(entries, errors)
        spreadsheet.raise_errors(
            errors, 'community_billing.msg_meter_import_errors', filename)
        return cls._apply(*actions)

    @staticmethod
    def _meter_lookups(compound):
        """Return ({number: meter}, {(unit code, fee item code or name):
        [active meters]}) of the compound's meters."""
        Meter = Pool().get('community.meter')
        meters = Meter.search([('compound', '=', compound.id)],
            order=[('active', 'DESC'), ('id', 'ASC')])
        by_number = {}
        by_unit_item = defaultdict(list)
        for meter in meters:
            by_number.setdefault(meter.number, meter)
            if meter.active:
                for item_key in {meter.fee_item.code, meter.fee_item.name}:
                    by_unit_item[(meter.unit.code, item_key)].append(meter)
        return by_number, by_unit_item

    @classmethod
    def _parse(cls, compound, headers, rows):
        """Return ([``_Entry``], errors) of the rows; ``values`` with
        'date', 'value', 'reason', 'start_value', 'note'."""
        index = spreadsheet.index_columns(headers, COLUMNS, REQUIRED_COLUMNS)
        if 'meter' not in index and not (
                'unit' in index and 'fee_item' in index):
            spreadsheet.index_columns([], COLUMNS, ['表号'])
        errors = spreadsheet.RowErrors(HEADERS)
        by_number, by_unit_item = cls._meter_lookups(compound)
        entries, seen = [], {}
        for n, get in spreadsheet.numbered_rows(rows, index, COLUMNS.values()):
            if not get['value']:
                continue
            count = len(errors)
            if get['compound'] and get['compound'] not in {
                    compound.code, compound.name}:
                errors.add(n, 'compound', _msg('meter_import_compound',
                        code=get['compound'], compound=compound.code))
                continue
            meter = cls._find_meter(
                n, get, compound, by_number, by_unit_item, errors)
            values = cls._parse_values(n, get, errors)
            if len(errors) > count:
                continue
            key = (meter.id, values['date'])
            if key in seen:
                errors.add(n, 'date', _msg('meter_import_twice',
                        row=seen[key]))
                continue
            seen[key] = n
            entries.append(_Entry(n, meter, values))
        return entries, errors

    @staticmethod
    def _find_meter(n, get, compound, by_number, by_unit_item, errors):
        "The meter row ``n`` names by 表号 or by 房号 and 收费项目, or None."
        if get['meter']:
            meter = by_number.get(get['meter'])
            if not meter:
                errors.add(n, 'meter', _msg('meter_import_unknown_meter',
                        meter=get['meter'], compound=compound.rec_name))
            return meter
        if get['unit'] and get['fee_item']:
            found = by_unit_item.get((get['unit'], get['fee_item']), [])
            if len(found) == 1:
                return found[0]
            errors.add(n, 'unit', _msg('meter_import_unit_meter',
                    unit=get['unit'], item=get['fee_item']))
            return None
        errors.add(n, 'meter', _msg('import_required'))
        return None

    @staticmethod
    def _parse_values(n, get, errors):
        "The reading values of row ``n``: date, value, reason, start, note."
        values = {'date': None, 'value': None, 'reason': None,
            'start_value': None}
        if get['note']:
            values['note'] = get['note']
        if not get['date']:
            errors.add(n, 'date', _msg('import_required'))
        else:
            values['date'] = spreadsheet.parse_date(get['date'])
            if not values['date']:
                errors.add(n, 'date', _msg('import_date'))
        for key in ('value', 'start_value'):
            if get[key]:
                values[key] = spreadsheet.parse_decimal(get[key])
                if values[key] is None or values[key] < 0:
                    errors.add(n, key, _msg('meter_import_number'))
        if get['reason']:
            values['reason'] = spreadsheet.parse_choice(get['reason'], REASONS)
            if not values['reason']:
                errors.add(n, 'reason', _msg('import_choice',
                        choices='/'.join(REASONS)))
        return values

    @classmethod
    def _check(cls, entries, errors):
        """Check the readings of the file against the stored ones of their
        meters, in date order; add errors. Return ``_Actions``."""
        pool = Pool()
        Reading = pool.get('community.meter.reading')
        meter_ids = sorted({e.meter.id for e in entries})
        stored = defaultdict(dict)
        for sub in grouped_slice(meter_ids):
            for reading in Reading.search([('meter', 'in', list(sub))]):
                stored[reading.meter.id][reading.date] = reading
        by_meter = defaultdict(list)
        for entry in entries:
            by_meter[entry.meter.id].append(entry)
        to_create, to_write, unchanged = [], [], 0
        for meter_id, meter_entries in by_meter.items():
            timeline = {d: _Point(None, r.value, r.reason, r.start_value)
                for d, r in stored[meter_id].items()}
            unchanged += cls._merge_timeline(meter_entries, stored[meter_id],
                timeline, to_create, to_write, errors)
            cls._check_timeline(meter_entries[0].meter, timeline, errors)
        return _Actions(to_create, to_write, unchanged)

    @staticmethod
    def _merge_timeline(
            entries, stored, timeline, to_create, to_write, errors):
        """Put the file's ``entries`` of a meter over its ``stored``
        readings in ``timeline`` ({date: ``_Point``}); queue the readings
        to create and to write. Return how many are unchanged."""
        unchanged = 0
        for n, meter, values in entries:
            date = values['date']
            reading = stored.get(date)
            if reading is not None:
                if (reading.value == values['value']
                        and reading.reason == values['reason']
                        and (reading.start_value or None) == (
                            values['start_value'] or None)
                        and values.get('note', reading.note)
                        == reading.note):
                    unchanged += 1
                    continue
                line = reading.billed_line()
                if line:
                    errors.add(n, 'value', gettext(
                            'community_billing.msg_meter_import_billed',
                            date=date, value=_fmt(reading.value),
                            bill=line.bill.rec_name))
                    continue
                to_write.append(_Entry(n, reading, values))
            else:
                to_create.append(_Entry(n, meter, values))
            timeline[date] = _Point(n, values['value'], values['reason'],
                values['start_value'])
        return unchanged

    @staticmethod
    def _check_timeline(meter, timeline, errors):
        "Add an error where a reading is lower than the one before it."
        previous, last_row = None, None
        for date in sorted(timeline):
            n, value, reason, start_value = timeline[date]
            consumption = compute_consumption(
                meter.digits, value, reason, start_value,
                previous.value if previous else None)
            if consumption is not None and consumption < 0:
                if n is not None:
                    errors.add(n, 'value', gettext(
                            'community_billing.msg_meter_import_lower',
                            previous=_fmt(previous.value),
                            date=previous.date))
                elif last_row is not None:
                    errors.add(last_row, 'value', gettext(
                            'community_billing.msg_meter_import_next_lower',
                            value=_fmt(value), date=date))
            previous = _Dated(date, value)
            last_row = n

    @classmethod
    def _apply(cls, to_create, to_write, unchanged):
        "Create and write the checked readings; return the counts."
        pool = Pool()
        Reading = pool.get('community.meter.reading')
        to_create.sort(key=lambda e: (e.values['date'], e.row))
        _create(Reading, [dict(values, meter=meter.id)
                for _, meter, values in to_create])
        args = []
        for _, reading, values in sorted(
                to_write, key=lambda e: e.values['date']):
            args.extend(([reading], values))
        if args:
            _write(Reading, args)
        return {
            'created': len(to_create),
            'updated': len(to_write),
            'unchanged': unchanged,
            }

    @classmethod
    def export_meters(cls, compound, date=None):
        """Return the sheet of the meters to read (抄表单) of compound as
        .xlsx bytes (xlsxwriter): one row per active meter, with its last
        reading before ``date`` (default today), ``date`` as 抄表日期 and an
        empty 读数 to fill in. The filled sheet imports as is."""
        import xlsxwriter
        pool = Pool()
        Date = pool.get('ir.date')
        Meter = pool.get('community.meter')
        Reading = pool.get('community.meter.reading')
        if date is None:
            with Transaction().set_context(company=compound.company.id):
                date = Date.today()
        meters = Meter.search([('compound', '=', compound.id)],
            order=[('number', 'ASC')])
        last = {}
        for sub in grouped_slice([m.id for m in meters]):
            for reading in Reading.search([
                        ('meter', 'in', list(sub)), ('date', '<', date)],
                    order=[('date', 'ASC')]):
                last[reading.meter.id] = reading
        output = io.BytesIO()
        workbook = xlsxwriter.Workbook(output, {'in_memory': True})
        sheet = workbook.add_worksheet('抄表单')
        sheet.write_row(0, 0, list(COLUMNS))
        sheet.set_column(0, len(COLUMNS) - 1, 12)
        for line, meter in enumerate(meters, 1):
            previous = last.get(meter.id)
            sheet.write_row(line, 0, [
                    compound.code, meter.number, meter.unit.code,
                    meter.fee_item.code,
                    previous.date.isoformat() if previous else '',
                    _fmt(previous.value) if previous else '',
                    date.isoformat(), '', '', '', ''])
        workbook.close()
        return output.getvalue()


class MeterReadingImportStart(ModelView):
    "Import Meter Readings"
    __name__ = 'community.meter.reading.import.start'
    compound = fields.Many2One(
        'community.compound', "Compound", required=True)
    file = fields.Binary("File", required=True, filename='filename',
        help="An .xlsx or .csv file with one row per meter reading; "
        "columns 表号 (or 房号 and 收费项目), 抄表日期, 读数, and if needed "
        "换表原因 (翻表/换表), 新表起始读数, 备注.")
    filename = fields.Char("File Name", required=True)


class MeterReadingImportDone(ModelView):
    "Import Meter Readings"
    __name__ = 'community.meter.reading.import.done'
    created = fields.Integer("Created", readonly=True)
    updated = fields.Integer("Updated", readonly=True)
    unchanged = fields.Integer("Unchanged", readonly=True)


class MeterSheet(Report):
    "Meters to read (抄表单) as an .xlsx file in the import format."
    __name__ = 'community.meter.sheet'

    @classmethod
    def _execute(cls, records, header, data, action):
        pool = Pool()
        Import = pool.get('community.meter.reading.import', type='wizard')
        compound = records[0]
        return 'xlsx', Import.export_meters(compound)
