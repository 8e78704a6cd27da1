#!/usr/bin/env bash
# Session 7 (issue #6): students side by side on one GPU from scratch (the session-6 recipe:
# 2,400 x 12 scenes, lr 5e-4), each a "name:colour_model:volume_weight:sampling:width:fraction"
# arm (the last two optional: 64, 0.5); resumable with RESUME=1 on the same warm machine;
# EVAL=1 measures each with bench_zero_shot; SHIP="a b" brings those students' fp32 folders back.
#   ARMS="asb:albedo_shade:1:ball ass:albedo_shade:1:surfaces" MINUTES=8 bash benchmarks/device/session7.sh
source benchmarks/device/setup.sh
set -o pipefail
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -2
for arm in $ARMS; do
  IFS=: read -r name cm vw vs width frac <<< "$arm"
  python benchmarks/train_builtin_student.py --arch routed --colour-model "$cm" --name "s7-$name" \
    --volume-weight "$vw" --volume-sampling "$vs" ${INIT:+--init-from "$INIT" --warmup 50} \
    --mlp-width "${width:-64}" --density-fraction "${frac:-0.5}" \
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
      --out "$OUT/zero_shot_$name.json" --sheet "$OUT/zero_shot_$name.png" \
      > "$OUT/zero_shot_$name.txt" 2>&1
    grep -i "mean" "$OUT/zero_shot_$name.txt" | tail -3
  fi
  if [ -n "$GENERATE" ]; then  # generate timings of the exported (fp16) student
    python benchmarks/bench_generate.py --student "$HYPERFIELDS_HOME/export/s7-$name" \
      --out "$OUT/generate_$name.json" > "$OUT/generate_$name.txt" 2>&1
    tail -6 "$OUT/generate_$name.txt"
  fi
  if [ -n "$EXPORT" ]; then  # the exported fp16 folder, as the package would ship it
    tar -C "$HYPERFIELDS_HOME/export" -cf "$OUT/export-$name.tar" "s7-$name"
  fi
done
# SHIP: those students' fp32 folders (the store's latest version) back as one tar in <= 15 MB
# pieces (files per call are few, each at most 16 MiB): cat student-*.tar.* | tar -x
for name in $SHIP; do
  dir=$(python -c "from hyperfields_cli.artifacts import ArtifactStore as S; print(S().resolve('s7-$name').path)")
  tar -C "$(dirname "$dir")" -cf - "$(basename "$dir")" | split -b 15M - "$OUT/student-$name.tar."
done
