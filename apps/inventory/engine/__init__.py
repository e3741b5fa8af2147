"""The stock engine: the only code that writes quantity columns (`apps.inventory.services`
calls it; nothing else does).

- `changes`: what a caller asks for (Movement, BucketChange, MovementContext)
- `statements`: every hand-written SQL statement, PostgreSQL and SQLite
- `locks`: stock levels found or created, and locked in the global order
- `movements`: guarded changes of levels, with their ledger and outbox rows
- `buckets`: bucket changes and the plans that move units between a level and its buckets
- `reservations`: the one-line reservation hot path and its slow path
- `levels`: a level's settings, and its repair from the ledger
- `refusals`: why a movement was refused, with the figures
- `notify`: what happens after commit (the outbox hook, the availability cache)
"""
