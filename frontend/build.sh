#!/usr/bin/env bash
# Install the locked npm packages (only when needed) and copy the browser files we serve into static/vendor/.
# Idempotent and quiet on success; on failure it prints npm's output and exits non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v npm >/dev/null || { echo "build.sh: npm not found (Node 20+ is required)" >&2; exit 1; }

# npm writes node_modules/.package-lock.json on every install: it is our stamp.
stamp=node_modules/.package-lock.json
if [[ ! -d node_modules || ! -f $stamp || package-lock.json -nt $stamp || package.json -nt $stamp ]]; then
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    if ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
        echo "build.sh: npm ci failed:" >&2
        cat "$log" >&2
        exit 1
    fi
    touch "$stamp"
fi

# source in node_modules -> name in static/vendor
files=(
    "htmx.org/dist/htmx.min.js:htmx.min.js"
    "axe-core/axe.min.js:axe.min.js"
    "jsqr/dist/jsQR.js:jsQR.js"
)
mkdir -p static/vendor
for pair in "${files[@]}"; do
    src=node_modules/${pair%%:*}
    dst=static/vendor/${pair##*:}
    [[ -f $src ]] || { echo "build.sh: missing $src (package layout changed?)" >&2; exit 1; }
    cmp -s "$src" "$dst" || cp "$src" "$dst"
done
