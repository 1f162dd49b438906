"""PostgreSQL migrations from the entity contracts, rendered from the one schema source (schema.py) the service's
SQLite tables come from too. Pure: Pack0 in, SQL text out."""

from __future__ import annotations

from factory.config import DEPLOY_TARGETS  # one list, kept where the settings are checked
from factory.deploy.schema import (
    migration_name,
    migration_order,
    postgres_down,
    postgres_up,
    quote_ident,
    quote_literal,
)
from factory.fsutil import sha256_bytes
from factory.pack0.models import Entity, Pack0

__all__ = [
    "DEPLOY_TARGETS",
    "DIGESTS_FILE",
    "MIGRATIONS_DIR",
    "create_table_sql",
    "generate_migrations",
    "quote_ident",
    "quote_literal",
]

MIGRATIONS_DIR = "deploy/migrations"
DIGESTS_FILE = "deploy/migrations.sha256"
# Supabase CLI names migrations <timestamp>_<name>.sql; a fixed base keeps the output reproducible.
SUPABASE_BASE_TIMESTAMP = 20260101000000


def create_table_sql(entity: Entity, _target: str = "compose") -> str:
    """The entity's up migration (the same for every target; the name stays for its callers)."""
    return postgres_up("module", entity)


def generate_migrations(pack0: Pack0, target: str) -> dict[str, str]:
    """Up and down migration per entity, parents before children (contract order otherwise), keyed by path
    inside build/. Both targets get the same tables with row-level security by the tenant_id claim (Supabase's
    and the service's); supabase also gets the Supabase CLI layout."""
    files = {}
    for index, entity in enumerate(migration_order(pack0.entities), start=1):
        name = migration_name(index, entity)
        up = postgres_up(pack0.module, entity, pack0.entities)
        files[f"{MIGRATIONS_DIR}/{name}.up.sql"] = up
        files[f"{MIGRATIONS_DIR}/{name}.down.sql"] = postgres_down(pack0.module, entity, pack0.entities)
        if target == "supabase":
            stamp = SUPABASE_BASE_TIMESTAMP + index
            files[f"deploy/supabase/migrations/{stamp}_create_{entity.plural}.sql"] = up
    return {**files, DIGESTS_FILE: migration_digests(files)}


def migration_digests(files: dict[str, str]) -> str:
    """sha256sum's format, for deploy.sh: it applies only these files, as written (a migration planted beside
    them, or one changed, is refused). The list is a build file, so the evidence covers and signs it."""
    prefix = f"{MIGRATIONS_DIR}/"
    lines = [
        f"{sha256_bytes(text.encode('utf-8'))}  migrations/{path.removeprefix(prefix)}"
        for path, text in sorted(files.items())
        if path.startswith(prefix)
    ]
    return "".join(f"{line}\n" for line in lines)
