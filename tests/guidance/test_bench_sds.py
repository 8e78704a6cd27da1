"""The SDS benchmark's CPU path runs end to end and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sds.py"


def test_bench_sds_cpu_tiny(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_sds", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    # The documented smoke run is `--device cpu --tiny --steps 2`; no warmup and a 64 px upsample
    # (8x8 latents) keep this test fast on 2 cores; the code path is the same as at 512.
    argv = ["--device", "cpu", "--tiny", "--steps", "2", "--warmup", "0", "--latent-size", "64"]
    rows = bench.main([*argv, "--out", str(out)])
    data = json.loads(out.read_text())
    assert [r["batch"] for r in data["results"]] == [1, 4] == [r["batch"] for r in rows]
    for r in data["results"]:
        assert r["config"] == "tiny" and r["steps_per_s"] > 0 and r["grad_finite"]
        assert r["peak_mem_mib"] is None and r["dtype"] == "float32"
    table = capsys.readouterr().out
    assert table.count("| tiny |") == 2 and "steps/s" in table
