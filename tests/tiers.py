"""Which test files are the quick tier (`python3 -m pytest -m quick`, under 60 s on 2 cores) and which are not.

A file is QUICK when none of its tests makes a build (no crm_output, no auto-full that gets past its refusals):
the logic of a package checked on its own, the CLI's refusals, the generated service run from its generated
source (codegen alone, as the crm_source fixture). Not "fast here": a build that is fast on a warm cache/ is a
cold build on a fresh clone. The rest are SLOW; a test of a SLOW file that makes no build carries
@pytest.mark.quick itself. A new file goes in one of the two lists (tests/test_tiers.py fails until it does).
"""

from __future__ import annotations

QUICK = (
    "test_agents.py",
    "test_attack_http.py",
    "test_cli_zygote.py",
    "test_contract_language.py",
    "test_dependencies.py",
    "test_fuzz_pack0.py",
    "test_hostile_http.py",
    "test_import_graph.py",
    "test_llm_calls.py",
    "test_pack0.py",
    "test_references.py",
    "test_service_auth.py",
    "test_service_imports.py",
    "test_stream_reply.py",
    "test_tiers.py",
    "test_unique.py",
)

SLOW = (
    "test_attack2.py",
    "test_cli.py",
    "test_conformance_gate.py",  # no build, but it starts 16 services twice each (13 s)
    "test_conformance_llm.py",
    "test_frontend.py",  # real Chromium against a running service (no build, but browsers are slow to start)
    "test_frontend_a11y.py",
    "test_frontend_every_entity.py",
    "test_frontend_inputs.py",
    "test_config.py",
    "test_crash_safety.py",
    "test_deploy.py",
    "test_docker_gate.py",
    "test_evidence.py",
    "test_evidence_gaps.py",
    "test_evidence_memo.py",
    "test_evidence_state_machine.py",
    "test_evidence_trust.py",
    "test_factory_owns_build.py",
    "test_filters_sort.py",
    "test_fuzz_gate.py",
    "test_fuzz_slices.py",
    "test_gates.py",
    "test_heal.py",
    "test_hostile.py",
    "test_hostile_pack0_caps.py",
    "test_incremental.py",
    "test_leak_and_export.py",
    "test_llm_mode.py",
    "test_many.py",
    "test_noop.py",
    "test_odd_file_names.py",
    "test_pack0_property.py",
    "test_progress.py",
    "test_provenance.py",
    "test_readme_service.py",
    "test_report.py",
    "test_sandbox.py",
    "test_sandbox_reads.py",
    "test_secret_forms.py",
    "test_service.py",
    "test_shared_attack.py",
    "test_shared_results.py",
    "test_stores.py",
    "test_test_slices.py",
    "test_verify.py",
)
