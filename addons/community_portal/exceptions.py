# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class PortalError(UserError):
    "A resident portal action is refused (binding code, account …)."


class BindingCodeError(ValidationError):
    "A binding code names a party that is not a resident of its unit."


class PortalRateLimitError(PortalError):
    "Too many sign-ups or binding attempts from one client or account."



class SmsCodeError(PortalError):
    "An SMS code is wrong, expired or used, or could not be sent."


class SmsCodeRateLimitError(SmsCodeError):
    "Too many SMS codes requested for a number or from a client."
