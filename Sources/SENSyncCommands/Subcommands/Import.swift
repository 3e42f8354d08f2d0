import ArgumentParser
import Foundation
import SENSync

extension ImportFile.Format: ExpressibleByArgument {}

extension SENSyncCommand {
    struct Import: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import pupils and their SEN records from a school's MIS export (CSV or JSON Lines).",
            discussion: HelpText.fitted(
                """
                Reads pupils, enrolments, SEN provision episodes, ranked needs, concerns, support \
                plans, provision and referrals. CSV holds one kind per file, named after it \
                (pupils.csv, sen_needs.csv) or given by --kind, with the MIS column names in \
                Schemas/import/. JSON Lines holds one record per line, each naming its kind.

                All or nothing: if any row breaks a rule, nothing is imported and every problem \
                is listed by file, line, column and reason. Records are matched by UPN and by \
                the source's own ids (the ID column), so importing the same export again \
                changes nothing. Each pupil's rows become one change (across all the files \
                given), which syncs as usual.

                Examples:
                  sensync import --store oakfield.sensync --author "MIS import" pupils.csv \\
                    sen_episodes.csv sen_needs.csv
                  sensync import --store oakfield.sensync --author "MIS import" export.jsonl \\
                    --dry-run
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "The files, in any order (one file: pupils before their records).") var files: [String]
        @Option(help: "csv or jsonl (default: from each file's name: .csv; .jsonl, .ndjson or .json).") var format:
            ImportFile.Format?
        @Option(help: "For CSV: the kind of record every file holds (default: from the file's name).") var kind: String?
        @Option(help: "Names the system the files came from; ids are matched within one source.") var source =
            "MIS"
        @Flag(help: "Check every row and say what would change, but change nothing.") var dryRun = false
        @Flag(help: "No progress lines on stderr.") var quiet = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give at least one file to import.") }
            if let kind, ImportFormat.kind(named: kind) == nil {
                throw ValidationError(
                    "'--kind' must be one of: \(ImportFormat.kinds.map(\.name).joined(separator: ", ")).")
            }
            // A CSV export saved as `.txt` was read as JSON Lines, every line a problem; a Common
            // Transfer File belongs to `ctf import`. (A folder is left to the import to name.)
            for file in files where format == nil && ImportFile.Format.named(by: file) == nil {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: file, isDirectory: &isFolder), isFolder.boolValue { continue }
                let name = ImportFile(path: file).name
                if URL(fileURLWithPath: file).pathExtension.lowercased() == "xml" {
                    throw ValidationError(
                        "'\(name)' looks like a Common Transfer File: import its SEN data with `sensync ctf import \(name)`."
                    )
                }
                throw ValidationError(
                    "The name '\(name)' does not say whether it is CSV or JSON Lines: give --format csv or --format jsonl (or name it .csv or .jsonl)."
                )
            }
            if kind != nil,
                files.contains(where: { (format ?? ImportFile.Format.named(by: $0)) == .jsonLines })
            {
                throw ValidationError(
                    "--kind is for CSV files: each JSON Lines record names its own kind (its \"kind\" key). Leave --kind out."
                )
            }
        }

        func run() throws {
            let store = try dryRun ? storeOptions.openForTrying() : storeOptions.open()
            let kindSpec = kind.flatMap(ImportFormat.kind(named:))
            let inputs = files.map { ImportFile(path: $0, format: format, kind: kindSpec) }
            let summary: ImportSummary
            do {
                summary = try store.importRecords(
                    inputs, options: ImportOptions(source: source, author: try authorOptions.name, dryRun: dryRun)
                ) { progress in
                    if !quiet { Terminal.note(progress.description) }
                }
            } catch let error as ImportError {
                for problem in error.problems { Terminal.note(problem.description) }
                if error.problemCount > error.problems.count {
                    Terminal.note("… and \(error.problemCount - error.problems.count) more problem(s).")
                }
                throw CommandFailure(
                    code: error.code == .unreadable ? .notFound : .invalidInput, message: error.message,
                    hint: error.hint, problems: error.problems)
            }
            if output.json {
                try Terminal.printJSON(
                    ImportSummaryJSON(
                        rows: summary.rows, created: summary.created, updated: summary.updated,
                        unchanged: summary.unchanged, changes: summary.changes, dryRun: summary.dryRun))
                return
            }
            func rank(_ kind: String) -> Int { ImportFormat.kinds.firstIndex { $0.name == kind } ?? .max }
            func list(_ counts: [String: Int]) -> String {
                counts.isEmpty
                    ? "nothing"
                    // In the order a pupil's records are imported (pupils first).
                    : counts.sorted { (rank($0.key), $0.key) < (rank($1.key), $1.key) }.map {
                        "\($0.value) \($0.value == 1 ? RecordSchema.kind($0.key)?.noun ?? $0.key : RecordSchema.kind($0.key)?.plural ?? $0.key)"
                    }.joined(separator: ", ")
            }
            let verb = summary.dryRun ? "Would import" : "Imported"
            Terminal.print(
                "\(verb) \(summary.rows) row(s): created \(list(summary.created)); updated \(list(summary.updated)); \(summary.unchanged) unchanged."
            )
            Terminal.print(
                summary.dryRun
                    ? "Dry run: nothing was changed."
                    : summary.rows == 0
                        ? "Nothing changed: the file(s) hold no rows."
                        : summary.changes == 0
                            ? "Nothing changed: the store already held all of it."
                            : "\(summary.changes) change(s) recorded; they go to your peers with the next bundle.")
        }
    }
}

private struct ImportSummaryJSON: Encodable {
    var rows: Int
    var created: [String: Int]
    var updated: [String: Int]
    var unchanged: Int
    var changes: Int
    var dryRun: Bool
}
