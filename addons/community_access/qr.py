# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The resident's live QR code (通行码): signed, short-lived, compact.

A code is 33 bytes in base64url (44 characters, no padding), small enough
for a QR code of version 3 that a door's reader scans at a glance::

    version (1) | compound id (4) | credential reference (8) |
    issued at, Unix seconds (4) | HMAC-SHA256 truncated to 128 bits (16)

The reference is the credential's random ``identifier`` (64 bits, never
the party's name, ID or phone number); the compound is the code's scope.
The key is derived from the installation's access key (the configuration's
``secret``) for this one use. A code is valid ``[iat, iat + VALIDITY)`` on
the server's clock: a screenshot stops working within a minute. Pure
functions, no database.
"""
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import struct

VERSION = 1
#: seconds a code is valid from its issue time
VALIDITY = 60
MAC_SIZE = 16
_HEAD = struct.Struct('>BI8sI')
SIZE = _HEAD.size + MAC_SIZE


def derive_key(secret):
    "The QR signing key derived from the installation's access key."
    return hmac.new(secret.encode(), b'community_access:resident-qr',
        hashlib.sha256).digest()


def timestamp(at):
    "Unix seconds of the naive UTC datetime ``at`` (its second's start)."
    return int(at.replace(tzinfo=dt.timezone.utc).timestamp())


def encode(key, compound, reference, at):
    """The code of credential ``reference`` (16 hex digits) of compound id
    ``compound`` issued at ``at`` (naive UTC)."""
    head = _HEAD.pack(VERSION, compound, bytes.fromhex(reference),
        timestamp(at))
    mac = hmac.new(key, head, hashlib.sha256).digest()[:MAC_SIZE]
    return base64.urlsafe_b64encode(head + mac).rstrip(b'=').decode('ascii')


def decode(key, code):
    """(compound id, reference, issued at as naive UTC) of a genuine
    ``code``, else None (not a code of ours, or changed in any bit)."""
    if not isinstance(code, str):
        return None
    code = code.strip()
    if len(code) != 44:
        return None
    try:
        raw = base64.urlsafe_b64decode(code + '=' * (-len(code) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != SIZE:
        return None
    head, mac = raw[:_HEAD.size], raw[_HEAD.size:]
    expected = hmac.new(key, head, hashlib.sha256).digest()[:MAC_SIZE]
    if not hmac.compare_digest(mac, expected):
        return None
    version, compound, reference, iat = _HEAD.unpack(head)
    if version != VERSION:
        return None
    issued = dt.datetime.fromtimestamp(iat, dt.timezone.utc).replace(
        tzinfo=None)
    return compound, reference.hex().upper(), issued


def refusal(issued, at):
    """None if a code issued at ``issued`` is valid at ``at`` (both naive
    UTC), else ``not_yet_valid`` or ``qr_expired``."""
    if at < issued:
        return 'not_yet_valid'
    if at >= issued + dt.timedelta(seconds=VALIDITY):
        return 'qr_expired'
    return None
