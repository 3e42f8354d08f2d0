import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract:
                "Statutory returns from the store (a school's census SEN items, the LA's SEN2), and the LA's area for PostgreSQL.",
            discussion: HelpText.fitted(
                """
                The census and SEN2 exports check every row against the DfE's rules first. If any pupil's records break one, \
                nothing is written: every problem is listed on stderr, naming the pupil by record id (never by name \
                or UPN), and the command exits with 2. Fix the records (`sensync pupil show ID`) and export again.

                Columns, their sources in SENSync, code lists and rules, and what each return asks for that SENSync \
                does not hold, are in Schemas/exports/census.md and Schemas/exports/sen2.md.

                `export postgres` writes the LA's merged area (records, duties, the report's figures), pseudonymised, \
                as a script that loads into PostgreSQL beside other LAs' (Schemas/exports/postgres.md).

                Example:
                  sensync export census --store oakfield.sensync --census spring \\
                    --year 2026 --out census.csv
                  sensync export sen2 --store northshire-la.sensync --year 2026 \\
                    --out sen2.csv
                  sensync export postgres --store northshire-la.sensync --out northshire.sql
                """),
            subcommands: [Census.self, SEN2.self, Postgres.self])
    }
}

extension SENSyncCommand.Export {
    /// The formats an export is written in.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case csv
    }

    /// A school census term, on the command line.
    enum Term: String, ExpressibleByArgument, CaseIterable {
        case autumn, spring, summer

        var censusTerm: CensusTerm {
            switch self {
            case .autumn: .autumn
            case .spring: .spring
            case .summer: .summer
            }
        }
    }

    struct Census: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "census",
            abstract: "The school census's SEN items for every pupil on roll here on a census day.",
            discussion: HelpText.fitted(
                """
                One row per pupil on this school's roll on the census day: UPN, SEN provision (E, K or N, from the \
                provision episode open here that day, or E for an EHC plan in force) and, in the spring census, the \
                pupil's SEN types ranked 1 (primary) and 2 (secondary) for pupils with E or K, in the DfE's codes. \
                The census day is --as-of (today by default; January to March counts as spring), or the day of \
                --census TERM in --year (autumn: first Thursday in October; spring: third Thursday in January; \
                summer: third Thursday in May).

                Refused, with every problem listed, if a pupil's records break a census rule: open episodes that \
                disagree, an EHC plan in force with provision K or N, and in the spring census E or K with no \
                primary need, NSA with E or alongside another need, two needs of one rank, DS before 2025.

                School stores only. SEN unit and resourced provision indicators are not held by SENSync and are not \
                exported.

                Example:
                  sensync export census --store oakfield.sensync --census spring \\
                    --year 2026 --out census.csv
                  sensync export census --store oakfield.sensync --as-of 2026-05-21
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("as-of"), help: "The census day, YYYY-MM-DD. Defaults to today.") var asOf: String?
        @Option(help: "autumn, spring or summer: the census of that term (with --year).") var census: Term?
        @Option(help: "The calendar year of the --census day (defaults to this year).") var year: Int?
        @Option(help: "csv (the only format for now).") var format: Format = .csv
        @Option(help: "Write to this file instead of printing.") var out: String?
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func validate() throws {
            if asOf != nil && census != nil {
                throw ValidationError("Give either --as-of or --census, not both.")
            }
            if year != nil && census == nil {
                throw ValidationError("--year goes with --census; for any other day use --as-of.")
            }
            if let year, !(2000...2100).contains(year) { throw ValidationError("--year must be from 2000 to 2100.") }
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let term = census?.censusTerm
            let day = try asOfDate(asOf) ?? term.map { $0.day(in: year ?? store.localToday.year) }
            let export = try store.censusExport(on: day, term: term)
            try refuse(export.problems, export: "census export")
            let text = try CSVTable.text(header: CensusExport.header, rows: export.csvRows)
            // Today (or --as-of) is rarely the census day itself: say which day it is, and the term's.
            let termDay = export.term.day(in: export.censusDay.year)
            let when =
                export.censusDay == termDay
                ? "(census day \(export.censusDay))"
                : "as on \(export.censusDay) (the \(export.term) census day is \(termDay): --census \(export.term) for it)"
            Terminal.note(
                "School census of \(export.school.name), \(export.term) \(export.censusDay.year) "
                    + "\(when): \(export.rows.count) pupil(s) on roll; "
                    + (export.term.collectsSENType
                        ? "SEN types ranked 1 and 2 for pupils with E or K."
                        : "SEN types are collected in the spring census only."))
            try emit(text, out: out, force: force, what: "census export")
        }
    }

    struct SEN2: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sen2",
            abstract: "The LA's SEN2 person-level return: the items SENSync holds, one row per module record.",
            discussion: HelpText.fitted(
                """
                SEN2 has a reference date (the January census day: the third Thursday of January of --year, or \
                --reference-date) and counts the calendar year before it. Rows, in the order the return nests \
                them: Person; Requests (each request for an EHC needs assessment received, decided or ended that \
                year, still open during it, or behind a plan in force); Assessment (whether to issue a plan, and \
                whether 20-week exceptions apply); NamedPlan; ActivePlans (a plan in force on the reference date, \
                with the year's annual review); PlacementDetail (the schools the pupil is on roll at, by URN) and \
                SENneed (needs ranked 1 and 2 in the SEN2 codes). Everything is as it stood on the reference date.

                Refused, with every problem listed, if a record cannot be reported truthfully: a plan not linked to \
                its request, NSA as the need of a pupil with a plan in force (SEN2 has no NSA), no primary need, a \
                school with no URN, more than two schools or two plans in force.

                LA stores only. What SEN2 asks for that SENSync does not hold (sex, ethnicity, postcode, mediation \
                and tribunal flags, personal budgets, the plan's named setting, cease reasons, and more) is listed \
                in Schemas/exports/sen2.md; add it in the DfE's COLLECT system.

                Example:
                  sensync export sen2 --store northshire-la.sensync --year 2026 \\
                    --out sen2.csv
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "The collection year (its reference date is that January's census day).") var year: Int?
        @Option(
            name: .customLong("reference-date"),
            help: "The reference date, YYYY-MM-DD, instead of --year. Defaults to the latest January census day.")
        var referenceDate: String?
        @Option(help: "csv (the only format for now).") var format: Format = .csv
        @Option(help: "Write to this file instead of printing.") var out: String?
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func validate() throws {
            if year != nil && referenceDate != nil {
                throw ValidationError("Give either --year or --reference-date, not both.")
            }
            if let year, !(2000...2100).contains(year) { throw ValidationError("--year must be from 2000 to 2100.") }
        }

        func run() throws {
            let reference: CalendarDate?
            if let referenceDate {
                guard let date = CalendarDate(referenceDate) else {
                    throw CommandFailure(
                        code: .invalidInput, message: "--reference-date is not a date.", hint: "Use YYYY-MM-DD.")
                }
                reference = date
            } else {
                reference = year.map(SEN2Export.referenceDate(year:))
            }
            let store = try storeOptions.openForReading()
            let export = try store.sen2Export(referenceDate: reference)
            try refuse(export.problems, export: "SEN2 export")
            let text = try CSVTable.text(header: SEN2Export.header, rows: export.csvRows)
            let count = { (module: SEN2Export.Module) in export.rows.filter { $0.module == module }.count }
            Terminal.note(
                "SEN2 \(export.year) of \(export.la.name) (reference date \(export.referenceDate), counting "
                    + "\(export.period.lowerBound.year)): \(count(.person)) person(s), \(count(.requests)) request(s), "
                    + "\(count(.activePlans)) plan(s) in force.")
            try emit(text, out: out, force: force, what: "SEN2 export")
        }
    }
}

/// Refuses an export whose rows break the return's rules, listing every problem (by pupil record id).
private func refuse(_ problems: [ExportProblem], export: String) throws {
    guard !problems.isEmpty else { return }
    let pupils = Set(problems.map(\.pupil)).count
    throw CommandFailure(
        code: .invalidInput,
        message:
            "The \(export) was refused: \(counted(problems.count, "problem")) in the records of "
            + "\(counted(pupils, "pupil")). Nothing was written.",
        hint: "Fix each record listed below (`sensync pupil show ID` shows them), then export again.",
        details: problems.map(\.description))
}

/// Writes an export to `--out`, or prints it.
private func emit(_ text: String, out: String?, force: Bool, what: String) throws {
    if let out {
        try writeOut(text, to: out, force: force, what: what)
    } else {
        Terminal.print(text.hasSuffix("\n") ? String(text.dropLast()) : text)
    }
}
