#!/usr/bin/env bash
# GPU call: render tests and benchmark with the folded-MLP default, generate timings, and the
# grid merge sweep (traceback dumped if it stalls).
source benchmarks/device/setup.sh
python -m pytest -q tests/render -p no:cacheprovider > "$OUT/render_tests.txt" 2>&1
tail -2 "$OUT/render_tests.txt"
timeout 150 python benchmarks/bench_render.py --out "$OUT/bench_render.json" > "$OUT/bench_render.txt" 2>&1
tail -12 "$OUT/bench_render.txt"
timeout 60 python benchmarks/bench_generate.py --out "$OUT/generate.json" > "$OUT/generate.txt" 2>&1
tail -8 "$OUT/generate.txt"
timeout -s ABRT 150 python -X faulthandler benchmarks/bench_grid.py --sizes 20 \
  --patterns uniform,rays --backends cuda-pairs,cuda-merge64,cuda-merge256 --repeats 5 \
  --out "$OUT/bench_grid_merge.json" > "$OUT/bench_grid_merge.txt" 2>&1
tail -30 "$OUT/bench_grid_merge.txt"
