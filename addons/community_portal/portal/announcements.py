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


@route('/announcements/<token>', readonly=False)
def announcement(ctx, token):
    if not ctx.scope:
        abort(404)
    Announcement = ctx.pool.get('community.announcement')
    item = ctx.get_or_404('community.announcement', [
            ('resident', '=', ctx.party.id), ('token', '=', token)])
    Announcement.mark_read([item], ctx.party)
    return ctx.render('announcement.html', item=item)
