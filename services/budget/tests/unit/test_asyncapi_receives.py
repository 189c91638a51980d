"""contracts/asyncapi.json names the types budget's queue receives: the ones budget binds."""

from budget.adapters.topology import BINDING_KEYS
from contracts.asyncapi import BUDGET_RECEIVES


def test_the_asyncapi_document_lists_what_budget_binds() -> None:
    assert sorted(BUDGET_RECEIVES) == sorted(BINDING_KEYS)
