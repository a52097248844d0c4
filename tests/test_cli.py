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
