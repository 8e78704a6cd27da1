#!/usr/bin/env bash
# GPU call: (re)check the grid kernels, then train the built-in student for one time box.
# RESUME=1 continues from the checkpoint left by the previous call on the same machine.
source benchmarks/device/setup.sh
set -o pipefail
python -m pytest tests/field/test_grid_cuda.py -q -x > "$OUT/grid_tests.txt" 2>&1
tail -3 "$OUT/grid_tests.txt"
python benchmarks/train_builtin_student.py --iters "${ITERS:-9000}" --max-minutes "${MINUTES:-7.5}" \
  ${RESUME:+--resume} ${INIT:+--init-from "$INIT" --warmup 50} --export "$OUT/student" > "$OUT/student_log.txt" 2>&1
grep -v "━" "$OUT/student_log.txt" | tail -6
grep "━" "$OUT/student_log.txt" | tail -1
