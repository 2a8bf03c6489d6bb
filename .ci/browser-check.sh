#!/usr/bin/env bash
# Open a run folder's report.html in headless Chromium (no network) and check it: no console
# errors, no failed or outgoing requests, every chart drawn with a size, a non-blank screenshot.
#
#   .ci/browser-check.sh RUN_DIR [SCREENSHOT.png]
#
# Installs Debian's chromium when it is missing. The screenshot goes to SCREENSHOT.png, by
# default target/browser-check/<run folder name>.png (never into the run folder, whose
# manifest lists exactly its files).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:?usage: .ci/browser-check.sh RUN_DIR [SCREENSHOT.png]}"
report="$dir/report.html"
shot="${2:-target/browser-check/$(basename "$dir").png}"

if [[ ! -f "$report" ]]; then
  echo "browser check: $report not found (write it with dermasim run --out DIR, outputs including report)" >&2
  exit 2
fi

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "browser check: installing chromium from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v python3 >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3 >/dev/null
fi

exec python3 "$here/browser_check.py" "$report" --chromium "$(command -v chromium)" --screenshot "$shot"
