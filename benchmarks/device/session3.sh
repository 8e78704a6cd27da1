#!/usr/bin/env bash
# GPU call: GPU tests (render options, grid merging), render variants + profile, grid merge
# sweep, generate timings and the finetune speed-up table for the current built-in student.
source benchmarks/device/setup.sh
python -m pytest -q tests/render tests/field/test_grid_cuda.py -p no:cacheprovider -rs \
  > "$OUT/gpu_tests.txt" 2>&1
tail -3 "$OUT/gpu_tests.txt"
timeout 240 python benchmarks/bench_render.py --no-baselines --variants all --profile \
  --profile-variants fold+bf16 fold+bf16+lazy fold+fp16+min=16+lazy \
  --out "$OUT/bench_render_variants.json" > "$OUT/bench_render_variants.txt" 2>&1
tail -45 "$OUT/bench_render_variants.txt"
timeout 100 python benchmarks/bench_grid.py --sizes 20 --patterns uniform,rays \
  --backends cuda-pairs,cuda-merge64,cuda-merge256,cuda-merge4096 --repeats 5 \
  --out "$OUT/bench_grid_merge.json" > "$OUT/bench_grid_merge.txt" 2>&1
grep -A12 "### Grid" "$OUT/bench_grid_merge.txt"
timeout 60 python benchmarks/bench_generate.py --out "$OUT/generate.json" > "$OUT/generate.txt" 2>&1
tail -8 "$OUT/generate.txt"
timeout 290 python benchmarks/bench_finetune.py --student builtin --max-minutes 4.2 \
  --out "$OUT/finetune.json" --figure "$OUT/finetune.png" > "$OUT/finetune.txt" 2>&1
tail -22 "$OUT/finetune.txt"
