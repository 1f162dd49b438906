"""deploy.sh, rollback.sh and the health checks, from the contracts. Pure: Pack0 in, text out."""

from __future__ import annotations

from pathlib import Path

from factory.fsutil import dumps_json
from factory.pack0.models import Pack0

_TEMPLATES = Path(__file__).parent / "templates"


def _script(name: str) -> str:
    """A script: the shared prelude (strict mode, DATABASE_URL and psql checks), then its body."""
    return (_TEMPLATES / "prelude.sh").read_text() + "\n" + (_TEMPLATES / name).read_text()


def health_checks(pack0: Pack0) -> list[dict]:
    checks = [
        {
            "name": f"table {entity.plural} exists",
            "kind": "sql",
            "query": f"SELECT to_regclass('public.{entity.plural}') IS NOT NULL",
            "expect": "t",
        }
        for entity in pack0.entities
    ]
    checks.append({"name": "service answers /health", "kind": "http", "path": "/health", "expect_status": 200})
    return checks


def healthcheck_sh(pack0: Pack0) -> str:
    lines = [(_TEMPLATES / "prelude.sh").read_text(), "failed=0"]
    for check in health_checks(pack0):
        if check["kind"] == "sql":
            lines += [
                f'if [ "$(sql -tA -c "{check["query"]}")" = "{check["expect"]}" ]; then',
                f'  echo "health: ok   {check["name"]}"',
                "else",
                f'  echo "health: FAIL {check["name"]}" >&2; failed=1',
                "fi",
            ]
        else:
            lines += [
                'if [ -n "${SERVICE_URL:-}" ]; then',
                f'  status="$(curl -s -o /dev/null -w "%{{http_code}}" "$SERVICE_URL{check["path"]}" || true)"',
                f'  if [ "$status" = "{check["expect_status"]}" ]; then echo "health: ok   {check["name"]}";',
                f'  else echo "health: FAIL {check["name"]} (HTTP $status)" >&2; failed=1; fi',
                "else",
                f'  echo "health: skip {check["name"]} (SERVICE_URL not set)"',
                "fi",
            ]
    lines.append('exit "$failed"\n')
    return "\n".join(lines)


def compose_with_postgres(pack0: Pack0) -> str:
    """The compose target: PostgreSQL, a one-shot migrate service running deploy.sh, and the service."""
    url = "postgresql://app:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@db:5432/app"
    return "\n".join(
        [
            "# docker compose -f deploy/docker-compose.yml up  (from the build folder; needs POSTGRES_PASSWORD)",
            "services:",
            "  db:",
            "    image: postgres:16",
            "    environment:",
            "      POSTGRES_USER: app",
            "      POSTGRES_DB: app",
            "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}",
            "    volumes:",
            "      - pgdata:/var/lib/postgresql/data",
            "    healthcheck:",
            '      test: ["CMD", "pg_isready", "-U", "app", "-d", "app"]',
            "      interval: 5s",
            "      timeout: 5s",
            "      retries: 10",
            "  migrate:",
            "    image: postgres:16",
            "    depends_on:",
            "      db:",
            "        condition: service_healthy",
            "    volumes:",
            "      - ./:/deploy:ro",
            '    entrypoint: ["bash", "/deploy/deploy.sh"]',
            "    environment:",
            f"      DATABASE_URL: {url}",
            f"  {pack0.module}:",
            "    build: ..",
            "    depends_on:",
            "      migrate:",
            "        condition: service_completed_successfully",
            "    ports:",
            '      - "8000:8000"',
            "    environment:",
            # The service keeps its rows in this PostgreSQL, working as role lai_service (row-level security).
            f"      DATABASE_URL: {url}",
            "    healthcheck:",
            '      test: ["CMD", "python3", "-c", "import urllib.request; '
            "urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)\"]",
            "      interval: 10s",
            "      timeout: 5s",
            "      retries: 3",
            "volumes:",
            "  pgdata:",
            "",
        ]
    )


def generate_scripts(pack0: Pack0) -> dict[str, str]:
    return {
        "deploy/deploy.sh": _script("deploy.sh"),
        "deploy/rollback.sh": _script("rollback.sh"),
        "deploy/healthcheck.sh": healthcheck_sh(pack0),
        "deploy/health_checks.json": dumps_json({"schema_version": 1, "checks": health_checks(pack0)}),
    }


EXECUTABLE_SCRIPTS = ("deploy/deploy.sh", "deploy/rollback.sh", "deploy/healthcheck.sh")
