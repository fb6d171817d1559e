"""A minimal HTTP client of the portal (urllib, cookies, CSRF, no
automatic redirects) for the security tests and the benchmark."""
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode('utf-8', 'replace')

    @property
    def location(self):
        return self.headers.get('Location', '')


class PortalClient:

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.csrf = ''

    def request(self, method, path, data=None, headers=None):
        if path.startswith('http'):
            url = path
        elif path.startswith(urllib.parse.urlsplit(self.base).path + '/'):
            # an absolute path such as a redirect's Location
            parts = urllib.parse.urlsplit(self.base)
            url = '%s://%s%s' % (parts.scheme, parts.netloc, path)
        else:
            url = self.base + path
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(url, data=body, method=method,
            headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                result = Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            result = Response(e.code, e.headers, e.read())
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', result.text)
        if match:
            self.csrf = match.group(1)
        return result

    def get(self, path):
        return self.request('GET', path)

    def post(self, path, data=None, csrf=True):
        data = dict(data or {})
        if csrf:
            data.setdefault('csrf', self.csrf)
        return self.request('POST', path, data=data)

    def login(self, login, password):
        self.get('/login')
        response = self.post('/login', {'login': login, 'password': password})
        assert response.status == 303, response.text
        self.get('/profile')  # a page with a form: the session's CSRF token
        return response

    def staff_login(self, login, password):
        self.get('/staff/login')
        response = self.post('/staff/login', {
                'login': login, 'password': password})
        assert response.status == 303, response.text
        self.get('/staff/logout-page')
        return response
