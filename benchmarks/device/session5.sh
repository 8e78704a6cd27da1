#!/usr/bin/env bash
# One-GPU call planned for the next session: this session's GPU code not yet run on a GPU
# (graph-pool anchor, chunked torch dx, split weight gradient inside the field tests), then the
# grid benchmark at 2^20 with the stall fixed. Then run scaleout5.sh on nvidia-h100-x2 to
# confirm the 1.86x on the final code.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
timeout 300 python -m pytest -q -p no:cacheprovider -rf tests/synthetic tests/field tests/render \
  > "$OUT/gpu_tests.txt" 2>&1
tail -4 "$OUT/gpu_tests.txt"
timeout -s ABRT 200 python -X faulthandler benchmarks/bench_grid.py --sizes 20 \
  --patterns uniform,rays --backends eager,compile,cuda-pairs --repeats 7 \
  --out "$OUT/bench_grid.json" > "$OUT/bench_grid.txt" 2>&1
tail -12 "$OUT/bench_grid.txt"
