"""Load the demo data into a database (idempotent).

Usage: load_demo.py -c trytond.conf -d DATABASE

Each step checks what exists and only adds what is missing, so running
`make demo` again reuses the data and does not duplicate it.
"""
import argparse
import datetime as dt

from trytond.config import config


def steps():
    "Return the demo steps in order; each takes no argument."
    return [setup_company, setup_iot_devices]


def setup_company():
    """The property management company with CNY, admin in zh_CN."""
    from trytond.pool import Pool
    pool = Pool()
    Company = pool.get('company.company')
    Party = pool.get('party.party')
    Currency = pool.get('currency.currency')
    User = pool.get('res.user')
    Lang = pool.get('ir.lang')
    cny, = Currency.search([('code', '=', 'CNY')], limit=1) or [None]
    if not cny:
        cny, = Currency.create([{'name': '人民币', 'code': 'CNY',
                    'symbol': '¥', 'rounding': '0.01', 'digits': 2}])
    companies = Company.search([])
    if companies:
        company = companies[0]
    else:
        party, = Party.create([{'name': '乐山嘉州物业服务有限公司'}])
        company, = Company.create([{'party': party.id, 'currency': cny.id,
                    'timezone': 'Asia/Shanghai'}])
    lang, = Lang.search([('code', '=', 'zh_CN')])
    admin, = User.search([('login', '=', 'admin')])
    User.write([admin], {'companies': [('add', [company.id])],
            'company': company.id, 'language': lang.id})
    return company


# community_iot: the devices the simulator of scripts/demo_services.py
# publishes for (family, key, name, capabilities, place kind or None)
IOT_DEVICES = [
    ('zigbee2mqtt', '3/2/1201/door', "1201 入户门磁", ['contact', 'battery'],
        None),
    ('zigbee2mqtt', '3/smoke', "3栋楼道烟感", ['smoke', 'battery'], None),
    ('zigbee2mqtt', 'pump/leak', "水泵房水浸", ['water_leak', 'battery'],
        'plant_room'),
    ('zigbee2mqtt', 'gate/east/sos', "东门紧急按钮", ['sos', 'button'],
        'gate'),
    ('tasmota', 'lobby_plug', "大堂插座", ['switch', 'power', 'energy'],
        'common_area'),
    ('shelly', 'shellyplus1pm-a8032ab12345', "排污泵继电器",
        ['switch', 'power', 'energy'], 'plant_room'),
    ('generic', 'meter/public-1', "公区电表", ['energy'], 'common_area'),
    ]


def setup_iot_devices():
    """community_iot: places, devices and automation rules of the demo
    compound (the first compound, or a new one), idempotent."""
    from trytond.pool import Pool
    pool = Pool()
    try:
        Device = pool.get('community.iot.device')
    except KeyError:
        return
    Compound = pool.get('community.compound')
    Place = pool.get('community.iot.place')
    Rule = pool.get('community.iot.rule')
    Unit = pool.get('community.unit')
    Building = pool.get('community.building')
    Company = pool.get('company.company')
    compounds = Compound.search([], order=[('id', 'ASC')], limit=1)
    if compounds:
        compound, = compounds
    else:
        company, = Company.search([], limit=1)
        compound, = Compound.create([{'company': company.id,
                    'code': 'JZHY', 'name': "嘉州花园"}])
    places = {}
    for kind, name in [('gate', "东门"), ('plant_room', "水泵房"),
            ('common_area', "一楼大堂"), ('parking', "地下停车场")]:
        found = Place.search([('compound', '=', compound.id),
                ('name', '=', name)])
        places[kind] = found[0] if found else Place.create([{
                        'compound': compound.id, 'kind': kind,
                        'name': name}])[0]
    units = Unit.search([('compound', '=', compound.id)], limit=1)
    buildings = Building.search([('compound', '=', compound.id)], limit=1)
    existing = {(d.family, d.key) for d in Device.search([])}
    to_create = []
    for family, key, name, caps, place in IOT_DEVICES:
        if (family, key) in existing:
            continue
        values = {'name': name, 'family': family, 'key': key,
            'compound': compound.id, 'capabilities': caps,
            'expected_interval': 60, 'state': 'confirmed'}
        if place:
            values['place'] = places[place].id
        elif key.endswith('door') and units:
            values['unit'] = units[0].id
            values['building'] = units[0].building.id
        elif buildings:
            values['building'] = buildings[0].id
        to_create.append(values)
    Device.create(to_create)
    if not Rule.search([('compound', '=', compound.id)]):
        pump, = Device.search([('key', '=', 'shellyplus1pm-a8032ab12345')])
        Rule.create([{
                    'name': "烟雾报警", 'event_kind': 'smoke',
                    'compound': compound.id,
                    'actions': [('create', [
                                {'type': 'alarm', 'severity': 'critical',
                                    'title': "烟雾报警: {device} {place}"},
                                {'type': 'service_request'}])]}, {
                    'name': "水浸联动排污泵", 'event_kind': 'water_leak',
                    'compound': compound.id,
                    'actions': [('create', [
                                {'type': 'alarm', 'severity': 'critical',
                                    'title': "水浸: {device} {place}"},
                                {'type': 'service_request'},
                                {'type': 'command', 'command_device': pump.id,
                                    'command_action': 'on'}])]}, {
                    'name': "紧急求助", 'event_kind': 'sos',
                    'compound': compound.id,
                    'actions': [('create', [
                                {'type': 'alarm', 'severity': 'critical',
                                    'title': "紧急求助: {device}"}])]}, {
                    'name': "设备离线", 'event_kind': 'offline',
                    'compound': compound.id,
                    'actions': [('create', [
                                {'type': 'alarm', 'severity': 'warning',
                                    'title': "设备离线: {device}"}])]}, {
                    'name': "大功率用电 (夜间)", 'event_kind': 'power',
                    'compound': compound.id, 'value_operator': '>',
                    'value': 2000, 'hour_from': 22, 'hour_to': 6,
                    'actions': [('create', [
                                {'type': 'alarm', 'severity': 'info',
                                    'title': "夜间大功率: {device}"}])]},
                ])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-c', '--config', required=True)
    parser.add_argument('-d', '--database', required=True)
    args = parser.parse_args()
    config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(args.database)
    pool.init()
    for step in steps():
        with Transaction().start(args.database, 0, context={
                    'language': 'zh_CN'}) as transaction:
            admin = pool.get('res.user').search([('login', '=', 'admin')])
            company = pool.get('company.company').search([], limit=1)
            ctx = {'company': company[0].id} if company else {}
            with transaction.set_user(admin[0].id), \
                    transaction.set_context(ctx):
                step()
            transaction.commit()
        print('demo: %s done' % step.__name__, flush=True)


if __name__ == '__main__':
    main()
