# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The installation's access control key."""
import hashlib
import hmac
import secrets


from trytond import config
from trytond.model import ModelSingleton, ModelSQL, fields
from trytond.modules.community_base.tools import ensure_secret
from trytond.transaction import Transaction

from . import qr

SECTION = 'community_access'


class Configuration(ModelSingleton, ModelSQL):
    """Access Control Configuration: what is kept per installation.

    ``secret``: the key of the PIN hashes and (derived) of the residents'
    QR codes, 256 random bits generated once
    when the module is installed or updated (``[community_access] secret``
    of the configuration file wins over it). Nobody reads it through RPC
    (access denied to all groups); the decisions read it as root.
    """
    __name__ = 'community.access.configuration'
    secret = fields.Char("Secret", readonly=True, strip=False)

    @classmethod
    def __register__(cls, module_name):
        super().__register__(module_name)
        ensure_secret(cls, 'secret', lambda: secrets.token_hex(32))

    @classmethod
    def get_secret(cls):
        value = config.get(SECTION, 'secret', default='')
        if value:
            return value
        with Transaction().set_user(0):
            record = cls.get_singleton()
        if record and record.secret:
            return record.secret
        cls.lock()
        record = cls.get_singleton() or cls()
        if not record.secret:
            record.secret = secrets.token_hex(32)
            record.save()
        return record.secret

    @classmethod
    def hash_secret(cls, compound, kind, value):
        """The keyed hash of a credential secret (a PIN) in a compound:
        deterministic so that a PIN is found by its hash and kept unique,
        never reversible without the key."""
        key = cls.get_secret().encode()
        message = ('%s:%s:%s' % (kind, compound, value)).encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    @classmethod
    def qr_key(cls):
        "The key that signs the residents' QR codes (derived, see qr.py)."
        return qr.derive_key(cls.get_secret())
