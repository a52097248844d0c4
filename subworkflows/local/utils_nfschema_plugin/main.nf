/*
 * Parameter validation and the parameter summary with the nf-schema plugin (declared in
 * conf/nf_schema.config). Only main.nf includes this file: main_offline.nf runs the same pipeline
 * without any plugin (air-gapped sites, CI) and checks its input with pbfidelity's own validator.
 */

include { paramsSummaryLog; validateParameters } from 'plugin/nf-schema'

workflow PIPELINE_INITIALISATION {
    take:
    validate_params // boolean: validate the parameters against nextflow_schema.json

    main:
    if (validate_params) {
        validateParameters()
    }
    log.info(paramsSummaryLog(workflow))
}
