#!/usr/bin/env bash
# Session 5, last call: the whole test suite on the GPU machine at the final code (GPU-only
# tests included), so every kernel and graph path of this session has run on a GPU.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -5
timeout 540 python -m pytest -q -p no:cacheprovider -rf --durations=15 tests \
  > "$OUT/gpu_all_tests.txt" 2>&1
tail -60 "$OUT/gpu_all_tests.txt"
