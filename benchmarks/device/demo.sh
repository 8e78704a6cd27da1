#!/usr/bin/env bash
# GPU call: the full pipeline at depth: teach two packs as NeRF teachers, distill them into a
# student, and report student-vs-teacher fidelity on held-out views.
source benchmarks/device/setup.sh
python -m hyperfields_cli teach -p bowls -p pots --iters 300 > "$OUT/demo_teach.txt" 2>&1
grep -v "━" "$OUT/demo_teach.txt" | tail -6
printf 'name = "demo"\n[[teachers]]\nref = "bowls@latest"\n[[teachers]]\nref = "pots@latest"\n' > /tmp/demo_teachers.toml
python -m hyperfields_cli distill -t /tmp/demo_teachers.toml --iters 600 --meta-batch 4 \
  > "$OUT/demo_distill.txt" 2>&1
grep -v "━" "$OUT/demo_distill.txt" | tail -4
python -m hyperfields_cli show demo > "$OUT/demo_show.txt" 2>&1
grep -i "psnr" "$OUT/demo_show.txt" | head -14
