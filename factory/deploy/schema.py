"""One schema source: a Pack0 entity -> a table definition, rendered as PostgreSQL DDL (the migrations deploy.sh
applies) and as SQLite DDL (the embedded store the service makes itself). Both come from the same Table, so
the two stores cannot drift. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from factory.pack0.models import Entity, base_type, is_nullable

# The role the service switches to on PostgreSQL: no BYPASSRLS, not the owner, so row-level security applies.
SERVICE_ROLE = "lai_service"
# The tenant of the current transaction: the tenant_id claim Supabase puts in request.jwt.claims (its
# auth.jwt() reads the same setting), set by the service with set_config(..., true) per transaction.
TENANT_CLAIM = "(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'tenant_id')"
TENANT_MAX_LENGTH = 128


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Column:
    """A contract field as a column: its kind (how values are stored and read back) and its rules."""

    name: str
    kind: str  # text, integer, number, boolean, date, date-time, uuid, array
    not_null: bool = False
    max_length: int | None = None
    min_length: int | None = None
    enum: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: int | None = None  # integers only: SQL's modulo is exact, a float rule is not
    const: object = None
    nullable: bool = False
    default: tuple = ()  # (value,) when the contract declares one


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    # x-unique: (index name, fields), each unique together with tenant_id (tables.json maps the name back).
    uniques: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def check_name(self, column: str) -> str:
        """The column's CHECK constraint name: by position, short and plain (a name made of a random-looking
        field name reads as a secret to a scanner); tables.json maps it back to the field."""
        position = [item.name for item in self.columns].index(column) + 1
        return f"check_{position}"


def _kind(spec: dict) -> str:
    kind = base_type(spec)
    if kind == "string":
        return spec["format"] if spec.get("format") in ("date", "date-time", "uuid") else "text"
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(kind, "array")


def table_of(entity: Entity) -> Table:
    """The table an entity's records live in, on either store."""
    columns = []
    for name, spec in entity.properties.items():
        enum = tuple(value for value in spec.get("enum") or () if value is not None)
        step = spec.get("multipleOf")
        columns.append(
            Column(
                name=name,
                kind=_kind(spec),
                not_null=name in entity.required and not is_nullable(spec),
                max_length=spec.get("maxLength"),
                min_length=spec.get("minLength") or None,
                enum=enum if _kind(spec) != "array" else (),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                min_items=spec.get("minItems") or None,
                max_items=spec.get("maxItems"),
                exclusive_minimum=spec.get("exclusiveMinimum"),
                exclusive_maximum=spec.get("exclusiveMaximum"),
                multiple_of=step if _kind(spec) == "integer" and type(step) is int else None,
                const=spec.get("const") if _kind(spec) != "array" else None,
                nullable=is_nullable(spec),
                default=(spec["default"],) if "default" in spec else (),
            )
        )
    # Index names are per schema in PostgreSQL: the table's name keeps them apart.
    uniques = tuple((f"{entity.plural}_unique_{index}", fields) for index, fields in enumerate(entity.unique, 1))
    return Table(entity.plural, tuple(columns), ((f"{entity.plural}_tenant_id_idx", ("tenant_id",)),), uniques)


_PG_TYPES = {
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "date-time": "timestamptz",
    "uuid": "uuid",
    "array": "jsonb",
}
_SQLITE_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "INTEGER", "array": "TEXT"}


def _rules(column: Column, dialect: str) -> list[str]:
    """The column's CHECK conditions in one dialect (NULL passes a CHECK, so optional fields stay optional)."""
    c = quote_ident(column.name)
    length = "char_length" if dialect == "postgres" else "length"
    rules = []
    if column.enum:
        values = [int(v) if dialect == "sqlite" and isinstance(v, bool) else v for v in column.enum]
        rules.append(f"{c} IN ({', '.join(quote_literal(value) for value in values)})")
    if column.min_length:
        rules.append(f"{length}({c}) >= {column.min_length}")
    if column.max_length is not None:  # a CHECK, not varchar(n): its name tells which field was too long
        rules.append(f"{length}({c}) <= {column.max_length}")
    if column.minimum is not None:
        rules.append(f"{c} >= {quote_literal(column.minimum)}")
    if column.maximum is not None:
        rules.append(f"{c} <= {quote_literal(column.maximum)}")
    if column.exclusive_minimum is not None:
        rules.append(f"{c} > {quote_literal(column.exclusive_minimum)}")
    if column.exclusive_maximum is not None:
        rules.append(f"{c} < {quote_literal(column.exclusive_maximum)}")
    if column.multiple_of:
        rules.append(f"{c} % {column.multiple_of} = 0")
    if column.const is not None:
        rules.append(f"{c} = {_literal(column.const, column, dialect)}")
    if column.kind == "array":
        if dialect == "postgres":
            rules.append(f"jsonb_typeof({c}) = 'array'")
            count = f"jsonb_array_length({c})"
        else:
            rules.append(f"json_valid({c}) AND json_type({c}) = 'array'")
            count = f"json_array_length({c})"
        if column.min_items:
            rules.append(f"{count} >= {column.min_items}")
        if column.max_items is not None:
            rules.append(f"{count} <= {column.max_items}")
    if dialect == "sqlite":
        storage_class = {"integer": "integer", "number": "real", "boolean": "integer"}.get(column.kind, "text")
        rules.insert(0, f"typeof({c}) = '{storage_class}'")
        if column.kind == "boolean":
            rules.append(f"{c} IN (0, 1)")
    return rules


def _literal(value: object, column: Column, dialect: str) -> str:
    """A value of this column as SQL (JSON for arrays; 1/0 for SQLite's booleans)."""
    if value is None:
        return "NULL"
    if column.kind == "array":
        text = quote_literal(json.dumps(value))
        return f"{text}::jsonb" if dialect == "postgres" else text
    if dialect == "sqlite" and isinstance(value, bool):
        return "1" if value else "0"
    return quote_literal(value)


def _column_sql(table: Table, column: Column, dialect: str) -> str:
    types, fallback = (_PG_TYPES, "text") if dialect == "postgres" else (_SQLITE_TYPES, "TEXT")
    kind = types.get(column.kind, fallback)
    text = f"{quote_ident(column.name)} {kind}"
    if column.default:
        text += f" DEFAULT {_literal(column.default[0], column, dialect)}"
    text += " NOT NULL" if column.not_null else ""
    rules = _rules(column, dialect)
    if rules:
        condition = " AND ".join(f"({rule})" for rule in rules) if len(rules) > 1 else rules[0]
        if dialect == "sqlite":  # typeof(NULL) is 'null': an absent optional field must still pass
            condition = f"{quote_ident(column.name)} IS NULL OR ({condition})"
        text += f" CONSTRAINT {quote_ident(table.check_name(column.name))} CHECK ({condition})"
    return text


def create_table(table: Table, dialect: str) -> list[str]:
    """CREATE TABLE and its indexes, one statement per item, in the dialect ('postgres' or 'sqlite')."""
    pg = dialect == "postgres"
    lines = [
        "id uuid PRIMARY KEY DEFAULT gen_random_uuid()" if pg else "id TEXT PRIMARY KEY NOT NULL",
        f"tenant_id {'text' if pg else 'TEXT'} NOT NULL CHECK ("
        + ("char_length" if pg else "length")
        + f"(tenant_id) BETWEEN 1 AND {TENANT_MAX_LENGTH})",
    ]
    lines += [_column_sql(table, column, dialect) for column in table.columns]
    stamp = "timestamptz NOT NULL DEFAULT now()" if pg else "TEXT NOT NULL"
    lines += [f"created_at {stamp}", f"updated_at {stamp}"]
    body = ",\n  ".join(lines)
    statements = [f"CREATE TABLE {quote_ident(table.name)} (\n  {body}\n)"]
    for name, columns in table.indexes:
        statements.append(f"CREATE INDEX {quote_ident(name)} ON {quote_ident(table.name)} ({', '.join(columns)})")
    kinds = {column.name: column.kind for column in table.columns}
    for name, fields in table.uniques:
        # PostgreSQL's btree refuses an entry over ~2.7 kB, so a long text is indexed by its md5 (equal text, equal
        # hash): a long value stays storable, as on SQLite. NULLs are distinct on both stores.
        keys = [f"md5({quote_ident(f)})" if pg and kinds[f] == "text" else quote_ident(f) for f in fields]
        statements.append(
            f"CREATE UNIQUE INDEX {quote_ident(name)} ON {quote_ident(table.name)} (tenant_id, {', '.join(keys)})"
        )
    return statements


def row_level_security(table: Table) -> list[str]:
    """PostgreSQL only: every statement filtered to the transaction's tenant, for the owner too (FORCE), and
    the service's role granted the table (it has no BYPASSRLS and owns nothing)."""
    name = quote_ident(table.name)
    role = quote_ident(SERVICE_ROLE)
    return [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {quote_ident(table.name + '_tenant_isolation')} ON {name}\n"
        f"  USING (tenant_id = {TENANT_CLAIM})\n  WITH CHECK (tenant_id = {TENANT_CLAIM})",
        # Roles belong to the cluster: made once, kept by rollback (pg_dump of the database does not list them).
        f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN NOBYPASSRLS;"
        " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {role}",
    ]


def postgres_up(module: str, entity: Entity) -> str:
    """The text of the entity's up migration (its sha256 is the schema version the service checks)."""
    table = table_of(entity)
    statements = create_table(table, "postgres") + row_level_security(table)
    header = f"-- {module}: {entity.title}. Generated from contracts/{entity.name}.schema.json\n"
    return header + "".join(statement + ";\n" for statement in statements)


def postgres_down(module: str, entity: Entity) -> str:
    header = f"-- {module}: {entity.title}. Generated from contracts/{entity.name}.schema.json\n"
    return header + f"DROP TABLE IF EXISTS {quote_ident(entity.plural)};\n"


def migration_name(index: int, entity: Entity) -> str:
    return f"{index:04d}_create_{entity.plural}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def service_tables(module: str, entities: list[Entity]) -> dict:
    """What the generated service needs to keep its rows (src/<package>/tables.json): per resource its
    migration (version, name, sha256 of the PostgreSQL up file), its columns, its CHECK constraints by name
    (to name the field when the database refuses a row) and the SQLite DDL of the same table."""
    tables = []
    for index, entity in enumerate(entities, start=1):
        table = table_of(entity)
        tables.append(
            {
                "resource": entity.plural,
                "version": f"{index:04d}",
                "migration": migration_name(index, entity),
                "sha256": sha256_text(postgres_up(module, entity)),
                "columns": {column.name: column.kind for column in table.columns},
                "nullable": [column.name for column in table.columns if column.nullable],
                "checks": {table.check_name(column.name): column.name for column in table.columns},
                "unique": {name: list(fields) for name, fields in table.uniques},
                "sqlite": create_table(table, "sqlite"),
            }
        )
    return {"schema_version": 1, "service_role": SERVICE_ROLE, "tables": tables}
