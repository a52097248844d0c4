import gzip

import pytest

from pbfidelity.enrich.genesets import read_gmt
from pbfidelity.errors import UserError


def test_read_gmt_gz_strips_versions_and_restricts(tmp_path):
    p = tmp_path / "s.gmt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("A\tset a\tENSG1.4\tENSG2\tENSG2\t\nB\tset b\tENSG3\n")
    gs = read_gmt(p)
    assert gs.sets["A"] == ["ENSG1", "ENSG2"] and gs.names["B"] == "set b"
    r = gs.restrict({"ENSG1", "ENSG2", "ENSG3"}, min_size=2, max_size=5)
    assert list(r.sets) == ["A"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A\tonly-two-fields\n", "line 1: expected"),
        ("A\tx\tg1\nA\ty\tg2\n", "appears twice"),
        ("\n", "no gene sets"),
    ],
)
def test_bad_gmt(tmp_path, text, message):
    p = tmp_path / "bad.gmt"
    p.write_text(text)
    with pytest.raises(UserError, match=message):
        read_gmt(p)
