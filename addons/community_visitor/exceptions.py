# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class PassError(ValidationError):
    "A visitor pass is inconsistent."


class RedeemError(UserError):
    """A pass could not be redeemed; ``reason`` tells why: ``unknown``
    (also a pass of another compound), ``not_yet``, ``expired``, ``used``,
    ``revoked``, ``rejected`` (a walk-in refused) or ``not_answered`` (a
    walk-in nobody let in yet)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
