/*
 * Pipeline initialisation (parameter validation with nf-schema, summary log, input checks) and
 * completion (summary of the run). The nf-schema functions come from the plugin declared in
 * nextflow.config; nothing else in the pipeline includes a plugin.
 */

include { paramsSummaryLog; validateParameters } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {
    take:
    validate_params // boolean: validate the parameters against nextflow_schema.json
    input           // string: samplesheet path (null with --simulate)
    simulate        // boolean: simulate the input (test profile)

    main:
    if (validate_params) {
        validateParameters()
    }
    log.info(paramsSummaryLog(workflow))

    if (!input && !simulate) {
        error("Give a samplesheet with --input (see docs/usage.md), or use -profile test to simulate one")
    }
    if (input && simulate) {
        log.warn("--simulate is set: the simulated samplesheet is used and --input '${input}' is ignored")
    }

    emit:
    simulate = simulate // boolean: whether the input is simulated
}

workflow PIPELINE_COMPLETION {
    take:
    outdir          // string: the results folder
    multiqc_report  // channel: multiqc_report.html

    main:
    ch_report = multiqc_report.map { html -> html.name }
    workflow.onComplete {
        if (workflow.success) {
            log.info("pbfidelity finished: results in ${outdir}, report in ${outdir}/multiqc/multiqc_report.html")
        }
        else {
            log.error("pbfidelity did not finish: see ${outdir}/pipeline_info/ and the .nextflow.log")
        }
    }
    workflow.onError {
        log.error("pbfidelity stopped with an error: ${workflow.errorMessage}")
    }

    emit:
    report = ch_report // channel: name of the MultiQC report
}
