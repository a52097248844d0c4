"""The profiles matrix of the architecture contract: an AnnData ``.h5ad``, rows = profiles, columns = genes.

``obs`` has at least ``dataset``, ``sample``, ``donor``, ``modality`` (``bulk`` | ``pseudobulk``), and for
pseudo-bulk ``n_cells`` and ``n_counts``; ``X`` holds raw integer counts; derived values live in layers.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

from pbfidelity.errors import UserError

REQUIRED_OBS = ("dataset", "sample", "donor", "modality")
MODALITIES = ("bulk", "pseudobulk")


def validate_profiles(adata: ad.AnnData, source: str = "profiles") -> None:
    """Raise :class:`UserError` unless ``adata`` satisfies the profiles contract."""
    missing = [c for c in REQUIRED_OBS if c not in adata.obs.columns]
    if missing:
        raise UserError(f"{source}: obs lacks required column(s) {', '.join(missing)}")
    bad = sorted(set(adata.obs["modality"].astype(str)) - set(MODALITIES))
    if bad:
        raise UserError(f"{source}: obs column 'modality' has value(s) {bad}; allowed: {list(MODALITIES)}")
    pb = adata.obs["modality"].astype(str) == "pseudobulk"
    for col in ("n_cells", "n_counts"):
        if pb.any() and col not in adata.obs.columns:
            raise UserError(f"{source}: pseudo-bulk profiles need obs column '{col}'")
    if not adata.obs_names.is_unique:
        dup = adata.obs_names[adata.obs_names.duplicated()][0]
        raise UserError(f"{source}: duplicate profile id '{dup}'")
    if not adata.var_names.is_unique:
        dup = adata.var_names[adata.var_names.duplicated()][0]
        raise UserError(f"{source}: duplicate gene '{dup}'")
    data = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X)
    if data.size and not _integer_counts(data):
        raise UserError(f"{source}: X must hold raw non-negative integer counts")


def _integer_counts(data: np.ndarray, step: int = 1 << 22) -> bool:
    """True when every value is a non-negative integer (checked in slices: no full-size temporaries)."""
    flat = data.reshape(-1)
    for a in range(0, flat.size, step):
        part = flat[a : a + step]
        if np.any(part < 0):
            return False
        if not np.issubdtype(part.dtype, np.integer) and not np.all(np.equal(np.mod(part, 1), 0)):
            return False
    return True


def read_profiles(path: str | Path, layers: bool = True) -> ad.AnnData:
    """Read and validate a profiles ``.h5ad``; ``layers=False`` reads only ``X``, ``obs``, ``var`` and
    ``uns`` (the normalised layers are derived values a stage that works on the counts does not need)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: profiles file does not exist")
    try:
        adata = ad.read_h5ad(path) if layers else _read_counts_only(path)
    except Exception as exc:  # h5py raises OSError/KeyError flavours for corrupt files
        raise UserError(f"{path}: cannot read as .h5ad ({type(exc).__name__}: {exc})") from None
    validate_profiles(adata, str(path))
    return adata


def _read_counts_only(path: Path) -> ad.AnnData:
    import h5py

    with h5py.File(path, "r") as f:
        parts = {k: ad.io.read_elem(f[k]) for k in ("X", "obs", "var", "uns") if k in f}
    return ad.AnnData(**parts)


def write_profiles(adata: ad.AnnData, path: str | Path) -> Path:
    """Validate and write a profiles ``.h5ad`` (categoricals for string obs columns)."""
    validate_profiles(adata, str(path))
    adata.strings_to_categoricals()
    adata.write_h5ad(Path(path))
    return Path(path)
