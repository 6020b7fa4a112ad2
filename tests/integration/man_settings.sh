#!/usr/bin/env bash
# man_settings.sh - the man page documents every setting of the settings
# table (house rule: one table drives the config file, --set, `dmarcstat
# config`, docs/configuration.md and the man page).
set -euo pipefail
exec python3 "$DMARCSTAT_SRC/scripts/gen-man-config.py" "$DMARCSTAT_BIN" \
	"$DMARCSTAT_SRC/docs/dmarcstat.1" --check
