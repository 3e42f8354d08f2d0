import Foundation
import GRDB
import GRDBSQLite

/// Binds values to a prepared statement through the SQLite C API, in parameter order.
struct SQLiteBinder {
    let statement: SQLiteStatement
    /// How many parameters are bound so far.
    private(set) var count: CInt = 0

    /// SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: SQLiteStatement) { self.statement = statement }

    /// Binds text up to its first U+0000, as GRDB does (``ClockCodec`` keeps such values whole in
    /// the clock, and the column's text must not depend on which path wrote it).
    mutating func bind(_ text: String) {
        count += 1
        let code = sqlite3_bind_text(statement, count, text, -1, Self.transient)
        precondition(code == SQLITE_OK, "sqlite3_bind_text: \(code)")
    }

    mutating func bind(_ integer: Int64) {
        count += 1
        sqlite3_bind_int64(statement, count, integer)
    }

    mutating func bind(blob bytes: [UInt8]) {
        count += 1
        // As GRDB binds `Data` (an empty one may bind NULL, as it does there).
        let code = bytes.withUnsafeBytes { raw in
            sqlite3_bind_blob(statement, count, raw.baseAddress, CInt(raw.count), Self.transient)
        }
        precondition(code == SQLITE_OK, "sqlite3_bind_blob: \(code)")
    }

    /// The text in column `index` (0-based) of the current row of `statement`; `nil` for NULL.
    static func text(_ statement: SQLiteStatement, _ index: CInt) -> String? {
        guard sqlite3_column_type(statement, index) != SQLITE_NULL, let text = sqlite3_column_text(statement, index)
        else { return nil }
        return String(cString: text)
    }

    mutating func bind(_ value: DatabaseValue) {
        switch value.storage {
        case .null:
            count += 1
            sqlite3_bind_null(statement, count)
        case .int64(let integer):
            count += 1
            sqlite3_bind_int64(statement, count, integer)
        case .double(let double):
            count += 1
            sqlite3_bind_double(statement, count, double)
        case .string(let text): bind(text)
        case .blob(let data):
            count += 1
            let code = data.withUnsafeBytes { raw in
                sqlite3_bind_blob(statement, count, raw.baseAddress, CInt(raw.count), Self.transient)
            }
            precondition(code == SQLITE_OK, "sqlite3_bind_blob: \(code)")
        }
    }
}

extension Statement {
    /// Runs this statement with the values `bind` gives, through the SQLite C API, and returns
    /// `row` of its first row (`nil` if it has none).
    ///
    /// For the two statements every merged record runs (read it, upsert it), where GRDB's argument
    /// handling and cursor set-up cost about as much as SQLite's own work. Only for a cached SELECT
    /// or INSERT run inside a transaction GRDB opened, with no transaction observers, and never
    /// also run through GRDB's `execute()` without arguments (its bindings are cleared here).
    func runDirectly<T>(
        _ bind: (inout SQLiteBinder) -> Void, firstRow row: (SQLiteStatement) throws -> T
    ) throws -> T? {
        var first: T?
        try runDirectly(bind) { statement in
            if first == nil { first = try row(statement) }
        }
        return first
    }

    /// Runs this statement with the values `bind` gives, through the SQLite C API, calling
    /// `eachRow` on every row (see ``runDirectly(_:firstRow:)``).
    func runDirectly(_ bind: (inout SQLiteBinder) -> Void, eachRow: (SQLiteStatement) throws -> Void) throws {
        let statement = sqliteStatement
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var binder = SQLiteBinder(statement)
        bind(&binder)
        precondition(binder.count == sqlite3_bind_parameter_count(statement), "wrong number of values for \(sql)")
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_DONE: return
            case SQLITE_ROW: try eachRow(statement)
            case let code:
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code),
                    message: String(cString: sqlite3_errmsg(sqlite3_db_handle(statement))), sql: sql)
            }
        }
    }

    /// Runs this statement with the values `bind` gives (see ``runDirectly(_:firstRow:)``).
    func executeDirectly(_ bind: (inout SQLiteBinder) -> Void) throws {
        try runDirectly(bind) { _ in }
    }
}
