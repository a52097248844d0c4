"""Self-supervised representation learning (SCARF, VIME, BYOL) for phenotype prediction with scarce labels.

torch is optional (``pip install 'pbfidelity[ssl]'``): this package and its ``cli`` import without it; the
torch modules (``models``, ``corruption``, ``losses``, ``pretrain``) are imported only when the stage runs.

- :mod:`pbfidelity.ssl.config` — ``ci`` and ``full`` configurations
- :mod:`pbfidelity.ssl.data` / :mod:`pbfidelity.ssl.datasets` — profiles and bulk benchmark inputs
- :mod:`pbfidelity.ssl.prepare` — log-CPM, top-variance genes, standardisation (fit on pre-training rows)
- :mod:`pbfidelity.ssl.splits` — donor-grouped folds, validation split, label-fraction subsets
- :mod:`pbfidelity.ssl.protocol` — the evaluation protocol (:func:`~pbfidelity.ssl.protocol.run_protocol`)
"""

from pbfidelity.ssl.config import BASELINES, CONFIGS, METHODS, SSLConfig, get_config

__all__ = ["BASELINES", "CONFIGS", "METHODS", "SSLConfig", "get_config"]
