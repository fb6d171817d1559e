# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""A compound's quiet hours and monthly SMS budget."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool, PoolMeta

from .notification import (
    local_now, month_start_utc, sms_count, to_utc, warning_threshold)


class Compound(metaclass=PoolMeta):
    __name__ = 'community.compound'
    quiet_start = fields.Time("Quiet Hours From",
        help="No SMS but urgent ones from this local time "
        "(the compound's time zone)…")
    quiet_end = fields.Time("Quiet Hours Until",
        help="…until this local time; they are sent then.")
    sms_budget = fields.Integer("Monthly SMS Budget",
        help="At most this many SMS a month (0: no limit).")
    sms_warning = fields.Integer("SMS Budget Warning (%)",
        help="The compound's users are warned once a month when this "
        "share of the budget is used.")
    sms_warned = fields.Date("SMS Budget Warned", readonly=True,
        help="The month whose budget warning was sent.")

    @staticmethod
    def default_quiet_start():
        return dt.time(21, 0)

    @staticmethod
    def default_quiet_end():
        return dt.time(8, 0)

    @staticmethod
    def default_sms_budget():
        return 0

    @staticmethod
    def default_sms_warning():
        return 80

    def quiet_end_after(self, now):
        """Return when the quiet hours around ``now`` (naive UTC) end, as
        naive UTC, or None outside quiet hours."""
        start, end = self.quiet_start, self.quiet_end
        if not start or not end or start == end:
            return None
        local = local_now(self.timezone, now)
        time = local.time().replace(tzinfo=None)
        if start < end:
            quiet = start <= time < end
        else:
            quiet = time >= start or time < end
        if not quiet:
            return None
        day = local.date()
        if time >= end:
            day += dt.timedelta(days=1)
        return to_utc(dt.datetime.combine(day, end, tzinfo=local.tzinfo))

    def sms_budget_allowance(self, count):
        """Return how many of ``count`` more SMS fit the month's budget;
        warns the compound's users once when the warning share is
        reached."""
        if not self.sms_budget:
            return count
        since = month_start_utc(self.timezone)
        used = sms_count(self, since)
        allowed = max(min(count, self.sms_budget - used), 0)
        threshold = warning_threshold(self.sms_budget, self.sms_warning)
        month = local_now(self.timezone).date().replace(day=1)
        if (self.sms_warning and allowed and used + allowed >= threshold
                and self.sms_warned != month):
            self.__class__.write([self], {'sms_warned': month})
            # the count of the SMS that reaches the warning share
            self._warn_budget(max(used + 1, threshold))
        return allowed

    def _warn_budget(self, used):
        "Tell the compound's users that the SMS budget is nearly used."
        pool = Pool()
        User = pool.get('res.user')
        UserNotification = pool.get('res.notification')
        users = User.search([('compounds', '=', self.id)])
        users += User.search([('login', '=', 'admin')])
        text = gettext('community_notification.msg_sms_budget_warning',
            compound=self.rec_name, used=used, budget=self.sms_budget)
        UserNotification.create([{
                    'user': u.id, 'label': text,
                    'description': text, 'icon': 'tryton-warning',
                    'model': 'community.compound',
                    'records': str(self.id)}
                for u in set(users)])
