exists="$(sql -tA -c "SELECT to_regclass('public.lai_schema_migrations') IS NOT NULL")"
if [ "$exists" != "t" ]; then
  echo "rollback: nothing to roll back (no deploy recorded)"
  exit 0
fi
last="$(sql -tA -c "SELECT deploy_id FROM lai_schema_migrations ORDER BY applied_at DESC, version DESC LIMIT 1")"
if [ -z "$last" ]; then
  echo "rollback: nothing to roll back"
else
  for version in $(sql -tA -c "SELECT version FROM lai_schema_migrations WHERE deploy_id = '$last' ORDER BY version DESC"); do
    down="$(ls "$here"/migrations/"$version"_*.down.sql)"
    echo "rollback: undoing $(basename "$down" .down.sql)"
    sql -1 -f "$down" -c "DELETE FROM lai_schema_migrations WHERE version = '$version'"
  done
fi
# Leave the schema as it was before the first deploy: drop the bookkeeping table once it is empty.
sql -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM lai_schema_migrations) THEN DROP TABLE lai_schema_migrations; END IF; END \$\$"
echo "rollback: done"
