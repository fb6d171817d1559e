# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.cache import Cache
from trytond.model import ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'res.user'
    compounds = fields.Many2Many(
        'res.user-community.compound', 'user', 'compound', "Compounds",
        help="The compounds whose register this user works on. "
        "Members of the headquarters group see every compound "
        "of their companies.")
    _get_compounds_cache = Cache(__name__ + '.get_compounds', context=False)

    @classmethod
    def get_compounds(cls):
        """Return the tuple of compound ids assigned to the current user.

        Used by record rules through the "compounds" rule context.
        """
        user_id = Transaction().user
        compounds = cls._get_compounds_cache.get(user_id)
        if compounds is not None:
            return compounds
        user = cls(user_id)
        compounds = tuple(sorted(c.id for c in user.compounds))
        cls._get_compounds_cache.set(user_id, compounds)
        return compounds

    @classmethod
    def write(cls, *args):
        super().write(*args)
        cls._get_compounds_cache.clear()

    @classmethod
    def delete(cls, users):
        super().delete(users)
        cls._get_compounds_cache.clear()


class UserCompound(ModelSQL):
    __name__ = 'res.user-community.compound'
    user = fields.Many2One(
        'res.user', "User", ondelete='CASCADE', required=True)
    compound = fields.Many2One(
        'community.compound', "Compound", ondelete='CASCADE', required=True)

    @staticmethod
    def _clear_cache():
        Pool().get('res.user')._get_compounds_cache.clear()

    @classmethod
    def create(cls, vlist):
        records = super().create(vlist)
        cls._clear_cache()
        return records

    @classmethod
    def write(cls, *args):
        super().write(*args)
        cls._clear_cache()

    @classmethod
    def delete(cls, records):
        super().delete(records)
        cls._clear_cache()
