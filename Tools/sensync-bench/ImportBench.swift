import CSV
import Foundation
import GRDB
import SENSync

/// `sensync-bench --import`: `sensync import` of a synthetic school MIS export (10,000 pupils by
/// default) as JSON Lines and as CSV, each run in a separate process on a fresh copy of an empty
/// school store, as the command runs: open the store, import every file in one transaction,
/// report progress. Beside it, the raw baseline in the same run: a separate process reads the
/// same JSON Lines file, parses each line and inserts its row into plain SQLite tables (one per
/// kind, the file's columns) in one transaction with prepared statements. A file twice the size
/// shows whether memory stays flat.
enum ImportBench {
    /// The hidden mode: `sensync-bench --import-child STORE FILE...`.
    static let childFlag = "--import-child"
    /// The hidden mode: `sensync-bench --import-raw-child DATABASE FILE`.
    static let rawChildFlag = "--import-raw-child"

    // MARK: The children

    /// Runs in the child: imports the files into the store. Prints one line:
    /// `seconds peak_kib rows changes created progress_reports`.
    static func child(_ arguments: [String]) -> Int32 {
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: sensync-bench \(childFlag) STORE FILE...\n".utf8))
            return 2
        }
        do {
            let store = try Store.open(at: arguments[0])
            let files = arguments.dropFirst().map { ImportFile(path: $0) }
            var reports = 0
            var said = 0
            let (summary, seconds) = try measure {
                try store.importRecords(files, options: ImportOptions(author: "MIS import")) { progress in
                    reports += 1
                    // What `sensync import` would show, thinned to a line every 20,000 rows.
                    if progress.rows >= said + 20_000 || progress.rows < said {
                        said = progress.rows
                        FileHandle.standardError.write(Data("            import: \(progress)\n".utf8))
                    }
                }
            }
            print(
                "\(seconds) \(Memory.kib("VmHWM") ?? -1) \(summary.rows) \(summary.changes) \(summary.createdCount) \(reports)"
            )
            return 0
        } catch {
            FileHandle.standardError.write(Data("sensync-bench \(childFlag): \(error)\n".utf8))
            return 1
        }
    }

    /// A JSON value on a line, as the raw baseline binds it.
    private enum RawCell: Decodable {
        case text(String)
        case integer(Int64)
        case null

        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() {
                self = .null
            } else if let whole = try? value.decode(Int64.self) {
                self = .integer(whole)
            } else {
                self = .text(try value.decode(String.self))
            }
        }

        var databaseValue: DatabaseValue {
            switch self {
            case .text(let text): text.databaseValue
            case .integer(let n): n.databaseValue
            case .null: .null
            }
        }
    }

    /// Runs in the child: the raw baseline. Prints one line: `seconds peak_kib rows`.
    ///
    /// `DATABASE FILE.jsonl` reads the JSON Lines file; `DATABASE --csv FILE.csv...` reads the
    /// CSV files with the CSV package the import uses (each named after its kind).
    static func rawChild(_ arguments: [String]) -> Int32 {
        let csv = arguments.count >= 3 && arguments[1] == "--csv"
        guard arguments.count == 2 || csv else {
            FileHandle.standardError.write(
                Data("usage: sensync-bench \(rawChildFlag) DATABASE (FILE.jsonl | --csv FILE.csv...)\n".utf8))
            return 2
        }
        do {
            var config = Configuration()
            config.busyMode = .timeout(10)
            let pool = try DatabasePool(path: arguments[0], configuration: config)
            var tables: [String: (sql: String, columns: [MISExport.Column])] = [:]
            try pool.write { db in
                for (kind, _) in MISExport.fields {
                    let columns = try MISExport.columns(of: kind)
                    let names = ["id", "upn"] + columns.map(\.field)
                    try db.execute(
                        sql: "CREATE TABLE \(kind.name) (id TEXT PRIMARY KEY, upn TEXT NOT NULL, "
                            + columns.map { "\($0.field) \($0.isNumber ? "INTEGER" : "TEXT")" }.joined(separator: ", ")
                            + ")")
                    let placeholders = names.map { _ in "?" }.joined(separator: ", ")
                    tables[kind.name] = (
                        "INSERT INTO \(kind.name) (\(names.joined(separator: ", "))) VALUES (\(placeholders))", columns
                    )
                }
                try db.execute(sql: "CREATE INDEX pupil_by_upn ON pupil(upn)")
            }
            let (rows, seconds) = try measure {
                try pool.write { db in
                    csv
                        ? try insertCSV(arguments.dropFirst(2), tables: tables, db: db)
                        : try insertJSONLines(arguments[1], tables: tables, db: db)
                }
            }
            print("\(seconds) \(Memory.kib("VmHWM") ?? -1) \(rows)")
            return 0
        } catch {
            FileHandle.standardError.write(Data("sensync-bench \(rawChildFlag): \(error)\n".utf8))
            return 1
        }
    }

    private static func insertJSONLines(
        _ path: String, tables: [String: (sql: String, columns: [MISExport.Column])], db: Database
    ) throws -> Int {
        var rows = 0
        var lines = try LineReader(path)
        let decoder = JSONDecoder()
        while let line = try lines.next() {
            let object = try decoder.decode([String: RawCell].self, from: Data(line))
            guard case .text(let kind)? = object[ImportFormat.kindKey] else { continue }  // the header
            guard let table = tables[kind] else { throw BenchFailure("Unknown kind in the file.") }
            let statement = try db.cachedStatement(sql: table.sql)
            var values: [DatabaseValue] = [
                object[ImportFormat.idKey]?.databaseValue ?? .null, object["upn"]?.databaseValue ?? .null,
            ]
            for column in table.columns { values.append(object[column.key]?.databaseValue ?? .null) }
            try statement.execute(arguments: StatementArguments(values))
            rows += 1
        }
        return rows
    }

    /// Each CSV file's rows by heading, as the JSON Lines baseline binds them: numbers as
    /// integers, empty cells as NULL.
    private static func insertCSV(
        _ paths: ArraySlice<String>, tables: [String: (sql: String, columns: [MISExport.Column])], db: Database
    ) throws -> Int {
        var rows = 0
        for path in paths {
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            guard let kind = ImportFormat.kind(named: name), let table = tables[kind.name] else {
                throw BenchFailure("Cannot read \(path) as a kind's CSV file.")
            }
            // From memory (a file stream on Linux says it has bytes once more at the end, which the
            // import's reader guards against): if anything, a head start for the baseline.
            let reader = try CSVReader(
                stream: InputStream(data: try Data(contentsOf: URL(fileURLWithPath: path))), hasHeaderRow: true)
            let headings = reader.headerRow ?? []
            let wanted = [ImportFormat.idHeading, ImportFormat.upnHeading] + table.columns.map(\.heading)
            let positions = try wanted.map { heading in
                guard let i = headings.firstIndex(of: heading) else {
                    throw BenchFailure("\(path) has no column \(heading).")
                }
                return i
            }
            let isNumber = [false, false] + table.columns.map(\.isNumber)
            let statement = try db.cachedStatement(sql: table.sql)
            while let fields = reader.next() {
                var values: [DatabaseValue] = []
                values.reserveCapacity(positions.count)
                for (i, position) in positions.enumerated() {
                    let text = fields[position]
                    if text.isEmpty {
                        values.append(.null)
                    } else if isNumber[i], let n = Int64(text) {
                        values.append(n.databaseValue)
                    } else {
                        values.append(text.databaseValue)
                    }
                }
                try statement.execute(arguments: StatementArguments(values))
                rows += 1
            }
            if reader.error != nil { throw BenchFailure("\(path) is not valid CSV.") }
        }
        return rows
    }

    // MARK: Running the children

    /// One run in a separate process.
    struct ChildRun {
        var seconds: Double
        var peakMiB: Double
        var rows: Int
        var changes: Int
        var progressReports: Int
    }

    static func runChild(_ arguments: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchFailure("The separate \(arguments[0]) process failed (exit \(process.terminationStatus)).")
        }
        return String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// Imports `files` into a fresh copy of the empty school store in a separate process.
    static func importOnce(_ files: [URL], export: MISExport, pristine: String, path: String) throws -> ChildRun {
        try FileManager.default.copyItem(atPath: pristine, toPath: path)
        try FileManager.default.copyItem(atPath: KeyFile.path(forStore: pristine), toPath: KeyFile.path(forStore: path))
        defer {
            for suffix in ["", "-wal", "-shm", ".keys"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let f = try runChild([childFlag, path] + files.map(\.path))
        guard f.count == 6, let seconds = Double(f[0]), let peak = Double(f[1]), let rows = Int(f[2]),
            let changes = Int(f[3]), let created = Int(f[4]), let reports = Int(f[5])
        else { throw BenchFailure("The separate import process printed '\(f.joined(separator: " "))'.") }
        guard rows == export.rowCount, created == export.rowCount else {
            throw BenchFailure("The import read \(rows) rows and created \(created) records of \(export.rowCount).")
        }
        return ChildRun(seconds: seconds, peakMiB: peak / 1024, rows: rows, changes: changes, progressReports: reports)
    }

    /// The raw baseline on `export`'s JSON Lines file, in a separate process, on a fresh database.
    static func rawOnce(_ export: MISExport, csv: Bool = false, path: String) throws -> ChildRun {
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let f = try runChild(
            [rawChildFlag, path] + (csv ? ["--csv"] + export.csv.map(\.path) : [export.jsonLines.path]))
        guard f.count == 3, let seconds = Double(f[0]), let peak = Double(f[1]), let rows = Int(f[2]) else {
            throw BenchFailure("The separate raw baseline process printed '\(f.joined(separator: " "))'.")
        }
        guard rows == export.rowCount else {
            throw BenchFailure("The raw baseline inserted \(rows) rows of \(export.rowCount).")
        }
        return ChildRun(seconds: seconds, peakMiB: peak / 1024, rows: rows, changes: 0, progressReports: 0)
    }

    /// An empty school store (maintained school, LA 801, listed in the LA's directory), closed,
    /// to copy for each run.
    static func makeSchoolStore(in folder: URL) throws -> String {
        let laIdentity = SiteIdentity(
            id: .v7(), name: "Synthetic Local Authority", kind: .la, laCode: AreaBuilder.laCode)
        let la = try Store.create(at: folder.appendingPathComponent("la.sensync").path, identity: laIdentity)
        let identity = SiteIdentity(
            id: .v7(), name: "Synthetic Primary 1", kind: .maintainedSchool, urn: "190001", laCode: AreaBuilder.laCode)
        let path = folder.appendingPathComponent("school-empty.sensync").path
        let school = try Store.create(at: path, identity: identity, la: la.publicIdentity)
        try la.addToDirectory(school.publicIdentity)
        try school.checkpoint()
        return path
    }

    /// A set of runs: the median, the spread and the highest peak.
    struct Runs {
        var runs: [ChildRun]
        var median: ChildRun { runs.sorted { $0.seconds < $1.seconds }[runs.count / 2] }
        var seconds: Double { Bench.median(runs.map(\.seconds)) }
        var fastest: Double { runs.map(\.seconds).min() ?? .nan }
        var slowest: Double { runs.map(\.seconds).max() ?? .nan }
        var peakMiB: Double { runs.map(\.peakMiB).max() ?? .nan }
        var changes: Int { median.changes }
    }

    // MARK: The run

    static func run(_ options: Options) throws -> Report {
        let progress = Progress()
        let scratch = try ScratchFolder("import-", keep: options.keep, progress: progress)
        defer { scratch.finish() }
        let folder = scratch.url
        let (machine, loadStart) = (scratch.machine, scratch.loadStart)

        // 1. The MIS export: N pupils, and 2N (the same N pupils first, then N more).
        progress.say("[import] writing a synthetic MIS export of \(options.pupils) pupils (seed \(options.seed))")
        let (small, writeSeconds) = try measure {
            try MISExport.write(pupils: options.pupils, seed: options.seed, in: folder, name: "export-1x")
        }
        progress.say("[import] writing the same export at \(options.pupils * 2) pupils")
        let big = try MISExport.write(pupils: options.pupils * 2, seed: options.seed, in: folder, name: "export-2x")
        progress.say(
            "[import] \(small.rowCount) rows (\(small.jsonLinesBytes / 1024) KiB JSON Lines, \(small.csvBytes / 1024) KiB CSV) in \(String(format: "%.1f", writeSeconds)) s; 2×: \(big.rowCount) rows"
        )
        let pristine = try makeSchoolStore(in: folder)

        // 2. The runs, interleaved so drift on a shared machine falls on every variant alike.
        var jsonRuns: [ChildRun] = []
        var csvRuns: [ChildRun] = []
        var rawRuns: [ChildRun] = []
        var rawCSVRuns: [ChildRun] = []
        let store = folder.appendingPathComponent("school-run.sensync").path
        let raw = folder.appendingPathComponent("raw.sqlite").path
        func say(_ tag: String, _ run: ChildRun) {
            progress.say(
                "[import] \(tag): \(String(format: "%.2f", run.seconds)) s, \(String(format: "%.0f", Double(run.rows) / run.seconds)) rows/s, peak \(String(format: "%.1f", run.peakMiB)) MiB"
            )
        }
        for r in 1...options.repeats {
            jsonRuns.append(try importOnce([small.jsonLines], export: small, pristine: pristine, path: store))
            say("JSON Lines 1× run \(r)/\(options.repeats)", jsonRuns.last!)
            csvRuns.append(try importOnce(small.csv, export: small, pristine: pristine, path: store))
            say("CSV 1× run \(r)/\(options.repeats)", csvRuns.last!)
            rawRuns.append(try rawOnce(small, path: raw))
            say("raw SQLite 1× run \(r)/\(options.repeats)", rawRuns.last!)
            rawCSVRuns.append(try rawOnce(small, csv: true, path: raw))
            say("raw SQLite from CSV 1× run \(r)/\(options.repeats)", rawCSVRuns.last!)
        }
        let bigRepeats = max(1, (options.repeats + 1) / 2)
        var bigRuns: [ChildRun] = []
        var bigCSVRuns: [ChildRun] = []
        var bigRawRuns: [ChildRun] = []
        for r in 1...bigRepeats {
            bigRuns.append(try importOnce([big.jsonLines], export: big, pristine: pristine, path: store))
            say("JSON Lines 2× run \(r)/\(bigRepeats)", bigRuns.last!)
            // CSV rows are set aside by pupil in a temporary table: its memory must stay flat too.
            bigCSVRuns.append(try importOnce(big.csv, export: big, pristine: pristine, path: store))
            say("CSV 2× run \(r)/\(bigRepeats)", bigCSVRuns.last!)
            bigRawRuns.append(try rawOnce(big, path: raw))
            say("raw SQLite 2× run \(r)/\(bigRepeats)", bigRawRuns.last!)
        }
        let json = Runs(runs: jsonRuns)
        let csv = Runs(runs: csvRuns)
        let rawSmall = Runs(runs: rawRuns)
        let rawCSV = Runs(runs: rawCSVRuns)
        let json2 = Runs(runs: bigRuns)
        let csv2 = Runs(runs: bigCSVRuns)
        let raw2 = Runs(runs: bigRawRuns)

        // 3. The report.
        let report = Report()
        report.header = Report.header(seed: options.seed, machine: machine, loadStart: loadStart)
        report.section(
            "export", "1. The synthetic MIS export (seed \(options.seed))",
            note:
                "per pupil: a pupil row, an SEN provision episode (K or E), one or two ranked needs; for some a concern, a support plan with a provision item, a referral. The 2× export holds the same pupils and as many more."
        )
        report.add("pupils", "pupils", .int(small.pupils))
        for (kind, _) in MISExport.fields {
            report.add("rows_\(kind.name)", "  \(kind.name) rows", .int(small.rows[kind.name] ?? 0))
        }
        report.add("rows", "rows", .int(small.rowCount))
        report.add("jsonl_bytes", "JSON Lines file", .int(small.jsonLinesBytes), "B")
        report.add("csv_bytes", "CSV files (\(small.csv.count))", .int(small.csvBytes), "B")
        report.add("big_rows", "2× export: rows", .int(big.rowCount))
        report.add("big_jsonl_bytes", "2× export: JSON Lines file", .int(big.jsonLinesBytes), "B")

        let ratio = json.seconds / rawSmall.seconds
        let csvRatio = csv.seconds / rawCSV.seconds
        let csvOverJSONRaw = csv.seconds / rawSmall.seconds
        let bigRatio = json2.seconds / raw2.seconds
        report.section(
            "import",
            "2. sensync import (median of \(options.repeats) runs; \(bigRepeats) at 2×; each a fresh process and a fresh copy of the empty school store)",
            note:
                "time is Store.importRecords in the child (every file, one transaction, progress reported); peak is the child's VmHWM at the end, store open included. The raw baseline (a child too) reads the same JSON Lines file, decodes each line with JSONDecoder and inserts it into plain tables (one per kind, the file's columns, id primary key, pupil UPN indexed) with prepared statements in one transaction: parsing is in both. The CSV import is set beside the same baseline reading the CSV files (the same CSV package as the import, the same tables), and also beside the JSON Lines baseline."
        )
        report.add("jsonl_seconds", "JSON Lines 1×: time", .number(json.seconds, digits: 3), "s")
        report.add(
            "jsonl_rows_per_second", "JSON Lines 1×: rows/s", .number(Double(small.rowCount) / json.seconds, digits: 0),
            "rows/s")
        report.add("jsonl_changes", "JSON Lines 1×: changes recorded", .int(json.changes))
        report.add("jsonl_progress_reports", "JSON Lines 1×: progress reports", .int(json.median.progressReports))
        report.add("csv_seconds", "CSV 1×: time", .number(csv.seconds, digits: 3), "s")
        report.add(
            "csv_rows_per_second", "CSV 1×: rows/s", .number(Double(small.rowCount) / csv.seconds, digits: 0), "rows/s")
        report.add("csv_changes", "CSV 1×: changes recorded", .int(csv.changes))
        report.add("raw_seconds", "raw SQLite 1×: time", .number(rawSmall.seconds, digits: 3), "s")
        report.add(
            "raw_rows_per_second", "raw SQLite 1×: rows/s",
            .number(Double(small.rowCount) / rawSmall.seconds, digits: 0), "rows/s")
        report.add("raw_csv_seconds", "raw SQLite from CSV 1×: time", .number(rawCSV.seconds, digits: 3), "s")
        report.add("import_over_raw", "IMPORT (JSON Lines) / RAW", .number(ratio, digits: 2), "×")
        report.add("csv_over_raw", "IMPORT (CSV) / RAW from CSV", .number(csvRatio, digits: 2), "×")
        report.add("csv_over_jsonl_raw", "IMPORT (CSV) / RAW from JSON Lines", .number(csvOverJSONRaw, digits: 2), "×")
        report.add("big_import_over_raw", "IMPORT (JSON Lines 2×) / RAW 2×", .number(bigRatio, digits: 2), "×")
        report.add("jsonl_peak_mib", "peak memory, JSON Lines 1×", .number(json.peakMiB, digits: 1), "MiB")
        report.add("csv_peak_mib", "peak memory, CSV 1×", .number(csv.peakMiB, digits: 1), "MiB")
        report.add("big_peak_mib", "peak memory, JSON Lines 2×", .number(json2.peakMiB, digits: 1), "MiB")
        report.add("big_csv_peak_mib", "peak memory, CSV 2×", .number(csv2.peakMiB, digits: 1), "MiB")
        report.add("raw_peak_mib", "peak memory, raw SQLite 1×", .number(rawSmall.peakMiB, digits: 1), "MiB")

        func row(_ name: String, _ export: MISExport, _ bytes: Int, _ runs: Runs, over raw: Runs?) -> [Figure] {
            [
                .text(name), .int(export.pupils), .int(export.rowCount),
                runs.changes > 0 ? .int(runs.changes) : .missing,
                .number(Double(bytes) / 1_048_576, digits: 1), .int(runs.runs.count), .number(runs.seconds, digits: 3),
                .text(String(format: "%.2f–%.2f", runs.fastest, runs.slowest)),
                .number(Double(export.rowCount) / runs.seconds, digits: 0),
                runs.changes > 0 ? .number(Double(runs.changes) / runs.seconds, digits: 0) : .missing,
                raw.map { Figure.number(runs.seconds / $0.seconds, digits: 2) } ?? .missing,
                .number(runs.peakMiB, digits: 1),
            ]
        }
        report.table(
            Report.Table(
                key: "import", title: "import runs",
                columns: [
                    ("variant", "variant"), ("pupils", "pupils"), ("rows", "rows"), ("changes", "changes"),
                    ("file_mib", "file MiB"), ("runs", "runs"), ("seconds", "median s"), ("range", "fastest–slowest"),
                    ("rows_per_s", "rows/s"), ("changes_per_s", "changes/s"), ("over_raw", "÷ raw"),
                    ("peak_mib", "peak MiB"),
                ],
                rows: [
                    row("JSON Lines 1×", small, small.jsonLinesBytes, json, over: rawSmall),
                    row("CSV 1×", small, small.csvBytes, csv, over: rawCSV),
                    row("raw SQLite 1×", small, small.jsonLinesBytes, rawSmall, over: nil),
                    row("raw SQLite from CSV 1×", small, small.csvBytes, rawCSV, over: nil),
                    row("JSON Lines 2×", big, big.jsonLinesBytes, json2, over: raw2),
                    row("CSV 2×", big, big.csvBytes, csv2, over: nil),
                    row("raw SQLite 2×", big, big.jsonLinesBytes, raw2, over: nil),
                ]))

        let peak = max(json.peakMiB, csv.peakMiB, json2.peakMiB, csv2.peakMiB)
        let growth = json2.peakMiB / json.peakMiB
        let csvGrowth = csv2.peakMiB / csv.peakMiB
        report.bar(
            "import_vs_raw", "import (JSON Lines) within 3× raw SQLite", measured: String(format: "%.2f×", ratio),
            target: "≤ 3.00×", pass: ratio <= 3)
        report.bar(
            "import_csv_vs_raw", "import (CSV) within 3× raw SQLite from CSV",
            measured: String(format: "%.2f× (%.2f× raw from JSON Lines)", csvRatio, csvOverJSONRaw),
            target: "≤ 3.00×", pass: csvRatio <= 3)
        report.bar(
            "import_memory", "import peak memory", measured: String(format: "%.1f MiB (highest of all runs)", peak),
            target: "< 100 MiB", pass: peak.isFinite ? peak < 100 : nil)
        report.bar(
            "import_memory_flat", "import memory flat in file size",
            measured: String(
                format: "2× JSON Lines %.1f MiB vs 1× %.1f MiB (%.2f×); 2× CSV %.1f vs %.1f (%.2f×)", json2.peakMiB,
                json.peakMiB, growth, csv2.peakMiB, csv.peakMiB, csvGrowth),
            target: "2× peak ≤ 1.20× of 1× peak, each format",
            pass: growth.isFinite && csvGrowth.isFinite ? max(growth, csvGrowth) <= 1.2 : nil)
        return report
    }
}

/// Reads a file's lines in 1 MiB blocks (memory flat whatever the file's size).
struct LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchFailure("Cannot read \(path).") }
        self.handle = handle
    }

    /// The next non-blank line's bytes, without its newline; `nil` at the end.
    mutating func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                start = newline + 1
                if line.isEmpty { continue }
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            guard let block = try handle.read(upToCount: 1 << 20), !block.isEmpty else {
                atEnd = true
                continue
            }
            buffer.append(contentsOf: block)
        }
    }
}
