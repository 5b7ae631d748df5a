#!/usr/bin/env bash
# Render `dllint audit` in a real headless browser (Debian's chromium) and check what it shows.
#   apt-get install -y chromium   # once
#   scripts/check_audit_html.sh [OUT_DIR]
# Writes OUT_DIR/audit.html, OUT_DIR/audit.png (a screenshot) and OUT_DIR/dom.html (the DOM after
# rendering), and fails unless the rendered page holds every section and all 23 findings.
set -euo pipefail
out=${1:-$(mktemp -d)}
root=$(cd "$(dirname "$0")/.." && pwd)
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 2; }
dllint audit "$root/fixtures/static/buggy_project" -o "$out/audit.html"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$(mktemp -d)")
"$browser" "${flags[@]}" --dump-dom "file://$out/audit.html" > "$out/dom.html" 2>/dev/null
"$browser" "${flags[@]}" --window-size=1200,1600 --screenshot="$out/audit.png" \
  "file://$out/audit.html" >/dev/null 2>&1
for text in "Findings per rule" "Findings per folder" "Worst files" "All findings" \
            "unordered-file-listing" "Why it matters."; do
  grep -q "$text" "$out/dom.html" || { echo "rendered page lacks: $text" >&2; exit 1; }
done
findings=$(grep -o "class=\"finding\"" "$out/dom.html" | wc -l)
[ "$findings" -eq 23 ] || { echo "rendered $findings findings, expected 23" >&2; exit 1; }
[ -s "$out/audit.png" ] || { echo "no screenshot" >&2; exit 1; }
echo "ok: $out/audit.png ($findings findings rendered)"
