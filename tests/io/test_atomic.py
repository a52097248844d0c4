import os
import signal
import subprocess
import sys
import time

import pytest

from pbfidelity.io.atomic import TMP_PREFIX, atomic_outdir


def test_success_publishes_everything(tmp_path):
    with atomic_outdir(tmp_path / "o") as tmp:
        (tmp / "a.tsv").write_text("x")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.tsv", "sub"]


def test_failure_publishes_nothing_and_keeps_old_outputs(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.tsv").write_text("previous run")
    with pytest.raises(RuntimeError), atomic_outdir(out) as tmp:
        (tmp / "new.tsv").write_text("half")
        raise RuntimeError("disk full")
    assert sorted(p.name for p in out.iterdir()) == ["old.tsv"]


def test_killed_process_leaves_only_hidden_tmp_which_next_run_removes(tmp_path):
    out = tmp_path / "o"
    code = ("import sys, time\nfrom pbfidelity.io.atomic import atomic_outdir\n"
            f"with atomic_outdir({str(out)!r}) as tmp:\n"
            "    (tmp / 'profiles.h5ad').write_text('partial')\n"
            "    print('writing', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = list(out.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(TMP_PREFIX)  # nothing looks complete
    time.sleep(0.05)
    with atomic_outdir(out) as tmp:
        (tmp / "profiles.h5ad").write_text("complete")
    assert [p.name for p in out.iterdir()] == ["profiles.h5ad"]
