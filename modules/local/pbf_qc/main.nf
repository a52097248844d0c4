process PBF_QC {
    tag "${meta.id}"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    tuple val(meta), val(samplesheet), path(bulk, stageAs: 'bulk*/*'), path(singlecell, stageAs: 'sc*/*')
    path gene_annotation

    output:
    tuple val(meta), path("${meta.id}"), emit: results
    tuple val(meta), path("${meta.id}/cell_qc.tsv.gz"), path("${meta.id}/bulk_qc.tsv"), emit: qc
    path "${meta.id}/versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def annotation = gene_annotation ? "--gene-annotation ${gene_annotation}" : ''
    """
    printf '%s\\n' ${samplesheet} > samplesheet.csv

    pbfidelity qc \\
        --input samplesheet.csv \\
        --dataset ${meta.id} \\
        --outdir ${meta.id} \\
        --seed ${params.seed} \\
        ${annotation} \\
        ${args}
    """

    stub:
    """
    mkdir -p ${meta.id}
    printf 'cell\\tpass\\n' | gzip > ${meta.id}/cell_qc.tsv.gz
    printf 'sample\\tpass\\n' > ${meta.id}/bulk_qc.tsv
    printf 'PBF_QC:\\n  pbfidelity: stub\\n' > ${meta.id}/versions.yml
    """
}
