process PBF_PSEUDOBULK {
    tag "${meta.id}"
    label 'process_high_memory'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), val(samplesheet), path(bulk, stageAs: 'bulk*/*'), path(singlecell, stageAs: 'sc*/*'), path(cell_qc), path(bulk_qc)
    path gene_annotation
    path proportions

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    tuple val(meta), path("${meta.id}/profiles.h5ad"), emit: profiles
    tuple val(meta), path("${meta.id}/negative_control.h5ad"), optional: true, emit: negative_control
    tuple val(meta), path("${meta.id}/celltype_profiles.h5ad"), optional: true, emit: celltype_profiles
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def annotation = gene_annotation ? "--gene-annotation ${gene_annotation}" : ''
    def target_proportions = proportions ? "--proportions ${proportions}" : ''
    """
    printf '%s\\n' ${samplesheet} > samplesheet.csv

    pbfidelity pseudobulk \\
        --input samplesheet.csv \\
        --dataset ${meta.id} \\
        --cell-qc ${cell_qc} \\
        --bulk-qc ${bulk_qc} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        ${annotation} \\
        ${target_proportions} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    touch ${meta.id}/profiles.h5ad
    touch ${meta.id}/negative_control.h5ad
    touch ${meta.id}/celltype_profiles.h5ad
    printf 'PBF_PSEUDOBULK:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
