# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class SlipError(ValidationError):
    "A goods release slip is inconsistent or cannot change its state."


class ReleaseError(UserError):
    """A slip could not be released at the gate; ``reason`` tells why:
    ``unknown`` (also a slip of another compound), ``not_approved``,
    ``not_yet``, ``expired`` or ``released``."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
