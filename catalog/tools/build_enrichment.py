"""Build the retrieval enrichment files from NIST's public-domain sources in catalog/data/sources.

Run: python -m catalog.tools.build_enrichment
- enrichment/csf2_related_text.json: for each CSF 2.0 subcategory, the names of the SP 800-53 Rev 5.2.0
  controls NIST lists as its informative references, and the CSF 1.1 text of withdrawn subcategories NIST says
  were incorporated into it. Evidence written against 800-53 or CSF 1.1 uses these words.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def build() -> dict:
    src = DATA / "sources"
    titles = {}
    for r in csv.DictReader(open(src / "nist-sp-800-53-r5.ids-titles.csv")):
        titles[r["control_id_padded"]] = r["name"]
        titles[r["control_id"]] = r["name"]
    names: dict[str, list[str]] = defaultdict(list)
    for r in csv.DictReader(open(src / "nist-csf-2.0_to_nist-sp-800-53-r5.2.0.csv")):
        name = titles.get(r["to_id"])
        if name and name not in names[r["from_id"]]:
            names[r["from_id"]].append(name)
    legacy: dict[str, list[str]] = defaultdict(list)
    for item in json.load(open(src / "nist-csf-2.0.withdrawn.json"))["items"]:
        if item.get("csf_1_1_text"):
            for target in item.get("withdrawn_into") or []:
                legacy[target].append(item["csf_1_1_text"])
    ids = sorted(set(names) | set(legacy))
    return {
        "framework": "NIST-CSF-2.0",
        "license": "US Government work (NIST), public domain",
        "sources": ["NIST CSF 2.0 Reference Tool informative references to SP 800-53 Rev 5.2.0",
                    "NIST SP 800-53 Rev 5 control names", "NIST CSF 2.0 withdrawal notes with CSF 1.1 text"],
        "items": {i: {"sp800_53_names": names.get(i, []), "csf11_text": legacy.get(i, [])} for i in ids},
    }


def main() -> None:
    out = DATA / "enrichment"
    out.mkdir(exist_ok=True)
    (out / "csf2_related_text.json").write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
