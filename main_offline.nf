#!/usr/bin/env nextflow
/*
 * pbfidelity without Nextflow plugins, for air-gapped sites and CI: the same RUN_PBFIDELITY workflow as
 * main.nf, without the nf-schema plugin (no --help, no schema check of the parameters). The samplesheet is
 * validated by pbfidelity's own validator (assets/schema_input.json) in every stage that reads it.
 *
 *   nextflow run main_offline.nf --offline -profile test --outdir results
 *
 * --offline leaves the plugin declaration (conf/nf_schema.config) out of the configuration, so Nextflow
 * fetches nothing; see docs/usage.md ("Offline and air-gapped runs").
 */

include { RUN_PBFIDELITY } from './subworkflows/local/run_pbfidelity/main'

workflow {
    main:
    log.info("pbfidelity ${workflow.manifest.version} (plugin-free entry): input ${params.simulate ? 'simulated' : params.input}, outdir ${params.outdir}")
    RUN_PBFIDELITY()
}
