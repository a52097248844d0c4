process PBF_REPORT {
    tag 'all datasets'
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    path qc, stageAs: 'results/qc/*'
    path pseudobulk, stageAs: 'results/pseudobulk/*'
    path metrics, stageAs: 'results/metrics/*'
    path discriminate, stageAs: 'results/discriminate/*'
    path calibrate, stageAs: 'results/calibrate/*'
    path deconvolve, stageAs: 'results/deconvolve/*'
    path enrich, stageAs: 'results/enrich/*'
    path ssl, stageAs: 'results/ssl/*'

    output:
    path 'report', emit: results
    path 'report/multiqc_inputs', emit: multiqc_inputs
    path 'report/multiqc_section_order.yml', emit: multiqc_config
    path 'report/versions.yml', emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    // MultiQC runs in the MULTIQC process that follows (--no-multiqc); the embedded runner lets the
    // report stage run it (--multiqc-outdir). Run parameters come as --param through ext.args.
    def args = task.ext.args ?: ''
    """
    pbfidelity report \\
        --results results \\
        --outdir report \\
        --nextflow \\
        --no-multiqc \\
        ${args}
    """

    stub:
    """
    mkdir -p report/multiqc_inputs
    touch report/multiqc_section_order.yml
    printf 'PBF_REPORT:\\n  pbfidelity: stub\\n' > report/versions.yml
    """
}
