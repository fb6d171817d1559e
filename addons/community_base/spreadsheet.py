# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Reading of the spreadsheets staff import (register, meter readings …).

``read_rows`` reads .xlsx (openpyxl) or .csv in UTF-8, UTF-8 with BOM or
GBK/GB18030; ``index_columns`` maps the header row by name;
``row_values`` gives one row by key; ``RowErrors`` collects errors by row
number and column header and ``raise_errors`` raises them all at once,
translated (community_base.msg_import_*).
"""
import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from trytond.i18n import gettext

from .exceptions import ImportError_

MAX_ERRORS = 100
_DATE_FORMATS = ('%Y-%m-%d', '%Y/%m/%d', '%Y.%m.%d', '%Y%m%d')


def cell_text(value):
    "Cell value as stripped text ('' for empty); 12.0 → '12'."
    if value is None:
        return ''
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _format_error(filename):
    "The error of a file that is neither a workbook nor a known encoding."
    return ImportError_(gettext(
            'community_base.msg_import_format', filename=filename))


def _read_xlsx(data, filename):
    "Rows of the first sheet of an .xlsx workbook, as stripped texts."
    import openpyxl
    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exception:
        raise _format_error(filename) from exception
    sheet = workbook.worksheets[0]
    rows = [[cell_text(v) for v in row]
        for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows


def _decode_csv(data, filename):
    "Text of CSV bytes in UTF-8 with BOM, UTF-8 or GB18030."
    if data.startswith(b'\xef\xbb\xbf'):
        return data[3:].decode('utf-8')
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        try:
            return data.decode('gb18030')
        except UnicodeDecodeError as exception:
            raise _format_error(filename) from exception


def read_rows(data, filename):
    """Return (headers, rows) of a spreadsheet file.

    ``data`` is the file content (bytes); ``filename`` chooses the format:
    ``.xlsx`` is read with openpyxl in read-only mode (first sheet), other
    names as CSV whose encoding is detected among UTF-8 with BOM, UTF-8 and
    GB18030 (a superset of GBK, as Chinese Excel saves CSV). Rows are lists
    of stripped strings; blank rows are kept (as empty lists) so that row
    numbers match the spreadsheet.
    """
    if (filename or '').lower().endswith(('.xlsx', '.xlsm')):
        rows = _read_xlsx(data, filename)
    else:
        text = _decode_csv(data, filename)
        rows = [[c.strip() for c in row]
            for row in csv.reader(io.StringIO(text, newline=''))]
    if not rows:
        return [], []
    return rows[0], rows[1:]


class RowError(NamedTuple):
    "An error of an imported file: row number, column header, reason."
    row: int
    column: str
    reason: str


class RowErrors(list):
    """Errors as ``RowError``; ``headers`` maps the keys given to ``add``
    to the column headers of the file."""

    def __init__(self, headers):
        super().__init__()
        self.headers = headers

    def add(self, row, key, reason):
        "Record ``reason`` for the column of ``key`` in row number ``row``."
        self.append(RowError(row, self.headers.get(key, key), reason))


def index_columns(headers, columns, required):
    """Return {key: column index} of the known ``headers`` of a file.

    ``columns``: header → key; ``required``: headers that must be present,
    else ImportError_ lists the missing ones by name."""
    index = {}
    for i, header in enumerate(headers):
        header = (header or '').strip().lstrip('\ufeff')
        if header in columns:
            index[columns[header]] = i
    missing = [h for h in required if columns[h] not in index]
    if missing:
        raise ImportError_(gettext(
                'community_base.msg_import_missing_columns',
                columns='、'.join(missing)))
    return index


def numbered_rows(rows, index, keys):
    """Yield (row number, {key: text}) of the rows not blank, numbered as
    in the spreadsheet (header = row 1); every key of ``keys`` is present
    ('' when the file has no such column or the row is short)."""
    for n, row in enumerate(rows, start=2):
        if not any(row):
            continue
        get = {k: (row[i] if i < len(row) else '') for k, i in index.items()}
        for key in keys:
            get.setdefault(key, '')
        yield n, get


def raise_errors(errors, message, filename):
    """Raise ImportError_ with ``message`` (an ir.message id taking
    ``filename`` and ``count``) and one line per error (row, column,
    reason), at most MAX_ERRORS of them; do nothing without errors."""
    if not errors:
        return
    errors = sorted(errors)
    lines = [gettext('community_base.msg_import_error_line',
            row=r, column=c, reason=m)
        for r, c, m in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        lines.append('… (%s)' % len(errors))
    raise ImportError_(gettext(message,
            filename=filename, count=len(errors)), '\n'.join(lines))


def parse_decimal(value, places=2):
    "Decimal of a cell text (thousands commas, % ignored), or None."
    try:
        number = Decimal(value.replace(',', '').rstrip('%').strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return number.quantize(Decimal(1).scaleb(-places))


def parse_date(value):
    "Date of a cell text as 2024-03-01, 2024/03/01, 2024.03.01, 20240301."
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    return None


def parse_choice(value, choices):
    """The key of a label of ``choices`` (label → key), or ``value`` itself
    when it is a key already, else None."""
    key = choices.get(value)
    if key is None and value in choices.values():
        key = value
    return key
