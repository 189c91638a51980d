"""budget-service's adapters: the ports of `service_layer.ports` on PostgreSQL and RabbitMQ.

One way to reach the database on each path (no ORM anywhere: the domain objects are plain
dataclasses, mapped by hand in one place per table):

- The `Account` steps (the hook's hold or veto, the consumer's events, a credit, a cost's
  removal) and the hook's delivery claim: raw SQL on plain asyncpg (`accounts.py`,
  `hook_deliveries.py` on `db.DriverPool`), because they are the hot paths: a step is one query
  and one statement, the call of the SQL function `budget_save_account` (a data-modifying CTE
  applied only over the loaded version; a consumer batch saves many steps in one statement),
  with no transaction held while Python decides; asyncpg's own pool costs no SQLAlchemy
  checkout and keeps each connection's prepared statements.
- Everything else (token types, setting and listing task costs, balances and the ledger,
  event failures, the hook-delivery purge, the active-holds gauge): SQLAlchemy Core on the
  engine, one statement per call, because these are plain inserts and selects that gain
  nothing from the driver and read better as Core statements.
- Probes: `SELECT 1` on the engine.
"""
