# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Chargeable repairs on the unit's next bill (service × billing).

Registered only when community_billing is activated too (the
``[register community_billing]`` section of tryton.cfg)."""
from collections import defaultdict
from decimal import Decimal

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

from trytond.modules.community_base.display import format_decimal


class Compound(metaclass=PoolMeta):
    __name__ = 'community.compound'
    repair_fee_item = fields.Many2One(
        'community.fee.item', "Repair Fee Item", ondelete='RESTRICT',
        domain=[('compound', '=', Eval('id', -1))],
        help="Fee item of the bill lines charging the done chargeable "
        "repairs of a unit on its next bill; none: repairs are not billed.")


class BillRun(metaclass=PoolMeta):
    __name__ = 'community.bill.run'

    def _load_charges(self, units, billed):
        extra, marks = super()._load_charges(units, billed)
        repairs, by_unit = self._load_repairs(units, billed)
        for unit_id, lines in repairs.items():
            extra[unit_id] = extra.get(unit_id, []) + lines
        if by_unit:
            marks = dict(marks, repairs=by_unit)
        return extra, marks

    def _mark_charges(self, marks):
        super()._mark_charges(marks)
        if marks.get('repairs'):
            self._mark_repairs(marks['repairs'])

    def _load_repairs(self, units, billed):
        """Return ({unit id: [(fee item, first day, last day, count, amount,
        description)]}, {unit id: [requests]}) for the done chargeable
        repairs of ``units`` not yet on a bill
        (``community.service.request.pending_charges``), summed per unit on
        the compound's repair fee item, on the first days of the period
        not yet billed for that item (none: they wait for a later run)."""
        Request = Pool().get('community.service.request')
        item = self.compound.repair_fee_item
        if not item:
            return {}, {}
        by_unit, gaps = defaultdict(list), {}
        for request in Request.pending_charges(units):
            unit_id = request.unit.id
            if unit_id not in gaps:
                gaps[unit_id] = self._gaps(billed.get((unit_id, item.id)))
            if gaps[unit_id]:
                by_unit[unit_id].append(request)
        extra = {}
        for unit_id, requests in by_unit.items():
            requests.sort(key=lambda r: r.id)
            first, last = gaps[unit_id][0]
            extra[unit_id] = [(item, first, last, Decimal(len(requests)),
                    sum(r.charge_amount for r in requests),
                    ' + '.join('%s %s' % (
                            r.rec_name, format_decimal(r.charge_amount))
                        for r in requests))]
        return extra, by_unit

    def _mark_repairs(self, repairs):
        """Mark the repairs whose line is now on a bill of the run as
        charged, with that bill line as origin (the others stay pending:
        e.g. a unit without payer)."""
        pool = Pool()
        Request = pool.get('community.service.request')
        Line = pool.get('community.bill.line')
        lines = Line.search([
                ('bill.run', '=', self.id),
                ('fee_item', '=', self.compound.repair_fee_item.id),
                ('unit', 'in', list(repairs)),
                ('state', '=', 'posted'),
                ])
        for line in lines:
            Request.mark_charged(repairs[line.unit.id], origin=line)
