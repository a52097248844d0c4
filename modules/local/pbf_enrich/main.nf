process PBF_ENRICH {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), path(de_results), path(ranked_genes), path(shap_genes), path(profiles)
    path gene_sets

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def ranked = ranked_genes ? "--ranked-genes ${ranked_genes}" : ''
    def candidates = shap_genes ? "--shap-genes ${shap_genes}" : ''
    """
    pbfidelity enrich \\
        --de ${de_results} \\
        --dataset ${meta.id} \\
        --gene-sets ${gene_sets} \\
        --outdir ${meta.id} \\
        --profiles ${profiles} \\
        --seed ${params.seed} \\
        --threads ${task.cpus} \\
        ${ranked} \\
        ${candidates} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'PBF_ENRICH:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
