#!/usr/bin/env bash
# GPU call: grid-kernel correctness (incl. warp merging), per-level profile, backend sweep.
source benchmarks/device/setup.sh
set -o pipefail
python -X faulthandler -m pytest tests/field/test_grid_cuda.py -q -x -p no:cacheprovider \
  > "$OUT/grid_tests.txt" 2>&1
tail -4 "$OUT/grid_tests.txt"
timeout 120 python benchmarks/profile_grid_levels.py --merge 0 64 256 --out "$OUT/levels.json" \
  > "$OUT/levels.txt" 2>&1
tail -3 "$OUT/levels.txt"
timeout 300 python benchmarks/bench_grid.py --sizes 20 \
  --backends "${BACKENDS:-eager,compile,cuda-red,cuda-pairs,cuda-merge32,cuda-merge64,cuda-merge128,cuda-merge512,cuda-merge4096}" \
  --out "$OUT/bench_grid.json" > "$OUT/bench_grid.txt" 2>&1
grep -A40 "### Grid" "$OUT/bench_grid.txt"
