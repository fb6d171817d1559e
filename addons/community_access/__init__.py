# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.

from . import online, portal_routes  # noqa: F401 (HTTP routes)
