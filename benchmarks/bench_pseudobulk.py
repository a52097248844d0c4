"""Pseudo-bulk benchmark: pbfidelity streaming vs in-memory vs scanpy vs decoupler on one synthetic .h5ad.

One run generates the file (unless it exists), warms the page cache, then runs every method in its own
process and reports wall time and peak RSS (``os.wait4`` of that process) with ratios to the raw h5py read
floor and to scanpy. All methods must produce the same (sample x cell type) sums; a fingerprint of each
result is compared and printed.

    python benchmarks/bench_pseudobulk.py --cells 200000            # the 200k-cell file (1.6 GB)
    python benchmarks/bench_pseudobulk.py --cells 1000000 --methods floor,stream
    python benchmarks/bench_pseudobulk.py --cells 20000 --layout csc --compression gzip

Files go to ``--workdir`` (default /tmp/pbf_bench), never into the repository. scanpy and decoupler are
optional (``pip install -e '.[bench]'``); a method whose package is missing is reported as skipped.
Targets (issue 8) are checked and printed, never relaxed: streaming <= 1.3x floor, >= 3x faster than
scanpy (read + aggregate), peak RSS <= 600 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = (
    "floor",
    "floor_chunked",
    "stream",
    "stream_readahead",
    "stream_scipy",
    "memory",
    "scanpy",
    "decoupler",
)
TARGET_FLOOR_RATIO = 1.3
TARGET_SCANPY_SPEEDUP = 3.0
TARGET_RSS_MB = 600.0


# ----------------------------------------------------------------------------------------------- generate
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a counter-based hash, so rows and columns can be generated independently."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash(cells: np.ndarray, bins: np.ndarray, per: int, seed: int) -> np.ndarray:
    key = cells.astype(np.uint64)[:, None] * np.uint64(per) + bins.astype(np.uint64)[None, :]
    return _mix(key ^ np.uint64(seed * 0x2545F4914F6CDD1D & 0xFFFFFFFFFFFFFFFF))


def _values(h: np.ndarray) -> np.ndarray:
    """Small UMI-like counts 1..: mostly 1, sometimes more (from the high hash bits)."""
    u = (h >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return (1 + np.floor(-np.log1p(-u) * 0.8)).astype(np.float32)


def _obs(n_cells: int, n_samples: int, n_types: int, order: str, seed: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    if order == "sample":  # cells concatenated sample by sample, as atlases usually are
        sample = np.repeat(np.arange(n_samples), -(-n_cells // n_samples))[:n_cells]
    else:
        sample = rng.integers(0, n_samples, n_cells)
    ctype = rng.integers(0, n_types, n_cells)
    return pd.DataFrame(
        {
            "sample": pd.Categorical.from_codes(sample, [f"S{i:03d}" for i in range(n_samples)]),
            "cell_type": pd.Categorical.from_codes(ctype, [f"T{i:02d}" for i in range(n_types)]),
        },
        index=pd.Index([f"cell{i:08d}" for i in range(n_cells)]),
    )


def generate(path: Path, a: argparse.Namespace) -> None:
    """Write an AnnData-compatible .h5ad chunk by chunk (memory flat in cells): ``nnz_per_cell`` genes per
    cell, one per bin of ``genes // nnz_per_cell`` consecutive genes, float32 integer counts."""
    import anndata as ad
    import h5py
    import pandas as pd

    n, g, per = a.cells, a.genes, a.nnz_per_cell
    width = g // per
    if width < 1:
        raise SystemExit("--nnz-per-cell must not exceed --genes")
    comp = None if a.compression == "none" else a.compression
    tmp = path.with_suffix(".part")
    with h5py.File(tmp, "w") as f:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        ad.io.write_elem(f, "obs", _obs(n, a.samples, a.cell_types, a.order, a.seed))
        ad.io.write_elem(f, "var", pd.DataFrame(index=pd.Index([f"gene{j:05d}" for j in range(g)])))
        for k in ("layers", "obsm", "obsp", "varm", "varp", "uns"):
            ad.io.write_elem(f, k, {})
        x = f.create_group("X")
        x.attrs["encoding-type"] = f"{a.layout}_matrix"
        x.attrs["encoding-version"] = "0.1.0"
        x.attrs["shape"] = np.array([n, g])
        nnz = n * per
        opts = dict(maxshape=(None,), chunks=True, compression=comp)  # as anndata writes sparse arrays
        data = x.create_dataset("data", shape=(nnz,), dtype=np.float32, **opts)
        indices = x.create_dataset("indices", shape=(nnz,), dtype=np.int32, **opts)
        bins = np.arange(per)
        if a.layout == "csr":
            x.create_dataset("indptr", data=np.arange(n + 1, dtype=np.int64) * per, **opts)
            step = max(1, 4_000_000 // per)
            for s in range(0, n, step):
                e = min(n, s + step)
                h = _hash(np.arange(s, e), bins, per, a.seed)
                data[s * per : e * per] = _values(h).ravel()
                indices[s * per : e * per] = (bins * width + (h % np.uint64(width)).astype(np.int64)).ravel()
        else:  # CSC: gene j holds the cells whose draw in bin j // width landed on offset j % width
            indptr = np.zeros(g + 1, dtype=np.int64)
            pos = 0
            cells = np.arange(n)
            for b in range(per):
                h = _hash(cells, np.array([b]), per, a.seed)[:, 0]
                off = (h % np.uint64(width)).astype(np.uint8 if width < 256 else np.int64)
                order = np.argsort(off, kind="stable")
                counts = np.bincount(off, minlength=width)
                vals = _values(h)
                data[pos : pos + n] = vals[order]
                indices[pos : pos + n] = order.astype(np.int32)
                indptr[b * width + 1 : (b + 1) * width + 1] = pos + np.cumsum(counts)
                pos += n
            indptr[per * width + 1 :] = pos
            x.create_dataset("indptr", data=indptr, **opts)
    tmp.rename(path)


# ------------------------------------------------------------------------------------------------ workers
def _labels(obs) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Group code per cell (sorted (sample, cell_type) pairs) and the pairs, from the categorical codes."""
    s, t = obs["sample"].astype("category"), obs["cell_type"].astype("category")
    pair = s.cat.codes.to_numpy().astype(np.int64) * len(t.cat.categories) + t.cat.codes.to_numpy()
    uniq, codes = np.unique(pair, return_inverse=True)
    sc, tc = np.asarray(s.cat.categories, dtype=str), np.asarray(t.cat.categories, dtype=str)
    labels = [(sc[u // len(tc)], tc[u % len(tc)]) for u in uniq]
    return codes.ravel(), labels


def _fingerprint(mat: np.ndarray, labels: list[tuple[str, str]]) -> dict:
    import hashlib

    order = sorted(range(len(labels)), key=lambda i: labels[i])
    h, total, integer = hashlib.sha1(), 0, True
    for i in order:  # row by row: no copy of the whole result (it would count in the peak RSS)
        row = np.asarray(mat[i], dtype=np.float64).ravel()
        ints = np.rint(row).astype(np.int64)
        integer &= bool(np.array_equal(ints, row))
        total += int(ints.sum())
        h.update(ints.tobytes())
    return {"sha1": h.hexdigest()[:12], "total": total, "integer": integer, "shape": [len(order), row.size]}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: the exec'd image only, unlike ru_maxrss, which on
    Linux also carries the parent's peak across fork/exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(method: str, path: str) -> dict:
    res = _timed_worker(method, path)
    res["cpu_s"] = time.process_time() - res.pop("_cpu0")
    res["rss_mb"] = _peak_rss_mb()
    return res


def _timed_worker(method: str, path: str) -> dict:
    """Runs one method; ``_cpu0`` is the process CPU time when the timed part (after imports) began."""
    t0 = time.perf_counter()
    res: dict = {}
    if method == "floor":  # the floor: X/data and X/indices read whole with h5py
        import h5py

        res["_cpu0"], t0 = time.process_time(), time.perf_counter()
        with h5py.File(path, "r") as f:
            x = f["X"]
            d, i, p = x["data"][:], x["indices"][:], x["indptr"][:]
        res["read_s"] = time.perf_counter() - t0
        res["nnz"] = int(d.size + 0 * i.size + 0 * p.size)
        return res
    if method == "floor_chunked":  # the same bytes read block by block into reused buffers, no compute
        import h5py

        res["_cpu0"], t0 = time.process_time(), time.perf_counter()
        with h5py.File(path, "r") as f:
            x = f["X"]
            step = 4_000_000
            bufs = [np.empty(step, x[k].dtype) for k in ("data", "indices")]
            n = x["data"].shape[0]
            for a in range(0, n, step):
                b = min(n, a + step)
                for k, buf in zip(("data", "indices"), bufs, strict=True):
                    x[k].read_direct(buf, np.s_[a:b], np.s_[0 : b - a])
        res["read_s"] = time.perf_counter() - t0
        return res
    if method in ("stream_readahead", "stream_scipy"):  # read-ahead thread on / numba off
        os.environ["PBF_READ_AHEAD" if method == "stream_readahead" else "PBF_NUMBA"] = (
            "1" if method == "stream_readahead" else "0"
        )
        res = _timed_worker("stream", path)
        return res
    if method in ("stream", "memory"):
        import anndata  # noqa: F401  (imports are timed apart, as for scanpy)

        from pbfidelity.io.singlecell import open_singlecell
        from pbfidelity.pseudobulk.aggregate import aggregate, aggregate_stream
        from pbfidelity.pseudobulk.kernels import numba_available
        from pbfidelity.pseudobulk.weights import group_weights

        res["numba"] = numba_available()
        res["import_s"] = time.perf_counter() - t0
        res["_cpu0"], t0 = time.process_time(), time.perf_counter()
        with open_singlecell(path) as src:
            codes, labels = _labels(src.obs)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(1, len(labels)))
            w = group_weights(np.split(order, bounds), len(codes))
            t1 = time.perf_counter()
            if method == "stream":
                mat = aggregate_stream(src.iter_chunks(), w, src.n_vars)
                t2 = t1
            else:
                x = src.to_memory()
                t2 = time.perf_counter()
                mat = aggregate(x, w)
        t3 = time.perf_counter()
        res.update(read_s=t2 - t0, agg_s=t3 - t2, setup_s=t1 - t0)
    elif method == "scanpy":
        import anndata as ad
        import scanpy as sc

        res["import_s"] = time.perf_counter() - t0
        res["_cpu0"], t0 = time.process_time(), time.perf_counter()
        adata = ad.read_h5ad(path)
        t2 = time.perf_counter()
        agg = sc.get.aggregate(adata, by=["sample", "cell_type"], func="sum")
        t3 = time.perf_counter()
        labels = list(zip(agg.obs["sample"].astype(str), agg.obs["cell_type"].astype(str), strict=True))
        mat = agg.layers["sum"]
        mat = mat.toarray() if hasattr(mat, "toarray") else mat
        res.update(read_s=t2 - t0, agg_s=t3 - t2)
    elif method == "decoupler":
        import anndata as ad
        import decoupler as dc

        res["import_s"] = time.perf_counter() - t0
        res["_cpu0"], t0 = time.process_time(), time.perf_counter()
        adata = ad.read_h5ad(path)
        t2 = time.perf_counter()
        pb = dc.pp.pseudobulk(
            adata, sample_col="sample", groups_col="cell_type", mode="sum", skip_checks=True
        )
        t3 = time.perf_counter()
        labels = list(zip(pb.obs["sample"].astype(str), pb.obs["cell_type"].astype(str), strict=True))
        mat = pb.X.toarray() if hasattr(pb.X, "toarray") else pb.X
        res.update(read_s=t2 - t0, agg_s=t3 - t2)
    else:
        raise SystemExit(f"unknown method {method}")
    cpu = time.process_time()
    res["fingerprint"] = _fingerprint(mat, labels)
    res["_cpu0"] += time.process_time() - cpu  # the fingerprint is not part of the method
    return res


# ------------------------------------------------------------------------------------------------- runner
def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _warm(path: Path) -> None:
    """Read the file once so every method starts from the page cache (small reads: this process stays
    small)."""
    buf = bytearray(4 << 20)
    with open(path, "rb", buffering=0) as fh:
        while fh.readinto(buf):
            pass


def _run_one(method: str, path: Path, env: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
        out = Path(t.name)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, str(path), "--result", str(out)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read() if p.stderr else ""
    p.returncode = os.waitstatus_to_exitcode(status)
    res: dict = {"method": method, "wall_s": wall, "rss_mb": ru.ru_maxrss / 1024, "load": _loadavg()}
    res["wait4_maxrss_mb"] = res["rss_mb"]  # replaced below by the worker's own VmHWM
    if p.returncode == 3:
        res["skipped"] = err.strip().splitlines()[-1] if err.strip() else "skipped"
    elif p.returncode != 0:
        res["error"] = (err.strip().splitlines() or ["?"])[-1]
    else:
        res.update(json.loads(out.read_text()))
    out.unlink(missing_ok=True)
    return res


def _fmt(x, spec=".2f") -> str:
    return "-" if x is None else format(x, spec)


def report(results: list[dict], nnz: int) -> str:
    """Markdown table. total = read + aggregate timed inside the process (imports excluded); CPU = user +
    system CPU seconds of that same part (robust when other jobs share the cores); process wall includes
    interpreter start and imports; load = 1/5/15-minute load average when the method finished."""
    floor = next((r.get("read_s") for r in results if r["method"] == "floor" and "read_s" in r), None)
    floor_cpu = next((r.get("cpu_s") for r in results if r["method"] == "floor" and "cpu_s" in r), None)
    sc = next((r for r in results if r["method"] == "scanpy" and "read_s" in r), None)
    sc_t = sc["read_s"] + sc["agg_s"] if sc else None
    ref = next((r.get("fingerprint") for r in results if r.get("fingerprint")), None)
    lines = [
        "| method | read s | aggregate s | total s | x floor | scanpy / this | CPU s | CPU x floor | peak RSS MB "
        "| ns/nnz | same sums | process wall s | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "skipped" in r or "error" in r:
            lines.append(f"| {r['method']} | {r.get('skipped') or r.get('error')} |||||||||||")
            continue
        tot = r.get("read_s", 0) + r.get("agg_s", 0)
        fp = r.get("fingerprint")
        same = "-" if fp is None else ("yes" if fp == ref else f"NO ({fp['sha1']})")
        lines.append(
            f"| {r['method']} | {_fmt(r.get('read_s'))} | {_fmt(r.get('agg_s'))} | {tot:.2f} | "
            f"{_fmt(tot / floor if floor else None)} | {_fmt(sc_t / tot if sc_t else None, '.1f')} | "
            f"{_fmt(r.get('cpu_s'))} | {_fmt(r['cpu_s'] / floor_cpu if floor_cpu and 'cpu_s' in r else None)} | "
            f"{r['rss_mb']:.0f} | {tot * 1e9 / nnz:.2f} | {same} | {r['wall_s']:.2f} | {r['load']} |"
        )
    return "\n".join(lines)


def check_targets(results: list[dict]) -> list[str]:
    by = {r["method"]: r for r in results if "read_s" in r}
    out = []
    st = by.get("stream")
    if st is None:
        return ["stream: not run"]
    tot = st["read_s"] + st["agg_s"]
    if "floor" in by:
        ratio = tot / by["floor"]["read_s"]
        out.append(
            f"stream / floor = {ratio:.2f} (target <= {TARGET_FLOOR_RATIO}): "
            f"{'met' if ratio <= TARGET_FLOOR_RATIO else 'NOT met'}"
        )
    if "scanpy" in by:
        sp_ = (by["scanpy"]["read_s"] + by["scanpy"]["agg_s"]) / tot
        out.append(
            f"scanpy / stream = {sp_:.1f}x (target >= {TARGET_SCANPY_SPEEDUP}): "
            f"{'met' if sp_ >= TARGET_SCANPY_SPEEDUP else 'NOT met'}"
        )
    out.append(
        f"stream peak RSS = {st['rss_mb']:.0f} MB (target <= {TARGET_RSS_MB:.0f}): "
        f"{'met' if st['rss_mb'] <= TARGET_RSS_MB else 'NOT met'}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=200_000)
    p.add_argument("--genes", type=int, default=20_000)
    p.add_argument("--nnz-per-cell", type=int, default=1000)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--cell-types", type=int, default=10)
    p.add_argument("--layout", choices=("csr", "csc"), default="csr")
    p.add_argument("--compression", choices=("none", "gzip", "lzf"), default="none")
    p.add_argument(
        "--order",
        choices=("sample", "random"),
        default="sample",
        help="cells grouped by sample (as concatenated atlases) or in random order",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/pbf_bench"))
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {METHODS}")
    p.add_argument("--repeat", type=int, default=1, help="runs per method; the fastest is reported")
    p.add_argument("--json", type=Path, help="also write all results here")
    p.add_argument("--worker", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.worker:
        try:
            res = _worker(*a.worker)
        except ModuleNotFoundError as exc:
            print(f"skipped: {exc.name} not installed", file=sys.stderr)
            return 3
        a.result.write_text(json.dumps(res))
        return 0

    methods = [m for m in a.methods.split(",") if m]
    a.workdir.mkdir(parents=True, exist_ok=True)
    name = (
        f"pb_{a.cells}c_{a.genes}g_{a.nnz_per_cell}nnz_{a.samples}x{a.cell_types}_{a.layout}_"
        f"{a.compression}_{a.order}_s{a.seed}.h5ad"
    )
    path = a.workdir / name
    if not path.exists():
        t = time.perf_counter()
        print(f"generating {path} ...", flush=True)
        # in a child process, so that this parent stays small (see _peak_rss_mb)
        ctx = __import__("multiprocessing").get_context("spawn")
        proc = ctx.Process(target=generate, args=(path, a))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"generating {path} failed")
        print(f"  {time.perf_counter() - t:.1f} s, {path.stat().st_size / 1e9:.2f} GB", flush=True)
    nnz = a.cells * a.nnz_per_cell
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    print(
        f"file {path} ({path.stat().st_size / 1e9:.2f} GB, {nnz:,} non-zeros); "
        f"cpus {os.cpu_count()}, load {_loadavg()}",
        flush=True,
    )
    _warm(path)
    results = []
    for m in methods:
        best = None
        for _ in range(a.repeat):
            r = _run_one(m, path, env)
            print(f"  {m}: {json.dumps(r)}", flush=True)
            if best is None or (
                "read_s" in r
                and r["read_s"] + r.get("agg_s", 0) < best.get("read_s", 1e99) + best.get("agg_s", 0)
            ):
                best = r if "read_s" in r or best is None else best
        results.append(best)
    print()
    print(report(results, nnz))
    print()
    for line in check_targets(results):
        print(line)
    if a.json:
        a.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(a).items()}, "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
