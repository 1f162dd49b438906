"""Run inside the sandbox by the conformance gate: start the generated service the way the factory starts
every service (python -m PACKAGE --host --port --port-file, DATABASE_PATH), hold it to the plan that
conformance_plan.py derived from the Pack0, restart it on the same database, compare the database it made
with the contract's, and print the findings as one JSON line.

Usage: python -c "<this file>" PACKAGE PLAN (base64 of zlib-compressed JSON: a 20-entity plan fits in argv)
Only the standard library: it runs with the interpreter of the sandbox, never with the factory's code.
"""

import base64
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from pathlib import Path

MAX_FINDINGS = 200
MAX_EXCHANGES_PER_ANSWER = 3  # kept per (operation, status) for the gate's shape check
SERVICE_LOG_CHARS = 12_000
START_SECONDS = 30


def _short(value, limit=300):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Service:
    """The service as a user starts it: its own process, a port it chose, a database file that outlives it."""

    def __init__(self, package, temp):
        self.package, self.temp = package, Path(temp)
        self.database = self.temp / "conformance.sqlite3"
        self.log = open(self.temp / "service.log", "w+b")  # noqa: SIM115 - read back at the end
        self.process, self.base = None, ""

    def start(self):
        port_file = self.temp / "port"
        port_file.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": os.path.abspath("src"), "DATABASE_PATH": str(self.database)}
        argv = [sys.executable, "-m", self.package, "--host", "127.0.0.1", "--port", "0"]
        argv += ["--port-file", str(port_file)]
        self.process = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            if port_file.is_file() and port_file.read_text().strip():
                self.base = f"http://127.0.0.1:{port_file.read_text().strip()}"
                try:
                    urllib.request.urlopen(f"{self.base}/health", timeout=5).read()
                    return None
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        return (
            f"the service did not start under the factory's interface (python -m {self.package} --host 127.0.0.1 "
            f"--port 0 --port-file FILE, DATABASE_PATH set) within {START_SECONDS} s: {self.log_tail(1500)}"
        )

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log_tail(self, chars=SERVICE_LOG_CHARS):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-chars:]


class Answer:
    def __init__(self, status, body, curl):
        self.status, self.body, self.curl = status, body, curl

    def error_names(self, field):
        """Whether the error body names the field (in its fields list or its message)."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        if not isinstance(error, dict):
            return False
        named = [item.get("field") for item in error.get("fields") or [] if isinstance(item, dict)]
        return field in named or field in str(error.get("message", ""))

    def summary(self):
        return f"{self.status} {_short(self.body, 240)}"


class Judge:
    """Calls the service, counts the checks, and keeps one finding per failed check."""

    def __init__(self, plan, service):
        self.plan, self.service = plan, service
        self.findings, self.checks, self.exchanges, self.seen, self.last = [], 0, [], {}, None

    def call(self, method, path, tenant, body=None, query=None, operation=None):
        url = self.service.base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {self.plan["tenant_header"]: tenant, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        curl = ["curl", "-sS", "-X", method, url.replace(self.service.base, "$BASE", 1)]
        curl += [part for name, value in headers.items() for part in ("-H", f"{name}: {value}")]
        curl += ["-d", data.decode()] if data is not None else []
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as reply:
                status, raw = reply.status, reply.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError as error:
            status, raw = 0, f"no answer: {error}".encode()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")[:500]
        answer = self.last = Answer(status, parsed, " ".join(shlex.quote(part) for part in curl))
        label = operation or f"{method} {path}"
        key = (label, status)
        if self.seen.get(key, 0) < MAX_EXCHANGES_PER_ANSWER:
            self.seen[key] = self.seen.get(key, 0) + 1
            self.exchanges.append({"operation": label, "status": status, "body": parsed, "curl": answer.curl})
        return answer

    def expect(self, ok, check, operation, sent, answer, wanted):
        """One check; a failed one is a finding: what was sent, what came back, what the contract wants."""
        self.checks += 1
        if ok or len(self.findings) >= MAX_FINDINGS:
            return ok
        self.findings.append(
            {
                "operation": operation,
                "check": check,
                "sent": _short(sent),
                "got": answer.summary() if isinstance(answer, Answer) else _short(answer),
                "expected": wanted,
                # A check on what was read back: the last request made is the one to repeat.
                "curl": answer.curl if isinstance(answer, Answer) else getattr(self.last, "curl", ""),
            }
        )
        return ok


class Conformance:
    """The plan's checks, in an order where each one's records are known: parents before children."""

    def __init__(self, plan, judge):
        self.plan, self.judge = plan, judge
        self.entities = plan["entities"]
        self.by_name = {entity["name"]: entity for entity in self.entities}
        self.expected = {}  # (tenant, entity, id) -> the record as last read: what a restart must give back
        self.unreached = set()  # entities no valid record could be made of (their checks cannot run)
        self.parents = {}  # (tenant, entity, variant) -> a parent record made for a variant

    # -- records -------------------------------------------------------------------------------------------
    def body(self, entity, variant, tree, tenant=None):
        """A valid record: the contract's sample, the variant's distinct values, references into the tree. A
        reference in a unique set names a parent of its own per variant (made in tenant), else two variants
        would be duplicates whatever their other values."""
        distinct = entity["distinct"]
        record = {**entity["valid"], **(distinct[variant % len(distinct)] if distinct else {})}
        unique = {field for fields in entity["unique"] for field in fields}
        for field, ref in entity["refs"].items():
            parent = tree.get(ref["parent"]) if ref["parent"] != entity["name"] else None
            if parent is not None and variant and field in unique and tenant is not None:
                parent = self.parent_variant(ref["parent"], variant, tree, tenant) or parent
            if parent is not None:
                record[field] = parent
            elif ref["required"]:
                return None
            else:
                record[field] = None
        return record

    def parent_variant(self, name, variant, tree, tenant, varied=False):
        """The tenant's record of this entity and variant: made once, whoever needs it first (a child's
        unique reference, or the entity's own turn); varied tries the contract's other accepted values first."""
        key = (tenant, name, variant)
        if key not in self.parents:
            entity = self.by_name[name]
            record = self.body(entity, variant, tree, tenant)
            other = record and varied and self.varied(entity, record, variant)
            # Accepted one by one, the contract's values may still clash together (a rule across fields):
            # then the plain record stands in.
            made = other and other != record and self.create(entity, tenant, other, must=False)
            self.parents[key] = made or (record and self.create(entity, tenant, record))
        return self.parents[key]

    def create(self, entity, tenant, record, check="create", must=True):
        op = f"POST {entity['path']}"
        answer = self.judge.call("POST", entity["path"], tenant, record, operation=op)
        made = answer.status == 201 and isinstance(answer.body, dict) and isinstance(answer.body.get("id"), str)
        if not made and not must:
            return None
        if not self.judge.expect(made, check, op, record, answer, "201 with the record and its id"):
            return None
        stored = self.read(entity, tenant, answer.body["id"])
        kept = {name: value for name, value in record.items() if not self._comparable(entity, name, value, stored)}
        self.judge.expect(
            not kept and stored == answer.body,
            "create stores what was sent",
            op,
            record,
            f"read back: {_short(stored)}",
            "GET by id returns the created record, every field as sent",
        )
        if isinstance(stored, dict):
            self.expected[(tenant, entity["name"], answer.body["id"])] = stored
        return answer.body["id"]

    def _comparable(self, entity, name, value, stored):
        """Whether the stored value stands for the sent one (date-times may be normalised)."""
        if not isinstance(stored, dict):
            return False
        if name not in stored:  # a null may be left out of an answer
            return value is None
        form = entity["formats"].get(name)
        if form in ("date-time", "time") and isinstance(value, str):
            return isinstance(stored[name], str)
        if form == "uuid" and isinstance(value, str) and isinstance(stored[name], str):
            return stored[name].lower() == value.lower()  # a UUID's canonical form is lower case
        return stored[name] == value

    def read(self, entity, tenant, record_id):
        op = f"GET {entity['path']}/{{id}}"
        answer = self.judge.call("GET", f"{entity['path']}/{record_id}", tenant, operation=op)
        return answer.body if answer.status == 200 else None

    def tree(self, tenant, variant=0):
        """One record of every entity for the tenant, each reference naming the tenant's parent record."""
        ids = {}
        for entity in self.entities:
            record = self.body(entity, variant, ids, tenant)
            if record is None:
                self.unreached.add(entity["name"])
                continue
            made = self.create(entity, tenant, record)
            if made is None:
                self.unreached.add(entity["name"])
            else:
                ids[entity["name"]] = self.parents[(tenant, entity["name"], variant)] = made
        return ids

    def listing(self, entity, tenant, query=None):
        op = f"GET {entity['path']}"
        answer = self.judge.call("GET", entity["path"], tenant, query=query, operation=op)
        items = answer.body.get("items") if answer.status == 200 and isinstance(answer.body, dict) else None
        return answer, items if isinstance(items, list) else None

    # -- checks --------------------------------------------------------------------------------------------
    def run(self):
        tenant_a, tenant_b = self.plan["tenants"]
        self.a_tree = self.tree(tenant_a)
        for entity in self.entities:
            if entity["name"] in self.a_tree:
                for variant in (1, 2):
                    self.parent_variant(entity["name"], variant, self.a_tree, tenant_a, varied=True)
        self.a_records = {
            name: [made for variant in (0, 1, 2) if (made := self.parents.get((tenant_a, name, variant)))]
            for name in self.a_tree
        }
        self.b_tree = self.tree(tenant_b)
        for entity in self.entities:
            if entity["name"] in self.a_records:
                self.tenants(entity, tenant_a, tenant_b)
                self.lists(entity, tenant_a)
        for entity in self.entities:
            if entity["name"] not in self.unreached:
                self.validation(entity)
                self.uniqueness(entity)
                self.references(entity)
        for entity in self.entities:
            if entity["name"] not in self.unreached:
                self.delete_rules(entity)

    def varied(self, entity, record, variant):
        """Variant 2 takes every other accepted value the contract names (outside unique sets and references),
        so filters and sorts meet records that differ."""
        if variant != 2:
            return record
        unique = {field for fields in entity["unique"] for field in fields}
        varied, changed = dict(record), set()
        for case in entity["accepted"]:
            name = case["field"]
            if name not in unique | changed and name not in entity["refs"] and case["value"] != record.get(name):
                varied[name] = case["value"]
                changed.add(name)
        return varied

    def tenants(self, entity, tenant_a, tenant_b):
        a_ids = set(self.a_records[entity["name"]])
        path = entity["path"]
        queries = [None, {"limit": 100}] + [{"sort": field} for field in entity["filters"][:3]]
        sample = self.expected.get((tenant_a, entity["name"], self.a_records[entity["name"]][0]), {})
        queries += [
            {field: _query_value(sample[field])} for field in entity["filters"] if sample.get(field) is not None
        ]
        for query in queries:
            answer, items = self.listing(entity, tenant_b, query)
            seen = {item.get("id") for item in items or [] if isinstance(item, dict)}
            self.judge.expect(
                items is not None and not seen & a_ids,
                "tenants: a list never shows another tenant's records",
                f"GET {path}",
                {"tenant": tenant_b, "query": query},
                answer,
                f"200 and none of tenant {tenant_a}'s ids",
            )
        own = self.a_records[entity["name"]][0]
        before = self.expected.get((tenant_a, entity["name"], own))
        change = _one_change(entity, before)
        for method, body in (("GET", None), ("PATCH", change), ("DELETE", None)):
            if method == "PATCH" and change is None:
                continue
            op = f"{method} {path}/{{id}}"
            answer = self.judge.call(method, f"{path}/{own}", tenant_b, body, operation=op)
            self.judge.expect(
                answer.status == 404, "tenants: another tenant's record is not found", op, body, answer, "404"
            )
        after = self.read(entity, tenant_a, own)
        self.judge.expect(
            after == before,
            "tenants: another tenant's update or delete changes nothing",
            f"GET {path}/{{id}}",
            own,
            f"read back: {_short(after)}",
            "the record as its tenant left it",
        )

    def lists(self, entity, tenant):
        path, ids = entity["path"], self.a_records[entity["name"]]
        records = [
            self.expected[(tenant, entity["name"], made)]
            for made in ids
            if (tenant, entity["name"], made) in self.expected
        ]
        answer, items = self.listing(entity, tenant, {"limit": 100})
        listed = {item.get("id") for item in items or [] if isinstance(item, dict)}
        self.judge.expect(
            listed == set(ids),
            "lists: a list shows exactly the tenant's records",
            f"GET {path}",
            None,
            answer,
            f"the {len(ids)} records made",
        )
        for field in entity["filters"]:
            for value in {json.dumps(record.get(field)) for record in records if record.get(field) is not None}:
                value = json.loads(value)
                query = {field: _query_value(value), "limit": 100}
                answer, items = self.listing(entity, tenant, query)
                want = {record["id"] for record in records if record.get(field) == value}
                got = {item.get("id") for item in items or [] if isinstance(item, dict)}
                self.judge.expect(
                    items is not None and got == want,
                    "lists: a filter returns exactly the matching records",
                    f"GET {path}",
                    query,
                    answer,
                    f"200 and ids {sorted(want)}",
                )
        for field in entity["filters"][:4]:
            for sort in (field, f"-{field}"):
                self._sorted_pages(entity, tenant, sort, set(ids))
        query = {self.plan["unknown_parameter"]: "1"}
        answer, _items = self.listing(entity, tenant, query)
        self.judge.expect(
            answer.status == 422, "lists: an unknown parameter is refused", f"GET {path}", query, answer, "422"
        )

    def _sorted_pages(self, entity, tenant, sort, ids):
        """Pages of one record under a sort: each record once, in the sort's order, the same order twice."""
        field, descending = sort.lstrip("-"), sort.startswith("-")
        order, answer = [], None
        for offset in range(len(ids) + 1):
            answer, items = self.listing(entity, tenant, {"sort": sort, "limit": 1, "offset": offset})
            if items is None:
                break
            order += [item for item in items if isinstance(item, dict)]
        got = [item.get("id") for item in order]
        keys = [_sort_key(item.get(field)) for item in order]
        ordered = keys == sorted(keys, reverse=descending)
        _whole, again = self.listing(entity, tenant, {"sort": sort, "limit": 100})
        same = [item.get("id") for item in again or [] if isinstance(item, dict)] == got
        self.judge.expect(
            sorted(got) == sorted(ids) and len(got) == len(ids) and ordered and same,
            "lists: paging under a sort returns each record once, in order, the same every time",
            f"GET {entity['path']}",
            {"sort": sort, "limit": 1, "offset": f"0..{len(ids)}"},
            answer or "no answer",
            f"ids {sorted(ids)} once each, ordered by {sort}, as one page of 100 orders them",
        )

    def _scratch(self, entity):
        """A tenant of its own with one record of every entity (the entity's variant 0): the ground for the
        create and update checks, where a refused request must leave exactly that."""
        tenant = f"conformance-{entity['name'][:60]}-{uuid.uuid4().hex[:8]}"
        return tenant, self.tree(tenant)

    def validation(self, entity):
        tenant, tree = self._scratch(entity)
        own = tree.get(entity["name"])
        base = own and self.body(entity, 1, tree, tenant)
        if not base:
            return
        path = entity["path"]
        self.plain_update_and_delete(entity, tenant, own, base)
        for case in entity["invalid"]:
            record = {**base, case["field"]: case["value"]}
            op = f"POST {path}"
            answer = self.judge.call("POST", path, tenant, record, operation=op)
            self.judge.expect(
                answer.status == 422,
                f"validation: {case['field']} {case['rule']} refused on create",
                op,
                record,
                answer,
                "422",
            )
            if answer.status == 201 and isinstance(answer.body, dict):
                self.judge.call("DELETE", f"{path}/{answer.body.get('id')}", tenant, operation=f"DELETE {path}/{{id}}")
            change = {case["field"]: case["value"]}
            check = f"validation: {case['field']} {case['rule']} refused on update, nothing changed"
            self.refused_update(entity, tenant, own, change, 422, check, "422 and the record unchanged")
        answer, items = self.listing(entity, tenant, {"limit": 100})
        self.judge.expect(
            items is not None and len(items) == 1,
            "validation: a refused create stores nothing",
            f"GET {path}",
            {"tenant": tenant},
            answer,
            "only the one record made before",
        )
        unique = {field for fields in entity["unique"] for field in fields}
        for case in entity["accepted"]:
            kept = self.read(entity, tenant, own) or {}  # as the updates below left it
            if case["field"] in unique and kept.get(case["field"]) == case["value"]:
                continue  # the scratch tenant's own record holds it: a 409 is right there
            record = {**base, case["field"]: case["value"]}
            made = self.create(entity, tenant, record, f"validation: {case['field']} {case['rule']} accepted on create")
            if made:
                self.judge.call("DELETE", f"{path}/{made}", tenant, operation=f"DELETE {path}/{{id}}")
            change = {case["field"]: case["value"]}
            op = f"PATCH {path}/{{id}}"
            answer = self.judge.call("PATCH", f"{path}/{own}", tenant, change, operation=op)
            after = self.read(entity, tenant, own)
            self.judge.expect(
                answer.status == 200 and self._comparable(entity, case["field"], case["value"], after),
                f"validation: {case['field']} {case['rule']} accepted on update and stored",
                op,
                change,
                answer,
                "200 and the value stored",
            )

    def plain_update_and_delete(self, entity, tenant, own, base):
        """Every operation reached with a valid request, whatever values the contract names: an update that
        sets a field to the value it holds (200, nothing else changes), and the delete of a record nothing
        refers to (204, then 404)."""
        path, before = entity["path"], self.read(entity, tenant, own)
        if before:
            field = next((name for name in entity["fields"] if name in before), None)
            change = {field: before[field]} if field else {}
            op = f"PATCH {path}/{{id}}"
            answer = self.judge.call("PATCH", f"{path}/{own}", tenant, change, operation=op)
            after = self.read(entity, tenant, own)
            unchanged = isinstance(after, dict) and all(
                after.get(key) == value for key, value in before.items() if key != "updated_at"
            )
            self.judge.expect(
                answer.status == 200 and unchanged,
                "update: a valid update is accepted and changes only what it sets",
                op,
                change,
                answer,
                "200 and the record as it was",
            )
        made = self.create(entity, tenant, base)
        if made:
            op = f"DELETE {path}/{{id}}"
            answer = self.judge.call("DELETE", f"{path}/{made}", tenant, operation=op)
            gone = self.read(entity, tenant, made) is None
            self.judge.expect(
                answer.status == 204 and gone,
                "delete: a record nothing refers to is deleted",
                op,
                made,
                answer,
                "204, then 404",
            )

    def refused_update(self, entity, tenant, record_id, change, status, check, wanted, named=()):
        """A PATCH the contract refuses: answered with status (naming each field in named), the record unchanged."""
        path, before = entity["path"], self.read(entity, tenant, record_id)
        op = f"PATCH {path}/{{id}}"
        answer = self.judge.call("PATCH", f"{path}/{record_id}", tenant, change, operation=op)
        after = self.read(entity, tenant, record_id)
        refused = answer.status == status and all(answer.error_names(field) for field in named)
        return self.judge.expect(refused and after == before, check, op, change, answer, wanted)

    def uniqueness(self, entity):
        if not entity["unique"]:
            return
        tenant, tree = self._scratch(entity)
        first = tree.get(entity["name"])
        second = first and self.parent_variant(entity["name"], 1, tree, tenant)
        stored = first and self.read(entity, tenant, first)
        if not (second and stored):
            return
        path = entity["path"]
        for fields in entity["unique"]:
            values = {field: stored.get(field) for field in fields}
            if None in values.values():
                continue  # a null is never a duplicate (SQL's rule, both stores')
            record = {**self.body(entity, 2, tree, tenant), **values}
            op = f"POST {path}"
            answer = self.judge.call("POST", path, tenant, record, operation=op)
            self.judge.expect(
                answer.status == 409 and all(answer.error_names(field) for field in fields),
                f"uniqueness: a duplicate {'+'.join(fields)} is refused",
                op,
                record,
                answer,
                f"409 naming {', '.join(fields)}",
            )
            check = f"uniqueness: an update onto another record's {'+'.join(fields)} is refused"
            self.refused_update(entity, tenant, second, values, 409, check, "409 and the record unchanged")

    def references(self, entity):
        if not entity["refs"]:
            return
        tenant, tree = self._scratch(entity)
        own = tree.get(entity["name"])
        base = own and self.body(entity, 1, tree, tenant)
        if not base:
            return
        path = entity["path"]
        for field, ref in entity["refs"].items():
            foreign = self.b_tree.get(ref["parent"])
            for why, value in (("a missing", str(uuid.uuid4())), ("another tenant's", foreign)):
                if value is None:
                    continue
                record = {**base, field: value}
                op = f"POST {path}"
                answer = self.judge.call("POST", path, tenant, record, operation=op)
                self.judge.expect(
                    answer.status == 409 and answer.error_names(field),
                    f"references: {why} {ref['parent']} in {field} is refused on create",
                    op,
                    record,
                    answer,
                    f"409 naming {field}",
                )
                check = f"references: {why} {ref['parent']} in {field} is refused on update"
                wanted = f"409 naming {field}, the record unchanged"
                self.refused_update(entity, tenant, own, {field: value}, 409, check, wanted, named=(field,))

    def delete_rules(self, entity):
        """Delete the entity's record in a tenant holding one record of every entity: x-on-delete, recursively."""
        tenant, tree = self._scratch(entity)
        target = tree.get(entity["name"])
        outcome = self.plan["deletes"][entity["name"]]
        if target is None or any(name not in tree for name in outcome["gone"]):
            return
        before = {name: self.read(self.by_name[name], tenant, made) for name, made in tree.items()}
        op = f"DELETE {entity['path']}/{{id}}"
        answer = self.judge.call("DELETE", f"{entity['path']}/{target}", tenant, operation=op)
        wanted = outcome["status"]
        rule = "restrict: refused" if wanted == 409 else "deleted"
        self.judge.expect(answer.status == wanted, f"references: on delete, {rule}", op, target, answer, str(wanted))
        nulled = {(child, field) for child, field in outcome["nulled"]}
        for name, made in tree.items():
            after = self.read(self.by_name[name], tenant, made)
            if name in outcome["gone"]:
                ok, want = after is None, "gone (404)"
            elif wanted == 409:
                ok, want = after == before[name], "unchanged (the delete was refused)"
            else:
                fields = [field for child, field in nulled if child == name]
                ok = after is not None and all(after.get(field) is None for field in fields)
                ok = ok and all(
                    after.get(k) == v for k, v in (before[name] or {}).items() if k not in fields and k != "updated_at"
                )
                want = f"kept{', with ' + ', '.join(fields) + ' set to null' if fields else ''}"
            self.judge.expect(
                ok,
                f"references: deleting a {entity['name']} leaves each {name} as x-on-delete says",
                f"GET {self.by_name[name]['path']}/{{id}}",
                made,
                f"read back: {_short(after)}",
                want,
            )

    def before_restart(self):
        """An update and a delete of tenant A's records, so the restart checks them too."""
        tenant = self.plan["tenants"][0]
        referenced = {ref["parent"] for entity in self.entities for ref in entity["refs"].values()}
        for entity in self.entities:
            made = self.a_records.get(entity["name"], [])
            if len(made) < 3 or entity["name"] in referenced:  # a delete rule would change its children too
                continue
            key = (tenant, entity["name"], made[2])
            answer = self.judge.call(
                "DELETE", f"{entity['path']}/{made[2]}", tenant, operation=f"DELETE {entity['path']}/{{id}}"
            )
            if answer.status == 204:
                self.expected[key] = None
            change = _one_change(entity, self.expected.get((tenant, entity["name"], made[1])))
            if change:
                answer = self.judge.call(
                    "PATCH", f"{entity['path']}/{made[1]}", tenant, change, operation=f"PATCH {entity['path']}/{{id}}"
                )
                if answer.status == 200:
                    self.expected[(tenant, entity["name"], made[1])] = self.read(entity, tenant, made[1])

    def after_restart(self):
        for (tenant, name, made), record in self.expected.items():
            if tenant != self.plan["tenants"][0]:
                continue
            entity = self.by_name[name]
            after = self.read(entity, tenant, made)
            self.judge.expect(
                after == record,
                "persistence: a record reads back the same after a restart",
                f"GET {entity['path']}/{{id}}",
                made,
                f"read back: {_short(after)}",
                "deleted (404)" if record is None else f"as before: {_short(record)}",
            )


def _one_change(entity, record):
    """An update that changes one field to another accepted value (None: the contract gives none)."""
    if not record:
        return None
    unique = {field for fields in entity["unique"] for field in fields}
    for case in entity["accepted"]:
        name = case["field"]
        if name not in unique and name not in entity["refs"] and record.get(name) != case["value"]:
            return {name: case["value"]}
    return None


def _query_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _sort_key(value):
    """Nulls last ascending (first descending), as both stores order them."""
    return (value is None, value if value is not None else 0)


# -- the database the service made --------------------------------------------------------------------------
def schema_findings(plan, database, judge):
    """The rows a table of the contract's schema refuses, the service's database must refuse too: each of
    tenant A's rows, copied with one value out of contract (CHECK, NOT NULL), a duplicate (UNIQUE) or a dangling
    reference (FOREIGN KEY), is tried in the contract's DDL and in a copy of the service's database."""
    copy = Path(database).with_name("inspected.sqlite3")
    for suffix in ("", "-wal"):  # a WAL the service left unmerged holds its latest rows
        if Path(f"{database}{suffix}").is_file():
            shutil.copy(f"{database}{suffix}", f"{copy}{suffix}")
    # Autocommit: PRAGMA foreign_keys is a no-op inside a transaction, and each trial is its own savepoint.
    actual = sqlite3.connect(copy, isolation_level=None)
    contract = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for entity in plan["entities"]:
            _table_findings(entity, plan, actual, contract, judge)
    finally:
        actual.close()
        contract.close()


def _table_findings(entity, plan, actual, contract, judge):
    table = entity["table"]
    for statement in entity["ddl"]:
        contract.execute("PRAGMA foreign_keys = OFF")
        contract.executescript(statement)
    columns = [row[1] for row in contract.execute(f'PRAGMA table_info("{table}")')]
    present = [row[1] for row in actual.execute(f'PRAGMA table_info("{table}")')]
    missing = [column for column in columns if column not in present]
    operation = f"table {table}"
    if not judge.expect(
        not missing,
        "schema: the table has the contract's columns",
        operation,
        columns,
        f"columns: {present}",
        f"also {missing}",
    ):
        return
    _foreign_key_findings(entity, plan, actual, judge)
    rows = actual.execute(f'SELECT {", ".join(_q(c) for c in columns)} FROM "{table}" LIMIT 1').fetchall()
    if not rows:
        return
    row = dict(zip(columns, rows[0], strict=True))
    contract.execute("PRAGMA foreign_keys = OFF")
    if not judge.expect(
        not _refused(contract, table, row, keep=True),
        "schema: the rows the service stores fit the contract's table",
        operation,
        _short(row),
        "the contract's DDL refuses this row",
        "a row the contract's DDL keeps",
    ):
        return
    trials = [
        (f"{case['field']} {case['rule']}", {case["field"]: case["value"]})
        for case in entity["invalid"]
        if isinstance(case["value"], (str, int, float, type(None))) and not isinstance(case["value"], bool)
    ]
    trials += [(f"duplicate {'+'.join(fields)}", {}) for fields in entity["unique"]]
    for what, change in trials:
        copied = {**row, "id": str(uuid.uuid4()), **change}
        if not what.startswith("duplicate"):  # another tenant's row: a unique set must not refuse it instead
            copied["tenant_id"] = "conformance-trial"
        refused_by_contract = _refused(contract, table, copied)
        refused_by_service = _refused(actual, table, copied)
        if refused_by_contract:
            judge.expect(
                refused_by_service,
                f"schema: the database refuses a row with {what}",
                operation,
                _short(change or copied),
                "the service's database kept it",
                "refused, as the contract's DDL refuses it",
            )


def _foreign_key_findings(entity, plan, actual, judge):
    """Each reference is a foreign key to its parent's table, whatever the DDL's style (PRAGMA reads them all)."""
    tables = {other["name"]: other["table"] for other in plan["entities"]}
    keys = {(row[3], row[2]) for row in actual.execute(f'PRAGMA foreign_key_list("{entity["table"]}")')}
    for field, ref in entity["refs"].items():
        parent = tables.get(ref["parent"])
        judge.expect(
            (field, parent) in keys,
            f"schema: {field} is a foreign key to {parent}",
            f"table {entity['table']}",
            field,
            f"foreign keys: {sorted(keys)}",
            f"a FOREIGN KEY ({field}) REFERENCES {parent}, as the contract's DDL has",
        )


def _q(name):
    return '"' + name.replace('"', '""') + '"'


def _refused(connection, table, row, foreign_keys=False, keep=False):
    """Whether the database refuses the row; it is never kept unless keep (and accepted)."""
    connection.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    columns = list(row)
    insert = f'INSERT INTO "{table}" ({", ".join(map(_q, columns))}) VALUES ({", ".join("?" * len(columns))})'
    connection.execute("SAVEPOINT trial")
    try:
        connection.execute(insert, [row[column] for column in columns])
        refused = False
    except sqlite3.DatabaseError:
        refused = True
    if refused or not keep:
        connection.execute("ROLLBACK TO trial")
    connection.execute("RELEASE trial")
    return refused


def main():
    package = sys.argv[1]
    plan = json.loads(zlib.decompress(base64.b64decode(sys.argv[2])))
    started = time.monotonic()
    build = os.getcwd()
    result = {"findings": [], "checks": 0, "exchanges": []}
    with tempfile.TemporaryDirectory() as temp:
        service = Service(package, temp)
        judge = Judge(plan, service)
        os.chdir(temp)  # whatever the checks leave stays out of the build folder
        try:
            os.chdir(build)
            failed = service.start()
            os.chdir(temp)
            if failed:
                judge.expect(False, "start-up", "service", "", failed, "the service answers /health")
            else:
                conformance = Conformance(plan, judge)
                conformance.run()
                conformance.before_restart()
                service.stop()
                os.chdir(build)
                failed = service.start()
                os.chdir(temp)
                if failed:
                    judge.expect(
                        False,
                        "persistence: the service starts again on its database",
                        "service",
                        "",
                        failed,
                        "it answers /health",
                    )
                else:
                    conformance.after_restart()
                service.stop()
                if service.database.is_file():
                    schema_findings(plan, service.database, judge)
                else:
                    judge.expect(
                        False,
                        "schema: the database is where DATABASE_PATH says",
                        "service",
                        str(service.database),
                        "no such file",
                        "the service's SQLite file there",
                    )
                for name in sorted(conformance.unreached):
                    judge.expect(
                        False,
                        "every entity reached with a valid record",
                        f"POST {conformance.by_name[name]['path']}",
                        "",
                        "no record could be made",
                        "a 201 for the contract's valid sample",
                    )
        finally:
            service.stop()
            os.chdir(build)
        result.update(findings=judge.findings, checks=judge.checks, exchanges=judge.exchanges)
        result["service_log"] = service.log_tail()
        service.log.close()
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
