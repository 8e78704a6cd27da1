#!/usr/bin/env bash
# 2-GPU call: data-parallel distill vs 1 GPU at the same global batch, and 2 packs taught at once.
source benchmarks/device/setup.sh
nvidia-smi topo -m | head -4
timeout 560 python benchmarks/bench_scaleout.py --meta-batch "${BATCH:-32}" --iters "${ITERS:-100}" \
  --teach-iters "${TEACH_ITERS:-300}" --out "$OUT/scaleout.json" > "$OUT/scaleout.txt" 2>&1
tail -22 "$OUT/scaleout.txt"
