/*
 * Plugin-free pieces shared by both entries (main.nf with nf-schema, main_offline.nf without plugins):
 * the input checks that do not need a schema, and the completion summary.
 */

workflow PIPELINE_CHECKS {
    take:
    input           // string: samplesheet path (null with --simulate)
    simulate        // boolean: simulate the input (test profile)
    outdir          // string: the results folder

    main:
    if (!outdir) {
        error("Give a results folder with --outdir")
    }
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
    // the handlers call functions: inside an event-handler closure `workflow` does not resolve (it is
    // null there, found by running the pipeline), in a function it is the run's metadata
    workflow.onComplete {
        completionSummary(outdir)
    }
    workflow.onError {
        errorSummary()
    }

    emit:
    report = ch_report // channel: name of the MultiQC report
}

/*
 * One line at the end of the run: where the results are, or where to look when it failed.
 */
def completionSummary(String outdir) {
    if (workflow.success) {
        log.info("pbfidelity finished: results in ${outdir}, report in ${outdir}/multiqc/multiqc_report.html")
    }
    else {
        log.error("pbfidelity did not finish: see ${outdir}/pipeline_info/ and the .nextflow.log")
    }
}

/*
 * The error that stopped the run, in one line.
 */
def errorSummary() {
    log.error("pbfidelity stopped with an error: ${workflow.errorMessage}")
}
