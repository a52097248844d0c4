#!/usr/bin/env nextflow
/*
 * pbfidelity: can pseudo-bulk stand in for bulk RNA-seq?
 *
 *   nextflow run <repo> -profile docker --input samplesheet.csv --outdir results
 *   nextflow run <repo> -profile test,docker --outdir results   # simulated input, no download
 *
 * Documentation: docs/usage.md (inputs and parameters), docs/output.md (every published file).
 */

include { PIPELINE_INITIALISATION; PIPELINE_COMPLETION } from './subworkflows/local/utils_pbfidelity_pipeline/main'
include { PREPARE_INPUT                                } from './subworkflows/local/prepare_input/main'
include { PBFIDELITY                                   } from './workflows/pbfidelity'

workflow {
    main:
    PIPELINE_INITIALISATION(params.validate_params, params.input, params.simulate)

    PREPARE_INPUT(params.input, params.simulate, params.seed, params.gene_sets, params.proportions)

    ch_annotation = params.gene_annotation
        ? channel.fromPath(params.gene_annotation, checkIfExists: true)
        : channel.empty()

    PBFIDELITY(
        PREPARE_INPUT.out.datasets,
        PREPARE_INPUT.out.gene_sets,
        PREPARE_INPUT.out.proportions,
        ch_annotation,
        params.label_column,
        PREPARE_INPUT.out.versions,
    )

    PIPELINE_COMPLETION(params.outdir, PBFIDELITY.out.multiqc_report)
}
