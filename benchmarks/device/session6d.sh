#!/usr/bin/env bash
# Session 6: the chosen student (s6-rv0, routed, no volume term): bring it back, draw its
# zero-shot contact sheet and time generate on this GPU.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -2
tar -C "$HYPERFIELDS_HOME/export" -cf "$OUT/student-v3.tar" "${PICK:-s6-rv0}"
S="$HYPERFIELDS_HOME/export/${PICK:-s6-rv0}"
python benchmarks/bench_zero_shot.py --student "$S" --out "$OUT/zero_shot_v3.json" \
  --sheet "$OUT/zero_shot.png" > "$OUT/zero_shot_v3.txt" 2>&1
grep -i "mean" "$OUT/zero_shot_v3.txt" | tail -3
python benchmarks/bench_generate.py --student "$S" --out "$OUT/generate_v3.json" \
  > "$OUT/generate_v3.txt" 2>&1
tail -8 "$OUT/generate_v3.txt"
