/*
 * Samplesheet -> one channel element per dataset, ready for the per-dataset stages.
 *
 * Relative paths in the samplesheet resolve against the samplesheet's folder (as in `pbfidelity run`).
 * Each dataset's bulk and single-cell files are staged as bulk<i>/<name> and sc<i>/<name>, and a
 * per-dataset samplesheet naming those staged paths is handed to the process, so the stage CLIs read
 * exactly what the embedded runner reads. Extra columns (e.g. phenotype) are carried through.
 * With --simulate (the test profile) PBF_SIMULATE writes the samplesheet, gene sets and proportions.
 */

include { PBF_SIMULATE } from '../../../modules/local/pbf_simulate/main'

workflow PREPARE_INPUT {
    take:
    input        // string: path to the samplesheet, or null with simulate
    simulate     // boolean: simulate a paired dataset instead of reading input
    seed         // integer: seed for the simulation
    gene_sets    // string: GMT path or null
    proportions  // string: proportions TSV path, 'estimate' or null

    main:
    ch_versions = channel.empty()
    ch_gene_sets = channel.empty()
    ch_proportions = channel.empty()
    if (simulate) {
        PBF_SIMULATE(channel.of(seed))
        ch_samplesheet = PBF_SIMULATE.out.samplesheet
        ch_gene_sets = PBF_SIMULATE.out.gene_sets
        ch_proportions = PBF_SIMULATE.out.proportions
        ch_versions = ch_versions.mix(PBF_SIMULATE.out.versions)
    }
    else {
        ch_samplesheet = channel.fromPath(input, checkIfExists: true)
    }
    // user-given files win over the simulated ones
    if (gene_sets) {
        ch_gene_sets = channel.fromPath(gene_sets, checkIfExists: true)
    }
    if (proportions == 'estimate') {
        // estimated by the pseudo-bulk stage itself (conf/modules.config: --proportions estimate); no known
        // proportions reach the deconvolve stage
        ch_proportions = channel.empty()
    }
    else if (proportions) {
        ch_proportions = channel.fromPath(proportions, checkIfExists: true)
    }

    ch_sheets = ch_samplesheet.branch { sheet ->
        tsv: sheet.name ==~ /.*\.(tsv|txt)$/
        csv: true
    }
    ch_rows = ch_sheets.tsv
        .map { sheet -> [sheet, sheet] }
        .splitCsv(header: true, elem: 1, sep: '\t', strip: true)
        .mix(
            ch_sheets.csv
                .map { sheet -> [sheet, sheet] }
                .splitCsv(header: true, elem: 1, strip: true)
        )

    ch_datasets = ch_rows
        .map { sheet, row -> [row.dataset, sheet, row] }
        .groupTuple()
        .map { dataset, sheets, rows -> stageDataset(dataset as String, sheets[0], rows) }

    emit:
    datasets    = ch_datasets    // channel: [ meta, samplesheet_lines, bulk_files, singlecell_files ]
    gene_sets   = ch_gene_sets   // channel: GMT file (empty when none)
    proportions = ch_proportions // channel: proportions TSV (empty when none)
    versions    = ch_versions    // channel: versions.yml
}

/*
 * Resolve a samplesheet path against the samplesheet's folder; fail naming the row and column.
 */
def resolveInput(Path sheet, String value, String column, int line) {
    if (!value) {
        error("${sheet}: row ${line}: required column '${column}' is missing or empty")
    }
    def path = (value.contains('://') ? file(value) : sheet.resolveSibling(value)) as Path
    if (!path.exists()) {
        error("${sheet}: row ${line}, column '${column}': file '${value}' does not exist")
    }
    return path
}

/*
 * One CSV field, quoted when it holds a comma, a quote or spaces.
 */
def csvField(String text) {
    return text ==~ /.*[,"\s].*/ ? '"' + text.replace('"', '""') + '"' : text
}

/*
 * A word that bash reads back verbatim (single-quoted).
 */
def shellQuote(String text) {
    return "'" + text.replace("'", "'\\''") + "'"
}

/*
 * [ meta, samplesheet_lines, bulk_files, singlecell_files ] for one dataset.
 */
def stageDataset(String dataset, Path sheet, List rows) {
    def sorted = rows.sort(false) { row -> row.sample as String }
    def resolved = sorted.withIndex().collect { row, i ->
        [
            row: row,
            bulk: resolveInput(sheet, row.bulk as String, 'bulk', i + 2),
            singlecell: resolveInput(sheet, row.singlecell as String, 'singlecell', i + 2),
        ]
    }
    def bulkFiles = resolved.collect { r -> r.bulk }.unique().sort { f -> f.toString() }
    def scFiles = resolved.collect { r -> r.singlecell }.unique().sort { f -> f.toString() }
    def header = sorted[0].keySet() as List
    def lines = [header.collect { column -> csvField(column) }.join(',')]
    resolved.each { r ->
        def fields = header.collect { column ->
            if (column == 'bulk') {
                return "bulk${bulkFiles.indexOf(r.bulk) + 1}/${r.bulk.name}"
            }
            if (column == 'singlecell') {
                return "sc${scFiles.indexOf(r.singlecell) + 1}/${r.singlecell.name}"
            }
            return (r.row[column] ?: '') as String
        }
        lines << fields.collect { value -> csvField(value) }.join(',')
    }
    def meta = [
        id: dataset,
        samples: sorted.collect { row -> row.sample },
        donors: sorted.collect { row -> row.donor ?: row.sample }.unique(),
    ]
    def quoted = lines.collect { line -> shellQuote(line) }.join(' ')
    return [meta as Object, quoted as Object, bulkFiles as Object, scFiles as Object]
}
