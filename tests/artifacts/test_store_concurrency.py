"""Several real processes saving the same name at once get distinct, complete versions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from hyperfields_cli.artifacts import ArtifactStore
from hyperfields_cli.artifacts.locks import file_lock

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, struct, sys, time
from pathlib import Path
from hyperfields_cli.artifacts import ArtifactStore

root, go, ident, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def writer(i):
    def write(d):
        data = struct.pack("<4f", float(ident), float(i), 0.0, 1.0)
        raw = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
        (d / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data)
        (d / "config.json").write_text(json.dumps({"proc": ident, "i": i}))
        time.sleep(0.01)
    return write

print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
for i in range(count):
    a = ArtifactStore(root).save("student", "race", writer(i), prompts=[f"{ident}-{i}"],
                                 text_encoder="t", architecture={})
    print(a.version, flush=True)
"""


def _spawn(root: Path, go: Path, ident: int, count: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-c", CHILD, str(root), str(go), str(ident), str(count)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_saves_get_distinct_complete_versions(tmp_path: Path) -> None:
    root, go = tmp_path / "store", tmp_path / "go"
    procs = [_spawn(root, go, ident, 3) for ident in range(4)]
    try:
        for p in procs:  # every child imported and is spinning on the start flag
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outs]
    claimed = [v for out, _ in outs for v in out.split()]
    assert sorted(claimed, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(1, 13)]

    store = ArtifactStore(root)
    arts = [store.resolve(f"race@v{i}") for i in range(1, 13)]  # each verifies its hashes
    assert len({a.sha256 for a in arts}) == 12
    assert sorted(a.manifest.prompts[0] for a in arts) == sorted(
        f"{p}-{i}" for p in range(4) for i in range(3)
    )
    assert not any((root / ".tmp").iterdir())


def test_save_waits_for_the_os_lock_held_by_another_process(tmp_path: Path) -> None:
    root, go = tmp_path / "store", tmp_path / "go"
    go.touch()
    with file_lock(root / ".locks" / "student--race.lock"):
        proc = _spawn(root, go, 7, 1)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(1.0)
            assert proc.poll() is None, proc.communicate()
            assert ArtifactStore(root).versions("student", "race") == []
        except BaseException:
            proc.kill()
            raise
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == ["v1"]
