"""Recipes that turn public paired data sets into pbfidelity inputs (samplesheet + files)."""
