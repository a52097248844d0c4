process PBF_DISCRIMINATE {
    tag "${meta.id}"
    label 'process_high'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), path(profiles)

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    tuple val(meta), path("${meta.id}/shap_top_genes.tsv"), emit: shap, optional: true
    tuple val(meta), path("${meta.id}/shap_genes.tsv"), emit: shap_genes, optional: true
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    pbfidelity discriminate \\
        --profiles ${profiles} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'gene\\tmean_abs_shap\\n' > ${meta.id}/shap_top_genes.tsv
    printf 'gene\\tmean_abs_shap\\tcandidate\\n' > ${meta.id}/shap_genes.tsv
    printf 'PBF_DISCRIMINATE:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
