#!/usr/bin/env bash
# Session 7 (issue #6): students side by side on one GPU from scratch (the session-6 recipe:
# 2,400 x 12 scenes, lr 5e-4), each a "name:colour_model:volume_weight:sampling" arm; resumable
# with RESUME=1 on the same warm machine; EVAL=1 measures each with bench_zero_shot.
#   ARMS="asb:albedo_shade:1:ball ass:albedo_shade:1:surfaces" MINUTES=8 bash benchmarks/device/session7.sh
source benchmarks/device/setup.sh
set -o pipefail
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -2
for arm in $ARMS; do
  IFS=: read -r name cm vw vs <<< "$arm"
  python benchmarks/train_builtin_student.py --arch routed --colour-model "$cm" --name "s7-$name" \
    --volume-weight "$vw" --volume-sampling "$vs" ${INIT:+--init-from "$INIT" --warmup 50} \
    --iters "${ITERS:-2400}" --meta-batch "${BATCH:-12}" --max-minutes "${MINUTES:-8}" \
    --lr "${LR:-5e-4}" ${RESUME:+--resume} --export "$HYPERFIELDS_HOME/export/s7-$name" \
    > "$OUT/train_$name.txt" 2>&1 &
done
wait
for arm in $ARMS; do
  name=${arm%%:*}
  echo "== $arm"; grep -v "━" "$OUT/train_$name.txt" | tail -3
  grep "━" "$OUT/train_$name.txt" | tail -1 | tr '\r' '\n' | tail -1
  if [ -n "$EVAL" ]; then
    python benchmarks/bench_zero_shot.py --student "$HYPERFIELDS_HOME/export/s7-$name" \
      --out "$OUT/zero_shot_$name.json" > "$OUT/zero_shot_$name.txt" 2>&1
    grep -i "mean" "$OUT/zero_shot_$name.txt" | tail -3
  fi
done
# SHIP=name: bring that student's fp32 parent folder back as one tar (files per call are few)
if [ -n "$SHIP" ]; then
  tar -C "$HYPERFIELDS_HOME/export" -cf "$OUT/student-$SHIP.tar" "s7-$SHIP"
fi
