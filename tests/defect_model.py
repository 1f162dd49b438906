"""A test model (beside fake_llm.py's) that writes the reference service with planted defects and weak tests:
the engine's own slices, with text replaced in the service and every test but the contract tests left out
(the model "forgot" the ones that would catch the defects). Its Healer either restores the files it broke
(`heals`) or answers with a cosmetic change that fixes nothing.
"""

from __future__ import annotations

import json

from fake_llm import EngineBackedModel, Scripted

from factory.engine.codegen import generate_source
from factory.pack0.load import load_pack0

# The defects of issue 25's table that no generated contract test or single-tenant fuzzer notices:
# (file under the package, text, replacement)
# Each replacement as long as its text at most: the reply stays lint-clean, as a careful model's would.
TENANT_BLIND_LIST = ("storage.py", "WHERE tenant_id = ?{conditions}", "WHERE (? OR 1){conditions}")
TENANT_BLIND_GET = (
    "storage.py",
    'row = self._db.execute(self._select(table) + " WHERE tenant_id = ? AND id = ?", (tenant_id, record_id))',
    'row = self._db.execute(self._select(table) + " WHERE (? OR 1) AND id = ?", (tenant_id, record_id))',
)
IN_MEMORY = ("storage.py", "        return Store(path)\n", "        return Store(':memory:')\n")
WEAK_TEST_ROOTS = ("tests/unit/", "tests/integration/", "tests/e2e/")


class DefectModel(EngineBackedModel):
    def __init__(self, pack0_dir, defects: list[tuple[str, str, str]], *, heals: bool) -> None:
        super().__init__(pack0_dir)
        self.defects, self.heals = defects, heals
        self.planted: set[str] = set()

    def _planted(self, path: str, text: str) -> str:
        package = load_pack0(self.pack0_dir).package
        for relative, old, new in self.defects:
            if path == f"src/{package}/{relative}":
                assert old in text, f"the defect's text is gone from {path}: {old!r}"
                text = text.replace(old, new)
                self.planted.add(path)
        return text

    def __call__(self, agent: str, slice_name: str, body: dict) -> Scripted:
        if agent == "healer":
            reference = generate_source(load_pack0(self.pack0_dir))
            if self.heals:
                files = [{"path": path, "content": reference[path]} for path in sorted(self.planted)]
                return Scripted(json.dumps({"diagnosis": "restored the tenant filters", "files": files}))
            path = sorted(self.planted)[0]
            current = next(part for part in body["messages"][0]["content"].split("\n--- ") if part.startswith(path))
            changed = current.split("\n", 1)[1] + "\n# reviewed\n"
            return Scripted(json.dumps({"diagnosis": "looks fine", "files": [{"path": path, "content": changed}]}))
        reply = json.loads(super().__call__(agent, slice_name, body).text)
        if agent == "codegen":
            for item in reply["files"]:
                item["content"] = self._planted(item["path"], item["content"])
        if agent == "testgen":
            reply["files"] = [item for item in reply["files"] if not item["path"].startswith(WEAK_TEST_ROOTS)]
        return Scripted(json.dumps(reply), obeys_max_tokens=True)
