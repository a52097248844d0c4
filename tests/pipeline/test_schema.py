"""nextflow_schema.json against nextflow.config, and the samplesheet schema shared with Python."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import nf_render
import pytest

from pbfidelity.io.samplesheet import load_schema, read_samplesheet

ROOT = Path(__file__).resolve().parents[2]
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _schema() -> dict:
    return json.loads((ROOT / "nextflow_schema.json").read_text())


def _properties(schema: dict) -> dict[str, dict]:
    props: dict[str, dict] = {}
    for group in schema["$defs"].values():
        props.update(group["properties"])
    return props


def test_schema_is_valid_draft_2020_12():
    schema = _schema()
    assert schema["$schema"] == DRAFT
    jsonschema.Draft202012Validator.check_schema(schema)
    refs = {item["$ref"].split("/")[-1] for item in schema["allOf"]}
    assert refs == set(schema["$defs"]), "every group is referenced from allOf"


def test_every_param_documented_and_names_agree():
    props = _properties(_schema())
    config = nf_render.config_params(ROOT / "nextflow.config")
    assert set(props) == set(config), (
        f"only in schema: {sorted(set(props) - set(config))}; only in config: {sorted(set(config) - set(props))}"
    )
    for name, prop in props.items():
        assert prop.get("description", "").strip(), f"{name}: no description"
        assert prop.get("type") in ("string", "integer", "number", "boolean"), name


def test_defaults_agree_with_the_config():
    props = _properties(_schema())
    config = nf_render.config_params(ROOT / "nextflow.config")
    for name, prop in props.items():
        if config[name] is None:
            assert "default" not in prop, f"{name}: null in nextflow.config but a default in the schema"
        else:
            assert prop.get("default") == config[name], (
                f"{name}: schema {prop.get('default')!r} != config {config[name]!r}"
            )


def test_config_defaults_validate_against_the_schema():
    """The defaults (plus the required outdir) form a valid parameter set; bad values are refused."""
    schema = _schema()
    config = nf_render.config_params(ROOT / "nextflow.config")
    params = {k: v for k, v in config.items() if v is not None} | {"outdir": "results"}
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(params))
    assert list(validator.iter_errors({**params, "seed": "forty-two"}))
    assert list(validator.iter_errors({**params, "publish_dir_mode": "teleport"}))
    assert list(validator.iter_errors({k: v for k, v in params.items() if k != "outdir"}))


def test_test_profile_params_are_schema_params():
    props = _properties(_schema())
    for conf in ("test.config", "test_full.config"):
        text = (ROOT / "conf" / conf).read_text()
        block = text[text.index("params {") :]
        for line in block.splitlines()[1:]:
            name = line.strip().split("=")[0].strip()
            if name and name != "}" and not name.startswith("//"):
                assert name in props, f"conf/{conf}: {name} is not a pipeline parameter"


def test_samplesheet_schema_is_shared_and_draft_2020_12(tmp_path):
    on_disk = json.loads((ROOT / "assets" / "schema_input.json").read_text())
    assert on_disk["$schema"] == DRAFT
    jsonschema.Draft202012Validator.check_schema(on_disk)
    assert load_schema() == on_disk, "the package validates with assets/schema_input.json"
    (tmp_path / "b.tsv").write_text("gene\tS1\nG1\t3\n")
    (tmp_path / "c.h5ad").write_text("")
    sheet = tmp_path / "s.csv"
    sheet.write_text("dataset,sample,bulk,singlecell,phenotype\nd1,S1,b.tsv,c.h5ad,case\n")
    rows = read_samplesheet(sheet)
    assert rows[0].bulk == tmp_path / "b.tsv" and rows[0].extra == {"phenotype": "case"}


@pytest.mark.parametrize("column", ["dataset", "sample"])
def test_samplesheet_meta_columns_for_nf_schema(column):
    """nf-schema turns these columns into meta-map keys; the Python side ignores the keyword."""
    prop = load_schema()["items"]["properties"][column]
    assert prop.get("meta")
