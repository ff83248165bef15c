#!/usr/bin/env bash
# Inside the stack of deploy/local/with-stack.sh (make client-check): generates the client from
# the gateway's /openapi.json and runs seeds 000-004 with it (seeds.py).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/target/client-venv"
OUT="$ROOT/target/client"
rm -rf "$OUT" && mkdir -p "$OUT"
curl -fsS "$GATE/openapi.json" -o "$OUT/public.json"
# Generated as the gateway serves it; any warning of the generator (a part of the document it
# could not turn into code) fails the check.
(cd "$OUT" && "$VENV/bin/openapi-python-client" generate --path public.json --meta none \
  --config "$HERE/generator.yaml") >"$OUT/generate.log" 2>&1 || { cat "$OUT/generate.log"; exit 1; }
if grep -qi 'warning\|unable\|error' "$OUT/generate.log"; then
  cat "$OUT/generate.log"; exit 1
fi
echo "== generated $(ls -d "$OUT"/ehealth_gateway) with openapi-python-client $("$VENV/bin/openapi-python-client" --version | awk '{print $NF}')"
PYTHONPATH="$OUT" "$VENV/bin/python" "$HERE/seeds.py"
