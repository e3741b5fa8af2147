"""Benchmarks: the product under HTTP load from wrk, beside its ceilings measured in the same
run (pgbench's one-statement reservation, a bare Django view on the same server):
`python -m bench`."""
