import CSENSyncZlib
import Foundation
import GRDB
import GRDBSQLite
import SENSync

/// The raw baseline's tables: each of the store's readable tables as a plain table of the same
/// columns (read from the store itself, without `crdt_clock`, the CRDT metadata), keyed by
/// `(pupil_id, id)`, with the two secondary indexes the readable tables had from the start.
enum PlainSchema {
    static func ddl(_ rows: FinalRows) -> String {
        var sql = ""
        for table in rows.tables {
            let columns = zip(table.columns, table.types).map { "\($0) \($1)" }.joined(separator: ", ")
            sql += "CREATE TABLE \(table.name) (\(columns), PRIMARY KEY (pupil_id, id)) WITHOUT ROWID;\n"
        }
        let names = Set(rows.tables.map(\.name))
        if names.contains("pupil") { sql += "CREATE INDEX pupil_by_upn ON pupil(upn);\n" }
        if names.contains("enrolment") { sql += "CREATE INDEX enrolment_by_school ON enrolment(school_id);\n" }
        return sql
    }

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
            for name in RecordSchema.tables.map(\.name) {
                f.clockBytes +=
                    try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(crdt_clock)), 0) FROM \(name)") ?? 0
            }
            f.scopeClockRows = try Int.fetchOne(db, sql: "SELECT count(*) FROM scope_clock") ?? 0
            return f
        }
    }
}

/// The final rows of a store's readable tables (without `crdt_clock`), in primary-key order; only
/// tables with rows.
struct FinalRows {
    var tables: [(name: String, columns: [String], types: [String], rows: [[DatabaseValue]])]

    var rowCount: Int { tables.reduce(0) { $0 + $1.rows.count } }

    /// The rows of the records whose id is in `ids` (each row whole), read from the store at
    /// `path`: what a plain SQLite sync would send for those records. Checks that every one is there.
    static func read(storeAt path: String, only ids: Set<String>) throws -> FinalRows {
        var rows = try read(storeAt: path)
        rows.tables = rows.tables.compactMap { table in
            let kept = table.rows.filter { row in String.fromDatabaseValue(row[1]).map(ids.contains) ?? false }
            return kept.isEmpty ? nil : (table.name, table.columns, table.types, kept)
        }
        guard rows.rowCount == ids.count else {
            throw BenchFailure("The store holds \(rows.rowCount) of the \(ids.count) records looked for.")
        }
        return rows
    }

    /// The rows of `after` that are not in `before` as they are now (new rows, and rows with any
    /// value changed, a deletion marker included): what a plain SQLite sync would send to bring a
    /// copy of `before` up to `after`, each row whole.
    static func changed(from before: FinalRows, to after: FinalRows) -> FinalRows {
        var rows = after
        rows.tables = after.tables.compactMap { table in
            let old = before.tables.first { $0.name == table.name }
            var held: [[DatabaseValue]: [DatabaseValue]] = [:]
            for row in old?.rows ?? [] { held[Array(row.prefix(2))] = row }
            let kept = table.rows.filter { held[Array($0.prefix(2))] != $0 }
            return kept.isEmpty ? nil : (table.name, table.columns, table.types, kept)
        }
        return rows
    }

    /// Reads them from a store file through a separate read-only connection.
    static func read(storeAt path: String) throws -> FinalRows {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        return try queue.read { db in
            var tables: [(String, [String], [String], [[DatabaseValue]])] = []
            for name in RecordSchema.tables.map(\.name) {
                let info = try Row.fetchAll(db, sql: "PRAGMA table_info(\(name))")
                    .filter { ($0["name"] as String) != "crdt_clock" }
                let columns = info.map { $0["name"] as String }
                guard Array(columns.prefix(2)) == ["pupil_id", "id"] else {
                    throw BenchFailure("The store's \(name) table does not start with pupil_id, id.")
                }
                let types = info.map { ($0["type"] as String) + (($0["notnull"] as Bool) ? " NOT NULL" : "") }
                let rows = try Row.fetchAll(
                    db, sql: "SELECT \(columns.joined(separator: ", ")) FROM \(name) ORDER BY pupil_id, id"
                )
                .map { Array($0.databaseValues) }
                if !rows.isEmpty { tables.append((name, columns, types, rows)) }
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
        try pool.write { db in try db.execute(sql: PlainSchema.ddl(rows)) }
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
