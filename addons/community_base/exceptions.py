# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError, UserWarning
from trytond.model.exceptions import ValidationError


class RegisterError(ValidationError):
    "A register record (compound, unit, residency …) is inconsistent."


class ShareError(RegisterError):
    "Owners' shares of a unit do not total 100 %."


class ImportError_(UserError):
    "A register file cannot be imported."


class RegisterWarning(UserWarning):
    pass


class PlateError(RegisterError):
    "A licence plate is not valid per GA 36-2018."


class MaskedValueError(RegisterError):
    "A masked value (with ``*``) was written back instead of a number."


class IdentityNumberError(RegisterError):
    "A resident ID number is not valid per GB 11643-1999."


class SensitiveSearchError(UserError):
    "A search on ID or phone numbers other than by the whole number."
