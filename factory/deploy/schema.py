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
class Reference:
    """A column holding the id of another table's record in the same tenant: a composite foreign key
    (tenant_id, column) -> parent (tenant_id, id), so a reference across tenants cannot exist."""

    column: str
    parent: str  # the parent's table (its plural)
    on_delete: str  # restrict, cascade, set-null


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    # x-unique: (index name, fields), each unique together with tenant_id (tables.json maps the name back).
    uniques: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    references: tuple[Reference, ...] = ()
    referenced: bool = False  # another table refers to it: UNIQUE (tenant_id, id) for the foreign keys

    def reference_name(self, column: str) -> str:
        """The foreign key's constraint name, by position like check_name; tables.json maps it to the field."""
        return "ref_" + self.check_name(column).removeprefix("check_")

    @property
    def record_key(self) -> str:
        return f"{self.name}_tenant_record_key"  # an index name: unique in the schema, not just the table

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


def table_of(entity: Entity, entities: tuple[Entity, ...] | list[Entity] = ()) -> Table:
    """The table an entity's records live in, on either store (entities: the Pack0's, to resolve references)."""
    plurals = {other.name: other.plural for other in entities}
    references = tuple(
        Reference(name, plurals[target], rule)
        for name, (target, rule) in entity.references.items()
        if target in plurals
    )
    referenced = any(target == entity.name for other in entities for target, _rule in other.references.values())
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
    indexes = [(f"{entity.plural}_tenant_id_idx", ("tenant_id",))]
    # Index names are per schema in PostgreSQL: the table's name keeps them apart.
    uniques = tuple((f"{entity.plural}_unique_{index}", fields) for index, fields in enumerate(entity.unique, 1))
    table = Table(entity.plural, tuple(columns), references=references, referenced=referenced)
    for ref in references:  # the delete rules and the child's list filter look rows up by (tenant_id, field)
        name = f"{entity.plural}_{table.reference_name(ref.column)}_idx"
        indexes.append((name, ("tenant_id", quote_ident(ref.column))))
    return Table(entity.plural, tuple(columns), tuple(indexes), uniques, references, referenced)


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


_ON_DELETE = {"restrict": "RESTRICT", "cascade": "CASCADE"}


def foreign_key(table: Table, ref: Reference, dialect: str) -> str:
    """The reference as a table constraint. SET NULL names its column on PostgreSQL (15+): a bare SET NULL
    would null tenant_id too. SQLite cannot name it, so there the key only refuses (RESTRICT) and the service
    nulls the field before it deletes the parent, in the same transaction."""
    action = _ON_DELETE.get(ref.on_delete) or (
        f"SET NULL ({quote_ident(ref.column)})" if dialect == "postgres" else "RESTRICT"
    )
    column = quote_ident(ref.column)
    return (
        f"CONSTRAINT {quote_ident(table.reference_name(ref.column))} FOREIGN KEY (tenant_id, {column}) "
        f"REFERENCES {quote_ident(ref.parent)} (tenant_id, id) ON DELETE {action}"
    )


def create_table(table: Table, dialect: str, references: tuple[Reference, ...] | None = None) -> list[str]:
    """CREATE TABLE and its indexes, one statement per item, in the dialect ('postgres' or 'sqlite').
    references: the foreign keys declared inline (default: all; a migration adds the others by ALTER TABLE)."""
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
    if table.referenced:
        lines.append(f"CONSTRAINT {quote_ident(table.record_key)} UNIQUE (tenant_id, id)")
    lines += [foreign_key(table, ref, dialect) for ref in (table.references if references is None else references)]
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


def migration_order(entities: tuple[Entity, ...] | list[Entity]) -> list[Entity]:
    """Parents before their children (contract order otherwise, so a Pack0 without references keeps its
    migrations). A cycle (optional or nullable somewhere, the loader checked) is broken at the first entity that
    may leave its missing parents out: the key pointing forward is added by the later parent's migration (ALTER
    TABLE), and dropped by its down migration first."""
    pending, ordered = list(entities), []
    while pending:
        placed = {entity.name for entity in ordered}
        ready = next(
            (
                entity
                for strict in (True, False)  # else the first whose missing parents it may leave out (a cycle)
                for entity in pending
                if all(
                    target in placed or target == entity.name or not (strict or entity.reference_is_required(field))
                    for field, (target, _rule) in entity.references.items()
                )
            ),
            pending[0],
        )
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def _split_references(entity: Entity, entities: tuple[Entity, ...] | list[Entity]) -> tuple[tuple, list]:
    """(the keys the entity's own CREATE TABLE declares, [(earlier table, key)] its migration adds by ALTER)."""
    order = [other.name for other in migration_order(entities)] if entities else [entity.name]
    position = order.index(entity.name)
    by_plural = {other.plural: other.name for other in entities}
    own = tuple(ref for ref in table_of(entity, entities).references if order.index(by_plural[ref.parent]) <= position)
    later = [
        (table, ref)
        for other in entities
        if other.name in order[:position]
        for table in [table_of(other, entities)]
        for ref in table.references
        if ref.parent == entity.plural
    ]
    return own, later


def postgres_up(module: str, entity: Entity, entities: tuple[Entity, ...] | list[Entity] = ()) -> str:
    """The text of the entity's up migration (its sha256 is the schema version the service checks)."""
    table = table_of(entity, entities)
    own, later = _split_references(entity, entities) if entities else ((), [])
    statements = create_table(table, "postgres", own) + row_level_security(table)
    statements += [
        f"ALTER TABLE {quote_ident(child.name)} ADD {foreign_key(child, ref, 'postgres')}" for child, ref in later
    ]
    header = f"-- {module}: {entity.title}. Generated from contracts/{entity.name}.schema.json\n"
    return header + "".join(statement + ";\n" for statement in statements)


def postgres_down(module: str, entity: Entity, entities: tuple[Entity, ...] | list[Entity] = ()) -> str:
    """Drops what the up migration made: first the keys it added to earlier tables, then its table."""
    _own, later = _split_references(entity, entities) if entities else ((), [])
    header = f"-- {module}: {entity.title}. Generated from contracts/{entity.name}.schema.json\n"
    drops = "".join(
        f"ALTER TABLE IF EXISTS {quote_ident(child.name)} DROP CONSTRAINT IF EXISTS "
        f"{quote_ident(child.reference_name(ref.column))};\n"
        for child, ref in later
    )
    return header + drops + f"DROP TABLE IF EXISTS {quote_ident(entity.plural)};\n"


def migration_name(index: int, entity: Entity) -> str:
    return f"{index:04d}_create_{entity.plural}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def service_tables(module: str, entities: tuple[Entity, ...] | list[Entity]) -> dict:
    """What the generated service needs to keep its rows (src/<package>/tables.json): per resource its
    migration (version, name, sha256 of the PostgreSQL up file), its columns, its CHECK constraints by name
    (to name the field when the database refuses a row), its references both ways and the SQLite DDL of the
    same table, in migration order."""
    tables = []
    by_plural = {entity.plural: entity.name for entity in entities}
    all_tables = [table_of(entity, entities) for entity in entities]
    for index, entity in enumerate(migration_order(entities), start=1):
        table = table_of(entity, entities)
        tables.append(
            {
                "resource": entity.plural,
                "version": f"{index:04d}",
                "migration": migration_name(index, entity),
                "sha256": sha256_text(postgres_up(module, entity, entities)),
                "columns": {column.name: column.kind for column in table.columns},
                "nullable": [column.name for column in table.columns if column.nullable],
                "checks": {table.check_name(column.name): column.name for column in table.columns},
                "references": {
                    ref.column: {
                        "resource": ref.parent,
                        "name": by_plural[ref.parent],
                        "on_delete": ref.on_delete,
                        "constraint": table.reference_name(ref.column),
                    }
                    for ref in table.references
                },
                "referenced_by": [
                    {"resource": child.name, "field": ref.column, "on_delete": ref.on_delete}
                    for child in all_tables
                    for ref in child.references
                    if ref.parent == entity.plural
                ],
                "unique": {name: list(fields) for name, fields in table.uniques},
                "sqlite": create_table(table, "sqlite"),
            }
        )
    return {"schema_version": 1, "service_role": SERVICE_ROLE, "tables": tables}
