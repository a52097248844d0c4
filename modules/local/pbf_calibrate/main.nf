process PBF_CALIBRATE {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), path(profiles)

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    pbfidelity calibrate \\
        --profiles ${profiles} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        --threads ${task.cpus} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'PBF_CALIBRATE:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
