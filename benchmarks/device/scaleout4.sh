#!/usr/bin/env bash
# 2-GPU call (session 4c): graphed world vs eager, the distill step profiled on 1 GPU at 16 and
# 32 scenes (does GPU time scale with scenes?), then 2-GPU vs 1-GPU at global batch 32.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
python -m pytest -q -p no:cacheprovider tests/synthetic/test_graphed.py 2>&1 | tail -2
for b in 16 32; do
  timeout 120 python benchmarks/profile_distill.py --meta-batch $b --warmup 8 \
    --out "$OUT/profile_distill_b$b.json" > "$OUT/profile_distill_b$b.txt" 2>&1
  grep -v "^\s*$" "$OUT/profile_distill_b$b.txt" | grep -v "top_kernels\|UserWarn\|_warn_once" | head -16
done
timeout 400 python benchmarks/bench_scaleout.py --meta-batch "${BATCH:-32}" --iters "${ITERS:-100}" \
  --teach-iters "${TEACH_ITERS:-300}" --out "$OUT/scaleout.json" > "$OUT/scaleout.txt" 2>&1
tail -15 "$OUT/scaleout.txt"
