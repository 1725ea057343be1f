"""Rewrite tests/obtoolkit/metrics/data/pair_counts.json: the pair-dependent boundary counts of the test cases.

Run only after a deliberate change of which pixels the min-cost matching pairs among equally good ones (see
`obtoolkit/metrics/assignment.py`, "Ties"); the script refuses to write when a count that every optimum shares
(cntR, sumR, sumP) differs from the first release's, since that would be a bug, not a tie.

    .venv/bin/python tools/freeze_pair_counts.py ../shared/fixtures
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.obtoolkit.metrics import test_boundary as cases  # noqa: E402

KEYS = ("cnt_r", "sum_r", "cnt_p", "sum_p", "cnt_p_oriented", "cnt_r_oriented")


def main(fixtures: Path) -> None:
    computed = zip((f"bsds500_bench/{name}" for name in cases.BSDS_IMAGES),
                   cases._bsds_counts(fixtures / "bsds500_bench"), strict=True)
    first = cases._frozen_cases(cases.FIRST_RELEASE)
    rows = []
    for name, counts in [*computed, *cases._pair_dependent_cases()]:
        row = {"name": name, **{k: getattr(counts, k).tolist() for k in KEYS if getattr(counts, k) is not None}}
        for key in cases.TIE_FREE_KEYS:
            if row[key] != first[name][key]:
                raise SystemExit(f"{name}: {key} differs from the first release's; not a tie, refusing to freeze")
        changed = [k for k in row if k != "name" and row[k] != first[name].get(k)]
        print(f"{name}: {'differs from the first release in ' + ', '.join(changed) if changed else 'as first release'}")
        rows.append(row)
    out = REPO / "tests" / "obtoolkit" / "metrics" / "data" / cases.PAIR_COUNTS
    payload = {"generated_by": "tools/freeze_pair_counts.py (obtoolkit.metrics.assignment, the max-weight "
                               "primal-dual engine); cases of tests/obtoolkit/metrics/test_boundary.py",
               "cases": rows}
    out.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
