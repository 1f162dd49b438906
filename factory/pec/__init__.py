"""PEC evidence: run_report.json, approval.json, manifest.json and pipeline_result.json."""
