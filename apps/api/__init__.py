"""What every merchant API endpoint shares: tenancy, errors, idempotency, paging, throttling."""
