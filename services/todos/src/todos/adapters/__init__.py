"""todos-service's adapters: the ports of `service_layer.ports` on PostgreSQL, RabbitMQ and HTTP.

One way to reach the database on each path (no ORM anywhere: the domain objects are plain
dataclasses, mapped by hand in one place per table):

- Task changes and reads (create, get, list, edit, delete): SQLAlchemy Core on one connection
  in one transaction (`unit_of_work.SqlUnitOfWork`), because the task row and the outbox rows
  of its events must commit together.
- The completion path (load, complete, record an abort): raw SQL on plain asyncpg
  (`completions.py` on `db.DriverPool`), because it is the hot path: each call is one
  statement with no transaction held across the hook calls, and asyncpg's own pool costs no
  SQLAlchemy checkout and keeps each connection's prepared statements.
- The relay (claim, mark sent, purge, backlog): SQLAlchemy Core on the engine, because its
  claim is a transaction (`FOR UPDATE SKIP LOCKED`) held while the broker confirms; it waits
  for NOTIFY on a plain asyncpg connection, SQLAlchemy having no listener API.
- Probes: `SELECT 1` on the engine.
"""
