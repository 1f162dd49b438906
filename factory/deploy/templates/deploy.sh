# Only the migrations the factory wrote, as it wrote them (migrations.sha256, a build file the evidence signs):
# a file planted in migrations/ would otherwise be applied with the database owner's rights.
list="$here/migrations.sha256"
if [ ! -f "$list" ]; then
  echo "deploy: migrations.sha256 is missing: re-run lai-pack to write the deploy files again" >&2
  exit 1
fi
if ! (cd "$here" && sha256sum --quiet --strict -c migrations.sha256 >&2); then
  echo "deploy: a migration is not as the factory wrote it (migrations.sha256); re-run lai-pack" >&2
  exit 1
fi
for up in "$here"/migrations/*.sql; do
  if ! grep -qxF "$(sha256sum "$up" | cut -d' ' -f1)  migrations/$(basename "$up")" "$list"; then
    echo "deploy: migrations/$(basename "$up") is not one the factory wrote (not in migrations.sha256); remove it" >&2
    exit 1
  fi
done
# Each applied migration is recorded with the sha256 of its file: the service checks them on start and refuses
# to serve a schema it was not generated for.
sql -c "CREATE TABLE IF NOT EXISTS lai_schema_migrations (version text PRIMARY KEY, name text NOT NULL,
  checksum text NOT NULL, deploy_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
deploy_id="$(date -u +%Y%m%dT%H%M%SZ)-$$"
applied=0
for up in "$here"/migrations/*.up.sql; do
  file="$(basename "$up")"
  version="${file%%_*}"
  name="${file%.up.sql}"
  checksum="$(sha256sum "$up" | cut -d' ' -f1)"
  recorded="$(sql -tA -c "SELECT checksum FROM lai_schema_migrations WHERE version = '$version'")"
  if [ -n "$recorded" ]; then
    if [ "$recorded" != "$checksum" ]; then
      echo "deploy: $name was applied from a different file (sha256 $recorded); roll back first" >&2
      exit 1
    fi
    continue
  fi
  echo "deploy: applying $name"
  sql -1 -f "$up" -c "INSERT INTO lai_schema_migrations (version, name, checksum, deploy_id)
    VALUES ('$version', '$name', '$checksum', '$deploy_id')"
  applied=$((applied + 1))
done
# The service reads the versions (as its role) to check them on start.
sql -c "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lai_service') THEN
  GRANT SELECT ON lai_schema_migrations TO lai_service; END IF; END \$\$"
echo "deploy: $applied migration(s) applied"
"$here/healthcheck.sh"
