import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand.Export {
    struct Postgres: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "postgres",
            abstract:
                "The LA's merged area as a PostgreSQL script, for the analysts' database (several LAs side by side).",
            discussion: HelpText.fitted(
                """
                Writes one SQL file: the `sensync` schema's tables (created if missing), then this LA's rows as COPY \
                data: the LA and its sites; one table per record kind, with the kind's fields as columns; every open \
                duty (obligations, with whether it is overdue on --as-of); and the area report's figures by school \
                and by primary need. Every row carries the LA's DfE code (la_code).

                Load it with `psql -v ON_ERROR_STOP=1 -f FILE.sql`. It runs in one transaction and replaces this \
                LA's rows only: loading the same file again leaves the same rows, and other LAs' rows are left as \
                they are.

                Pseudonymised by default: UPNs, names, dates of birth, staff and family names, and every free-text \
                field (notes, observations, views, summaries) are written as null; pupils are known by their record \
                id, a random id that means nothing outside SENSync. --include-personal-data writes them too: only \
                into a database cleared to hold them.

                LA stores only. Tables, columns and an example query across LAs are in Schemas/exports/postgres.md.

                Example:
                  sensync export postgres --store northshire-la.sensync --out northshire.sql
                  psql -v ON_ERROR_STOP=1 -d analysis -f northshire.sql
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "The SQL file to write.") var out: String
        @Option(
            name: .customLong("as-of"),
            help: "The day duties are overdue against and the report is made for, YYYY-MM-DD. Defaults to today.")
        var asOf: String?
        @Flag(
            name: .customLong("include-personal-data"),
            help: "Also write UPNs, names, dates of birth and free text (pseudonymised without).")
        var includePersonalData = false
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func run() throws {
            let day = try asOfDate(asOf)
            try checkOutFile(out, force: force)
            let store = try storeOptions.openForReading()
            let summary = try store.exportPostgres(
                to: out, replacing: force, includePersonalData: includePersonalData, asOf: day)
            let records = RecordSchema.kinds.reduce(0) { $0 + (summary.rows[$1.name] ?? 0) }
            Terminal.note(
                "PostgreSQL export of \(summary.laName) (LA \(summary.laCode)) as of \(summary.asOf): "
                    + "\(summary.rows[Pupil.name] ?? 0) pupil(s), \(records) record(s) of every kind, "
                    + "\(summary.rows[PostgresExport.obligations.name] ?? 0) open duty(ies); "
                    + (summary.includesPersonalData
                        ? "WITH personal data (names, UPNs, dates of birth, free text)."
                        : "pseudonymised (no names, UPNs, dates of birth or free text)."))
            Terminal.print("Wrote the PostgreSQL export to \(out).")
        }
    }
}
