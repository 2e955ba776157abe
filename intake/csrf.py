"""CSRF tokens for the HTML forms, without cookies.

The public app sets no cookie at all (a cookie would let a seized browser, or
the server, link visits), so a token cannot be tied to a session. It is a
signed, timestamped random value bound to the form's purpose by a salt: it
proves the form was fetched from this site within the last hours and cannot be
replayed against another form. Forging a submission across sites also needs
the victim's receipt, which the attacker does not have, so this is mainly a
guard against blind form posts from other origins; browsers that send
``Sec-Fetch-Site: cross-site`` are refused outright (see pages.py).

Tokens live for hours because uploads over Tor can take that long. The key
is derived from the server's cookie keys (newest first, rotated in the key
file) so tokens survive restarts and work across instances.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.errors import Forbidden

TOKEN_HOURS = 8
_SALT = "xuncha.public.form."


class CsrfFailed(Forbidden):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(
            "页面已过期或表单无效，请重新打开页面后再提交（已填写的内容请先复制保存）。"
        )


class CsrfTokens:
    def __init__(self, cookie_keys_newest_first: Sequence[bytes]) -> None:
        # itsdangerous signs with the last key and accepts all of them.
        self._keys = [
            hmac.new(key, b"xuncha/public-csrf", hashlib.sha256).digest()
            for key in reversed(cookie_keys_newest_first)
        ]

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._keys, salt=_SALT + purpose)

    def issue(self, purpose: str) -> str:
        return self._serializer(purpose).dumps(secrets.token_hex(8))

    def check(self, purpose: str, token: object) -> None:
        if not isinstance(token, str) or not token or len(token) > 200:
            raise CsrfFailed
        try:
            self._serializer(purpose).loads(token, max_age=TOKEN_HOURS * 3600)
        except BadSignature:  # includes SignatureExpired
            raise CsrfFailed from None
