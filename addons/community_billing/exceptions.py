# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class BillingError(UserError):
    "A fee, a bill or a bill run is wrong or cannot be processed."


class BillingValidationError(ValidationError):
    "A fee item, price or assignment is inconsistent."
