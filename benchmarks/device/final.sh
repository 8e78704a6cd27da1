#!/usr/bin/env bash
# GPU call: zero-shot quality of the built-in student, generate timings, finetune speed-up.
source benchmarks/device/setup.sh
python benchmarks/bench_zero_shot.py --student builtin --out "$OUT/zero_shot.json" \
  --sheet "$OUT/zero_shot.png" > "$OUT/zero_shot.txt" 2>&1
grep "###" "$OUT/zero_shot.txt"; tail -3 "$OUT/zero_shot.txt"
python benchmarks/bench_generate.py --out "$OUT/generate.json" > "$OUT/generate.txt" 2>&1
tail -10 "$OUT/generate.txt"
timeout 330 python benchmarks/bench_finetune.py --student builtin --max-minutes 5 \
  --out "$OUT/finetune.json" --figure "$OUT/finetune.png" > "$OUT/finetune.txt" 2>&1
tail -25 "$OUT/finetune.txt"
