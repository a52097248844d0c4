process PBF_SSL {
    tag "${meta.id}"
    label 'process_high'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), path(profiles)
    val label_column

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    pbfidelity ssl \\
        --profiles ${profiles} \\
        --label-column ${label_column} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'PBF_SSL:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
