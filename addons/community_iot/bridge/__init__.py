# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The MQTT bridge of community_iot (a separate process, see __main__)."""
