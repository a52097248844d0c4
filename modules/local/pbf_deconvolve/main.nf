process PBF_DECONVOLVE {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), path(profiles), path(celltype_profiles), path(de_results)
    path proportions

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    tuple val(meta), path("${meta.id}/estimated_proportions.tsv"), emit: proportions
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def de = de_results ? "--de ${de_results}" : ''
    def known = proportions ? "--proportions ${proportions}" : ''
    """
    pbfidelity deconvolve \\
        --profiles ${profiles} \\
        --celltype-profiles ${celltype_profiles} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        ${de} \\
        ${known} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'dataset\\tsample\\n' > ${meta.id}/estimated_proportions.tsv
    printf 'PBF_DECONVOLVE:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
