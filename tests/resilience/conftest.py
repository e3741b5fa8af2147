from tests.resilience.servers import (  # noqa: F401 - fixtures
    private_postgres,
    private_redis,
    processes,
    workdir,
)
