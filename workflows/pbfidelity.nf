/*
 * The pbfidelity DAG. Stages run per dataset (QC and pseudo-bulk need the whole dataset to set
 * thresholds), datasets run in parallel, and the report gathers every dataset.
 * `pbfidelity run` executes the same stage commands in the same order (src/pbfidelity/runner.py).
 */

include { PBF_QC           } from '../modules/local/pbf_qc/main'
include { PBF_PSEUDOBULK   } from '../modules/local/pbf_pseudobulk/main'
include { PBF_METRICS      } from '../modules/local/pbf_metrics/main'
include { PBF_DISCRIMINATE } from '../modules/local/pbf_discriminate/main'
include { PBF_CALIBRATE    } from '../modules/local/pbf_calibrate/main'
include { PBF_DECONVOLVE   } from '../modules/local/pbf_deconvolve/main'
include { PBF_ENRICH       } from '../modules/local/pbf_enrich/main'
include { PBF_SSL          } from '../modules/local/pbf_ssl/main'
include { PBF_REPORT       } from '../modules/local/pbf_report/main'
include { MULTIQC          } from '../modules/local/multiqc/main'

workflow PBFIDELITY {
    take:
    ch_datasets        // channel: [ meta, samplesheet_lines, bulk_files, singlecell_files ] per dataset
    ch_gene_sets       // channel: GMT file (empty: enrich does not run)
    ch_proportions     // channel: proportions TSV (empty: none)
    ch_annotation      // channel: gene annotation TSV (empty: none)
    label_column       // string: samplesheet column for the ssl stage (null: ssl does not run)
    ch_versions_in     // channel: versions.yml of earlier steps

    main:
    ch_versions = ch_versions_in
    // optional single files become [] when absent (the modules then leave the flag out)
    annotation = collectOrEmpty(ch_annotation)
    proportions = collectOrEmpty(ch_proportions)

    PBF_QC(ch_datasets, annotation)
    ch_versions = ch_versions.mix(PBF_QC.out.versions)

    PBF_PSEUDOBULK(ch_datasets.join(PBF_QC.out.qc), annotation, proportions)
    ch_versions = ch_versions.mix(PBF_PSEUDOBULK.out.versions)
    ch_profiles = PBF_PSEUDOBULK.out.profiles

    // metrics: the profiles, plus the half-split negative control when the pseudo-bulk stage wrote one
    ch_metrics = ch_profiles
        .join(PBF_PSEUDOBULK.out.negative_control, remainder: true)
        .filter { _meta, profiles, _control -> profiles != null }
        .map { meta, profiles, control -> [meta, profiles, control ?: []] }
    PBF_METRICS(ch_metrics, annotation)
    ch_versions = ch_versions.mix(PBF_METRICS.out.versions)

    PBF_DISCRIMINATE(ch_profiles)
    ch_versions = ch_versions.mix(PBF_DISCRIMINATE.out.versions)

    PBF_CALIBRATE(ch_profiles)
    ch_versions = ch_versions.mix(PBF_CALIBRATE.out.versions)

    // deconvolve: the profiles and the per-cell-type reference (written when cells have types), plus the
    // metrics stage's DE table when it ran (the concordant-genes arm)
    ch_deconvolve = ch_profiles
        .join(PBF_PSEUDOBULK.out.celltype_profiles)
        .join(PBF_METRICS.out.de, remainder: true)
        .filter { _meta, profiles, celltype, _de -> profiles != null && celltype != null }
        .map { meta, profiles, celltype, de -> [meta, profiles, celltype, de ?: []] }
    PBF_DECONVOLVE(ch_deconvolve, proportions)
    ch_versions = ch_versions.mix(PBF_DECONVOLVE.out.versions)

    // enrich: DE results, the SHAP ranking and its candidate genes when the discriminator produced them,
    // and the profiles (donor sign-flip prerank)
    ch_enrich = PBF_METRICS.out.de
        .join(PBF_DISCRIMINATE.out.shap, remainder: true)
        .filter { _meta, de, _shap -> de != null }
        .join(PBF_DISCRIMINATE.out.shap_genes, remainder: true)
        .filter { _meta, de, _shap, _all -> de != null }
        .join(ch_profiles)
        .map { meta, de, shap, all, profiles -> [meta, de, shap ?: [], all ?: [], profiles] }
    // no gene sets: the value channel stays empty and PBF_ENRICH runs no task
    PBF_ENRICH(ch_enrich, ch_gene_sets.collect())
    ch_versions = ch_versions.mix(PBF_ENRICH.out.versions)

    ch_ssl_dirs = channel.empty()
    if (label_column) {
        PBF_SSL(ch_profiles, label_column)
        ch_versions = ch_versions.mix(PBF_SSL.out.versions)
        ch_ssl_dirs = PBF_SSL.out.results.map { _meta, dir -> dir }
    }

    PBF_REPORT(
        stageDirs(PBF_QC.out.results),
        stageDirs(PBF_PSEUDOBULK.out.results),
        stageDirs(PBF_METRICS.out.results),
        stageDirs(PBF_DISCRIMINATE.out.results),
        stageDirs(PBF_CALIBRATE.out.results),
        stageDirs(PBF_DECONVOLVE.out.results),
        stageDirs(PBF_ENRICH.out.results),
        collectOrEmpty(ch_ssl_dirs),
    )
    ch_versions = ch_versions.mix(PBF_REPORT.out.versions)

    // one software-versions file for the run (same name as the embedded runner's)
    ch_collated_versions = ch_versions
        .map { f -> f.text.trim() }
        .unique()
        // trim() makes it a String: collectFile serialises its items, and a GString holding nextflow.version
        // (a VersionNumber) cannot be deserialised (found by running the pipeline; tests/pipeline/test_engine.py)
        .mix(channel.of("Workflow:\n  pbfidelity: ${workflow.manifest.version}\n  Nextflow: ${nextflow.version}".trim()))
        .collectFile(
            name: 'pbfidelity_software_versions.yml',
            storeDir: "${params.outdir}/pipeline_info",
            newLine: true,
            sort: true,
        )

    // the report stage stages every dataset's MultiQC content, the parameters (--param, see
    // conf/modules.config) and the software versions for MULTIQC
    ch_multiqc_files = PBF_REPORT.out.multiqc_inputs.collect()
    ch_multiqc_config = channel.value(file("${projectDir}/assets/multiqc_config.yml", checkIfExists: true))
    ch_extra_multiqc_config = params.multiqc_config
        ? channel.value(file(params.multiqc_config, checkIfExists: true))
        : channel.value([])
    MULTIQC(ch_multiqc_files, ch_multiqc_config, PBF_REPORT.out.multiqc_config, ch_extra_multiqc_config)

    emit:
    multiqc_report = MULTIQC.out.report   // channel: multiqc_report.html
    versions       = ch_versions          // channel: versions.yml files
    versions_yml   = ch_collated_versions // channel: pipeline_info/pbfidelity_software_versions.yml
}

/*
 * Every dataset's result folder of one stage, as one list ([] when the stage produced none).
 */
def stageDirs(ch) {
    return collectOrEmpty(ch.map { _meta, dir -> dir })
}

/*
 * All items of a channel as one list, or [] when the channel is empty (an optional input left out).
 */
def collectOrEmpty(ch) {
    return ch.collect().ifEmpty([])
}
