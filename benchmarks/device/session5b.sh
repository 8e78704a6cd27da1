#!/usr/bin/env bash
# Session 5, second call: the torch-compile baseline on its gather formulation beside the CUDA
# kernels (warp merging now on by default), GPU grid tests with merging on, the gloo test.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
timeout 200 python -m pytest -q -p no:cacheprovider -rf tests/field \
  > "$OUT/gpu_field_tests.txt" 2>&1
tail -3 "$OUT/gpu_field_tests.txt"
timeout 120 python -m pytest -q -p no:cacheprovider -x -rf \
  tests/train/test_distributed.py > "$OUT/dist_test.txt" 2>&1
tail -3 "$OUT/dist_test.txt"
timeout -s ABRT 300 python -X faulthandler benchmarks/bench_grid.py --sizes 18 20 \
  --patterns uniform,rays --backends compile,cuda,cuda-pairs --repeats 9 \
  --out "$OUT/bench_grid.json" > "$OUT/bench_grid.txt" 2>&1
tail -16 "$OUT/bench_grid.txt"
