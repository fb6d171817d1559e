# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The HTTP routes of the resident portal and of the staff phone pages:
one routes file per area under ``portal/`` (the mechanics they share are
in ``portal/web.py``). Importing this module registers them."""
from .portal import (  # noqa: F401
    account, announcements, bills, brand, cashier, devices, inbox, meters,
    requests, staff, wechat)
from .portal.web import FrameGuard, install_frame_guard  # noqa: F401
