#!/usr/bin/env bash
# One-GPU call (session 5): GPU code of session 4 not yet run on a GPU (graph-pool anchor,
# chunked torch dx, split weight gradient inside the field tests), the CPU/gloo distributed test
# that failed once there, then the grid benchmark at 2^20 with warp merging beside the baselines.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
timeout 300 python -m pytest -q -p no:cacheprovider -rf tests/synthetic tests/field tests/render \
  > "$OUT/gpu_tests.txt" 2>&1
tail -4 "$OUT/gpu_tests.txt"
timeout 120 python -m pytest -q -p no:cacheprovider -x -rf \
  tests/train/test_distributed.py > "$OUT/dist_test.txt" 2>&1
tail -15 "$OUT/dist_test.txt"
timeout -s ABRT 240 python -X faulthandler benchmarks/bench_grid.py --sizes 20 \
  --patterns uniform,rays --backends eager,compile,cuda-pairs,cuda-merge256,cuda-merge2048 \
  --repeats 7 --out "$OUT/bench_grid.json" > "$OUT/bench_grid.txt" 2>&1
tail -14 "$OUT/bench_grid.txt"
