"""Which database failures are an outage to wait out, as opposed to a bug or bad data.

Classified by SQLSTATE wherever it sits in the exception chain (SQLAlchemy wraps the asyncpg
error, which carries `sqlstate`), plus the failures that have no SQLSTATE at all: a refused or
dropped connection, a connect/command timeout, an exhausted pool. The consumer retries these
instead of burning a message's delivery limit; the API answers them with 503 `unavailable`.
"""

from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

# 08 connection exception, 53 insufficient resources (e.g. 53300 too many connections),
# 57P0x admin/crash shutdown and 57P03 "the database system is starting up".
_UNAVAILABLE_PREFIXES = ("08", "53", "57P0")
# Worth another try as they are: serialization failure, deadlock, and our own bounds on
# waiting (see `db.DbLimits`): lock timeout, statement timeout, idle-in-transaction timeout.
_RETRY_CODES = frozenset({"40001", "40P01", "55P03", "57014", "25P03"})
_NO_SQLSTATE_OUTAGES = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    asyncpg.InterfaceError,  # raw, from the driver connection: e.g. "connection is closed"
    # The driver's connection is in a state it cannot leave: e.g. the server's FATAL at a
    # shutdown reached an idle pooled connection just before the socket closed, and the next
    # statement finds it "consuming an error" ("cannot switch to state 12").
    asyncpg.exceptions.InternalClientError,
    sa_exc.TimeoutError,  # no pool connection within pool_timeout
    OSError,  # refused, reset, unreachable
    TimeoutError,  # asyncpg's connect timeout or command_timeout
)


# Failures after which the driver connection must not go back to its pool.
_BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError)


def breaks_connection(exc: BaseException) -> bool:
    """The connection `exc` came from is unusable: a pool must drop it, not hand it out again.

    Not a timeout (an OSError too): asyncpg cancels a timed-out statement itself and the pool
    waits for that on release, so the connection stays good."""
    return any(
        isinstance(err, _BROKEN_CONNECTION) and not isinstance(err, TimeoutError)
        for err in _chain(exc)
    )


def sqlstate(exc: BaseException) -> str | None:
    """The first SQLSTATE found along `exc`'s chain, if any."""
    for err in _chain(exc):
        code = getattr(err, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_transient_db_error(exc: BaseException) -> bool:
    """The database (or the way to it) failed for now; the same work may succeed later."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    code = sqlstate(exc)
    if code is not None:
        return code.startswith(_UNAVAILABLE_PREFIXES) or code in _RETRY_CODES
    return any(isinstance(err, _NO_SQLSTATE_OUTAGES) for err in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it wraps (`orig`, `__cause__`, `__context__`), each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 16:
        err = pending.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        for inner in (getattr(err, "orig", None), err.__cause__, err.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)
