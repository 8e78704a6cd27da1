#!/usr/bin/env bash
# Session 5, third call: every x-adjacent pair as one 16-byte atomic (pair mode 2: reversed
# hashed pairs + a shifted dense accumulator); GPU grid tests, then bench_grid A/B at 2^20.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()" 2>&1 | tail -20
timeout 200 python -m pytest -q -p no:cacheprovider -rf tests/field \
  > "$OUT/gpu_field_tests.txt" 2>&1
tail -6 "$OUT/gpu_field_tests.txt"
timeout -s ABRT 300 python -X faulthandler benchmarks/bench_grid.py --sizes 20 \
  --patterns uniform,rays --backends compile,cuda-pairs1,cuda-pairs,cuda --repeats 9 \
  --out "$OUT/bench_grid.json" > "$OUT/bench_grid.txt" 2>&1
tail -16 "$OUT/bench_grid.txt"
