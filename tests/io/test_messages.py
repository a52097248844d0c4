"""#15 items 1-3: GTF annotation everywhere, messages (paths as written, .raw with log data, QC counting each
cell once), genes x cells CSV paired with a cell table, and the run's options checked before any stage."""

from __future__ import annotations

import gzip
import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pbfidelity.cli import main
from pbfidelity.errors import UserError
from pbfidelity.io.preflight import check_run_options
from pbfidelity.io.samplesheet import read_samplesheet

GENES = [f"GENE{i}" for i in range(60)] + ["MT-ND1", "MT-TA", "MT-RNR2"]


def _counts(n_cells, rng):
    return rng.poisson(3, (n_cells, len(GENES))).astype(np.int64)


def _bulk(d, samples, rng, ids=None):
    pd.DataFrame(
        {s: rng.poisson(300, len(GENES)) for s in samples}, index=pd.Index(ids or GENES, name="gene_id")
    ).to_csv(d / "bulk.tsv", sep="\t")


def test_csv_with_cell_table_is_shared_by_rows(tmp_path):
    rng = np.random.default_rng(1)
    x = _counts(30, rng)
    cells = [f"cell{i}" for i in range(30)]
    pd.DataFrame(x.T, index=GENES, columns=cells).to_csv(tmp_path / "counts.csv")
    samples = np.repeat(["A", "B", "C"], 10)
    pd.DataFrame({"sample": samples, "cell_type": "T"}, index=pd.Index(cells, name="cell")).to_csv(
        tmp_path / "counts.obs.csv"
    )
    _bulk(tmp_path, ["A", "B", "C"], rng)
    (tmp_path / "s.csv").write_text(
        "dataset,sample,bulk,singlecell\n" + "".join(f"d,{s},bulk.tsv,counts.csv\n" for s in "ABC")
    )
    assert (
        main(
            [
                "pseudobulk",
                "--input",
                str(tmp_path / "s.csv"),
                "--outdir",
                str(tmp_path / "pb"),
                "--min-cells",
                "5",
                "--min-detection",
                "0",
                "-q",
            ]
        )
        == 0
    )
    prof = ad.read_h5ad(tmp_path / "pb" / "profiles.h5ad")
    pb = prof[prof.obs["modality"] == "pseudobulk"]
    for s in "ABC":  # each row sums exactly its own cells (all genes kept; no spike-ins here)
        expected = x[samples == s].sum(axis=0)
        got = pb[pb.obs["sample"] == s]
        assert (np.asarray(got.X).ravel() == expected[[GENES.index(g) for g in got.var_names]]).all()
    (tmp_path / "counts.obs.csv").write_text("cell,sample\ncell0,A\n")
    assert main(["qc", "--input", str(tmp_path / "s.csv"), "--outdir", str(tmp_path / "qc2")]) == 2


def test_qc_counts_each_cell_once_and_mito_includes_mt_trna_rrna(tmp_path):
    rng = np.random.default_rng(2)
    a = ad.AnnData(
        sp.csr_matrix(_counts(40, rng)),
        obs=pd.DataFrame({"sample": "S"}, index=[f"c{i}" for i in range(40)]),
        var=pd.DataFrame(index=GENES),
    )
    a.write_h5ad(tmp_path / "sc.h5ad")
    _bulk(tmp_path, ["P1", "P2", "P3"], rng)
    (tmp_path / "s.csv").write_text(
        "dataset,sample,bulk,singlecell,sc_id\n" + "".join(f"d,P{i},bulk.tsv,sc.h5ad,S\n" for i in (1, 2, 3))
    )  # three pools drawn from one suspension
    assert main(["qc", "--input", str(tmp_path / "s.csv"), "--outdir", str(tmp_path / "qc"), "-q"]) == 0
    summary = json.loads((tmp_path / "qc" / "qc_summary.json").read_text())
    assert summary["n_cells"] == 40 and summary["n_cell_sample_assignments"] == 120
    assert summary["n_cells_used_by_several_rows"] == 80
    assert list(summary["n_mito_genes_recognised"].values()) == [3]


def test_paths_are_shown_as_written_and_raw_log_data_points_to_layers(tmp_path):
    real = tmp_path / "store" / "real_name.h5ad"
    real.parent.mkdir()
    rng = np.random.default_rng(3)
    x = sp.csr_matrix(_counts(20, rng).astype(np.float32))
    a = ad.AnnData(
        x.copy(), obs=pd.DataFrame(index=[f"c{i}" for i in range(20)]), var=pd.DataFrame(index=GENES)
    )
    logx = x.copy()
    logx.data = np.log1p(logx.data)
    a.raw = ad.AnnData(logx, var=a.var)  # scanpy's habit: .raw after log-normalisation
    a.write_h5ad(real)
    (tmp_path / "cells.h5ad").symlink_to(real)
    _bulk(tmp_path, ["S"], rng)
    (tmp_path / "s.csv").write_text("dataset,sample,bulk,singlecell\nd,S,bulk.tsv,cells.h5ad\n")
    with pytest.raises(UserError) as exc:
        from pbfidelity.cli import dispatch

        dispatch(["qc", "--input", str(tmp_path / "s.csv"), "--outdir", str(tmp_path / "qc"), "-q"])
    msg = str(exc.value)
    assert "cells.h5ad" in msg and "real_name" not in msg
    assert ".raw.X holds non-integer values" in msg and "layers['counts']" in msg
    # naming the right matrix fixes it
    assert (
        main(
            ["qc", "--input", str(tmp_path / "s.csv"), "--outdir", str(tmp_path / "qc"), "--layer", "X", "-q"]
        )
        == 0
    )


def test_options_checked_against_inputs_in_one_message(tmp_path):
    rng = np.random.default_rng(4)
    a = ad.AnnData(
        sp.csr_matrix(_counts(20, rng)),
        obs=pd.DataFrame(
            {"sample_id": ["A"] * 10 + ["B"] * 10, "celltype": "T"}, index=[f"c{i}" for i in range(20)]
        ),
        var=pd.DataFrame(index=GENES),
    )
    a.layers["raw_counts"] = a.X.copy()
    a.write_h5ad(tmp_path / "sc.h5ad")
    _bulk(tmp_path, ["A", "B"], rng)
    (tmp_path / "s.csv").write_text(
        "dataset,sample,bulk,singlecell,phenotype\nd,A,bulk.tsv,sc.h5ad,x\nd,B,bulk.tsv,sc.h5ad,y\n"
    )
    rows = read_samplesheet(tmp_path / "s.csv")
    check_run_options(
        rows, label_column="phenotype", sample_key="sample_id", celltype_key="celltype", layer="raw_counts"
    )
    with pytest.raises(UserError) as exc:
        check_run_options(rows, label_column="phenotyp", celltype_key="cell_type", layer="counts")
    msg = str(exc.value)
    for part in (
        "--label-column 'phenotyp' is not a samplesheet column",
        "['phenotype']",
        "obs lacks the sample key 'sample' (--sc-sample-key)",
        "--celltype-key 'cell_type'",
        "--layer 'counts' is not in the file; it offers ['X', 'raw_counts']",
    ):
        assert part in msg, part
    # through run: one line, exit 2, and no stage has run
    assert (
        main(
            [
                "run",
                "--input",
                str(tmp_path / "s.csv"),
                "--outdir",
                str(tmp_path / "out"),
                "--sc-sample-key",
                "sample_id",
                "--label-column",
                "phenotyp",
                "--no-progress",
                "-q",
            ]
        )
        == 2
    )
    assert not (tmp_path / "out" / "qc").exists()


GTF = (
    '1\tx\tgene\t1\t100\t.\t+\t.\tgene_id "ENSG00000000001.5"; gene_name "GENE0";\n'
    '1\tx\texon\t1\t100\t.\t+\t.\tgene_id "ENSG00000000001.5"; gene_name "GENE0";\n'
    'MT\tx\texon\t1\t50\t.\t+\t.\tgene_id "ENSG00000000099"; gene_name "MT-ND1";\n'
)


@pytest.mark.parametrize("stage", ["qc", "pseudobulk"])
def test_gtf_accepted_as_gene_annotation(tmp_path, stage):
    """The GTF metrics already accepted is now read by the one parser in every stage (gzipped here)."""
    rng = np.random.default_rng(5)
    ids = [f"ENSG{i:011d}" for i in range(1, len(GENES) + 1)]
    ids[-3] = "ENSG00000000099"  # MT-ND1
    a = ad.AnnData(
        sp.csr_matrix(_counts(30, rng)),
        obs=pd.DataFrame({"sample": ["A"] * 15 + ["B"] * 15}, index=[f"c{i}" for i in range(30)]),
        var=pd.DataFrame(index=GENES),
    )
    a.write_h5ad(tmp_path / "sc.h5ad")
    _bulk(tmp_path, ["A", "B"], rng, ids=ids)  # bulk: Ensembl ids, no gene_name column
    with gzip.open(tmp_path / "genes.gtf.gz", "wt") as fh:
        fh.write(GTF)
    (tmp_path / "s.csv").write_text(
        "dataset,sample,bulk,singlecell\nd,A,bulk.tsv,sc.h5ad\nd,B,bulk.tsv,sc.h5ad\n"
    )
    argv = [
        stage,
        "--input",
        str(tmp_path / "s.csv"),
        "--outdir",
        str(tmp_path / "o"),
        "--gene-annotation",
        str(tmp_path / "genes.gtf.gz"),
        "-q",
    ]
    if stage == "pseudobulk":
        argv += ["--min-cells", "5", "--min-detection", "0"]
    assert main(argv) == 0
    if stage == "pseudobulk":
        s = json.loads((tmp_path / "o" / "pseudobulk_summary.json").read_text())
        assert s["gene_harmonisation"]["singlecell"]["n_mapped"] == 2  # GENE0 and MT-ND1 via the GTF
        assert s["excluded_genes"]["n_recognised"]["mito"] >= 1
