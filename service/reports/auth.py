"""Sign-in for report pages: an API key becomes a session cookie, or a short-lived link is signed for one page.

Officials read in a browser, where sending an `Authorization` header is not an option. They sign in once with
their API key; the service answers with an HttpOnly, SameSite=Strict cookie holding a signed token (key id and
expiry) — never the key itself. A signed link carries the same kind of token bound to one path, for a report
sent to someone's phone. Both are checked on every request against the key's row, so revoking the key ends
every session and link at once; logging out ends that session on the server too (its token's digest is kept
until it would have expired). A session token is never accepted in a URL, and the sign-in and sign-out forms
accept posts from the service's own pages only.

Tokens are `base64url(json payload) "." base64url(HMAC-SHA256(secret, payload))`. The secret comes from
`RELAPSE_REPORTS_SECRET` or, unset, from a local file `<data dir>/secrets/reports.key` (mode 0600) created on
first use, as the pseudonym key is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.errors import AuthenticationError
from service.keys import Caller
from service.scope import Scope
from service.tables import ApiKey, EndedSession

COOKIE: Final = "relapse_report_session"
SECRET_BYTES: Final = 32


def load_secret(configured: str, data_dir: Path) -> bytes:
    """The signing secret: the configured one, else the local file (created once, readable by the owner only)."""
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir) / "secrets" / "reports.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES))
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Token:
    key_id: int
    expires: int  # unix seconds
    path: str | None  # a signed link is valid for this path only; None: a session


def sign(secret: bytes, token: Token) -> str:
    payload = json.dumps({"k": token.key_id, "e": token.expires, "p": token.path}, separators=(",", ":")).encode()
    mac = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: bytes, text: str, *, path: str | None, now: float | None = None, link: bool = False) -> Token:
    """The token if its signature holds, it has not expired and (for links) it names `path`. With `link`, the
    token must be a signed link: a session token in a URL is refused, so a session never travels in one."""
    try:
        encoded, mac_text = text.split(".", 1)
        payload = _unb64(encoded)
        mac = _unb64(mac_text)
    except (ValueError, UnicodeEncodeError):
        raise AuthenticationError("invalid or expired sign-in") from None
    if not hmac.compare_digest(hmac.new(secret, payload, hashlib.sha256).digest(), mac):
        raise AuthenticationError("invalid or expired sign-in")
    data = json.loads(payload)
    token = Token(int(data["k"]), int(data["e"]), data.get("p"))
    if token.expires < (time.time() if now is None else now):
        raise AuthenticationError("invalid or expired sign-in")
    if token.path is not None and token.path != path:
        raise AuthenticationError("this signed link is for another page")
    if link and token.path is None:
        raise AuthenticationError("a session is not a link: sign in, or ask for a signed link")
    return token


def session_digest(text: str) -> str:
    """How an ended session is remembered: the SHA-256 of its token (the token itself is never stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def end_session(session: Session, text: str, expires: int) -> None:
    """Remember a logged-out session until it would have expired, so that its cookie signs nobody in again."""
    digest = session_digest(text)
    if session.get(EndedSession, digest) is None:
        session.add(EndedSession(digest=digest, expires_at=datetime.fromtimestamp(expires, UTC)))
    session.execute(delete(EndedSession).where(EndedSession.expires_at < datetime.now(UTC)))


def check_not_ended(session: Session, text: str) -> None:
    if session.get(EndedSession, session_digest(text)) is not None:
        raise AuthenticationError("this session was ended: sign in again")


def same_origin(origin: str | None, referer: str | None, host: str | None) -> bool:
    """Whether a form post comes from this service's own pages. Browsers send `Origin` with every cross-site
    POST; a post without either header (a script, not a browser) is not a cross-site request."""
    source = origin if origin and origin != "null" else referer
    if not source:
        return origin != "null"
    return urlsplit(source).netloc == (host or "")


def caller_of(session: Session, key_id: int) -> Caller:
    """The caller holding key `key_id`, read now: a revoked key signs nobody in."""
    row = session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("invalid or expired sign-in")
    return Caller(row.id, row.role, Scope(row.region_prefix))
