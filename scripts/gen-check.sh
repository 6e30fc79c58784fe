#!/usr/bin/env bash
# Fails when a generated file is stale: openapi.yaml, the SDK types, or a migration that the
# drizzle schema needs but nobody generated.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run -s gen >/dev/null
(cd api && npx drizzle-kit generate >/dev/null)
stale=$(git status --porcelain -- openapi.yaml sdk/src migrations)
if [ -n "$stale" ]; then
  echo "Generated files are stale; run 'npm run gen' (and 'npm run migrate:gen -w api') and commit:"
  echo "$stale"
  git --no-pager diff --stat -- openapi.yaml sdk/src migrations
  exit 1
fi
echo "generated files are fresh"
