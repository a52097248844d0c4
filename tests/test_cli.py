from pbfidelity import STAGES
from pbfidelity.cli import command_modules


def test_core_commands_are_registered():
    cmds = command_modules()
    for name in ("simulate", "qc", "pseudobulk", "run", "recipe"):
        assert name in cmds
    assert list(cmds)[: len([s for s in STAGES if s in cmds])] == [s for s in STAGES if s in cmds]


def test_user_error_is_one_line_exit_2(cli, tmp_path):
    proc = cli("qc", "--input", tmp_path / "missing.csv", "--outdir", tmp_path / "o", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"pbfidelity qc: error: {tmp_path / 'missing.csv'}: samplesheet does not exist"]


def test_debug_shows_traceback(cli, tmp_path):
    proc = cli("qc", "--input", tmp_path / "missing.csv", "--outdir", tmp_path / "o", "--debug", check=False)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_usage_error_exit_2(cli):
    proc = cli("qc", "--no-such-flag", check=False)
    assert proc.returncode == 2


def test_version(cli):
    assert cli("--version").stdout.startswith("pbfidelity ")


def test_stage_skipped_exits_3_with_one_line(monkeypatch, capsys):
    import argparse

    from pbfidelity import cli
    from pbfidelity.errors import StageSkipped

    def parser():
        p = argparse.ArgumentParser()
        sub = p.add_subparsers(dest="command")
        s = sub.add_parser("metrics")

        def boom(args):
            raise StageSkipped("dataset 'x' has one donor")

        s.set_defaults(_run=boom)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)
    assert cli.main(["metrics"]) == cli.EXIT_SKIPPED == 3
    assert capsys.readouterr().err.strip() == "pbfidelity metrics: skipped: dataset 'x' has one donor"


def test_fail_once_hook_exits_once_then_runs(monkeypatch, tmp_path, capsys):
    """PBF_TEST_FAIL_ONCE (the engine tests' out-of-memory injection) fails the named command exactly once."""
    from pbfidelity.cli import TEST_FAIL_ONCE, main

    marker = tmp_path / "failed_once"
    monkeypatch.setenv(TEST_FAIL_ONCE, f"simulate:137:{marker}")
    argv = ["simulate", "--outdir", str(tmp_path / "sim"), "--n-donors", "3", "--cells-per-sample", "20",
            "--n-cell-types", "2", "--n-genes", "300", "--quiet"]
    assert main(["--version"]) == 0  # other commands are untouched
    assert main(argv) == 137 and marker.exists() and not (tmp_path / "sim").exists()
    assert "exiting with status 137 once" in capsys.readouterr().err
    assert main(argv) == 0 and (tmp_path / "sim" / "samplesheet.csv").exists()
    monkeypatch.setenv(TEST_FAIL_ONCE, "simulate:oom")
    assert main(argv) == 2 and "expected <command>:<exit status>:<marker file>" in capsys.readouterr().err
