# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""HTML of the phone pages (resident portal and staff), escaped by
markupsafe: every value is passed through ``Markup.format`` or ``escape``;
only literal template strings are trusted."""
import io

import qrcode
import qrcode.image.svg
from markupsafe import Markup, escape

CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 -apple-system,
"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
background:#f4f5f7;color:#222}header{background:#1f6feb;color:#fff;
padding:12px 16px;font-size:18px;font-weight:600}main{padding:12px 12px 80px}
.card{background:#fff;border-radius:10px;padding:12px 14px;margin:0 0 12px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}.card h3{margin:0 0 6px;font-size:16px}
a{color:#1f6feb;text-decoration:none}.muted{color:#777;font-size:14px}
label{display:block;margin:10px 0 4px;font-size:14px;color:#555}
input,select,textarea{width:100%;padding:10px;font-size:16px;border:1px solid
#ccd;border-radius:8px;background:#fff}textarea{min-height:90px}
button,.btn{display:block;width:100%;margin:14px 0 0;padding:12px;
font-size:17px;border:0;border-radius:8px;background:#1f6feb;color:#fff;
text-align:center}.btn.secondary,button.secondary{background:#e8eefc;
color:#1f6feb}.tag{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:13px;background:#eef;color:#335}.tag.danger{background:#fde8e8;
color:#c62828}.tag.ok{background:#e6f4ea;color:#1e7e34}.amount{font-size:20px;
font-weight:600}.error{background:#fde8e8;color:#c62828;padding:10px;
border-radius:8px;margin:0 0 12px}.notice{background:#e6f4ea;color:#1e7e34;
padding:10px;border-radius:8px;margin:0 0 12px}nav{position:fixed;bottom:0;
left:0;right:0;display:flex;background:#fff;border-top:1px solid #ddd}
nav a{flex:1;text-align:center;padding:10px 0;font-size:14px;color:#555}
table{width:100%;border-collapse:collapse}td{padding:4px 0;
border-bottom:1px solid #eee}td.r{text-align:right}.qr svg{width:220px;
height:220px;display:block;margin:8px auto}img.photo{max-width:100%;
border-radius:8px;margin:4px 0}.pin{color:#c62828}
"""

RESIDENT_NAV = (
    ('', "首页"), ('bills', "账单"), ('requests', "报修"),
    ('announcements', "公告"), ('profile', "我的"))
STAFF_NAV = (
    ('staff/', "工单"), ('staff/cashier', "收银"), ('staff/meters', "抄表"),
    ('staff/logout-page', "退出"))


def page(title, body, base, nav=None, error=None, notice=None):
    """Return the complete HTML page (a Markup string).

    ``title`` and ``error``/``notice`` are escaped; ``body`` must be Markup.
    ``base``: the portal root URL path, e.g. ``/db/portal``.
    """
    nav_html = Markup('')
    if nav:
        nav_html = Markup('<nav>%s</nav>') % Markup('').join(
            Markup('<a href="{}/{}">{}</a>').format(base, path, label)
            for path, label in nav)
    messages = Markup('')
    if error:
        messages += Markup('<div class="error" role="alert">{}</div>').format(
            error)
    if notice:
        messages += Markup('<div class="notice">{}</div>').format(notice)
    return Markup(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="same-origin">'
        '<title>{title}</title><style>{css}</style></head><body>'
        '<header>{title}</header><main>{messages}{body}</main>{nav}'
        '</body></html>').format(
        title=title, css=Markup(CSS), messages=messages, body=body,
        nav=nav_html)


def csrf_field(token):
    return Markup('<input type="hidden" name="csrf" value="{}">').format(token)


def qr_svg(text):
    "Return an inline SVG (Markup) of the QR code of ``text``."
    image = qrcode.make(
        text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode('utf-8')
    if svg.startswith('<?xml'):
        svg = svg[svg.index('?>') + 2:]
    return Markup(svg)


def options(choices, selected=None):
    "Return <option> elements for (value, label) pairs."
    return Markup('').join(
        Markup('<option value="{}"{}>{}</option>').format(
            value, Markup(' selected') if value == selected else '', label)
        for value, label in choices)


def money(amount):
    return '¥%s' % (amount if amount is not None else '0.00')


__all__ = ['Markup', 'escape', 'page', 'csrf_field', 'qr_svg', 'options',
    'money', 'RESIDENT_NAV', 'STAFF_NAV']
