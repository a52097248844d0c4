"""The report stage: one MultiQC HTML of a results folder (verdict per dataset, every stage's plots,
parameters, methods with citations and software versions), checked for what MultiQC actually rendered."""

from pbfidelity.report.verdict import Verdict, dataset_verdict

__all__ = ["Verdict", "dataset_verdict"]
