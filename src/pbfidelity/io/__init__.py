"""File I/O adapters: readers, writers, samplesheet, MultiQC custom content, versions, atomic outputs."""
