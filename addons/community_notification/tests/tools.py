# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Fixtures of community_notification's scenarios (and downstream
modules'): a billed compound with two owners, and a call on the server
side in its own committed transaction followed by the queued tasks, as
trytond runs them without a worker."""
import datetime as dt

from trytond.pool import Pool
from trytond.transaction import Transaction


def in_transaction(database, func, *args, company=None):
    """Run ``func(*args)`` as admin in a transaction of ``database``,
    commit, then run the tasks it queued; return its result."""
    from trytond.transaction import TransactionError
    from trytond.worker import run_task
    context = {'company': company} if company else {}
    extras = {}
    while True:
        with Transaction().start(database, 1, context=context,
                **extras) as transaction:
            try:
                result = func(*args)
            except TransactionError as e:
                transaction.rollback()
                e.fix(extras)
                continue
            transaction.commit()
            break
    while transaction.tasks:
        run_task(database, transaction.tasks.pop())
    return result


def setup_compound(company_id):
    """A billed compound (community_billing's ``setup_billing``) with two
    owners: 李雷 of 3-1-101 (mobile 13800138001, a portal account bound
    through WeChat, openid ``oWX-li``) and 韩梅梅 of 3-1-102 (mobile
    13900139002, no account). Quiet hours off. Returns the compound id."""
    pool = Pool()
    Company = pool.get('company.company')
    Party = pool.get('party.party')
    WebUser = pool.get('web.user')
    from trytond.modules.community_billing.tests.tools import (
        create_unit, setup_billing)
    billing = setup_billing(Company(company_id))
    compound = billing.compound
    compound.quiet_start = compound.quiet_end = dt.time(0, 0)
    compound.save()
    li, han = Party.create([{
                'name': "李雷", 'contact_mechanisms': [('create', [{
                                'type': 'mobile',
                                'value': '13800138001'}])]}, {
                'name': "韩梅梅", 'contact_mechanisms': [('create', [{
                                'type': 'mobile',
                                'value': '13900139002'}])]}])
    create_unit(billing.building, '3-1-101', 90, [(li, 100)])
    create_unit(billing.building, '3-1-102', 120, [(han, 100)])
    user, = WebUser.create([{'email': 'li@example.com', 'party': li.id}])
    # as the WeChat login stores it
    WebUser.write([user], {'wechat_openid': 'oWX-li'})
    return compound.id


def notify(code, party_names, compound_id, params):
    "Notify the parties named ``party_names`` with template ``code``."
    pool = Pool()
    Party = pool.get('party.party')
    Notification = pool.get('community.notification')
    parties = {p.name: p for p in Party.search(
            [('name', 'in', party_names)])}
    return [n.id for n in Notification.notify(code, [
                (parties[n], compound_id, params) for n in party_names])]


def unsubscribe(token):
    Notification = Pool().get('community.notification')
    notification = Notification.unsubscribe(token)
    return notification.kind if notification else None
