"""The shared ``--threads`` option and thread map (:mod:`pbfidelity.parallel`)."""

import threading
import time

import pytest

from pbfidelity.cli import build_parser
from pbfidelity.parallel import parallel_map

STAGES_WITH_THREADS = ["metrics", "discriminate", "calibrate", "enrich", "ssl"]


def test_parallel_map_keeps_order_and_runs_concurrently():
    seen = set()

    def f(i):
        seen.add(threading.get_ident())
        time.sleep(0.01)
        return i * i

    assert parallel_map(f, range(20), threads=2) == [i * i for i in range(20)]
    assert len(seen) == 2
    assert parallel_map(f, [], threads=2) == []
    seen.clear()
    assert parallel_map(f, range(5), threads=1) == [i * i for i in range(5)]
    assert seen == {threading.get_ident()}  # one thread: runs in the caller


@pytest.mark.parametrize("stage", STAGES_WITH_THREADS)
def test_every_stage_takes_threads_and_refuses_zero(stage, capsys):
    parser = build_parser()
    action = next(
        a
        for a in parser._subparsers._group_actions[0].choices[stage]._actions
        if "--threads" in a.option_strings
    )
    assert action.dest == "threads" and action.default == 1
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([stage, "--threads", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "expected an integer >= 1, got '0'" in err and "Traceback" not in err
