#!/usr/bin/env bash
# 2-GPU call (session 4b): CUDA-graph world checked against eager, the distill step profiled
# on 1 GPU at the per-rank batch, then 2-GPU vs 1-GPU scale-out at global batch 32.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
python -m pytest -q -p no:cacheprovider tests/synthetic/test_graphed.py 2>&1 | tail -3
timeout 150 python benchmarks/profile_distill.py --meta-batch "$((${BATCH:-32} / 2))" \
  --out "$OUT/profile_distill.json" > "$OUT/profile_distill.txt" 2>&1
grep -v "^\s*$" "$OUT/profile_distill.txt" | grep -v "top_kernels" | head -48
timeout 400 python benchmarks/bench_scaleout.py --meta-batch "${BATCH:-32}" --iters "${ITERS:-100}" \
  --teach-iters "${TEACH_ITERS:-300}" --out "$OUT/scaleout.json" > "$OUT/scaleout.txt" 2>&1
tail -14 "$OUT/scaleout.txt"
