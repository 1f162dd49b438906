"""The SQL both stores share, built from tables.json and a placeholder mark ("?" for SQLite, "%s" for
PostgreSQL): a list's conditions and order, and the references between resources (x-references).

Names come from tables.json only, quoted; values are always parameters. Each dialect runs these statements
through its own fetch/execute, inside its own transaction.

Query operators (ranges, "in", text search) go here: listing.py parses and checks a list's parameters into
filters; list_sql turns the filters into conditions, for both stores at once. Paging is LIMIT/OFFSET in each
dialect's list().

References: a reference must name a record of the same tenant (else 409 naming the field), and deleting a
record applies each referencing field's rule (restrict: 409 naming the resource; cascade: its records go too,
recursively; set-null: the field is nulled). The foreign keys in the tables say the same; these checks run
first, in the delete's transaction, so the client is told which field or resource is in the way.
"""

from __future__ import annotations

from .errors import StoreError
from .records import storable

CHUNK = 500  # ids per IN (...): well under both databases' parameter limits


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def list_sql(table, filters, sort, dialect):
    """(the WHERE conditions after the tenant's, the stored filter values, the ORDER BY) of a list. A stable
    order: NULLs last ascending (first descending) on both stores, text by code point (COLLATE "C" on
    PostgreSQL, SQLite's binary), id last."""
    mark = "%s" if dialect == "postgres" else "?"
    values = storable(table, filters)
    conditions = "".join(f" AND {quoted(name)} = {mark}" for name in values)
    if not sort:
        return conditions, values, "created_at, id"
    keys = []
    for name, descending in sort:
        column, direction = quoted(name), " DESC" if descending else ""
        collate = ' COLLATE "C"' if dialect == "postgres" and table["columns"][name] == "text" else ""
        keys.append(f"({column} IS NULL){direction}, {column}{collate}{direction}")
    return conditions, values, ", ".join(keys) + ", id"


def check_references(table, values, tenant_id, fetch, mark):
    """409 naming the first field whose id is no record of this tenant. fetch(sql, params) -> rows."""
    for field, reference in table.get("references", {}).items():
        value = values.get(field)
        if value is None:
            continue
        found = fetch(
            f"SELECT 1 FROM {quoted(reference['resource'])} WHERE tenant_id = {mark} AND id = {mark}",
            (tenant_id, str(value)),
        )
        if not found:
            raise StoreError(409, "conflict", f"no {reference['name']} with this id for this tenant", field)


def _chunks(ids):
    ids = list(ids)
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def delete_dependents(tables, resource, ids, tenant_id, fetch, execute, mark, stamp, gone=None):
    """Apply the delete rules of every reference to these records of `resource` (children first). `gone`: the
    (resource, id) pairs this delete removes, so a cycle of cascades ends and restrict ignores them."""
    gone = set() if gone is None else gone
    gone.update((resource, record_id) for record_id in ids)
    for child in tables[resource].get("referenced_by", []):
        name, field, rule = child["resource"], quoted(child["field"]), child["on_delete"]
        for part in _chunks(ids):
            where = f"tenant_id = {mark} AND {field} IN ({', '.join(mark for _ in part)})"
            params = (tenant_id, *part)
            if rule == "set-null":
                execute(
                    f"UPDATE {quoted(name)} SET {field} = NULL, updated_at = {mark} WHERE {where}", (stamp, *params)
                )
                continue
            rows = [str(row[0]) for row in fetch(f"SELECT id FROM {quoted(name)} WHERE {where}", params)]
            rows = [record_id for record_id in rows if (name, record_id) not in gone]
            if not rows:
                continue
            if rule == "restrict":
                raise StoreError(
                    409,
                    "conflict",
                    f"{name} still refer to this record ({child['field']}): delete or change them first",
                    f"{name}.{child['field']}",
                )
            delete_dependents(tables, name, rows, tenant_id, fetch, execute, mark, stamp, gone)
            for ids_part in _chunks(rows):
                marks = ", ".join(mark for _ in ids_part)
                statement = f"DELETE FROM {quoted(name)} WHERE tenant_id = {mark} AND id IN ({marks})"
                execute(statement, (tenant_id, *ids_part))
