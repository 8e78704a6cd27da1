#!/usr/bin/env bash
# GPU call: correctness of our CUDA kernels against torch, then the core benchmarks.
source benchmarks/device/setup.sh
set -o pipefail
export HYPERFIELDS_VERBOSE_BUILD=1
{
  python -X faulthandler -m pytest tests/field/test_grid_cuda.py -v -x -p no:cacheprovider 2>&1 | tail -40
  python -m pytest tests/render tests/train/test_fit_views.py -q -rs 2>&1 | tail -15
} > "$OUT/gpu_tests.txt" 2>&1
tail -12 "$OUT/gpu_tests.txt"
timeout 150 python benchmarks/bench_render.py --out "$OUT/bench_render.json" > "$OUT/bench_render.txt" 2>&1
tail -15 "$OUT/bench_render.txt"
timeout 180 python benchmarks/bench_fit_views.py --out "$OUT/bench_fit_views.json" > "$OUT/bench_fit_views.txt" 2>&1
tail -15 "$OUT/bench_fit_views.txt"
timeout 120 python -m hyperfields_cli teach --prompt-pack bowls --iters 300 --name probe > "$OUT/teach_probe.txt" 2>&1
tail -4 "$OUT/teach_probe.txt"
