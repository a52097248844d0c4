"""The overview: one verdict row per dataset from the stages' summaries (pure functions, no files).

Each number is looked up under a few key names (dotted paths into the summary JSON) so that the report
keeps working while stages evolve; a stage that did not run, or a number a stage did not report, is shown
as "not run" / "not reported" rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_RUN = "not run"
NOT_REPORTED = "not reported"

#: Where each overview number is read from: stage -> field -> candidate dotted keys (first found wins).
KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "metrics": {
        "matched_r": (
            "matched_pair_r",
            "matched_pearson_r",
            "matched_r",
            "matched_pearson",
            "correlation.matched_pearson",
            "correlation.matched_pair_r",
            "matched.pearson",
            "matched_pairs.pearson",
        ),
        "unmatched_r": (
            "unmatched_pair_r",
            "unmatched_pearson_r",
            "unmatched_r",
            "correlation.unmatched_pearson",
            "unmatched.pearson",
            "unmatched_pairs.pearson",
        ),
        "n_de": ("n_de", "n_de_genes", "de.n_de", "de.n_significant", "de.n_de_genes"),
        "n_de_bulk_up": ("n_de_bulk_up", "de.n_bulk_up", "de.bulk_up"),
        "n_de_pb_up": ("n_de_pseudobulk_up", "de.n_pseudobulk_up", "de.pseudobulk_up"),
        "separating_component": ("separating_component", "pca.separating_component"),
    },
    "discriminate": {
        "auroc": ("auroc", "xgboost.auroc", "metrics.auroc"),
        "ci_low": ("ci_low", "auroc_ci_low", "xgboost.ci_low"),
        "ci_high": ("ci_high", "auroc_ci_high", "xgboost.ci_high"),
        "p": ("permutation_p", "p_value", "permutation.p_value"),
        "verdict": ("verdict",),
    },
    "calibrate": {
        "auroc_raw": ("auroc_raw", "raw.auroc", "auroc.raw", "auroc_before"),
        "auroc_cal": ("auroc_calibrated", "calibrated.auroc", "auroc.calibrated", "auroc_after"),
        "auroc_drop": ("auroc_drop", "delta_auroc_drop"),
        "r_raw": ("pair_r_raw_median", "matched_r_raw", "raw.matched_r", "matched_r.raw", "matched_r_before"),
        "r_cal": (
            "pair_r_calibrated_median",
            "matched_r_calibrated",
            "calibrated.matched_r",
            "matched_r.calibrated",
            "matched_r_after",
        ),
        "method": ("method", "best_method"),
    },
    "ssl": {
        "label_efficiency": ("label_efficiency", "first_match", "first_matching_fraction"),
        "best_baseline": ("best_baseline",),
    },
}


def lookup(doc: Mapping[str, Any] | None, paths: Sequence[str]) -> Any:
    """The value at the first dotted path present in ``doc`` (None if none is)."""
    if not doc:
        return None
    for path in paths:
        cur: Any = doc
        for part in path.split("."):
            if isinstance(cur, Mapping) and part in cur:
                cur = cur[part]
            else:
                cur = None
                break
        if cur is not None:
            return cur
    return None


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt(value: Any, digits: int = 3) -> str:
    """A value with fixed decimals (``not reported`` when missing)."""
    f = _num(value)
    return NOT_REPORTED if f is None else f"{f:.{digits}f}"


def fmt_count(value: Any) -> str:
    f = _num(value)
    return NOT_REPORTED if f is None else f"{int(round(f)):d}"


def fmt_p(value: Any) -> str:
    f = _num(value)
    return NOT_REPORTED if f is None else (f"{f:.2g}" if f < 0.01 else f"{f:.3f}")


def fmt_fraction(value: Any) -> str:
    f = _num(value)
    if f is None:
        return str(value) if value not in (None, "") else "never matched"
    return f"{100 * f:g} %" if f <= 1 else f"{f:g} %"


@dataclass
class Verdict:
    """The overview of one dataset: table cells (strings) and sentences."""

    dataset: str
    cells: dict[str, str] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)
    values: dict[str, float | None] = field(default_factory=dict)


def _metrics(s: Mapping | None, v: Verdict) -> None:
    if s is None:
        v.cells["Matched-pair r"] = v.cells["DE genes"] = NOT_RUN
        v.sentences.append("Fidelity metrics and differential expression: not run.")
        return
    k = KEYS["metrics"]
    r, ru, n_de = lookup(s, k["matched_r"]), lookup(s, k["unmatched_r"]), lookup(s, k["n_de"])
    v.values.update(matched_r=_num(r), n_de=_num(n_de))
    v.cells["Matched-pair r"] = fmt(r)
    v.cells["DE genes"] = fmt_count(n_de)
    parts = []
    if _num(r) is not None:
        parts.append(
            f"matched bulk and pseudo-bulk profiles correlate with Pearson r = {fmt(r)} (log-CPM)"
            + (f", against r = {fmt(ru)} for unmatched pairs" if _num(ru) is not None else "")
        )
    if _num(n_de) is not None:
        up_b, up_p = lookup(s, k["n_de_bulk_up"]), lookup(s, k["n_de_pb_up"])
        split = (
            f" ({fmt_count(up_b)} higher in bulk, {fmt_count(up_p)} higher in pseudo-bulk)"
            if _num(up_b) is not None and _num(up_p) is not None
            else ""
        )
        parts.append(f"{fmt_count(n_de)} genes are differentially expressed between the modalities{split}")
    comp = lookup(s, k["separating_component"])
    if comp not in (None, ""):
        parts.append(f"the component separating modality is {comp}")
    v.sentences.append(
        ("Fidelity: " + "; ".join(parts) + ".") if parts else "Fidelity metrics: no numbers reported."
    )


def _discriminate(s: Mapping | None, v: Verdict) -> None:
    if s is None:
        v.cells["AUROC (95% CI)"] = v.cells["Permutation p"] = NOT_RUN
        v.sentences.append("Discrimination of bulk vs pseudo-bulk: not run.")
        return
    k = KEYS["discriminate"]
    auc, lo, hi, p = (lookup(s, k[x]) for x in ("auroc", "ci_low", "ci_high", "p"))
    v.values.update(auroc=_num(auc), auroc_ci_low=_num(lo), auroc_ci_high=_num(hi), permutation_p=_num(p))
    ci = f" [{fmt(lo, 2)}, {fmt(hi, 2)}]" if _num(lo) is not None and _num(hi) is not None else ""
    v.cells["AUROC (95% CI)"] = f"{fmt(auc, 2)}{ci}" if _num(auc) is not None else NOT_REPORTED
    v.cells["Permutation p"] = fmt_p(p)
    verdict = lookup(s, k["verdict"])
    if not verdict and _num(lo) is not None:
        verdict = (
            "distinguishable: held-out AUROC is above chance"
            if _num(lo) > 0.5
            else "no detectable difference: held-out AUROC is compatible with chance"
        )
    text = f"an XGBoost classifier on held-out donors reaches AUROC {v.cells['AUROC (95% CI)']}"
    if _num(p) is not None:
        text += f", permutation p = {fmt_p(p)}"
    v.sentences.append(f"Discrimination: {text}" + (f" — {verdict}." if verdict else "."))


def _calibrate(s: Mapping | None, v: Verdict) -> None:
    if s is None:
        v.cells["Calibration ΔAUROC"] = NOT_RUN
        v.sentences.append("Calibration of pseudo-bulk towards bulk: not run.")
        return
    k = KEYS["calibrate"]
    raw, cal, drop = (_num(lookup(s, k[x])) for x in ("auroc_raw", "auroc_cal", "auroc_drop"))
    if drop is None and raw is not None and cal is not None:
        drop = raw - cal
    r_raw, r_cal = _num(lookup(s, k["r_raw"])), _num(lookup(s, k["r_cal"]))
    v.values.update(auroc_raw=raw, auroc_calibrated=cal, auroc_drop=drop, r_raw=r_raw, r_calibrated=r_cal)
    ci = s.get("auroc_calibrated_ci") if isinstance(s, Mapping) else None
    ci_txt = (
        f" (calibrated AUROC {cal:.3f}, 95% CI {float(ci[0]):.3f} to {float(ci[1]):.3f})"
        if cal is not None and isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci
        else ""
    )
    v.cells["Calibration ΔAUROC"] = NOT_REPORTED if drop is None else f"{(-drop) + 0.0:+.3f}{ci_txt}"
    parts = []
    if raw is not None and cal is not None:
        parts.append(f"held-out AUROC goes from {raw:.2f} (raw pseudo-bulk) to {cal:.2f} (calibrated)")
    elif drop is not None:
        parts.append(f"held-out AUROC changes by {-drop:+.2f}")
    if r_raw is not None and r_cal is not None:
        parts.append(f"median matched-pair r from {r_raw:.3f} to {r_cal:.3f}")
    method = lookup(s, k["method"])
    lead = f"Calibration ({method}): " if isinstance(method, str) else "Calibration: "
    v.sentences.append(lead + ("; ".join(parts) + "." if parts else "no numbers reported."))


def _deconvolve(s: Mapping | None, v: Verdict) -> None:
    """The optimism of a pseudo-bulk deconvolution benchmark (first method) and what calibration recovers."""
    if s is None:
        v.cells["Deconvolution optimism"] = NOT_RUN
        v.sentences.append("Deconvolution: not run.")
        return
    primary = s.get("primary_method")
    rec = next(
        (r for r in s.get("consequence") or [] if isinstance(r, Mapping) and r.get("method") == primary), {}
    )
    opt, lo, hi = (_num(rec.get(k)) for k in ("optimism", "optimism_ci_low", "optimism_ci_high"))
    v.values.update(deconvolution_optimism=opt, deconvolution_recovered=_num(rec.get("recovered_calibrated")))
    if opt is None:
        v.cells["Deconvolution optimism"] = "no known proportions" if rec else NOT_REPORTED
        if rec and s.get("proportions_estimated"):
            v.cells["Deconvolution optimism"] += "; pseudo-bulk matched to estimated proportions"
    else:
        cell = f"{opt:+.3f} RMSE [{fmt(lo)}, {fmt(hi)}]"
        recovered = _num(rec.get("recovered_calibrated"))
        if recovered is not None and rec.get("optimism_detected"):
            cell += f"; calibration recovers {100 * recovered:.0f} %"
        v.cells["Deconvolution optimism"] = cell
    sentence = s.get("sentence")
    if isinstance(sentence, str) and sentence:
        body = sentence.split(": ", 1)[1] if sentence.startswith(f"{s.get('dataset')}: ") else sentence
        v.sentences.append(f"Deconvolution: {body}.")
    else:
        v.sentences.append("Deconvolution: ran; see its section.")


def _label_efficiency(value: Any) -> dict[str, Any]:
    """{method: fraction} from a dict, or from a list of records with method/model and fraction keys."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        out = {}
        for rec in value:
            if isinstance(rec, Mapping) and rec.get("family") != "baseline":
                name = rec.get("method") or rec.get("model")
                frac = next(
                    (rec[k] for k in ("fraction", "first_fraction", "label_fraction") if k in rec), None
                )
                if name is not None:
                    out[str(name)] = frac
        return out
    return {}


def _ssl(s: Mapping | None, v: Verdict, efficiency: Mapping[str, Any] | None) -> None:
    if s is None:
        v.cells["SSL label efficiency"] = NOT_RUN
        v.sentences.append("Self-supervised phenotype prediction: not run.")
        return
    statement = s.get("power_statement") if isinstance(s, Mapping) else None
    if statement:  # the validation-chosen-baseline comparison with power (ssl_power.tsv) says it once
        better = [
            r
            for r in s.get("power") or []
            if isinstance(r, Mapping)
            and r.get("call") == "better"
            and str(r.get("family", "")).startswith("ssl")
        ]
        v.cells["SSL label efficiency"] = (
            f"gains at {len(better)} fraction(s) (best {max(better, key=lambda r: r['diff_mean'])['model']})"
            if better
            else "no gain over the chosen baseline"
        )
        v.sentences.append(f"Self-supervised learning: {statement}.")
        return
    eff = _label_efficiency(lookup(s, KEYS["ssl"]["label_efficiency"])) or dict(efficiency or {})
    baseline = lookup(s, KEYS["ssl"]["best_baseline"])
    records = lookup(s, KEYS["ssl"]["label_efficiency"])
    if baseline is None and isinstance(records, list) and records and isinstance(records[0], Mapping):
        baseline = records[0].get("best_baseline")
    if not eff:
        v.cells["SSL label efficiency"] = NOT_REPORTED
        v.sentences.append("Self-supervised learning: ran; see its section for the label-fraction curves.")
        return
    cell = ", ".join(f"{m}: {fmt_fraction(f)}" for m, f in eff.items())
    v.cells["SSL label efficiency"] = cell
    against = f" the best baseline ({baseline})" if baseline else " the best supervised baseline"
    v.sentences.append(
        f"Self-supervised learning: label fraction at which each method first matches{against} — {cell}."
    )


def _driving_classes(metrics: Mapping | None, limit: int = 3) -> list[str]:
    """Gene classes over-represented among discordant genes (Fisher p < 0.05, odds > 1), strongest first."""
    recs = (metrics or {}).get("gene_attribute_bias") or []
    hits = [
        r
        for r in recs
        if isinstance(r, Mapping)
        and (_num(r.get("de_fisher_p")) or 1.0) < 0.05
        and (_num(r.get("de_odds_ratio")) or 0.0) > 1
    ]
    hits.sort(key=lambda r: _num(r.get("de_fisher_p")) or 1.0)
    return [f"{r.get('category')} ({r.get('attribute')})" for r in hits[:limit]]


def headline(summaries: Mapping[str, Mapping | None]) -> tuple[str, str]:
    """``(short answer, one plain sentence)``: is pseudo-bulk faithful here, in what, driven by what.

    Built from the discrimination after depth matching and spike-in removal (exact paired interval), the
    covariate-only baseline, the negative-control floor of the metrics stage and the gene classes enriched among
    discordant genes; every missing piece is left out rather than guessed.
    """
    d = summaries.get("discriminate")
    if not d:
        return NOT_RUN, "Answer: the discrimination stage did not run, so there is no verdict on fidelity."
    verdict = str(d.get("verdict_exact") or d.get("verdict") or "")
    ex = d.get("auroc_exact") or {}
    conc, lo, hi = _num(ex.get("concordance")), _num(ex.get("ci_low")), _num(ex.get("ci_high"))
    depth = d.get("depth_match")
    interval = (
        f"paired AUROC {conc:.3f}, exact 95% CI {lo:.3f} to {hi:.3f}"
        if None not in (conc, lo, hi)
        else f"AUROC {fmt(d.get('auroc'))} [{fmt(d.get('ci_low'))}, {fmt(d.get('ci_high'))}]"
    )
    matched = f" after {'depth matching and ' if depth and depth != 'none' else ''}spike-in removal"
    if verdict.startswith("distinguishable"):
        short = "not faithful"
        text = f"Answer: pseudo-bulk is not a faithful stand-in for bulk here: gene-level profiles{matched} still separate the modalities on held-out donors ({interval})"
    elif verdict.startswith("underpowered"):
        short = "underpowered"
        text = f"Answer: too few pairs to tell ({verdict}; {interval})"
    else:
        short = "no detectable difference"
        text = f"Answer: no detectable difference between bulk and pseudo-bulk{matched} ({interval})"
    cov = d.get("covariate_baseline") or {}
    single = cov.get("single_covariate_auroc") or {}
    if cov:
        alone = ", ".join(
            f"{k.replace('log10_', '').replace('pct_', '% ').replace('_', ' ')} {fmt(val, 2)}"
            for k, val in single.items()
            if _num(val) is not None
        )
        text += (
            f"; technical covariates alone {'do' if cov.get('separates') else 'do not'} separate them "
            f"(covariate-only AUROC {fmt(cov.get('auroc'), 2)}{'; ' + alone if alone else ''})"
        )
    nc = (summaries.get("metrics") or {}).get("negative_control") or {}
    ratio = _num(nc.get("distance_ratio_depth_matched", nc.get("distance_ratio")))
    if ratio is not None:
        text += f"; matched pairs differ {ratio:.2f}× as much as two halves of the same cells (negative-control floor)"
        nc_auc = _num(nc.get("auroc"))
        if nc_auc is not None and nc_auc >= 0.9:
            text += (
                f", but the halves themselves are separable (AUROC {nc_auc:.2f}), so different cells alone could "
                "explain a separation in this design"
            )
    classes = _driving_classes(summaries.get("metrics"))
    if classes and short == "not faithful":
        text += "; discordant genes are enriched in " + ", ".join(classes)
    return short, text + "."


def dataset_verdict(
    dataset: str,
    summaries: Mapping[str, Mapping | None],
    ssl_efficiency: Mapping[str, Any] | None = None,
) -> Verdict:
    """Overview of one dataset from ``{stage: summary or None}`` (a missing stage is "not run")."""
    v = Verdict(dataset)
    short, sentence = headline(summaries)
    v.cells["Answer"] = short
    v.sentences.append(sentence)
    _metrics(summaries.get("metrics"), v)
    _discriminate(summaries.get("discriminate"), v)
    _calibrate(summaries.get("calibrate"), v)
    _deconvolve(summaries.get("deconvolve"), v)
    if "enrich" in summaries:
        _enrich(summaries.get("enrich"), v)
    _ssl(summaries.get("ssl"), v, ssl_efficiency)
    return v


def _enrich(s: Mapping | None, v: Verdict) -> None:
    """Gene sets that differ between the modalities, and whether the test behind the p-values is null-safe."""
    col = "Processes (padj < 0.05)"
    if s is None:
        v.cells[col] = NOT_RUN
        v.sentences.append("Biological processes: not run (no gene sets given).")
        return
    sig = s.get("prerank_significant") or {}
    n_sig = sum(int(x) for x in sig.values())
    test = s.get("prerank_test") or str(s.get("prerank_method", "preranked test"))
    if s.get("prerank_underpowered"):
        v.cells[col] = f"underpowered ({s.get('prerank_n_donors')} donors)"
        v.sentences.append(
            f"Biological processes: underpowered — with {s.get('prerank_n_donors')} donors the smallest "
            f"attainable p of the {test} is {fmt_p(s.get('prerank_min_attainable_p'))}."
        )
        return
    parts = [f"{int(sig.get(d, 0))} {d.replace('_', '-')}" for d in ("bulk_up", "pseudobulk_up")]
    safe = bool(s.get("prerank_null_safe"))
    v.cells[col] = f"{n_sig} ({', '.join(parts)})" + ("" if safe else "; not null-safe")
    text = f"Biological processes: {n_sig} gene sets differ at padj < 0.05 ({', '.join(parts)}) by the {test}"
    tops = [
        f"{t.get('name') or t.get('term')} ({key.split(':', 1)[1].replace('_', '-')}, padj {fmt_p(t.get('padj'))})"
        for key, t in (s.get("top_processes") or {}).items()
        if key.startswith("prerank:") and _num(t.get("padj")) is not None and _num(t.get("padj")) < 0.05
    ]
    if tops:
        text += "; top: " + "; ".join(tops)
    if not safe:
        text += f" — caution: {s.get('prerank_caveat') or 'gene-permutation p-values'}"
    v.sentences.append(text + ".")


OVERVIEW_COLUMNS = (
    "Answer",
    "Matched-pair r",
    "AUROC (95% CI)",
    "Permutation p",
    "DE genes",
    "Calibration ΔAUROC",
    "Processes (padj < 0.05)",
    "Deconvolution optimism",
    "SSL label efficiency",
)
