#!/usr/bin/env bash
# reasons_js.sh - the dashboard's translation of stored reasons
# (web/js/reasons.js) follows the same rules as the CLI's
# (src/lib/reasontr.c): tests/js/reasons.mjs under node, which also checks
# that every message format of the CLI, the configuration, the parser and
# the analysis (read from the sources) has its Japanese.  Skips (77)
# without node.
set -euo pipefail
SRC=${DMARCSTAT_SRC:?}
command -v node >/dev/null || { echo "reasons_js: node not installed, skipped"; exit 77; }
DMARCSTAT_SRC=$SRC node "$SRC/tests/js/reasons.mjs"
