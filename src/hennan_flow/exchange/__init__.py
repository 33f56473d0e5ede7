"""The GB/T 39046—2020 data exchange (DESIGN §10): the §6 data sets derived from the outbox.

`datasets` names the sets, their fields and code lists; `records` turns outbox events into records
of those sets; `export` writes them as JSON Lines; `push` posts them to a receiver with a stored
cursor per target. docs/exchange.md has the mapping and the clauses.
"""
