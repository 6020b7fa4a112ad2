#!/usr/bin/env bash
# corpus.sh - cross-check `dmarcstat parse --json` against parsedmarc's output
# for every sample in ../shared/corpus (skipped when the corpus is absent),
# and import the whole corpus into a fresh database.  Deliberate differences
# are listed, with reasons, in corpus_check.py.
set -euo pipefail
corpus=${DMARCSTAT_CORPUS:-$DMARCSTAT_SRC/../shared/corpus}
if [ ! -d "$corpus" ]; then
	echo "corpus: $corpus not present, skipping"
	exit 77
fi
exec python3 "$DMARCSTAT_SRC/tests/integration/corpus_check.py" "$DMARCSTAT_BIN" "$corpus"
