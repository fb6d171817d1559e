# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The inbox (消息): the resident's notifications (community_notification),
their unread count on the navigation, a notification opened (marked read,
then its record: the bill, the request, the notice…), all marked read.

Residents read only their own: every look-up is in the page's domain
(``party`` the account's party) *and* runs with the record rules of a
resident (``ctx.resident_access()``). The links of the WeChat messages and
SMS (``[community_notification] portal_url``) lead to
``/notifications/<token>``."""
import datetime as dt

from trytond.pool import Pool
from trytond.protocols.wrappers import abort

from .i18n import N_
from .nav import register_nav
from .web import route, sign_ref

#: how many notifications the inbox lists (the newest)
LIMIT = 50


def unread_count(ctx):
    "The number of unread notifications of the resident, once per request."
    def compute():
        if not ctx.party:
            return 0
        Notification = ctx.pool.get('community.notification')
        with ctx.resident_access():
            return Notification.search_count(
                [('party', '=', ctx.party.id), ('read_date', '=', None)])
    return ctx.cached('inbox_unread', compute)


register_nav('inbox', N_("Messages"), 'notifications', icon='bell',
    order=80, always=True, badge=unread_count)


# ---------------------------------------------------------- record links

def _bill_link(record):
    return '/bills/%s' % sign_ref('bill', record.id)


def _dunning_link(record):
    return _bill_link(record.bill) if getattr(record, 'bill', None) else (
        '/bills')


#: {model: func(record) -> path under the portal}: where a notification
#: about a record of ``model`` leads (the page checks the resident may see
#: it)
LINKS = {
    'community.bill': _bill_link,
    'community.payment': lambda record: '/bills',
    'account.dunning': _dunning_link,
    'community.service.request': lambda record: '/requests/%s' % (
        record.token),
    'community.announcement': lambda record: '/announcements/%s' % (
        record.token),
    }


def register_link(model, func):
    "Lead the notifications about a record of ``model`` to ``func(record)``."
    LINKS[model] = func


def origin_link(notification):
    """The portal path of the record of ``notification``, None when it has
    none (or one no portal page shows). Read without access checks: the
    notification is the resident's, the page of the record checks the
    rest."""
    if not notification.origin:
        return None
    model, _, id_ = str(notification.origin).partition(',')
    func = LINKS.get(model)
    if func is None or not id_.lstrip('-').isdigit() or int(id_) < 0:
        return None
    Model = Pool().get(model)
    records = Model.search([('id', '=', int(id_))], limit=1)
    return func(records[0]) if records else None


# ----------------------------------------------------------------- pages

def my_notification(ctx, token):
    "The resident's notification of ``token``, else 404."
    if not ctx.party:
        abort(404)
    with ctx.resident_access():
        return ctx.get_or_404('community.notification', [
                ('party', '=', ctx.party.id), ('token', '=', token)])


@route('/notifications')
def inbox(ctx):
    items = []
    if ctx.party:
        Notification = ctx.pool.get('community.notification')
        with ctx.resident_access():
            items = Notification.search([('party', '=', ctx.party.id)],
                limit=LIMIT)
    return ctx.render('inbox.html', items=items, unread=unread_count(ctx))


@route('/notifications/<token>')
def notification(ctx, token):
    "A notification (the link of its WeChat message or SMS)."
    item = my_notification(ctx, token)
    return ctx.render('notification.html', item=item,
        link=origin_link(item))


@route('/notifications/<token>/open', methods=('POST',), readonly=False)
def notification_open(ctx, token):
    "Mark the notification read and go to its record (or back to it)."
    Notification = ctx.pool.get('community.notification')
    item = my_notification(ctx, token)
    with ctx.resident_access():
        Notification.mark_read([item])
    return ctx.redirect(origin_link(item) or '/notifications/%s' % token)


@route('/notifications/read-all', methods=('POST',), readonly=False)
def read_all(ctx):
    "Mark every unread notification of the resident read."
    if ctx.party:
        Notification = ctx.pool.get('community.notification')
        with ctx.resident_access():
            Notification.write(Notification.search([
                        ('party', '=', ctx.party.id),
                        ('read_date', '=', None)]),
                {'read_date': dt.datetime.now()})
    return ctx.redirect('/notifications')
