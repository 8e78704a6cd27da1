#!/usr/bin/env bash
# Session 5: the rest of issue #3's speed/quality targets on the same H100 and final code as
# the grid ratio: 512x512 render of a fitted scene, and fitting 100 posed 200x200 views.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -5
timeout 200 python benchmarks/bench_render.py --out "$OUT/bench_render.json" \
  > "$OUT/bench_render.txt" 2>&1
tail -12 "$OUT/bench_render.txt"
timeout 240 python benchmarks/bench_fit_views.py --out "$OUT/bench_fit_views.json" \
  > "$OUT/bench_fit_views.txt" 2>&1
tail -14 "$OUT/bench_fit_views.txt"
