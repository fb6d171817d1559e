# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Test fixtures of community_billing, for its tests and downstream
modules' (``from trytond.modules.community_billing.tests.tools import
setup_billing``)."""
import datetime as dt
from contextlib import contextmanager
from decimal import Decimal
from typing import NamedTuple

from trytond.pool import Pool


class Billing(NamedTuple):
    "What ``setup_billing`` creates."
    compound: object  # community.compound
    building: object  # community.building
    items: dict  # 'service', 'garbage', 'parking' fee items, 'chart'


class BillingCompany(NamedTuple):
    "What ``billing_company`` yields: a new company and its ``Billing``."
    company: object
    compound: object
    building: object
    items: dict


class OwnedUnit(NamedTuple):
    "What ``owned_unit`` creates."
    owner: object  # party.party
    unit: object  # community.unit


def setup_billing(company, year=2026):
    """Chart, fiscal year, a compound with a building and three fee items
    (property service 2.50/m² grade 2 at 6 %, garbage 10.00 at 6 %,
    parking 80.00 at 6 %). Returns ``Billing`` (compound, building,
    items dict)."""
    pool = Pool()
    from trytond.modules.community_billing.account import (
        create_fiscal_year, create_property_chart)
    Compound = pool.get('community.compound')
    Building = pool.get('community.building')
    FeeItem = pool.get('community.fee.item')
    chart = create_property_chart(company)
    create_fiscal_year(company, year)
    today = dt.date.today()
    if today.year != year:
        create_fiscal_year(company, today.year)
    compound, = Compound.create([{
                'company': company.id, 'code': 'JZHY', 'name': "嘉州花园",
                'area_code': '511102001001', 'service_grade': '2'}])
    building, = Building.create([{
                'compound': compound.id, 'code': '3', 'name': '3栋'}])
    start = dt.date(year, 1, 1)
    service, garbage, parking = FeeItem.create([{
                'compound': compound.id, 'code': 'WYF', 'name': "物业服务费",
                'kind': 'area', 'account': chart['revenue_service'].id,
                'tax': chart['vat6'].id,
                'prices': [('create', [{
                                'effective_date': start,
                                'service_grade': '2',
                                'unit_price': Decimal('2.50')}, {
                                'effective_date': start,
                                'unit_price': Decimal('2.00')}])],
                'assignments': [('create', [{
                                'scope': 'compound', 'start_date': start}])],
                }, {
                'compound': compound.id, 'code': 'LJF', 'name': "垃圾清运费",
                'kind': 'fixed', 'account': chart['revenue_garbage'].id,
                'tax': chart['vat6'].id,
                'prices': [('create', [{
                                'effective_date': start,
                                'unit_price': Decimal('10.00')}])],
                'assignments': [('create', [{
                                'scope': 'unit_type',
                                'unit_type': 'residential',
                                'start_date': start}])],
                }, {
                'compound': compound.id, 'code': 'TCF', 'name': "停车服务费",
                'kind': 'fixed', 'account': chart['revenue_parking'].id,
                'tax': chart['vat6'].id,
                'prices': [('create', [{
                                'effective_date': start,
                                'unit_price': Decimal('80.00')}])],
                }])
    return Billing(compound, building, {
        'service': service, 'garbage': garbage, 'parking': parking,
        'chart': chart})


@contextmanager
def billing_company(code=None, year=2026):
    """Create a company and set it as the user's; yield ``BillingCompany``
    with ``setup_billing``'s compound (its code changed to ``code``)."""
    from trytond.modules.company.tests import create_company, set_company
    company = create_company()
    with set_company(company):
        billing = setup_billing(company, year=year)
        if code:
            billing.compound.code = code
            billing.compound.save()
        yield BillingCompany(company, *billing)


def create_unit(building, code, area, owners, handover=None,
        area_date=dt.date(2020, 1, 1)):
    "Create a unit with its gross area and owners [(party, share)]."
    pool = Pool()
    Unit = pool.get('community.unit')
    Residency = pool.get('community.residency')
    unit, = Unit.create([{
                'building': building.id, 'code': code,
                'handover_date': handover,
                'areas': [('create', [{
                                'effective_date': area_date,
                                'gross_area': area}])],
                }])
    Residency.create([{
                'unit': unit.id, 'party': party.id, 'role': 'owner',
                'share': share, 'start_date': dt.date(2020, 1, 1),
                'payer': i == 0}
            for i, (party, share) in enumerate(owners)])
    return unit


def owned_unit(building, code, area, name):
    "Create a party ``name`` owning (100 %) a new unit; return OwnedUnit."
    Party = Pool().get('party.party')
    owner, = Party.create([{'name': name}])
    return OwnedUnit(owner, create_unit(building, code, area, [(owner, 100)]))


def run_bills(compound, start, end):
    "Run and process a bill run of compound over [start, end]; return it."
    BillRun = Pool().get('community.bill.run')
    run, = BillRun.create([{'compound': compound.id,
                'period_start': start, 'period_end': end}])
    BillRun.process([run])
    return run


def bill_month(compound, year, month):
    "Run and process the bill run of a whole month; return the run."
    start = dt.date(year, month, 1)
    end = ((start + dt.timedelta(days=32)).replace(day=1)
        - dt.timedelta(days=1))
    return run_bills(compound, start, end)


def counter_payment(unit, party, date, amount, lines, method='cash',
        post=True, **values):
    """Create a counter payment of unit by party paying ``lines`` (payment
    line values, e.g. [{'bill': id}]) and post it unless not ``post``;
    return it."""
    Payment = Pool().get('community.payment')
    payment, = Payment.create([dict(values, compound=unit.compound.id,
                unit=unit.id, party=party.id, date=date, method=method,
                amount=amount, lines=[('create', lines)])])
    if post:
        Payment.post([payment])
    return payment


def pdf_text(content):
    """The text of a PDF report (all its pages), as pypdf extracts it:
    what the scenarios check of receipts printed as PDF."""
    import io

    import pypdf
    reader = pypdf.PdfReader(io.BytesIO(content))
    return '\n'.join(page.extract_text() for page in reader.pages)
