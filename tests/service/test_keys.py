"""API keys: shown once, stored hashed, verified in constant time, revocable; roles as data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from service.db import Database
from service.errors import AuthenticationError, InvalidFieldError, KeyNotFoundError, PermissionDeniedError
from service.keys import (
    ROLE_PERMISSIONS,
    Caller,
    Permission,
    create_key,
    list_keys,
    revoke_key,
    split_key,
    verify_key,
)
from service.scope import Scope
from service.tables import ApiKey, Role


def test_created_key_verifies_to_its_role_and_scope(db: Database) -> None:
    with db.session() as session:
        created = create_key(session, role="official", region_prefix="990101", label="county office")
    assert created.plaintext.startswith(f"rr_{created.info.key_prefix}_")
    with db.session() as session:
        caller = verify_key(session, created.plaintext)
    assert caller == Caller(created.info.id, Role.OFFICIAL, Scope("990101"))


def test_a_read_connection_verifies_keys_as_a_session_does(db: Database) -> None:
    with db.session() as session:
        active = create_key(session, role="monitor", region_prefix="990101")
        revoked = create_key(session, role="admin", region_prefix="")
        revoke_key(session, revoked.info.id)
    with db.session() as session:
        expected = verify_key(session, active.plaintext)
    with db.read() as connection:
        assert verify_key(connection, active.plaintext) == expected
        with pytest.raises(AuthenticationError, match="^invalid API key$"):
            verify_key(connection, revoked.plaintext)


def test_only_a_salted_hash_of_the_secret_is_stored(db: Database) -> None:
    with db.session() as session:
        first = create_key(session, role=Role.MONITOR, region_prefix="990101")
        second = create_key(session, role=Role.MONITOR, region_prefix="990101")
    with db.session() as session:
        rows = {row.id: row for row in session.scalars(select(ApiKey))}
    for created in (first, second):
        parsed = split_key(created.plaintext)
        assert parsed is not None
        stored = rows[created.info.id]
        assert parsed[1] not in stored.secret_hash
        assert stored.secret_hash.startswith("sha256$")
    assert rows[first.info.id].secret_hash.split("$")[1] != rows[second.info.id].secret_hash.split("$")[1]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # wrong secret
        lambda key: "rr_000000000000_" + key.split("_", 2)[2],  # unknown prefix
        lambda key: key.replace("rr_", "xx_", 1),  # wrong marker
        lambda key: "",
        lambda key: "rr_short_secret",
        lambda key: key.split("_", 2)[0] + "_" + key.split("_", 2)[1],  # no secret
    ],
)
def test_wrong_unknown_or_malformed_keys_are_refused_alike(db: Database, tamper: Callable[[str], str]) -> None:
    with db.session() as session:
        created = create_key(session, role="monitor", region_prefix="990101")
    with db.session() as session, pytest.raises(AuthenticationError, match="^invalid API key$"):
        verify_key(session, tamper(created.plaintext))


def test_revoked_keys_are_refused_and_revoking_twice_keeps_the_first_time(db: Database) -> None:
    with db.session() as session:
        created = create_key(session, role="monitor", region_prefix="990101")
    with db.session() as session:
        first = revoke_key(session, created.info.id)
    with db.session() as session:
        again = revoke_key(session, created.info.id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at and not again.active
    with db.session() as session, pytest.raises(AuthenticationError):
        verify_key(session, created.plaintext)


def test_revoking_an_unknown_key_is_a_typed_error(db: Database) -> None:
    with db.session() as session, pytest.raises(KeyNotFoundError):
        revoke_key(session, 2**31 - 1)


def test_list_shows_keys_without_secrets(db: Database) -> None:
    with db.session() as session:
        kept = create_key(session, role="admin", region_prefix="", label="local admin")
        gone = create_key(session, role="scientist", region_prefix="99")
        revoke_key(session, gone.info.id)
    with db.session() as session:
        everything = list_keys(session)
        active = list_keys(session, include_revoked=False)
    assert [k.id for k in everything] == [kept.info.id, gone.info.id]
    assert [k.id for k in active] == [kept.info.id]
    assert everything[0].label == "local admin" and everything[0].region_prefix == ""
    assert not hasattr(everything[0], "secret_hash")
    assert all(kept.plaintext.split("_", 2)[2] not in repr(k) for k in everything)


@pytest.mark.parametrize(
    ("role", "region_prefix", "label", "field"),
    [
        ("root", "990101", "", "role"),
        ("monitor", "", "", "region_prefix"),  # only admin keys may cover everything
        ("official", "9", "", "region_prefix"),  # a partial level would span ten provinces
        ("official", "99010", "", "region_prefix"),
        ("official", "99%", "", "region_prefix"),
        ("official", "99010１", "", "region_prefix"),  # full-width digit
        ("monitor", "990101", "x" * 201, "label"),
        ("monitor", "990101", "line\nbreak", "label"),
    ],
)
def test_bad_key_settings_name_the_field(db: Database, role: str, region_prefix: str, label: str, field: str) -> None:
    with db.session() as session, pytest.raises(InvalidFieldError) as raised:
        create_key(session, role=role, region_prefix=region_prefix, label=label)
    assert raised.value.field == field


# The permission table, written out independently of ROLE_PERMISSIONS: grid workers' monitors and village or
# township officials record home visits; departments push events through monitor keys; scientists see no household.
EXPECTED = {
    Role.MONITOR: {"score", "read", "visits", "events"},
    Role.OFFICIAL: {"read", "reports", "visits"},
    Role.SCIENTIST: {"model"},
    Role.ADMIN: {"score", "read", "reports", "model", "reload", "keys", "visits", "events"},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_roles_allow_exactly_their_permissions(role: Role, permission: Permission) -> None:
    caller = Caller(1, role, Scope("990101"))
    allowed = permission.value in EXPECTED[role]
    assert caller.can(permission) is allowed
    assert (permission in ROLE_PERMISSIONS[role]) is allowed
    if allowed:
        caller.require(permission)
    else:
        with pytest.raises(PermissionDeniedError, match=f"role '{role.value}' may not '{permission.value}'"):
            caller.require(permission)
