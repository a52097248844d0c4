"""Deterministic synthetic paired bulk + single-cell data with planted protocol distortions.

See :func:`simulate` for the generative model and :func:`write_simulation` for the files it writes.
"""

from pbfidelity.simulate.model import SimulatedData, SimulationParams, simulate
from pbfidelity.simulate.write import write_simulation

__all__ = ["SimulatedData", "SimulationParams", "simulate", "write_simulation"]
