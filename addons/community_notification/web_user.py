# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.model import Unique, fields
from trytond.pool import PoolMeta


class WebUser(metaclass=PoolMeta):
    __name__ = 'web.user'
    wechat_openid = fields.Char("WeChat OpenID", readonly=True,
        strip=False,
        help="The account's user of the WeChat official account, "
        "set when the resident logs in through WeChat.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('wechat_openid_unique', Unique(t, t.wechat_openid),
                'community_notification.msg_wechat_openid_unique'),
            ]
