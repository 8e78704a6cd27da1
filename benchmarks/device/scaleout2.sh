#!/usr/bin/env bash
# 2-GPU call (session 4): kernels built before any clock, one distill step profiled on 1 GPU at
# the per-rank batch, then the 2-GPU vs 1-GPU scale-out benchmark at global batch 32.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
timeout 150 python benchmarks/profile_distill.py --meta-batch "$((${BATCH:-32} / 2))" \
  --out "$OUT/profile_distill.json" > "$OUT/profile_distill.txt" 2>&1
grep -v "^\s*$" "$OUT/profile_distill.txt" | tail -30
timeout 450 python benchmarks/bench_scaleout.py --meta-batch "${BATCH:-32}" --iters "${ITERS:-100}" \
  --teach-iters "${TEACH_ITERS:-300}" --out "$OUT/scaleout.json" > "$OUT/scaleout.txt" 2>&1
tail -14 "$OUT/scaleout.txt"
