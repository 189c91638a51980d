"""budget-service: token types, an append-only ledger, task costs and holds."""
