"""PostgreSQL migrations from the entity contracts. Pure: Pack0 in, SQL text out."""

from __future__ import annotations

from factory.deploy.keyword_checks import column_default, keyword_checks
from factory.pack0.models import Entity, Pack0, base_type, is_nullable

DEPLOY_TARGETS = ("compose", "supabase")
MIGRATIONS_DIR = "deploy/migrations"
# Supabase CLI names migrations <timestamp>_<name>.sql; a fixed base keeps the output reproducible.
SUPABASE_BASE_TIMESTAMP = 20260101000000


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def column_type(spec: dict) -> str:
    kind = base_type(spec)
    if kind == "string":
        by_format = {"date": "date", "date-time": "timestamptz", "uuid": "uuid"}
        if spec.get("format") in by_format:
            return by_format[spec["format"]]
        return f"varchar({spec['maxLength']})" if "maxLength" in spec else "text"
    return {"integer": "bigint", "number": "double precision", "boolean": "boolean", "array": "jsonb"}[kind]


def column_checks(column: str, spec: dict) -> list[str]:
    checks = []
    options = [value for value in spec.get("enum", []) if value is not None]  # NULL passes a CHECK anyway
    if options:
        checks.append(f"{column} IN ({', '.join(quote_literal(value) for value in options)})")
    if spec.get("minLength"):
        checks.append(f"char_length({column}) >= {spec['minLength']}")
    if "minimum" in spec:
        checks.append(f"{column} >= {quote_literal(spec['minimum'])}")
    if "maximum" in spec:
        checks.append(f"{column} <= {quote_literal(spec['maximum'])}")
    if base_type(spec) == "array":
        checks.append(f"jsonb_typeof({column}) = 'array'")
    return checks + keyword_checks(column, spec)


def create_table_sql(entity: Entity, target: str) -> str:
    table = quote_ident(entity.plural)
    lines = [
        "id uuid PRIMARY KEY DEFAULT gen_random_uuid()",
        "tenant_id text NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 128)",
    ]
    for name, spec in entity.properties.items():
        column = quote_ident(name)
        not_null = " NOT NULL" if name in entity.required and not is_nullable(spec) else ""
        checks = "".join(f" CHECK ({check})" for check in column_checks(column, spec))
        lines.append(f"{column} {column_type(spec)}{column_default(spec)}{not_null}{checks}")
    lines += ["created_at timestamptz NOT NULL DEFAULT now()", "updated_at timestamptz NOT NULL DEFAULT now()"]
    body = ",\n  ".join(lines)
    statements = [
        f"CREATE TABLE {table} (\n  {body}\n);",
        f"CREATE INDEX {quote_ident(entity.plural + '_tenant_id_idx')} ON {table} (tenant_id);",
    ]
    if target == "supabase":
        claim = "(auth.jwt() ->> 'tenant_id')"
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;",
            f"CREATE POLICY {quote_ident(entity.plural + '_tenant_isolation')} ON {table}\n"
            f"  USING (tenant_id = {claim})\n  WITH CHECK (tenant_id = {claim});",
        ]
    return "\n".join(statements) + "\n"


def migration_name(index: int, entity: Entity) -> str:
    return f"{index:04d}_create_{entity.plural}"


def generate_migrations(pack0: Pack0, target: str) -> dict[str, str]:
    """Up and down migration per entity, in contract order, keyed by path inside build/."""
    files = {}
    for index, entity in enumerate(pack0.entities, start=1):
        name = migration_name(index, entity)
        header = (
            f"-- {pack0.module}: {entity.title} ({target} target). Generated from contracts/{entity.name}.schema.json\n"
        )
        up = header + create_table_sql(entity, target)
        files[f"{MIGRATIONS_DIR}/{name}.up.sql"] = up
        files[f"{MIGRATIONS_DIR}/{name}.down.sql"] = header + f"DROP TABLE IF EXISTS {quote_ident(entity.plural)};\n"
        if target == "supabase":
            stamp = SUPABASE_BASE_TIMESTAMP + index
            files[f"deploy/supabase/migrations/{stamp}_create_{entity.plural}.sql"] = up
    return files
