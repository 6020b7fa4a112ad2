#!/usr/bin/env python3
"""Generate web/data/iso3166.json: ISO 3166-1 alpha-2 -> numeric code (as the
zero-padded strings world-atlas uses as feature ids), from Debian's iso-codes
(/usr/share/iso-codes/json/iso_3166-1.json, package iso-codes).  The world map
joins ip_info.country (alpha-2) to countries-110m.json with it.  Country
names are not stored: the browser names them in the viewer's language with
Intl.DisplayNames.

usage: gen_iso3166.py [ISO_JSON] [OUT]
"""
import json, sys

src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/iso-codes/json/iso_3166-1.json"
out = sys.argv[2] if len(sys.argv) > 2 else "web/data/iso3166.json"
rows = json.load(open(src, encoding="utf-8"))["3166-1"]
table = {r["alpha_2"]: r["numeric"] for r in rows if "alpha_2" in r and "numeric" in r}
with open(out, "w", encoding="utf-8") as f:
    json.dump(dict(sorted(table.items())), f, separators=(",", ":"))
    f.write("\n")
print(f"{out}: {len(table)} countries")
