# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The resident's live QR code on the portal (community_portal's
framework):

- ``/access``: the pass code (通行码) of the resident in the compound
  shown, a QR code that refreshes itself (access_qr.js asks a new one of
  ``/access/code`` every REFRESH seconds, before it expires after
  qr.VALIDITY); a resident who never had one opens it here (POST) on
  first use, a suspended, revoked or expired one is told to see the
  property office;
- ``/access/code``: a new code as JSON (its text, its QR code as SVG and
  the seconds it stays valid); 404 without an active credential.
"""
import datetime as dt
import json
import pathlib

from trytond.modules.community_portal.portal import i18n
from trytond.modules.community_portal.portal.account import unverified
from trytond.modules.community_portal.portal.helpers import qr_svg
from trytond.modules.community_portal.portal.i18n import N_
from trytond.modules.community_portal.portal.nav import register_nav
from trytond.modules.community_portal.portal.web import (
    register_static, register_templates, route)
from trytond.protocols.wrappers import abort

from . import qr

HERE = pathlib.Path(__file__).parent / 'portal'
register_templates(HERE / 'templates')
register_static(HERE / 'static')
i18n.register_locale_dir(HERE / 'locale')
MODEL = 'community.access.credential'
register_nav('access', N_("Pass Code"), 'access', icon='qr', order=15,
    model=MODEL)
#: seconds between two codes on the page (well before qr.VALIDITY)
REFRESH = 30
#: what the page says of a credential that cannot be used
REFUSALS = {
    'suspended': N_("Your pass code is suspended."),
    'revoked': N_("Your pass code has been revoked."),
    'expired': N_("Your pass code has expired."),
    'not_yet_valid': N_("Your pass code is not valid yet."),
    }


def _credential_model(ctx):
    "The credential model, 404 on a database without community_access."
    try:
        return ctx.pool.get(MODEL)
    except KeyError:
        abort(404)


def _code(ctx, credential):
    "A new code of ``credential`` and what the page shows of it."
    now = dt.datetime.utcnow()
    code = credential.qr_code(now)
    return {
        'code': code,
        'svg': qr_svg(code),
        # the code was issued at the start of this second
        'valid': int(qr.VALIDITY - now.microsecond / 1e6),
        'refresh': REFRESH,
        }


@route('/access', methods=('GET', 'POST'), readonly=False, service='access')
def access_qr(ctx):
    Credential = _credential_model(ctx)
    if not ctx.scope or ctx.compound is None:
        return unverified(ctx)
    if ctx.request.method == 'POST':
        Credential.open_resident_qr(ctx.party, ctx.compound)
        return ctx.redirect('/access')
    credential = Credential.resident_qr(ctx.party, ctx.compound)
    values = {'credential': credential, 'code': None, 'refusal': None}
    if credential:
        refusal = credential.refusal(dt.datetime.utcnow())
        if refusal:
            values['refusal'] = ctx._(REFUSALS[refusal])
        else:
            values['code'] = _code(ctx, credential)
    return ctx.render('access_qr.html', **values)


@route('/access/code', service='access')
def access_code(ctx):
    "A new code as JSON for the page's refresh."
    Credential = _credential_model(ctx)
    if not ctx.scope or ctx.compound is None:
        abort(404)
    credential = Credential.resident_qr(ctx.party, ctx.compound)
    if not credential or credential.refusal(dt.datetime.utcnow()):
        abort(404)
    values = _code(ctx, credential)
    values['svg'] = str(values['svg'])
    return ctx.response(json.dumps(values), content_type='application/json')
