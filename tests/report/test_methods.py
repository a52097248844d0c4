"""Methods paragraph: cites only what ran, numbered in order of first citation, every number resolvable."""

from __future__ import annotations

import re

from pbfidelity.report.methods import methods_html


def _refs(html: str) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", html)


def test_only_stages_that_ran_are_cited():
    html = methods_html(["qc", "pseudobulk"], {"PBF_QC": {"pbfidelity": "0.1.0", "python": "3.11"}})
    assert "XGBoost" not in html and "PyDESeq2" not in html
    assert "MultiQC" in html and "pbfidelity 0.1.0" in html
    assert len(_refs(html)) == 4  # MAD QC, pseudo-bulk, anndata, MultiQC


def test_citation_numbers_are_consecutive_and_resolve():
    html = methods_html(
        ["qc", "pseudobulk", "metrics", "enrich", "discriminate", "calibrate", "ssl"], {}, nextflow=True
    )
    paragraph = html.split("<h4>")[0]
    cited = [int(n) for group in re.findall(r"\[([0-9; ]+)\]", paragraph) for n in group.split(";")]
    assert sorted(set(cited)) == list(range(1, len(_refs(html)) + 1))
    assert cited[0] == 1 and "Nextflow" in html and "nf-core" in html
    assert "doi.org/10.1093/bioinformatics/btad547" in html  # PyDESeq2
