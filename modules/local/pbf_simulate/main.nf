process PBF_SIMULATE {
    tag "seed ${seed}"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container 'ghcr.io/pbfidelity/pbfidelity:0.1.0'

    input:
    val seed

    output:
    path 'simulated', emit: results
    path 'simulated/samplesheet.csv', emit: samplesheet
    path 'simulated/genesets.gmt', emit: gene_sets
    path 'simulated/proportions.tsv', emit: proportions
    path 'simulated/ground_truth.json', emit: truth
    path 'simulated/versions.yml', emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    pbfidelity simulate \\
        --outdir simulated \\
        --seed ${seed} \\
        ${args}
    """

    stub:
    """
    mkdir -p simulated
    printf 'dataset,sample,bulk,singlecell\\n' > simulated/samplesheet.csv
    touch simulated/genesets.gmt simulated/proportions.tsv simulated/ground_truth.json
    printf 'PBF_SIMULATE:\\n  pbfidelity: stub\\n' > simulated/versions.yml
    """
}
