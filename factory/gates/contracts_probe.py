"""Run inside the sandbox by the contracts gate (standard library only): start the generated service on
127.0.0.1, call each planned operation, print what it answered as JSON.

Usage: python -c "<this file>" PACKAGE PLAN_JSON   (plan: [{"op", "method", "path", "body", "refs"}]; refs: a
body field -> the collection whose last created record it must name; {id} is the path's own last record)
"""

import http.client
import importlib
import json
import sys
import tempfile


def main():
    package, plan = sys.argv[1], json.loads(sys.argv[2])
    sys.path.insert(0, "src")
    server_module = importlib.import_module(f"{package}.server")
    with tempfile.TemporaryDirectory() as temp:
        server = server_module.make_server("127.0.0.1", 0, f"{temp}/probe.sqlite3")
        server_module.start_in_thread(server)
        port, results, last_ids = server.server_address[1], [], {}
        try:
            for step in plan:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                body = step["body"]
                if body is not None:
                    parents = {key: last_ids.get(path, "none") for key, path in step["refs"].items()}
                    body = json.dumps({**body, **parents})
                collection = step["path"].removesuffix("/{id}")
                headers = {"Content-Type": "application/json", "X-Tenant-ID": "contracts-gate"}
                target = step["path"].replace("{id}", last_ids.get(collection, "none"))
                connection.request(step["method"].upper(), target, body, headers)
                response = connection.getresponse()
                raw = response.read()
                connection.close()
                if step["method"] == "post" and response.status == 201:
                    last_ids[step["path"]] = json.loads(raw)["id"]
                results.append({"op": step["op"], "status": response.status})
        finally:
            server.shutdown()
            server.server_close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
