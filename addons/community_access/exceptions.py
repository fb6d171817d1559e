# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class AccessError(UserError):
    "An access control operation cannot be done."


class AccessValidationError(ValidationError):
    "An access control record is inconsistent."
