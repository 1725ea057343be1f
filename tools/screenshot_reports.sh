#!/usr/bin/env bash
# Headless-browser screenshots of the HTML reports, to check their layout as a reader sees it.
#
#   tools/screenshot_reports.sh OUT [DEMO_DIR]
#
# Without DEMO_DIR it first runs a short `obh demo --out OUT/demo --train-steps 30` (a few minutes on 2 cores);
# with one, it reuses that demo folder. Then `obh evaluate` on the demo's checkpoint (test split) into
# OUT/evaluate, and Chromium screenshots of
#   OUT/screenshots/demo.png            the demo report (DEMO/report/index.html)
#   OUT/screenshots/evaluate.png        obh evaluate's report (OUT/evaluate/report/index.html)
#   OUT/screenshots/evaluate_maps.png   obh evaluate-maps' report (boundary PNGs written by obh predict)
# Needs Chromium (Debian: `apt-get install chromium`; also found as chromium-browser or google-chrome).
# Environment: PYTHON (default: python3), WINDOW (default: 1400,2400), STEPS (default: 30).
set -euo pipefail

OUT=${1:?usage: tools/screenshot_reports.sh OUT [DEMO_DIR]}
DEMO=${2:-}
PYTHON=${PYTHON:-python3}
WINDOW=${WINDOW:-1400,2400}
STEPS=${STEPS:-30}
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$BROWSER" ]]; then
    echo "screenshot_reports: no Chromium found (Debian: apt-get install chromium)" >&2
    exit 2
fi
mkdir -p "$OUT/screenshots"
OUT=$(cd "$OUT" && pwd)

if [[ -z "$DEMO" ]]; then
    DEMO="$OUT/demo"
    "$PYTHON" -m obh demo --out "$DEMO" --train-steps "$STEPS"
fi
DEMO=$(cd "$DEMO" && pwd)
CHECKPOINT=$(ls "$DEMO"/runs/*/checkpoints/last.pt | head -n 1)
"$PYTHON" -m obh evaluate "$CHECKPOINT" --root "$DEMO/ob_hypersim" --split test --out "$OUT/evaluate"

# evaluate-maps on the checkpoint's boundary maps of the test frames (obh predict), against the labels' OB PNGs
mkdir -p "$OUT/maps/rgb" "$OUT/maps/gt"
"$PYTHON" - "$DEMO/ob_hypersim" "$OUT/maps" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from training.data import DataConfig, ObHypersimDataset
from training.augment import denormalize_image

root, out = Path(sys.argv[1]), Path(sys.argv[2])
frames = ObHypersimDataset(DataConfig(root=root, split="test", augment=None, target="boundary"))
for index in range(len(frames)):
    sample = frames[index]
    stem = sample.name.replace("/", "_")
    Image.fromarray(denormalize_image(sample.image.numpy())).save(out / "rgb" / f"{stem}.png")
    Image.fromarray((sample.boundary[0].numpy() > 0.5).astype(np.uint8) * 255).save(out / "gt" / f"{stem}.png")
PY
"$PYTHON" -m obh predict "$CHECKPOINT" "$OUT/maps/rgb" --out "$OUT/maps/pred" >/dev/null
"$PYTHON" -m obh evaluate-maps "$OUT/maps/pred" "$OUT/maps/gt" --pred-suffix _boundary.png \
    --rgb-dir "$OUT/maps/rgb" --rgb-suffix .png --out "$OUT/evaluate_maps"

shoot() {  # shoot NAME PAGE
    "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$WINDOW" \
        --screenshot="$OUT/screenshots/$1.png" "file://$2" 2>/dev/null
    echo "screenshot: $OUT/screenshots/$1.png ($2)"
}
shoot demo "$DEMO/report/index.html"
shoot evaluate "$OUT/evaluate/report/index.html"
shoot evaluate_maps "$OUT/evaluate_maps/report.html"
