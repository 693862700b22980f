"""How an API request proves who it is: django-rest-knox's token, after a shape check."""

import re

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

# What knox issues: hex, 64 characters (40 for tokens carried over from DRF's authtoken).
TOKEN_PATTERN = r"[0-9a-f]{40,64}"
_TOKEN = re.compile(TOKEN_PATTERN.encode())


class ShapedTokenAuthentication(TokenAuthentication):
    """Knox's token check, after refusing what no token looks like: knox decodes the
    header as UTF-8 and would fail with a 500 on other bytes, and need not look up
    garbage."""

    def authenticate_credentials(self, token: bytes):
        if not _TOKEN.fullmatch(token):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class ShapedTokenScheme(KnoxTokenScheme):
    """The schema's word for it: knox's `Authorization: Token <token>`."""

    target_class = ShapedTokenAuthentication
