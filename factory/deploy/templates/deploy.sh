sql -c "CREATE TABLE IF NOT EXISTS lai_schema_migrations (version text PRIMARY KEY, name text NOT NULL,
  deploy_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
deploy_id="$(date -u +%Y%m%dT%H%M%SZ)-$$"
applied=0
for up in "$here"/migrations/*.up.sql; do
  file="$(basename "$up")"
  version="${file%%_*}"
  name="${file%.up.sql}"
  if [ "$(sql -tA -c "SELECT 1 FROM lai_schema_migrations WHERE version = '$version'")" = "1" ]; then
    continue
  fi
  echo "deploy: applying $name"
  sql -1 -f "$up" -c "INSERT INTO lai_schema_migrations (version, name, deploy_id) VALUES ('$version', '$name', '$deploy_id')"
  applied=$((applied + 1))
done
echo "deploy: $applied migration(s) applied"
"$here/healthcheck.sh"
