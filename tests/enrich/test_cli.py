import json

import pandas as pd
import yaml


def test_enrich_outputs_and_determinism(de_files, de_table, tmp_path, cli):
    de_path, gmt = de_files
    (de_path.parent / "metrics_summary.json").write_text(json.dumps({"dataset": "mix 5"}))
    shap = tmp_path / "shap_top_genes.tsv"
    pd.DataFrame({"gene": de_table["gene"][:25], "mean_abs_shap": 0.5, "direction": "bulk"}).to_csv(
        shap, sep="\t", index=False
    )
    args = [
        "--de",
        de_path,
        "--gene-sets",
        gmt,
        "--ranked-genes",
        shap,
        "--permutations",
        "100",
        "--seed",
        "3",
    ]
    cli("enrich", *args, "--outdir", tmp_path / "a")
    cli("enrich", *args, "--outdir", tmp_path / "b")
    for name in ("ora_results", "prerank_results", "top_processes"):
        assert (tmp_path / "a" / f"{name}.tsv").read_text() == (tmp_path / "b" / f"{name}.tsv").read_text()
    s = json.loads((tmp_path / "a" / "enrich_summary.json").read_text())
    assert s["dataset"] == "mix 5" and s["ora_significant"]["bulk_up"] >= 1 and "shap_top" in s["query_sizes"]
    mqc = [yaml.safe_load(p.read_text()) for p in (tmp_path / "a").glob("*_mqc.yaml")]
    assert {m["id"] for m in mqc} == {"pbf_enrich_mix_5_top", "pbf_enrich_mix_5_bars"}
    assert (tmp_path / "a" / "versions.yml").exists()


def test_enrich_user_errors(de_files, tmp_path, cli):
    de_path, gmt = de_files
    bad = tmp_path / "bad.tsv"
    bad.write_text("gene\tstat\tpvalue\nA\t1\t0.1\n")
    proc = cli("enrich", "--de", bad, "--gene-sets", gmt, "--outdir", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "missing column(s) ['direction']" in proc.stderr
    other = tmp_path / "other.gmt"
    other.write_text("X\tx\tENSG1\tENSG2\n")
    proc = cli("enrich", "--de", de_path, "--gene-sets", other, "--outdir", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "no gene of any set is among the tested genes" in proc.stderr
    de = pd.read_csv(de_path, sep="\t")
    de.loc[3, "direction"] = "up"
    de.to_csv(bad, sep="\t", index=False)
    proc = cli("enrich", "--de", bad, "--gene-sets", gmt, "--outdir", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "row 5, column 'direction'" in proc.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
