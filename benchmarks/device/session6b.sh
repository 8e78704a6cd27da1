#!/usr/bin/env bash
# Session 6: bring back the routed student of session6.sh, then continue it (warm start, new
# cosine schedule) and measure the continued one with bench_zero_shot.
source benchmarks/device/setup.sh
set -o pipefail
tar -C "$HYPERFIELDS_HOME/export" -cf "$OUT/student-routed.tar" student-routed
python benchmarks/train_builtin_student.py --name "${NAME:-s6-routed-b}" \
  --init-from "${INIT:-s6-routed@v2}" --warmup 50 --lr "${LR:-3e-4}" \
  --iters "${ITERS:-1200}" --meta-batch "${BATCH:-24}" --max-minutes "${MINUTES:-7}" \
  --export "$HYPERFIELDS_HOME/export/${NAME:-s6-routed-b}" > "$OUT/train_b.txt" 2>&1
grep -v "━" "$OUT/train_b.txt" | tail -3; grep "━" "$OUT/train_b.txt" | tail -1
python benchmarks/bench_zero_shot.py --student "$HYPERFIELDS_HOME/export/${NAME:-s6-routed-b}" \
  --out "$OUT/zero_shot_b.json" > "$OUT/zero_shot_b.txt" 2>&1
grep -i "mean" "$OUT/zero_shot_b.txt" | tail -3
