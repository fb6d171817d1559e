"""Staff phone pages over HTTP: the meter reading walk of a building
(fixture in portal_server.py: building 3 of 嘉州花园 with meters W-1201
(last reading 100.00) and W-1202 (110.00); building 9 of 滨江花园 with
W-101)."""
import re

import pytest

from portal_client import PortalClient
from portal_server import PASSWORD

FORM = re.compile(r'action="[^"]*/staff/meters/([^/"]+)/([^/"]+)"')


def staff(portal_server, login):
    client = PortalClient(portal_server.url)
    client.staff_login(login, PASSWORD)
    return client


def building_ref(client, name):
    listing = client.get('/staff/meters')
    assert listing.status == 200
    match = re.search(
        r'/staff/meters/([0-9]+\.[0-9a-f]+)">[^<]*%s<' % name, listing.text)
    return match.group(1) if match else None


def test_meter_walk(portal_server):
    if not portal_server.data.get('meters'):
        pytest.skip("meter models not on this branch yet")
    tech = staff(portal_server, 'tech_jz')
    ref = building_ref(tech, '3栋')
    assert ref and building_ref(tech, '9栋') is None
    walk = tech.get('/staff/meters/%s' % ref)
    assert walk.status == 200
    assert '已抄 0 / 2' in walk.text
    assert '<h3 id="meter">W-1201</h3>' in walk.text
    assert '上次读数 <b id="previous">100.00</b>' in walk.text
    bref, mref = FORM.search(walk.text).groups()
    assert bref == ref

    saved = tech.post('/staff/meters/%s/%s' % (bref, mref),
        {'value': '112.50', 'reason': ''})
    assert saved.status == 303
    assert saved.location.endswith('/staff/meters/%s' % ref)
    walk = tech.get(saved.location)
    assert '已抄 1 / 2' in walk.text
    assert '112.50 <span class="tag ok">已抄</span>' in walk.text
    # the next meter, with its previous reading
    assert '<h3 id="meter">W-1202</h3>' in walk.text
    assert '上次读数 <b id="previous">110.00</b>' in walk.text
    bref, mref = FORM.search(walk.text).groups()

    # lower than 110.00 without a reason: the model's error, in Chinese
    lower = tech.post('/staff/meters/%s/%s' % (bref, mref),
        {'value': '105', 'reason': ''})
    assert lower.status == 409
    assert '的读数 105 低于上次读数（110）' in lower.text
    assert '请注明原因（翻表或换表）' in lower.text
    assert 'W-1202' in lower.text
    assert 'value="105"' in lower.text   # the entry is kept in the form
    assert '已抄 1 / 2' in lower.text    # nothing saved
    bad = tech.post('/staff/meters/%s/%s' % (bref, mref), {'value': 'abc'})
    assert bad.status == 400 and '请输入有效的读数' in bad.text

    # replaced meter: lower reading with its reason and start value
    replaced = tech.post('/staff/meters/%s/%s' % (bref, mref),
        {'value': '5', 'reason': 'replacement', 'start_value': '0'})
    assert replaced.status == 303
    done = tech.get(replaced.location)
    assert '已抄 2 / 2' in done.text
    assert '本楼栋今日已全部抄完' in done.text
    assert '5.00 <span class="tag ok">已抄</span>' in done.text

    # a second entry the same day corrects the reading
    again = tech.get('/staff/meters/%s?meter=%s' % (ref, mref))
    assert '上次读数 <b id="previous">110.00</b>' in again.text
    fixed = tech.post('/staff/meters/%s/%s' % (bref, mref),
        {'value': '118', 'reason': ''})
    assert fixed.status == 303
    assert '118.00 <span class="tag ok">已抄</span>' in tech.get(
        fixed.location).text


def test_meter_walk_other_compound_is_404(portal_server):
    if not portal_server.data.get('meters'):
        pytest.skip("meter models not on this branch yet")
    jz = staff(portal_server, 'tech_jz')
    ref = building_ref(jz, '3栋')
    walk = jz.get('/staff/meters/%s' % ref)
    mref = re.search(r'\?meter=([0-9]+\.[0-9a-f]+)"', walk.text).group(1)
    bref = ref
    bj = staff(portal_server, 'tech_bj')
    assert building_ref(bj, '3栋') is None
    assert building_ref(bj, '9栋')
    response = bj.get('/staff/meters/%s' % ref)
    assert response.status == 404
    assert 'W-120' not in response.text
    assert bj.get('/staff/meters/%s?meter=%s' % (
                building_ref(bj, '9栋'), mref)).status == 404
    post = bj.post('/staff/meters/%s/%s' % (bref, mref), {'value': '999'})
    assert post.status == 404
    # a forged reference
    assert bj.get('/staff/meters/%s.%s' % (
                ref.split('.')[0], '0' * 20)).status == 404
