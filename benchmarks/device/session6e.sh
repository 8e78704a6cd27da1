#!/usr/bin/env bash
# Session 6: A/B of the volume term sampled on the step's surfaces (--volume-sampling surfaces).
# Two students continue the built-in student (v3) side by side on one GPU, same recipe, with
# and without the term; both measured with bench_zero_shot.
source benchmarks/device/setup.sh
set -o pipefail
for vw in ${WEIGHTS:-0.5 0}; do
  python benchmarks/train_builtin_student.py --name "s6-sv$vw" --volume-weight "$vw" \
    --volume-sampling surfaces --init-from hyperfields_cli/assets/student --warmup 50 \
    --lr "${LR:-2e-4}" --iters "${ITERS:-1600}" --meta-batch "${BATCH:-12}" \
    --max-minutes "${MINUTES:-7}" --export "$HYPERFIELDS_HOME/export/s6-sv$vw" \
    > "$OUT/train_sv$vw.txt" 2>&1 &
done
wait
for vw in ${WEIGHTS:-0.5 0}; do
  echo "== surface volume weight $vw"; grep -v "━" "$OUT/train_sv$vw.txt" | tail -2
  grep "━" "$OUT/train_sv$vw.txt" | tail -1
  python benchmarks/bench_zero_shot.py --student "$HYPERFIELDS_HOME/export/s6-sv$vw" \
    --out "$OUT/zero_shot_sv$vw.json" > "$OUT/zero_shot_sv$vw.txt" 2>&1
  grep -i "mean" "$OUT/zero_shot_sv$vw.txt" | tail -3
  tar -C "$HYPERFIELDS_HOME/export" -cf "$OUT/student-sv$vw.tar" "s6-sv$vw"
done
