import CSENSyncZlib
import Foundation
import GRDB
import GRDBSQLite

/// The store's readable tables, copied from `Sources/SENSync/Store/StoreSchema.swift` without
/// `crdt_clock` (the CRDT metadata). The benchmark checks these against the LA store's own
/// `PRAGMA table_info` before using them.
enum PlainSchema {
    static let tables: [(name: String, columns: [String])] = [
        (
            "pupil",
            [
                "pupil_id", "id", "upn", "forename", "surname", "date_of_birth", "year_group", "sen_status",
                "sen_needs", "deleted",
            ]
        ),
        ("enrolment", ["pupil_id", "id", "school_id", "entry_date", "leaving_date", "deleted"]),
        ("note", ["pupil_id", "id", "text", "area", "amends_note_id", "recorded_at", "recorded_by"]),
        (
            "support_plan",
            [
                "pupil_id", "id", "title", "status", "start_date", "review_date", "responsible_org",
                "responsible_person", "deleted",
            ]
        ),
        ("plan_outcome", ["pupil_id", "id", "plan_id", "description", "target_date", "status", "deleted"]),
        (
            "provision_item",
            [
                "pupil_id", "id", "plan_id", "description", "provider", "frequency", "responsible_org",
                "responsible_person", "cost_pence", "deleted",
            ]
        ),
        (
            "plan_review",
            ["pupil_id", "id", "plan_id", "held_on", "summary", "decision", "next_review_date", "deleted"]
        ),
    ]

    static let ddl = """
        CREATE TABLE pupil (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, upn TEXT, forename TEXT, surname TEXT, date_of_birth TEXT,
          year_group INTEGER, sen_status TEXT, sen_needs TEXT, deleted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE INDEX pupil_by_upn ON pupil(upn);
        CREATE TABLE enrolment (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, school_id TEXT, entry_date TEXT, leaving_date TEXT,
          deleted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE INDEX enrolment_by_school ON enrolment(school_id);
        CREATE TABLE note (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, text TEXT, area TEXT, amends_note_id TEXT, recorded_at TEXT,
          recorded_by TEXT,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE support_plan (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, title TEXT, status TEXT, start_date TEXT, review_date TEXT,
          responsible_org TEXT, responsible_person TEXT, deleted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE plan_outcome (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, plan_id TEXT, description TEXT, target_date TEXT, status TEXT,
          deleted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE provision_item (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, plan_id TEXT, description TEXT, provider TEXT, frequency TEXT,
          responsible_org TEXT, responsible_person TEXT, cost_pence INTEGER, deleted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE plan_review (
          pupil_id TEXT NOT NULL, id TEXT NOT NULL, plan_id TEXT, held_on TEXT, summary TEXT, decision TEXT,
          next_review_date TEXT, deleted INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        """

    static func upsertSQL(_ table: String, _ columns: [String]) -> String {
        let updates = columns.filter { $0 != "pupil_id" && $0 != "id" }.map { "\($0) = excluded.\($0)" }
        return """
            INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))
            ON CONFLICT(pupil_id, id) DO UPDATE SET \(updates.joined(separator: ", "))
            """
    }
}

/// Where a store file's bytes go: readable columns, CRDT clocks, the change log.
struct StoreFootprint {
    var fileBytes = 0
    var changeLogBytes = 0
    var clockBytes = 0
    var scopeClockRows = 0

    static func measure(storeAt path: String) throws -> StoreFootprint {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        return try queue.read { db in
            var f = StoreFootprint(fileBytes: fileSize(path))
            f.changeLogBytes =
                try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(changes)), 0) FROM change_log") ?? 0
            for (name, _) in PlainSchema.tables {
                f.clockBytes +=
                    try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(crdt_clock)), 0) FROM \(name)") ?? 0
            }
            f.scopeClockRows = try Int.fetchOne(db, sql: "SELECT count(*) FROM scope_clock") ?? 0
            return f
        }
    }
}

/// The final rows of a store's readable tables (without `crdt_clock`), in primary-key order.
struct FinalRows {
    var tables: [(name: String, columns: [String], rows: [[DatabaseValue]])]

    var rowCount: Int { tables.reduce(0) { $0 + $1.rows.count } }

    /// Reads them from a store file through a separate read-only connection.
    static func read(storeAt path: String) throws -> FinalRows {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        return try queue.read { db in
            var tables: [(String, [String], [[DatabaseValue]])] = []
            for (name, columns) in PlainSchema.tables {
                let actual = try Row.fetchAll(db, sql: "PRAGMA table_info(\(name))").map { $0["name"] as String }
                    .filter { $0 != "crdt_clock" }
                guard actual == columns else {
                    throw BenchFailure(
                        "The store's \(name) columns \(actual) differ from the benchmark's copy \(columns); update PlainSchema."
                    )
                }
                let rows = try Row.fetchAll(
                    db, sql: "SELECT \(columns.joined(separator: ", ")) FROM \(name) ORDER BY pupil_id, id"
                )
                .map { Array($0.databaseValues) }
                tables.append((name, columns, rows))
            }
            return FinalRows(tables: tables)
        }
    }
}

/// Bulk-upserts rows into a fresh plain SQLite database: the raw baseline for apply.
enum RawBaseline {
    /// How the rows reach SQLite.
    enum Binding: String {
        /// GRDB cached statement, `execute(arguments:)` with the row's values, as an app would write it.
        case grdb
        /// The same cached statement, bound and stepped through the SQLite C API (no GRDB per row).
        case capi
    }

    struct Result {
        var seconds: Double
        var rows: Int
        var sqliteVersion: String
        var journalMode: String
        var synchronous: Int
        /// The database file after a checkpoint.
        var fileBytes: Int
    }

    /// Runs the baseline `repeats` times, each on a fresh file; returns the median run.
    static func median(_ rows: FinalRows, folder: URL, name: String, binding: Binding, repeats: Int) throws -> (
        median: Result, min: Double, max: Double
    ) {
        var results: [Result] = []
        for r in 1...repeats {
            let path = folder.appendingPathComponent("\(name)-\(binding.rawValue)-\(r).sqlite").path
            results.append(try run(rows, at: path, binding: binding))
            if r < repeats {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
        }
        let sorted = results.sorted { $0.seconds < $1.seconds }
        return (sorted[sorted.count / 2], sorted.first!.seconds, sorted.last!.seconds)
    }

    /// Creates `path` with the same connection set-up as a store (GRDB `DatabasePool`: WAL,
    /// synchronous=NORMAL on the writer), creates the plain tables, then times ONE transaction
    /// that upserts every row with cached prepared statements.
    static func run(_ rows: FinalRows, at path: String, binding: Binding) throws -> Result {
        var config = Configuration()
        config.busyMode = .timeout(10)
        let pool = try DatabasePool(path: path, configuration: config)
        try pool.write { db in try db.execute(sql: PlainSchema.ddl) }
        let (_, seconds) = try measure {
            try pool.write { db in
                for table in rows.tables {
                    let statement = try db.cachedStatement(sql: PlainSchema.upsertSQL(table.name, table.columns))
                    switch binding {
                    case .grdb:
                        for row in table.rows {
                            let values: [(any DatabaseValueConvertible)?] = row
                            try statement.execute(arguments: StatementArguments(values))
                        }
                    case .capi:
                        try upsertWithCAPI(table.rows, statement.sqliteStatement)
                    }
                }
            }
        }
        // The writer connection: GRDB sets synchronous=NORMAL on it (readers keep the default).
        let (version, mode, sync) = try pool.write { db in
            (
                try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "?",
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        let stored = try pool.read { db in
            try rows.tables.reduce(0) { $0 + (try Int.fetchOne(db, sql: "SELECT count(*) FROM \($1.name)") ?? 0) }
        }
        guard stored == rows.rowCount else {
            throw BenchFailure("The raw baseline stored \(stored) rows, expected \(rows.rowCount).")
        }
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        return Result(
            seconds: seconds, rows: rows.rowCount, sqliteVersion: version, journalMode: mode, synchronous: sync,
            fileBytes: fileSize(path))
    }

    private static func upsertWithCAPI(_ rows: [[DatabaseValue]], _ s: OpaquePointer) throws {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        defer {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
        }
        for row in rows {
            sqlite3_reset(s)
            for (i, value) in row.enumerated() {
                let index = Int32(i + 1)
                let rc: Int32
                switch value.storage {
                case .null: rc = sqlite3_bind_null(s, index)
                case .int64(let n): rc = sqlite3_bind_int64(s, index, n)
                case .double(let d): rc = sqlite3_bind_double(s, index, d)
                case .string(let text): rc = sqlite3_bind_text(s, index, text, -1, transient)
                case .blob(let data):
                    rc = data.withUnsafeBytes {
                        sqlite3_bind_blob(s, index, $0.baseAddress, Int32($0.count), transient)
                    }
                }
                guard rc == SQLITE_OK else { throw BenchFailure("sqlite3_bind failed (\(rc)).") }
            }
            let rc = sqlite3_step(s)
            guard rc == SQLITE_DONE else { throw BenchFailure("sqlite3_step failed (\(rc)).") }
        }
    }
}

/// The same rows as a naive export: JSON Lines (one object per row, keys = column names, in
/// column order), then zlib-compressed.
enum JSONLines {
    static func encode(_ rows: FinalRows) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rows.rowCount * 400)
        for table in rows.tables {
            let keys = table.columns.map { key -> [UInt8] in
                var k: [UInt8] = []
                appendString(key, to: &k)
                return k + [UInt8(ascii: ":")]
            }
            for row in table.rows {
                out.append(UInt8(ascii: "{"))
                for (i, value) in row.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    out += keys[i]
                    switch value.storage {
                    case .null: out += Array("null".utf8)
                    case .int64(let n): out += Array(String(n).utf8)
                    case .double(let d): out += Array(String(d).utf8)
                    case .string(let s): appendString(s, to: &out)
                    case .blob(let b): appendString(b.base64EncodedString(), to: &out)
                    }
                }
                out += [UInt8(ascii: "}"), UInt8(ascii: "\n")]
            }
        }
        return out
    }

    private static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// zlib (RFC 1950) compression at `level`, as `compress2` does it.
    static func zlib(_ input: [UInt8], level: Int32) throws -> [UInt8] {
        var length = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let rc = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &length, src.baseAddress, uLong(src.count), level)
            }
        }
        guard rc == Z_OK else { throw BenchFailure("zlib compress2 failed (\(rc)).") }
        return Array(output[0..<Int(length)])
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
