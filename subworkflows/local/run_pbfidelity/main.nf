/*
 * The whole run, shared by both entries: input preparation, the PBFIDELITY DAG and the completion
 * summary. main.nf calls it after nf-schema has validated the parameters; main_offline.nf calls it
 * without plugins. Every parameter reaches the DAG here, once.
 */

include { PIPELINE_CHECKS; PIPELINE_COMPLETION } from '../utils_pbfidelity_pipeline/main'
include { PREPARE_INPUT                        } from '../prepare_input/main'
include { PBFIDELITY                           } from '../../../workflows/pbfidelity'

workflow RUN_PBFIDELITY {
    main:
    PIPELINE_CHECKS(params.input, params.simulate, params.outdir)

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

    emit:
    multiqc_report = PBFIDELITY.out.multiqc_report // channel: multiqc_report.html
}
