process PBF_METRICS {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), path(profiles), path(negative_control)
    path gene_annotation

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    tuple val(meta), path("${meta.id}/de_results.tsv"), emit: de
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def annotation = gene_annotation ? "--gene-annotation ${gene_annotation}" : ''
    def control = negative_control ? "--negative-control ${negative_control}" : ''
    """
    pbfidelity metrics \\
        --profiles ${profiles} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        --threads ${task.cpus} \\
        ${annotation} \\
        ${control} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'gene\\tbaseMean\\tlog2FoldChange\\tlfcSE\\tstat\\tpvalue\\tpadj\\tdirection\\n' > ${meta.id}/de_results.tsv
    printf 'PBF_METRICS:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
