import pytest

from pbfidelity.ssl.config import CONFIGS, get_config


def test_named_configs_differ_in_size():
    ci, full = CONFIGS["ci"], CONFIGS["full"]
    assert full.n_genes > ci.n_genes
    assert len(full.encoder.hidden) > len(ci.encoder.hidden)
    assert full.downstream.folds >= ci.downstream.folds and full.downstream.repeats >= ci.downstream.repeats


def test_overrides_reach_nested_sections():
    cfg = get_config("ci", folds=4, max_epochs=3, n_genes=10, repeats=None)
    assert cfg.downstream.folds == 4 and cfg.pretrain.max_epochs == 3 and cfg.n_genes == 10
    assert cfg.downstream.repeats == CONFIGS["ci"].downstream.repeats  # None = keep
    with pytest.raises(KeyError):
        get_config("ci", nonsense=1)
