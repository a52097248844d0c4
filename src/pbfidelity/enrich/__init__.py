"""Biological processes behind the bulk/pseudo-bulk differences: over-representation and preranked enrichment.

Gene sets come from a user GMT. Over-representation analysis (ORA, hypergeometric via gseapy's offline
``enrich``) tests bulk-up and pseudo-bulk-up DE genes (and, when given, the discriminator's top SHAP genes)
against the tested genes as background; preranked enrichment (gseapy ``prerank``) uses the DESeq2 Wald
statistic. gseapy is imported inside functions only.
"""

from pbfidelity.enrich.genesets import read_gmt

__all__ = ["read_gmt"]
