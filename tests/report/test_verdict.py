"""Overview verdicts: numbers found under their aliases, "not run" vs "not reported", honest wording."""

from __future__ import annotations

from pbfidelity.report.verdict import NOT_REPORTED, NOT_RUN, dataset_verdict, lookup


def test_lookup_first_dotted_path_wins():
    doc = {"a": {"b": 2}, "c": 3}
    assert lookup(doc, ("x.y", "a.b", "c")) == 2
    assert lookup(doc, ("missing",)) is None
    assert lookup(None, ("a",)) is None


def test_nothing_ran_says_not_run():
    v = dataset_verdict("d", {})
    assert set(v.cells.values()) == {NOT_RUN}
    assert all("not run" in s for s in v.sentences)


def test_stage_ran_without_numbers_says_not_reported():
    v = dataset_verdict("d", {"metrics": {}, "discriminate": {}, "calibrate": {}, "ssl": {}})
    assert v.cells["Matched-pair r"] == NOT_REPORTED
    assert v.cells["AUROC (95% CI)"] == NOT_REPORTED
    assert v.cells["Calibration ΔAUROC"] == NOT_REPORTED
    assert v.cells["SSL label efficiency"] == NOT_REPORTED


def test_full_verdict_numbers_and_aliases():
    v = dataset_verdict(
        "d",
        {
            "metrics": {"correlation": {"matched_pearson": 0.95}, "de": {"n_de": 12.0}},
            "discriminate": {"auroc": 0.5, "ci_low": 0.31, "ci_high": 0.69, "permutation_p": 0.42},
            "calibrate": {"raw": {"auroc": 0.9}, "calibrated": {"auroc": 0.6}},
            "ssl": {"label_efficiency": {"scarf": 0.05, "byol": None}},
        },
    )
    assert v.cells["Matched-pair r"] == "0.950"
    assert v.cells["DE genes"] == "12"
    assert v.cells["AUROC (95% CI)"] == "0.50 [0.31, 0.69]"
    assert v.cells["Permutation p"] == "0.420"
    assert v.cells["Calibration ΔAUROC"] == "-0.300"
    assert v.cells["SSL label efficiency"] == "scarf: 5 %, byol: never matched"
    # no verdict in the summary: derived from the CI, and a CI covering 0.5 is "no detectable difference"
    assert any("no detectable difference" in s for s in v.sentences)
    assert v.values["auroc_drop"] == 0.30000000000000004 or abs(v.values["auroc_drop"] - 0.3) < 1e-12


def test_ssl_records_skip_baselines_and_name_the_best_baseline():
    recs = [
        {"model": "scarf_probe", "family": "ssl", "first_fraction": 0.1, "best_baseline": "logreg"},
        {"model": "logreg", "family": "baseline", "first_fraction": 0.5, "best_baseline": "logreg"},
    ]
    v = dataset_verdict("d", {"ssl": {"first_match": recs}})
    assert v.cells["SSL label efficiency"] == "scarf_probe: 10 %"
    assert "logreg" in v.sentences[-1]


def test_ssl_efficiency_from_table_when_summary_lacks_it():
    v = dataset_verdict("d", {"ssl": {"dataset": "d"}}, ssl_efficiency={"vime": 0.2})
    assert v.cells["SSL label efficiency"] == "vime: 20 %"


def test_headline_answers_in_plain_words():
    from pbfidelity.report.verdict import headline

    separated = {
        "verdict_exact": "distinguishable: a classifier tells bulk from pseudo-bulk on held-out donors",
        "depth_match": "paired",
        "auroc_exact": {"concordance": 1.0, "ci_low": 0.839, "ci_high": 1.0},
        "covariate_baseline": {
            "auroc": 1.0,
            "separates": True,
            "single_covariate_auroc": {"log10_library_size": 1.0, "pct_mito": 0.97},
        },
    }
    metrics = {
        "negative_control": {"distance_ratio_depth_matched": 1.45, "auroc": 1.0},
        "gene_attribute_bias": [
            {"attribute": "gene_type", "category": "pseudo", "de_fisher_p": 1e-4, "de_odds_ratio": 3.0},
            {
                "attribute": "gene_type",
                "category": "protein-coding",
                "de_fisher_p": 0.5,
                "de_odds_ratio": 0.9,
            },
        ],
    }
    short, text = headline({"discriminate": separated, "metrics": metrics})
    assert short == "not faithful"
    assert "after depth matching and spike-in removal" in text and "0.839 to 1.000" in text
    assert "technical covariates alone do separate" in text and "1.45×" in text
    assert "halves themselves are separable" in text and "pseudo (gene_type)" in text
    assert "protein-coding" not in text
    null = {
        **separated,
        "verdict_exact": "no detectable difference: held-out AUROC is compatible with chance",
        "auroc_exact": {"concordance": 0.48, "ci_low": 0.26, "ci_high": 0.70},
        "covariate_baseline": {"auroc": 0.55, "separates": False, "single_covariate_auroc": {}},
    }
    short, text = headline({"discriminate": null})
    assert short == "no detectable difference" and "do not separate" in text and "enriched" not in text
    assert headline({})[0] == "not run"


def test_calibration_change_with_interval_and_ssl_power_statement_once():
    v = dataset_verdict(
        "d",
        {
            "calibrate": {"auroc_raw": 0.9, "auroc_calibrated": 0.9, "auroc_calibrated_ci": [0.71, 1.0]},
            "ssl": {
                "power_statement": "no SSL model beats the validation-chosen baseline",
                "power": [
                    {"model": "scarf_probe", "family": "ssl_probe", "call": "underpowered", "diff_mean": 0.01}
                ],
            },
        },
    )
    assert v.cells["Calibration ΔAUROC"] == "+0.000 (calibrated AUROC 0.900, 95% CI 0.710 to 1.000)"
    assert v.cells["SSL label efficiency"] == "no gain over the chosen baseline"
    assert sum("never matched" in x for x in v.sentences) == 0


def test_enrichment_cell_names_the_test_and_flags_gene_permutation():
    from pbfidelity.report.verdict import dataset_verdict

    flip = {
        "prerank_significant": {"bulk_up": 2, "pseudobulk_up": 1},
        "prerank_test": "donor sign-flip (10000 random flips)",
        "prerank_null_safe": True,
        "top_processes": {"prerank:bulk_up": {"term": "GO:1", "name": "translation", "padj": 0.01}},
    }
    v = dataset_verdict("d", {"enrich": flip})
    assert v.cells["Processes (padj < 0.05)"] == "3 (2 bulk-up, 1 pseudobulk-up)"
    assert any("donor sign-flip" in s and "translation (bulk-up, padj" in s for s in v.sentences)
    gene_perm = {**flip, "prerank_null_safe": False, "prerank_caveat": "anti-conservative"}
    v = dataset_verdict("d", {"enrich": gene_perm})
    assert v.cells["Processes (padj < 0.05)"].endswith("not null-safe")
    under = {**flip, "prerank_underpowered": True, "prerank_n_donors": 4, "prerank_min_attainable_p": 0.125}
    assert (
        dataset_verdict("d", {"enrich": under}).cells["Processes (padj < 0.05)"] == "underpowered (4 donors)"
    )
    assert "Processes (padj < 0.05)" not in dataset_verdict("d", {}).cells
