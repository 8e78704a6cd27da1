#!/usr/bin/env bash
# Session 6: A/B of the volume colour term. Two students continue the same routed student
# (carried in .device/s6-routed-b) side by side on one GPU, same recipe, with and without
# --volume-weight; both measured with bench_zero_shot.
source benchmarks/device/setup.sh
set -o pipefail
for vw in ${WEIGHTS:-1 0}; do
  python benchmarks/train_builtin_student.py --name "s6-rv$vw" --volume-weight "$vw" \
    --init-from .device/s6-routed-b --warmup 50 --lr "${LR:-3e-4}" \
    --iters "${ITERS:-1600}" --meta-batch "${BATCH:-12}" --max-minutes "${MINUTES:-7}" \
    ${RESUME:+--resume} --export "$HYPERFIELDS_HOME/export/s6-rv$vw" > "$OUT/train_rv$vw.txt" 2>&1 &
done
wait
for vw in ${WEIGHTS:-1 0}; do
  echo "== volume weight $vw"; grep -v "━" "$OUT/train_rv$vw.txt" | tail -2
  grep "━" "$OUT/train_rv$vw.txt" | tail -1
  python benchmarks/bench_zero_shot.py --student "$HYPERFIELDS_HOME/export/s6-rv$vw" \
    --out "$OUT/zero_shot_rv$vw.json" > "$OUT/zero_shot_rv$vw.txt" 2>&1
  grep -i "mean" "$OUT/zero_shot_rv$vw.txt" | tail -3
done
