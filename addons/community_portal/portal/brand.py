# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The branding of a compound's portal: its style sheet (the colour as the
CSS custom property ``--primary``: no inline style, the CSP stays without
'unsafe-inline') and its logo, cached with their version in the URL."""
from trytond.protocols.wrappers import abort

from .web import route

CACHE = 'public, max-age=31536000, immutable'


def _portal(ctx, portal_id):
    Portal = ctx.pool.get('community.portal.compound')
    portals = Portal.search([('id', '=', portal_id)], limit=1)
    if not portals:
        abort(404)
    return portals[0]


def _shade(colour, ratio):
    "``colour`` (#RRGGBB) mixed with white: the light variant."
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return '#%02x%02x%02x' % tuple(
        round(c + (255 - c) * ratio) for c in rgb)


@route('/brand/<int:portal_id>.css', login=False)
def brand_css(ctx, portal_id):
    portal = _portal(ctx, portal_id)
    colour = portal.primary_colour or '#1F6FEB'
    css = ':root{--primary:%s;--primary-light:%s}\n' % (
        colour, _shade(colour, 0.88))
    response = ctx.response(css, content_type='text/css; charset=utf-8')
    response.headers['Cache-Control'] = CACHE
    return response


@route('/brand/<int:portal_id>/logo', login=False)
def brand_logo(ctx, portal_id):
    portal = _portal(ctx, portal_id)
    if not portal.logo:
        abort(404)
    data = bytes(portal.logo)
    content_type = 'image/png' if data[:4] == b'\x89PNG' else 'image/jpeg'
    response = ctx.response(data, content_type=content_type)
    response.headers['Cache-Control'] = CACHE
    return response
