"""Database errors classified by SQLSTATE, on real asyncpg errors wrapped as SQLAlchemy does."""

import asyncpg
import pytest
from asyncpg import exceptions as pg
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from budget.adapters.db_errors import is_transient_db_error, sqlstate

_DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)


def wrapped(error: Exception) -> sa_exc.DBAPIError:
    """What a failed `execute` raises: asyncpg → the adapter's DBAPI error → SQLAlchemy's."""
    translate = _DBAPI._asyncpg_error_translate
    cls = next(translate[c] for c in type(error).__mro__ if c in translate)
    try:
        try:
            raise error
        except Exception as exc:
            raise cls(str(exc), exc) from exc
    except Exception as dbapi_error:
        return sa_exc.DBAPIError.instance("SELECT 1", {}, dbapi_error, _DBAPI.Error)
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "error",
    [
        pg.CannotConnectNowError("the database system is starting up"),  # 57P03
        pg.AdminShutdownError("terminating connection due to administrator command"),  # 57P01
        pg.CrashShutdownError("terminating connection due to crash of another process"),
        pg.TooManyConnectionsError("sorry, too many clients already"),  # 53300
        pg.OutOfMemoryError("out of memory"),  # 53200
        pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        pg.ConnectionFailureError("connection failure"),  # 08006
        pg.SerializationError("could not serialize access"),  # 40001
        pg.DeadlockDetectedError("deadlock detected"),  # 40P01
        pg.LockNotAvailableError("canceling statement due to lock timeout"),  # 55P03
        pg.QueryCanceledError("canceling statement due to statement timeout"),  # 57014
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_outage_or_a_retryable_conflict_is_transient(error: Exception) -> None:
    exc = wrapped(error)
    assert type(exc) is not sa_exc.OperationalError  # arrives as a plain DBAPIError or so
    assert sqlstate(exc) == error.sqlstate  # type: ignore[attr-defined]
    assert is_transient_db_error(exc)


@pytest.mark.parametrize(
    "error",
    [
        pg.UniqueViolationError("duplicate key value"),
        pg.NotNullViolationError("null value in column"),
        pg.UndefinedColumnError("column does not exist"),
        pg.InvalidTextRepresentationError("invalid input syntax for type uuid"),
        pg.DivisionByZeroError("division by zero"),
        pg.DatetimeFieldOverflowError("interval out of range"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bad_data_or_a_bug_is_not_transient(error: Exception) -> None:
    assert not is_transient_db_error(wrapped(error))


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),  # asyncpg's connect, unwrapped
        TimeoutError(),  # connect timeout / command_timeout
        sa_exc.TimeoutError("QueuePool limit reached, connection timed out"),
        # a pooled connection that got the server's FATAL at shutdown just before its close
        asyncpg.exceptions.InternalClientError("cannot switch to state 12"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_failures_without_a_sqlstate_that_mean_unreachable(exc: Exception) -> None:
    assert is_transient_db_error(exc)


def test_our_own_bugs_are_not_transient() -> None:
    assert not is_transient_db_error(ValueError("bad"))
    assert not is_transient_db_error(KeyError("x"))
