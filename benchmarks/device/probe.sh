#!/usr/bin/env bash
# First GPU call: build + check the grid kernels, time them, and time teach steps.
source benchmarks/device/setup.sh
set -o pipefail
python -m pytest tests/field/test_grid_cuda.py -q -x 2>&1 | tail -5 | tee "$OUT/grid_tests.txt"
python benchmarks/bench_grid.py --sizes 18 20 --out "$OUT/grid.json" 2>&1 | tail -30 | tee "$OUT/grid.txt"
timeout 240 python -m hyperfields_cli teach --prompt-pack bowls --iters 300 --name probe 2>&1 | tail -5 | tee "$OUT/teach_probe.txt"
