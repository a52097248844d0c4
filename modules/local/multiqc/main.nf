process MULTIQC {
    tag 'all datasets'
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    path multiqc_files, stageAs: '?/*'
    path multiqc_config
    path section_order_config
    path extra_multiqc_config

    output:
    path 'multiqc_report.html', emit: report
    path 'multiqc_data', emit: data
    path 'multiqc_plots', emit: plots, optional: true
    path 'versions.yml', emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def config = multiqc_config ? "--config ${multiqc_config}" : ''
    def section_order = section_order_config ? "--config ${section_order_config}" : ''
    def extra_config = extra_multiqc_config ? "--config ${extra_multiqc_config}" : ''
    """
    export MULTIQC_NO_VERSION_CHECK=1 MULTIQC_NO_AI=1 MULTIQC_NO_ANSI=1
    multiqc \\
        --force \\
        --no-version-check \\
        --interactive \\
        ${config} \\
        ${section_order} \\
        ${extra_config} \\
        ${args} \\
        .

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        multiqc: \$( multiqc --version | sed -e "s/multiqc, version //g" )
    END_VERSIONS
    """

    stub:
    """
    mkdir multiqc_data
    touch multiqc_report.html
    printf 'MULTIQC:\\n  multiqc: stub\\n' > versions.yml
    """
}
