#!/usr/bin/env bash
# Session 6, last call: the shipped student (builtin v3) as installed in the package: its
# zero-shot contact sheet (docs/zero_shot.png) and generate timings on this GPU.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -2
python benchmarks/bench_zero_shot.py --student builtin --out "$OUT/zero_shot_v3.json" \
  --sheet "$OUT/zero_shot.png" > "$OUT/zero_shot_v3.txt" 2>&1
grep -i "mean" "$OUT/zero_shot_v3.txt" | tail -3
python benchmarks/bench_generate.py --student builtin --out "$OUT/generate_v3.json" \
  > "$OUT/generate_v3.txt" 2>&1
tail -8 "$OUT/generate_v3.txt"
