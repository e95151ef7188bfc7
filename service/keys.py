"""API keys: created once in clear, stored only as a salted hash, verified in constant time; roles as data.

A key reads `rr_<prefix>_<secret>`. The prefix (12 hex characters) is public: it finds the row and appears in
listings and logs. The secret (256 random bits) is shown once, at creation, and stored as
SHA-256(salt ‖ secret) with a random per-key salt. A fast hash is enough here — slow password hashes exist to
resist guessing low-entropy passwords, and a 256-bit random secret cannot be guessed — and it keeps
verification cheap on every request.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.orm import Session

from service.errors import AuthenticationError, InvalidFieldError, KeyNotFoundError, PermissionDeniedError
from service.scope import Scope, check_prefix
from service.tables import ApiKey, Role, utcnow

KEY_MARKER: Final = "rr"
PREFIX_HEX_CHARS: Final = 12
SECRET_BYTES: Final = 32
SALT_BYTES: Final = 16
HASH_SCHEME: Final = "sha256"
MAX_LABEL_CHARS: Final = 200


class Permission(enum.StrEnum):
    SCORE = "score"  # ask for scores (single households and batch jobs); every decision is audited
    READ = "read"  # household histories, region summaries, job results
    REPORTS = "reports"  # explanation reports (HTML / PDF)
    MODEL = "model"  # model endpoints: version, metrics, model card
    RELOAD = "reload"  # pick up a new champion now
    KEYS = "keys"  # create, list and revoke keys
    VISITS = "visits"  # record home visits of households in the key's region
    EVENTS = "events"  # push department events of households in the key's region


# What each role may do. Admin may do everything; the other roles are deliberately narrow.
ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.MONITOR: frozenset({Permission.SCORE, Permission.READ, Permission.VISITS, Permission.EVENTS}),
    Role.OFFICIAL: frozenset({Permission.READ, Permission.REPORTS, Permission.VISITS}),
    Role.SCIENTIST: frozenset({Permission.MODEL}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Caller:
    """Who is asking: the verified key's id, role and region scope. `key_id` is None for the local operator."""

    key_id: int | None
    role: Role
    scope: Scope

    @classmethod
    def local_operator(cls) -> Caller:
        """The person at the machine running `relapse` commands: admin over everything, no key."""
        return cls(None, Role.ADMIN, Scope.everything())

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDeniedError(self.role.value, permission.value)


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listings show it: everything but the secret."""

    id: int
    key_prefix: str
    role: Role
    region_prefix: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyInfo:
        return cls(row.id, row.key_prefix, row.role, row.region_prefix, row.label, row.created_at, row.revoked_at)


@dataclass(frozen=True)
class CreatedKey:
    info: ApiKeyInfo
    plaintext: str  # shown once; not recoverable afterwards


def parse_role(value: str, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidFieldError(field, f"must be one of {', '.join(r.value for r in Role)}") from None


def create_key(session: Session, *, role: Role | str, region_prefix: str, label: str = "") -> CreatedKey:
    """A new key; the returned `plaintext` is the only time the secret exists outside the caller's hands."""
    role = parse_role(role)
    region_prefix = check_prefix(region_prefix)
    if region_prefix == "" and role is not Role.ADMIN:
        raise InvalidFieldError("region_prefix", "only admin keys may cover every region; give a region prefix")
    if len(label) > MAX_LABEL_CHARS or not label.isprintable():
        raise InvalidFieldError("label", f"must be printable text of at most {MAX_LABEL_CHARS} characters")
    while True:  # 48-bit prefixes: a collision is rare, but a unique prefix is required for the lookup
        prefix = secrets.token_hex(PREFIX_HEX_CHARS // 2)
        if session.scalar(select(ApiKey.id).where(ApiKey.key_prefix == prefix)) is None:
            break
    secret = secrets.token_urlsafe(SECRET_BYTES)
    row = ApiKey(
        key_prefix=prefix,
        secret_hash=hash_secret(secret),
        role=role,
        region_prefix=region_prefix,
        label=label,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return CreatedKey(ApiKeyInfo.of(row), f"{KEY_MARKER}_{prefix}_{secret}")


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.sha256(salt + secret.encode("utf-8")).hexdigest()
    return f"{HASH_SCHEME}${salt.hex()}${digest}"


def _secret_matches(secret: str, stored: str) -> bool:
    scheme, salt_hex, digest = stored.split("$")
    if scheme != HASH_SCHEME:
        return False
    candidate = hash_secret(secret, bytes.fromhex(salt_hex))
    return hmac.compare_digest(candidate.encode("ascii"), stored.encode("ascii"))


# Compared against when the prefix is unknown, so that unknown and wrong keys cost the same time.
_DUMMY_HASH: Final = hash_secret("not-a-key", b"\0" * SALT_BYTES)


def split_key(presented: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_MARKER:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != PREFIX_HEX_CHARS or not all(c in "0123456789abcdef" for c in prefix) or not secret:
        return None
    return prefix, secret


_KEYS: Final = cast(Table, ApiKey.__table__)
# Built once: every request checks a key, and a Core select of five columns costs far less than an ORM query.
_KEY_BY_PREFIX: Final = select(
    _KEYS.c.id, _KEYS.c.role, _KEYS.c.region_prefix, _KEYS.c.secret_hash, _KEYS.c.revoked_at
).where(_KEYS.c.key_prefix == bindparam("prefix"))


def verify_key(connection: Connection | Session, presented: str) -> Caller:
    """The caller holding `presented`, or `AuthenticationError` (one error for every failure, by design).

    Reads only: the API checks keys on a read connection (`Database.read`), outside any write transaction."""
    parsed = split_key(presented)
    row = None
    if parsed is not None:
        row = connection.execute(_KEY_BY_PREFIX, {"prefix": parsed[0]}).first()
    matches = _secret_matches(parsed[1] if parsed else "", row.secret_hash if row is not None else _DUMMY_HASH)
    if row is None or not matches or row.revoked_at is not None:
        raise AuthenticationError("invalid API key")
    return Caller(row.id, row.role, Scope(row.region_prefix))


def caller_of_key(session: Session, key_id: int | None) -> Caller:
    """The caller a stored key id stands for (a batch job acts for the key that created it); None is the local
    operator. A key revoked since is refused with `AuthenticationError`."""
    if key_id is None:
        return Caller.local_operator()
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("the key that created this job no longer exists or was revoked")
    return Caller(row.id, row.role, Scope(row.region_prefix))


def list_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
    """Every key, oldest first; never the secrets."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [ApiKeyInfo.of(row) for row in session.scalars(query)]


def revoke_key(session: Session, key_id: int) -> ApiKeyInfo:
    """Revoke a key from now on; revoking a revoked key keeps its first revocation time."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise KeyNotFoundError(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return ApiKeyInfo.of(row)
