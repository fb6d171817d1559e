# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Announcements of the resident's compounds, buildings and entrances."""
from trytond.protocols.wrappers import abort

from .account import unverified
from .i18n import N_
from .nav import register_nav
from .web import route

register_nav('announcements', N_("Notices"), 'announcements', icon='bell',
    order=30)


@route('/announcements', service='announcements')
def announcements(ctx):
    if not ctx.scope:
        return unverified(ctx)
    Announcement = ctx.pool.get('community.announcement')
    items = Announcement.search([('resident', '=', ctx.party.id)])
    return ctx.render('announcements.html', items=items)


def resident_announcement(ctx, token):
    "The announcement of ``token`` if it is addressed to the resident."
    if not ctx.scope:
        abort(404)
    return ctx.get_or_404('community.announcement', [
            ('resident', '=', ctx.party.id), ('token', '=', token)])


@route('/announcements/<token>', service='announcements')
def announcement(ctx, token):
    """An announcement (GET writes nothing): with its read receipt, or the
    button that records it."""
    item = resident_announcement(ctx, token)
    Receipt = ctx.pool.get('community.announcement.receipt')
    receipts = Receipt.search([
            ('announcement', '=', item.id), ('party', '=', ctx.party.id),
            ], limit=1)
    return ctx.render('announcement.html', item=item,
        receipt=receipts[0] if receipts else None)


@route('/announcements/<token>/read', methods=('POST',), readonly=False,
    service='announcements')
def announcement_read(ctx, token):
    "Record that the resident read the announcement (idempotent)."
    item = resident_announcement(ctx, token)
    Announcement = ctx.pool.get('community.announcement')
    Announcement.mark_read([item], ctx.party)
    return ctx.redirect('/announcements/%s' % token)
