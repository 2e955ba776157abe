"""Who may call the PBX endpoints: HMAC-SHA256 over timestamp and body, per-PBX secret.

A PBX sends three headers::

    X-Xuncha-PBX:        its name, as configured in XUNCHA_PBX_SECRETS
    X-Xuncha-Timestamp:  Unix time in seconds
    X-Xuncha-Signature:  hex(HMAC-SHA256(secret, timestamp + "." + body))

Refused: an unknown name or a wrong signature (same answer for both), a timestamp more
than five minutes away from our clock, and a signature seen before (replay). The name and
the clock are checked before the body is read (`PbxGate.precheck`), so an unauthenticated
client cannot make the staff app buffer a large body. Deciding is pure and synchronous; the
replay memory lives in the staff app's process, which is enough for one staff instance; with
several, point each PBX at one instance (docs/phone-and-mail.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.errors import XunchaError
from core.settings import Settings

PBX_HEADER = "x-xuncha-pbx"
TIMESTAMP_HEADER = "x-xuncha-timestamp"
SIGNATURE_HEADER = "x-xuncha-signature"
WINDOW_SECONDS = 300


class PbxRefused(XunchaError):
    """A PBX request that is not authentic, stale or a replay."""

    code = "pbx_unauthorised"
    status = 401


def sign(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """The signature a PBX sends (also used by tests and documented for dialplan scripts)."""
    message = str(timestamp).encode("latin-1", "replace") + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass
class ReplayCache:
    """Signatures seen inside the window; older ones are refused by the clock anyway."""

    window: int = WINDOW_SECONDS
    _seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def first_time(self, pbx: str, signature: str, now: float) -> bool:
        horizon = now - 2 * self.window
        for key in [k for k, seen in self._seen.items() if seen < horizon]:
            del self._seen[key]
        key = (pbx, signature.lower())
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class PbxGate:
    def __init__(
        self, secrets: Mapping[str, bytes], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.secrets = dict(secrets)
        self.clock = clock
        self.replays = ReplayCache()

    @classmethod
    def from_settings(cls, settings: Settings) -> PbxGate:
        return cls({name: bytes.fromhex(s.reveal()) for name, s in settings.pbx_secrets})

    @property
    def configured(self) -> bool:
        return bool(self.secrets)

    def precheck(self, headers: Mapping[str, str]) -> None:
        """What can be refused before the body is read (up to 100 MB for a voicemail): an
        unknown PBX name (answered like a bad signature) and a timestamp out of the window."""
        if headers.get(PBX_HEADER, "") not in self.secrets:
            raise PbxRefused("签名无效。", code="pbx_signature_invalid")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > WINDOW_SECONDS:
            raise PbxRefused("时间戳超出允许范围（5 分钟）。", code="pbx_timestamp_stale")

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the PBX's name, or raise PbxRefused."""
        self.precheck(headers)
        name = headers[PBX_HEADER]
        signature = headers.get(SIGNATURE_HEADER, "").strip().lower()
        expected = sign(self.secrets[name], headers[TIMESTAMP_HEADER], body)
        if not hmac.compare_digest(expected, signature):
            raise PbxRefused("签名无效。", code="pbx_signature_invalid")
        if not self.replays.first_time(name, signature, self.clock()):
            raise PbxRefused("该请求已处理过（重放）。", code="pbx_replay", status=409)
        return name
