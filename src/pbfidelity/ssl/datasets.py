"""Loaders for the bulk-only benchmark data sets the ssl protocol is checked on (``../shared/data``).

- ``tcga5_cohort``: TCGA ACC/CHOL/DLBC/UCS/UVM (RSEM-normalised, samples as rows); label = cohort.
- ``tcga5_tumour_normal``: CHOL tumour vs solid-tissue normal (barcode characters 14-15); the other four
  cohorts join pre-training as extra unlabeled profiles.
- ``islets_t2d``: Fadista et al. 2014 islets (counts, genes x donors); label = ``hba1c_class2``.
- ``sim_latent``: a simulated task built to need representation learning (no data folder):
  :func:`simulate_latent_task`.
Groups are patients (TCGA barcode characters 1-12) or donors, so no patient is on both sides of a split.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from pbfidelity.errors import UserError
from pbfidelity.ssl.data import SSLData

BENCHMARKS: tuple[str, ...] = ("tcga5_cohort", "tcga5_tumour_normal", "islets_t2d", "sim_latent")
TCGA5_COHORTS: tuple[str, ...] = ("ACC", "CHOL", "DLBC", "UCS", "UVM")


def tcga_sample_type(barcode: str) -> str:
    """``tumour`` for sample-type codes 01-09, ``normal`` for 10-19 (barcode characters 14-15)."""
    code = int(barcode[13:15])
    return "tumour" if code < 10 else "normal" if code < 20 else "other"


def read_tcga5(
    folder: str | Path, cohorts: tuple[str, ...] = TCGA5_COHORTS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All cohorts as one (samples x genes) frame on the shared genes, and obs (cohort, patient, type).

    Parsed once per process and folder (the CSVs take seconds); callers get copies.
    """
    values, meta = _read_tcga5_cached(str(Path(folder).resolve()), tuple(cohorts))
    return values.copy(), meta.copy()


@lru_cache(maxsize=2)
def _read_tcga5_cached(folder: str, cohorts: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    frames, meta = [], []
    for cohort in cohorts:
        path = folder / f"{cohort}.rnaseq.csv.gz"
        if not path.exists():
            raise UserError(f"{path}: TCGA cohort file does not exist")
        df = pd.read_csv(path, index_col=0, dtype={"bcr_patient_barcode": str}, engine="c")
        df = df.astype(np.float32)
        frames.append(df)
        meta.append(
            pd.DataFrame(
                {
                    "cohort": cohort,
                    "patient": [b[:12] for b in df.index],
                    "sample_type": [tcga_sample_type(b) for b in df.index],
                },
                index=df.index,
            )
        )
    genes = frames[0].columns
    for f in frames[1:]:
        genes = genes.intersection(f.columns, sort=False)
    values = pd.concat([f[genes] for f in frames])
    return values, pd.concat(meta)


def load_tcga5(folder: str | Path, task: str = "cohort") -> SSLData:
    """TCGA5 as :class:`SSLData` for ``task`` ``cohort`` or ``tumour_normal``."""
    values, meta = read_tcga5(folder)
    if task == "cohort":
        label = meta["cohort"]
        extra = np.zeros(len(meta), dtype=bool)
    elif task == "tumour_normal":
        chol = (meta["cohort"] == "CHOL").to_numpy()
        label = meta["sample_type"].where(chol, np.nan)
        extra = ~chol
    else:
        raise UserError(f"tcga5: unknown task '{task}' (cohort or tumour_normal)")
    obs = pd.DataFrame(
        {
            "sample": meta.index,
            "group": meta["patient"].to_numpy(),
            "modality": "bulk",
            "label": label.to_numpy(dtype=object),
            "primary": ~extra,
            "extra": extra,
        },
        index=meta.index,
    )
    obs.loc[extra, "group"] = [f"extra:{s}" for s in obs.index[extra]]
    return SSLData(f"tcga5_{task}", task, values.to_numpy(np.float32), list(values.columns), obs)


def load_islets(folder: str | Path, label_column: str = "hba1c_class2") -> SSLData:
    """Fadista islets: counts (genes x donors) and ``samples.csv`` donor phenotypes."""
    folder = Path(folder)
    counts = pd.read_csv(folder / "counts.csv.gz", index_col=0)
    samples = pd.read_csv(folder / "samples.csv", index_col=0)
    if label_column not in samples.columns:
        raise UserError(f"{folder / 'samples.csv'}: no column '{label_column}'")
    donors = [d for d in counts.columns if d in samples.index]
    if not donors:
        raise UserError(f"{folder}: no donor of counts.csv.gz is in samples.csv")
    counts = counts[donors].groupby(level=0).sum()  # duplicated gene symbols are summed
    label = samples.loc[donors, label_column].astype(object)
    obs = pd.DataFrame(
        {
            "sample": donors,
            "group": donors,
            "modality": "bulk",
            "label": label.where(label.notna(), np.nan).to_numpy(),
            "primary": True,
            "extra": False,
        },
        index=donors,
    )
    return SSLData("islets_t2d", label_column, counts.T.to_numpy(np.float32), list(counts.index), obs)


def simulate_latent_task(
    *,
    n_labelled: int = 600,
    n_unlabelled: int = 5000,
    n_classes: int = 10,
    n_latent: int = 6,
    n_genes: int = 2000,
    n_informative: int = 200,
    class_sd: float = 1.0,
    seed: int = 0,
) -> SSLData:
    """Counts whose class lives in a low-dimensional latent space that many noisy genes hide.

    Each profile has a class (``n_classes`` latent centres) and a latent point ``z`` = centre + N(0,
    ``class_sd``) in ``n_latent`` dimensions. ``n_informative`` genes read ``z`` through a non-linear map
    (tanh hidden layer); the other genes carry independent per-profile log-normal noise scaled to the same
    variance, so top-variance gene selection cannot find the signal. Counts are Poisson draws at library sizes
    around 2 M. The first ``n_labelled`` profiles are labelled (one donor each); the rest are unlabelled rows
    that only join pre-training. With few labels, a supervised model must find the latent structure among
    ~``n_genes`` noisy genes from a handful of profiles; an encoder pre-trained on the unlabelled profiles can
    learn it without labels.
    """
    rng = np.random.default_rng(seed)
    n = n_labelled + n_unlabelled
    centres = rng.normal(0.0, 1.5, (n_classes, n_latent))
    cls = rng.integers(n_classes, size=n)
    z = centres[cls] + rng.normal(0.0, class_sd, (n, n_latent))
    hidden = np.tanh(z @ rng.normal(0.0, 0.6, (n_latent, 16)))
    signal = hidden @ rng.normal(0.0, 0.5, (16, n_informative))
    sd_signal = float(signal.std())
    noise = rng.normal(0.0, sd_signal, (n, n_genes - n_informative))
    base = rng.normal(0.0, 1.0, n_genes)
    logmean = base + np.concatenate([signal, noise], axis=1)
    order = rng.permutation(n_genes)  # informative genes are not the first columns
    logmean = logmean[:, order]
    prob = np.exp(logmean - logmean.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    lib = rng.lognormal(np.log(2e6), 0.3, n)
    counts = rng.poisson(prob * lib[:, None]).astype(np.float32)
    ids = [f"L{i:05d}" if i < n_labelled else f"U{i:05d}" for i in range(n)]
    extra = np.arange(n) >= n_labelled
    labels = np.array([f"class{c:02d}" for c in cls], dtype=object)
    labels[extra] = np.nan
    obs = pd.DataFrame(
        {
            "sample": ids,
            "group": [f"extra:{i}" if e else i for i, e in zip(ids, extra, strict=True)],
            "modality": "bulk",
            "label": labels,
            "primary": ~extra,
            "extra": extra,
        },
        index=ids,
    )
    genes = [f"g{j:04d}{'_inf' if order[j] < n_informative else ''}" for j in range(n_genes)]
    return SSLData("sim_latent", "latent_class", counts, genes, obs)


def load_benchmark(name: str, data_dir: str | Path | None, seed: int = 0) -> SSLData:
    """One of :data:`BENCHMARKS`: read from the shared data folder (``tcga5/`` and ``islets_fadista/`` inside
    it), or generated (``sim_latent``, with ``seed``)."""
    if name == "sim_latent":
        return simulate_latent_task(seed=seed)
    if data_dir is None:
        raise UserError(f"--data-dir is required with --benchmark {name}")
    data_dir = Path(data_dir)
    if name == "tcga5_cohort":
        return load_tcga5(data_dir / "tcga5", "cohort")
    if name == "tcga5_tumour_normal":
        return load_tcga5(data_dir / "tcga5", "tumour_normal")
    if name == "islets_t2d":
        return load_islets(data_dir / "islets_fadista")
    raise UserError(f"unknown benchmark '{name}' (one of {', '.join(BENCHMARKS)})")


def read_unlabeled(path: str | Path) -> tuple[np.ndarray, list[str], list[str]]:
    """An extra unlabeled matrix: a profiles ``.h5ad`` (rows = profiles) or a genes x samples TSV/CSV.

    Returns ``(values samples x genes, genes, sample ids)``.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: unlabeled matrix does not exist")
    if path.suffix == ".h5ad":
        import anndata as ad

        adata = ad.read_h5ad(path)
        x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
        return x.astype(np.float32), list(map(str, adata.var_names)), list(map(str, adata.obs_names))
    sep = "\t" if any(s in (".tsv", ".txt") for s in path.suffixes) else ","
    try:
        df = pd.read_csv(path, sep=sep, index_col=0)
    except Exception as exc:
        raise UserError(f"{path}: cannot read as a genes x samples table ({exc})") from None
    df = df.select_dtypes(include="number")
    if df.empty:
        raise UserError(f"{path}: no numeric sample columns")
    if (df.to_numpy() < 0).any():
        raise UserError(f"{path}: negative values; expected counts or non-negative normalised expression")
    df = df.groupby(level=0).sum()
    return df.T.to_numpy(np.float32), list(map(str, df.index)), list(map(str, df.columns))
