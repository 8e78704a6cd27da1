#!/usr/bin/env bash
# 2-GPU call (session 4d): split-reduction weight gradient checked and timed, then 2-GPU vs
# 1-GPU distill at global batch 32.
source benchmarks/device/setup.sh
python -c "from hyperfields_cli.field import backends; backends.cuda_extension()"
python -m pytest -q -p no:cacheprovider tests/synthetic/test_graphed.py tests/field/test_scene_linear.py 2>&1 | tail -1
timeout 60 python benchmarks/bench_scene_linear.py --scenes 16 32 --out "$OUT/scene_linear.json"
timeout 420 python benchmarks/bench_scaleout.py --meta-batch "${BATCH:-32}" --iters "${ITERS:-100}" \
  --teach-iters "${TEACH_ITERS:-300}" --out "$OUT/scaleout.json" > "$OUT/scaleout.txt" 2>&1
grep -i "warn" "$OUT/scaleout.txt" | head -3
tail -15 "$OUT/scaleout.txt"
