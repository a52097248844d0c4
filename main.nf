#!/usr/bin/env nextflow
/*
 * pbfidelity: can pseudo-bulk stand in for bulk RNA-seq?
 *
 *   nextflow run <repo> -profile docker --input samplesheet.csv --outdir results
 *   nextflow run <repo> -profile test,docker --outdir results   # simulated input, no download
 *
 * This entry validates the parameters with the nf-schema plugin (and prints --help). Sites that cannot
 * fetch plugins run main_offline.nf, which runs the same RUN_PBFIDELITY workflow without plugins.
 * Documentation: docs/usage.md (inputs and parameters), docs/output.md (every published file).
 */

include { PIPELINE_INITIALISATION } from './subworkflows/local/utils_nfschema_plugin/main'
include { RUN_PBFIDELITY          } from './subworkflows/local/run_pbfidelity/main'

workflow {
    main:
    PIPELINE_INITIALISATION(params.validate_params)
    RUN_PBFIDELITY()
}
