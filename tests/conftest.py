"""Shared fixtures of the top-level tests."""
import json
import os
import pathlib
import sys
import types

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


@pytest.fixture(scope='session')
def portal_server():
    """A running trytond with the portal fixture database (see
    portal_server.py). PORTAL_SERVER_JSON (a file with "url" and "data")
    reuses a server started by hand while developing (without ``sms``).
    ``sms``: the emulated Tencent Cloud SMS that the server sends its SMS
    to (sign-up and password reset codes)."""
    reuse = os.environ.get('PORTAL_SERVER_JSON')
    if reuse:
        info = json.loads(pathlib.Path(reuse).read_text())
        yield types.SimpleNamespace(url=info['url'], data=info['data'],
            sms=None)
        return
    from portal_server import PortalServer
    from trytond.modules.community_notification.tests.emulators import (
        APPROVED_SMS, TencentSms)
    sms = TencentSms(templates=APPROVED_SMS).start()
    server = PortalServer(notification=sms.config())
    server.sms = sms
    try:
        server.start()
        yield server
    finally:
        server.stop()
        sms.stop()
