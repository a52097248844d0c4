"""Must-show (#15): `pbfidelity run` end to end, without extra input flags, on inputs as core facilities hand
them over: (a) the real nf-core/rnaseq salmon matrix (fractional counts, Ensembl ids + gene_name) against
single cells named by symbol, (b) a CellRanger v3 HDF5 (Ensembl ids, MT- names in features/name), (c) an
.h5ad with raw counts in layers['raw_counts'] and obs columns sample_id / celltype given by flags.
Single-cell sides are simulated from the bulk profiles (Poisson draws); only enrich/ssl (which need gene
sets / labels) do not run."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pbfidelity.cli import main

NFCORE = "nfcore/SRP254919.salmon.merged.gene_counts.head.tsv"
SKIP = ["--skip-stages", "enrich", "ssl", "--no-progress", "-q"]


def _cells(profile: np.ndarray, n_cells: int, depth: int, rng: np.random.Generator) -> np.ndarray:
    """Cells drawn around a bulk profile (Poisson with a per-cell size factor)."""
    p = (profile + 0.5) / (profile + 0.5).sum()
    size = rng.lognormal(0, 0.3, n_cells)[:, None]
    return rng.poisson(p[None, :] * depth * size).astype(np.int64)


def _run(sheet: Path, out: Path, *flags: str) -> int:
    return main(["run", "--input", str(sheet), "--outdir", str(out), *flags, *SKIP])


def _step_status(out: Path) -> dict:
    summary = json.loads((out / "pipeline_info" / "run_summary.json").read_text())
    return {s["stage"]: s["status"] for s in summary["steps"]}


def test_nfcore_salmon_matrix_with_gene_names(shared_data, tmp_path, caplog):
    bulk_path = shared_data / NFCORE
    bulk = pd.read_csv(bulk_path, sep="\t", index_col=0)
    samples = [c for c in bulk.columns if c != "gene_name"]
    rng = np.random.default_rng(7)
    x = np.vstack([_cells(bulk[s].to_numpy(float), 30, 2000, rng) for s in samples])
    obs = pd.DataFrame({"sample": np.repeat(samples, 30)}, index=[f"c{i}" for i in range(len(x))])
    # the single-cell side knows only symbols: its genes are the file's gene_name column
    ad.AnnData(
        sp.csr_matrix(x), obs=obs, var=pd.DataFrame(index=bulk["gene_name"].astype(str).to_numpy())
    ).write_h5ad(tmp_path / "sc.h5ad")
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text(
        "dataset,sample,bulk,singlecell\n" + "".join(f"mouse,{s},{bulk_path},sc.h5ad\n" for s in samples)
    )
    with caplog.at_level("WARNING", logger="pbfidelity"):
        assert _run(sheet, tmp_path / "out") == 0
    assert "non-integer counts rounded to integers (nf-core/rnaseq salmon estimated counts)" in caplog.text
    status = _step_status(tmp_path / "out")
    assert all(
        status[s] == "done" for s in ("qc", "pseudobulk", "metrics", "discriminate", "calibrate", "report")
    )
    prof = ad.read_h5ad(tmp_path / "out" / "pseudobulk" / "mouse" / "profiles.h5ad")
    summary = json.loads((tmp_path / "out" / "pseudobulk" / "mouse" / "pseudobulk_summary.json").read_text())
    h = summary["gene_harmonisation"]
    assert h["singlecell"]["n_mapped"] == len(bulk) and h["intersection"]["n_shared"] == len(bulk)
    assert all(g.startswith("ENSMUSG") for g in prof.var_names)
    assert summary["bulk_rounded"][0]["format"] == "nf-core/rnaseq salmon"
    assert summary["bulk_rounded"][0]["n_values_rounded"] == int((bulk[samples] % 1 != 0).to_numpy().sum())
    b = prof.obs[prof.obs["modality"] == "bulk"].set_index("sample")
    raw = np.round(bulk[samples]).sum()
    assert (
        b["n_counts"] + 0 == raw.reindex(b.index).astype(int)
    ).all()  # nothing excluded: no spike-ins here
    assert "gene_name column" in " ".join(summary["excluded_genes"]["gene_name_sources"])


def _write_10x_h5(
    path: Path, x_cells_genes: np.ndarray, ids: list[str], names: list[str], barcodes: list[str]
):
    """A CellRanger >= 3 filtered_feature_bc_matrix.h5 (10x HDF5 feature-barcode matrix format)."""
    m = sp.csc_matrix(x_cells_genes.T)  # genes x cells, CSC: one column per barcode
    with h5py.File(path, "w") as f:
        g = f.create_group("matrix")
        g.create_dataset("barcodes", data=np.array(barcodes, dtype="S"))
        g.create_dataset("data", data=m.data.astype(np.int32))
        g.create_dataset("indices", data=m.indices.astype(np.int64))
        g.create_dataset("indptr", data=m.indptr.astype(np.int64))
        g.create_dataset("shape", data=np.array(m.shape, dtype=np.int32))
        fg = g.create_group("features")
        fg.create_dataset("id", data=np.array(ids, dtype="S"))
        fg.create_dataset("name", data=np.array(names, dtype="S"))
        fg.create_dataset("feature_type", data=np.array(["Gene Expression"] * len(ids), dtype="S"))
        fg.create_dataset("genome", data=np.array(["GRCh38"] * len(ids), dtype="S"))
        fg.create_dataset("_all_tag_keys", data=np.array(["genome"], dtype="S"))
        f.attrs["library_ids"] = np.array(["lib1"], dtype="S")
        f.attrs["chemistry_description"] = np.array(["Single Cell 3' v3"], dtype="S")


def _bulk_and_genes(rng, n_genes=150, n_mito=13, n_samples=4):
    ids = [f"ENSG{i:011d}" for i in range(1, n_genes + 1)]
    names = [
        f"MT-{n}"
        for n in (
            "ND1",
            "ND2",
            "CO1",
            "CO2",
            "ATP8",
            "ATP6",
            "CO3",
            "ND3",
            "ND4L",
            "ND4",
            "ND5",
            "ND6",
            "CYB",
        )
    ][:n_mito] + [f"GENE{i}" for i in range(n_mito, n_genes)]
    base = rng.gamma(0.8, 200, n_genes)
    base[:n_mito] = np.median(base)  # about 9 % of counts: realistic, under the 20 % cap
    bulk = pd.DataFrame(
        {f"S{k}": rng.poisson(base * rng.lognormal(0, 0.1)) for k in range(1, n_samples + 1)},
        index=pd.Index(ids, name="gene_id"),
    )
    return bulk, ids, names, base


def test_cellranger_v3_h5_with_ensembl_ids_and_mt_names(tmp_path):
    rng = np.random.default_rng(11)
    bulk, ids, names, base = _bulk_and_genes(rng)
    bulk.to_csv(tmp_path / "bulk.tsv", sep="\t")
    lines = []
    for s in bulk.columns:
        x = _cells(base, 40, 3000, rng)
        _write_10x_h5(
            tmp_path / f"{s}_filtered_feature_bc_matrix.h5",
            x,
            ids,
            names,
            [f"AAAC{i:08d}-1" for i in range(len(x))],
        )
        lines.append(f"tenx,{s},bulk.tsv,{s}_filtered_feature_bc_matrix.h5\n")
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text("dataset,sample,bulk,singlecell\n" + "".join(lines))
    assert _run(sheet, tmp_path / "out", "--skip-stages", "calibrate") == 0
    qc = pd.read_csv(tmp_path / "out" / "qc" / "tenx" / "cell_qc.tsv.gz", sep="\t")
    assert (qc["pct_mito"] > 0).all() and qc["pct_mito"].median() > 1
    qsum = json.loads((tmp_path / "out" / "qc" / "tenx" / "qc_summary.json").read_text())
    assert set(qsum["n_mito_genes_recognised"].values()) == {13}
    prof = ad.read_h5ad(tmp_path / "out" / "pseudobulk" / "tenx" / "profiles.h5ad")
    assert (prof.obs["pct_mito"] > 0).all()
    assert prof.var.loc[ids[0], "symbol"] == "MT-ND1" and prof.var.loc[ids[0], "is_mito"]
    assert _step_status(tmp_path / "out")["discriminate"] == "done"


def test_h5ad_counts_in_a_layer_with_custom_obs_columns(tmp_path, capsys):
    rng = np.random.default_rng(5)
    bulk, ids, names, base = _bulk_and_genes(rng)
    bulk.index = names  # symbols on both sides here
    bulk.to_csv(tmp_path / "bulk.tsv", sep="\t")
    parts, obs = [], []
    for s in bulk.columns:
        x = _cells(base, 40, 3000, rng)
        parts.append(x)
        obs += [{"sample_id": s, "celltype": "T" if i % 2 else "B"} for i in range(len(x))]
    counts = sp.csr_matrix(np.vstack(parts))
    logx = counts.multiply(1e4 / counts.sum(axis=1)).tocsr()
    logx.data = np.log1p(logx.data)
    a = ad.AnnData(
        logx,
        obs=pd.DataFrame(obs, index=[f"c{i}" for i in range(counts.shape[0])]),
        var=pd.DataFrame(index=names),
    )
    a.layers["raw_counts"] = counts
    a.write_h5ad(tmp_path / "sc.h5ad")
    sheet = tmp_path / "samplesheet.csv"
    sheet.write_text(
        "dataset,sample,bulk,singlecell\n" + "".join(f"lay,{s},bulk.tsv,sc.h5ad\n" for s in bulk.columns)
    )
    flags = ["--layer", "raw_counts", "--sc-sample-key", "sample_id", "--celltype-key", "celltype"]

    # a typo in a cross-stage option is caught before the first stage: one line, exit 2, nothing run
    assert _run(sheet, tmp_path / "typo", *flags[:4], "--celltype-key", "cell_type") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "obs lacks --celltype-key 'cell_type'" in err[0] and "celltype" in err[0]
    assert not (tmp_path / "typo" / "qc").exists()
    # without --layer the log-normalised X is refused with a pointer to the layer
    assert _run(sheet, tmp_path / "nolayer", "--sc-sample-key", "sample_id") == 2
    err = capsys.readouterr().err
    assert "holds non-integer values" in err and "--layer" in err

    assert _run(sheet, tmp_path / "out", *flags, "--skip-stages", "calibrate", "discriminate") == 0
    ct = ad.read_h5ad(tmp_path / "out" / "pseudobulk" / "lay" / "celltype_profiles.h5ad")
    assert set(ct.obs["cell_type"]) == {"T", "B"}
    prof = ad.read_h5ad(tmp_path / "out" / "pseudobulk" / "lay" / "profiles.h5ad")
    passing = pd.read_csv(tmp_path / "out" / "qc" / "lay" / "cell_qc.tsv.gz", sep="\t")
    passing = passing[passing["pass_qc"]]
    cell_totals = pd.Series(np.asarray(counts.sum(axis=1)).ravel(), index=a.obs_names)
    pb = prof.obs[prof.obs["modality"] == "pseudobulk"].set_index("sample")
    expect = passing.groupby("sample")["barcode"].apply(lambda b: int(cell_totals[b].sum()))
    # the raw layer was summed (the detection filter may drop a few genes, never add counts)
    assert (pb["n_counts"] <= expect.reindex(pb.index)).all() and (
        pb["n_counts"] > 0.95 * expect.reindex(pb.index)
    ).all()
    assert pytest.approx(pb["n_counts"].sum(), rel=0.05) == expect.sum()
