"""lai-pack: argument parsing and the visible pipeline of steps. The work happens in doit tasks (rules/)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from factory import __version__
from factory.config import DEFAULT_MODEL, DEPLOY_TARGETS, BuildConfig, config_from_settings
from factory.errors import FactoryError, InputError
from factory.gates.result import GATE_ORDER
from factory.settings import (
    CACHE_DIR_ENV,
    PROVIDERS,
    SANDBOXES,
    SETTINGS,
    effective_settings,
    effective_values,
    settings_files_notice,
)

if TYPE_CHECKING:
    from factory.many import ManyBuild
    from factory.results_cache import SharedResults

# Only what parsing the command line needs is imported here: each command imports its own work when it runs,
# so `lai-pack --help` and a no-op build load neither doit's task code nor the models, agents or gates.

EXIT_APPROVED, EXIT_NOT_APPROVED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that override a setting (see factory/settings.py): builds and `lai-pack config` share them."""
    parser.add_argument("--max-heal", type=int, default=None, help="most self-heal tries (default: Pack0 budget, 5)")
    parser.add_argument("--model", default=None, help=f"model for LLM mode (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--model-price",
        default=None,
        help="USD per million tokens 'input,output,cache_write,cache_read' for a model the price table lacks",
    )
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=None,
        help="auto: anthropic if ANTHROPIC_API_KEY is set, else openai-compatible if LAI_OPENAI_BASE_URL, else offline",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help=f"agent reply cache (default ${CACHE_DIR_ENV} or ./cache)"
    )
    parser.add_argument(
        "--base-image",
        default=None,
        help="base image of the docker gate's build (default $LAI_BASE_IMAGE, else the Dockerfile's python:3.12-slim)",
    )
    parser.add_argument(
        "--sandbox",
        choices=SANDBOXES,
        default=None,
        help="where generated code runs (docker, bwrap, none); auto: the first that works here",
    )
    parser.add_argument(
        "--waive",
        action="append",
        default=[],
        choices=GATE_ORDER,
        metavar="GATE",
        help=f"let approval pass a gate that failed or could not run ({', '.join(GATE_ORDER)}); repeatable",
    )


def _add_build_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--module",
        required=True,
        action="append",
        help="module name, e.g. crm-contacts; auto-full takes several (each built in OUT/<module>/)",
    )
    parser.add_argument("-j", "--jobs", type=int, default=1, help="with several modules: how many at once")
    parser.add_argument("--out", required=True, type=Path, help="output folder (pack0/ and build/ go in it)")
    _add_setting_flags(parser)
    parser.add_argument("--sign-key", type=Path, default=None, help="sign manifest.json with this Ed25519 key")
    parser.add_argument("--test-timeout", type=int, default=None, help="seconds a test command may run (default 300)")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="print only the result line")
    shown.add_argument("--json", action="store_true", help="print pipeline_result.json to stdout and nothing else")
    parser.add_argument("--auto-deploy", action="store_true", help="make deploy artifacts; apply if DATABASE_URL")
    parser.add_argument("--deploy-target", choices=DEPLOY_TARGETS, default="compose")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lai-pack",
        description="Turn a module name or a Pack0 spec pack into a tested, gated, evidenced module.",
        epilog="Exit codes: 0 approved, 1 finished but not approved (tests or gates failed), 2 bad usage or input.",
    )
    parser.add_argument("--version", action="version", version=f"lai-pack {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    full = commands.add_parser("auto-full", help="Pack0 from the module name, then build, test, gate, evidence")
    _add_build_flags(full)
    full.add_argument("--brief", default="", help="one paragraph on what the module is for (goes into the SRS)")
    build = commands.add_parser("auto-build", help="build from an existing Pack0 folder")
    _add_build_flags(build)
    build.add_argument("--pack0", required=True, type=Path, help="the Pack0 folder (pack0-NAME-0.0.1/)")
    pack0 = commands.add_parser("pack0", help="write a Pack0 only")
    pack0.add_argument("--module", required=True)
    pack0.add_argument("--out", required=True, type=Path, help="folder to create pack0-NAME-0.0.1/ in")
    pack0.add_argument("--brief", default="")
    config = commands.add_parser("config", help="the effective settings and where each comes from")
    _add_setting_flags(config)
    status = commands.add_parser("status", help="a short summary of a build: approved, gates, heal tries, cost")
    status.add_argument("out", type=Path)
    verify = commands.add_parser("verify", help="recompute and check the evidence chain of an output (or team pack)")
    verify.add_argument("out", type=Path)
    verify.add_argument("--public-key", type=Path, default=None, help="also check manifest.json.sig with this key")
    verify.add_argument("--expect-pack0", type=Path, default=None, help="the Pack0 folder it must be built from")
    keygen_parser = commands.add_parser("keygen", help="make an Ed25519 key pair for --sign-key")
    keygen_parser.add_argument("--out", type=Path, default=Path("."), help="folder for lai-pack.key and lai-pack.pub")
    leaks = commands.add_parser("leak-check", help="find secrets, API key values and machine paths in a folder")
    leaks.add_argument("path", type=Path)
    export = commands.add_parser("export-team-pack", help="a reproducible archive of Pack0 + build + evidence")
    export.add_argument("out", type=Path)
    export.add_argument("--to", type=Path, required=True, help="the .tar.gz to write")
    cache = commands.add_parser("cache", help="the content-hashed agent reply cache")
    cache.add_argument("action", choices=("stats", "clear"))
    cache.add_argument("--cache-dir", type=Path, default=None)
    cache.add_argument("--slice", default=None, help="clear: only the replies of this slice (core, an entity)")
    cache.add_argument("--agent", default=None, help="clear: only the replies of this agent (codegen, healer, ...)")
    return parser


def setting_flags(args: argparse.Namespace) -> dict[str, object]:
    """The settings the user gave as flags (None where not given: a lower layer decides)."""
    return {name: getattr(args, name, None) for name in SETTINGS}


def config_from_args(args: argparse.Namespace, module: str, out: Path) -> BuildConfig:
    return config_from_settings(
        effective_values(Path.cwd(), setting_flags(args)),
        module=module,
        out=out,
        pack0_source=getattr(args, "pack0", None),
        brief=getattr(args, "brief", ""),
        auto_deploy=args.auto_deploy,
        deploy_target=args.deploy_target,
        sign_key=args.sign_key,
        test_timeout=args.test_timeout,
        output="json" if args.json else "quiet" if args.quiet else "normal",
    )


def _shown(path: Path) -> str:
    """A path as the user would write it: relative to the working folder when inside it."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def run_pipeline(config: BuildConfig) -> int:
    from factory.fsutil import remove_stale_temp_files
    from factory.lock import lock_output
    from factory.pec.memo import evidence_verifies
    from factory.pec.ownership import quarantine_planted
    from factory.preflight import remember
    from rules import namespace
    from rules.reporter import run_doit

    lock_output(config.out)
    remove_stale_temp_files(config.out)
    if config.output == "normal":
        shown = f"{config.module} -> {_shown(config.out)} (provider {config.provider})"
        print(f"lai-pack {__version__}: {shown}", flush=True)
    for line in quarantine_planted(config.out):
        print(f"lai-pack: {line}", file=sys.stderr, flush=True)
    if notice := settings_files_notice(Path.cwd()):
        print(f"lai-pack: {notice}", file=sys.stderr, flush=True)
    started = time.time()
    status = run_doit(namespace(config), ["auto_full"])
    approval_path, result_path = config.layout.evidence("approval"), config.layout.evidence("pipeline_result")
    if status != 0 and approval_path.is_file() and approval_path.stat().st_mtime < started:
        from factory.stages.record import stopped_evidence

        # No stage failed (those write their own evidence): the evidence left is an earlier run's.
        stopped_evidence(config, f"doit stopped with exit {status} before a stage failed")
    # A failed stage writes NOT APPROVED evidence naming it (factory/stages/record.py); only when there is
    # none, or a stage after it failed, did the run stop before its evidence.
    approved = approval_path.is_file() and json.loads(approval_path.read_text(encoding="utf-8"))["approved"]
    if status != 0 and approval_path.is_file() and not approved:
        print(f"lai-pack: a stage failed; see {_shown(config.layout.pipeline_log)}", file=sys.stderr)
    elif status != 0 or not approval_path.is_file():
        log = _shown(config.layout.pipeline_log)
        print(f"lai-pack: the pipeline stopped before its evidence; see {log}", file=sys.stderr)
        if config.output == "json":
            print(
                json.dumps(
                    {
                        "module": config.module,
                        "approved": False,
                        "exit_code": EXIT_NOT_APPROVED,
                        "error": "the pipeline stopped before its evidence",
                    }
                )
            )
        return EXIT_NOT_APPROVED
    if status == 0:
        remember(config)
        if approval_path.stat().st_mtime >= started:
            # Evidence written by this run: remember that it verifies, so the next no-op need not verify it.
            evidence_verifies(str(config.out), str(config.sign_key or ""))
    approval = json.loads(approval_path.read_text(encoding="utf-8"))
    code = EXIT_APPROVED if approval["approved"] else EXIT_NOT_APPROVED
    if config.output == "json":
        sys.stdout.write(result_path.read_text(encoding="utf-8"))
        return code
    gates = ", ".join(f"{name} {approval['gates'][name]}" for name in GATE_ORDER)
    if approval["approved"]:
        print(f"APPROVED: {config.module} in {_shown(config.layout.build_dir)} (tests passed; gates: {gates})")
        return code
    print(f"NOT APPROVED: {'; '.join(approval['reasons'])}")
    if config.output == "normal":
        print(f"  details: {_shown(config.layout.evidence('run_report'))}, {_shown(config.layout.pipeline_log)}")
    return code


def write_pack0_only(module: str, out: Path, brief: str) -> int:
    from factory.fsutil import write_if_changed, write_new_tree
    from factory.pack0.generate import generate_pack0, pack0_dirname

    BuildConfig(module=module, out=out).check()
    target = out / pack0_dirname(module)
    files = generate_pack0(module, brief)
    kept = [path for path in files if (target / path).exists()]
    if not target.exists():
        write_new_tree(target, files)
    else:
        for path, text in files.items():
            if path not in kept:
                write_if_changed(target / path, text)
    print(f"Pack0 for {module}: {target} ({len(files) - len(kept)} files written, {len(kept)} existing kept)")
    return EXIT_APPROVED


def cache_command(action: str, directory: Path | None, agent: str | None = None, slice_name: str | None = None) -> int:
    # The same folder a build would use: flag, env, lai-factory.toml, pyproject, default.
    from factory.llm.cache import ReplyCache

    cache_dir, _source = effective_settings(Path.cwd(), {"cache_dir": directory})["cache_dir"]
    cache = ReplyCache(Path(cache_dir))
    if action == "stats":
        stats = cache.stats()
        print(f"cache {stats['directory']}: {stats['entries']} replies, {stats['bytes']} bytes")
    else:
        which = " ".join(f"{kind} {name}" for kind, name in (("agent", agent), ("slice", slice_name)) if name)
        removed = cache.clear(agent=agent, slice_name=slice_name)
        print(f"cache {cache.directory}: {removed} replies{' of ' + which if which else ''} removed")
    cache.close()
    return 0


def verify_command(out: Path, public_key: Path | None, expect_pack0: Path | None = None) -> int:
    from factory.pec.pinning import checked
    from factory.pec.verify import TEAM_PACK_MANIFEST

    if not out.is_dir():
        raise InputError("not a folder", file=str(out))
    team_pack = (out / TEAM_PACK_MANIFEST).is_file()
    configured = effective_settings(Path.cwd(), {}).get("public_key")
    problems, proven = checked(out, public_key, configured, expect_pack0)
    for problem in problems:
        print(problem)
    for line in proven:  # (with problems, stdout lists only them: one per line, for scripts)
        print(f"verify: {line}", file=sys.stderr if problems else sys.stdout)
    if problems:
        print(f"verify: {len(problems)} problem(s) in {out}", file=sys.stderr)
        return EXIT_NOT_APPROVED
    print(f"verify: intact: {out}{' (team pack)' if team_pack else ''}")
    return EXIT_APPROVED


def existing_shared_results() -> SharedResults | None:
    """The shared results a build here would use (its cache folder: env, lai-factory.toml, pyproject,
    default), when that folder exists: leak-check and export then reuse the secret scans builds made, and
    never create a cache folder where no build ran."""
    from factory.results_cache import SharedResults

    try:
        cache_dir = Path(effective_values(Path.cwd(), {})["cache_dir"])
    except InputError:  # a broken settings file: said by the commands that build; here only nothing is reused
        return None
    return SharedResults(cache_dir) if cache_dir.is_dir() else None


def leak_check_command(path: Path) -> int:
    from factory.pec.leaks import files_to_check, leak_scan

    if not path.exists():
        raise InputError("no such file or folder", file=str(path))
    files = files_to_check(path)
    findings, scanned = leak_scan(path, files, existing_shared_results())
    for finding in findings:
        print(finding)
    checked = len(files)
    known = f"; {scanned} file contents scanned now, the others' findings known" if scanned < checked else ""
    print(
        f"leak-check: {len(findings)} finding(s) in {checked} files{known}",
        file=sys.stderr if findings else sys.stdout,
    )
    return EXIT_NOT_APPROVED if findings else EXIT_APPROVED


def build_many(args: argparse.Namespace) -> int:
    from factory.many import ManyBuild

    if args.command != "auto-full":
        raise InputError("several modules need auto-full (auto-build takes one Pack0)", field="--module")
    if not 1 <= args.jobs <= 32:
        raise InputError(f"-j must be from 1 to 32, not {args.jobs}", field="-j")
    # Every module's settings are checked before any build starts.
    configs = tuple(config_from_args(args, module, args.out / module) for module in dict.fromkeys(args.module))
    many = ManyBuild(args.out, configs, output=configs[0].output)
    return run_many(many, args.jobs)


def run_many(many: ManyBuild, jobs: int) -> int:
    from factory.lock import lock_output
    from rules.many import namespace as many_namespace
    from rules.reporter import run_doit

    lock_output(many.out)
    many.summary_path.unlink(missing_ok=True)
    if many.output == "normal":
        print(
            f"lai-pack {__version__}: {len(many.configs)} modules -> {many.out}/<module>/, {jobs} at a time", flush=True
        )
    run_doit(many_namespace(many), ["-n", str(jobs), "auto_full"])
    if not many.summary_path.is_file():
        print(f"lai-pack: the builds stopped before their summary ({many.summary_path})", file=sys.stderr)
        return EXIT_NOT_APPROVED
    text = many.summary_path.read_text(encoding="utf-8")
    if many.output == "json":
        sys.stdout.write(text)
    return json.loads(text)["exit_code"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "pack0":
            return write_pack0_only(args.module, args.out, args.brief)
        if args.command == "cache":
            return cache_command(args.action, args.cache_dir, args.agent, args.slice)
        if args.command == "config":
            for name, (value, source) in effective_settings(Path.cwd(), setting_flags(args)).items():
                shown = ",".join(value) if isinstance(value, list) else "(none)" if value is None else value
                print(f"{name:<11} {shown!s:<28} {source}")
            return EXIT_APPROVED
        if args.command == "status":
            from factory.pec.status import status_lines

            print("\n".join(status_lines(args.out)))
            return EXIT_APPROVED
        if args.command == "verify":
            return verify_command(args.out, args.public_key, args.expect_pack0)
        if args.command == "keygen":
            from factory.pec.signing import keygen

            private, public = keygen(args.out)
            print(f"keygen: private key {private} (keep it secret), public key {public}")
            return EXIT_APPROVED
        if args.command == "leak-check":
            return leak_check_command(args.path)
        if args.command == "export-team-pack":
            from factory.pec.export import export_team_pack

            count = export_team_pack(args.out, args.to, existing_shared_results())
            print(f"export-team-pack: {args.to} ({count} files)")
            return EXIT_APPROVED
        if len(args.module) > 1:
            return build_many(args)
        config = config_from_args(args, args.module[0], args.out)
        from factory.preflight import preflight

        preflight(config)
        return run_pipeline(config)
    except InputError as error:
        print(f"lai-pack: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FactoryError as error:
        print(f"lai-pack: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("lai-pack: interrupted; re-run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
