"""Deploy artifacts from the contracts: PostgreSQL migrations, deploy/rollback scripts, health checks."""
