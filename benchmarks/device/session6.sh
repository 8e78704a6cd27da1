#!/usr/bin/env bash
# Session 6 (issue #6): train students of two hypernetwork archs side by side on one GPU (same
# recipe, time-boxed, resumable with RESUME=1), then measure each with bench_zero_shot (EVAL=1).
#   ARCHS="routed dynamic" ITERS=4000 BATCH=16 MINUTES=8 bash benchmarks/device/session6.sh
source benchmarks/device/setup.sh
set -o pipefail
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -2
for arch in ${ARCHS:-routed}; do
  python benchmarks/train_builtin_student.py --arch "$arch" --name "s6-$arch" \
    --iters "${ITERS:-4000}" --meta-batch "${BATCH:-16}" --max-minutes "${MINUTES:-8}" \
    --lr "${LR:-5e-4}" ${RESUME:+--resume} --export "$HYPERFIELDS_HOME/export/student-$arch" \
    > "$OUT/train_$arch.txt" 2>&1 &
done
wait
for arch in ${ARCHS:-routed}; do
  echo "== $arch"; grep -v "━" "$OUT/train_$arch.txt" | tail -4; grep "━" "$OUT/train_$arch.txt" | tail -1
  if [ -n "$EVAL" ]; then
    python benchmarks/bench_zero_shot.py --student "$HYPERFIELDS_HOME/export/student-$arch" \
      --out "$OUT/zero_shot_$arch.json" --sheet "$OUT/zero_shot_$arch.png" \
      > "$OUT/zero_shot_$arch.txt" 2>&1
    grep -i "mean" "$OUT/zero_shot_$arch.txt" | tail -3
  fi
done
# SHIP=arch: bring that student back as one file (the call returns a limited number of files)
if [ -n "$SHIP" ]; then tar -C "$HYPERFIELDS_HOME/export" -cf "$OUT/student-$SHIP.tar" "student-$SHIP"; fi
