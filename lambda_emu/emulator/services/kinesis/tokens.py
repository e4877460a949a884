"""Signed tokens: shard iterators (``iterators.py``) and ListShards' NextToken (``shards.py``).

Both carry their own state, signed, so there is nothing to store and nothing to expire: a forged or
foreign token is refused, not misread. The secret is kept in the state directory (--state-dir), so
iterators handed out before a restart stay valid after it (for their 5 minutes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

_MAC_BYTES = 12


class TokenSeal:
    """Signs and checks the tokens of one Kinesis store."""

    def __init__(self, state: StateStore | None = None) -> None:
        self._secret = secrets.token_bytes(32)
        if state is not None:
            kept = state.get("meta", "kinesis-secret")
            if kept is not None:
                self._secret = kept["secret"]
            else:
                secret = self._secret
                state.put("meta", "kinesis-secret", lambda: {"secret": secret})

    def seal(self, kind: bytes, payload: bytes) -> str:
        mac = hmac.new(self._secret, kind + payload, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.b64encode(mac + payload).decode("ascii")

    def unseal(self, kind: bytes, token: str) -> bytes | None:
        """The payload of a token this seal signed for ``kind``, or None."""
        try:
            raw = base64.b64decode(token.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return None
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        expected = hmac.new(self._secret, kind + payload, hashlib.sha256).digest()[:_MAC_BYTES]
        return payload if len(raw) > _MAC_BYTES and hmac.compare_digest(mac, expected) else None
