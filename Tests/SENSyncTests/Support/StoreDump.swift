import Foundation
import GRDB
import Testing

@testable import SENSync

// MARK: - Every table, for "nothing else changed"

extension Store {
    /// Every row of every table but `excluded` (SQLite's own tables included, so a new site row,
    /// a migration or a sequence moving all show), each table in the order of all its columns.
    func tableDump(excluding excluded: Set<String> = []) throws -> [String: [[DatabaseValue]]] {
        try writer.read { db in
            var dump: [String: [[DatabaseValue]]] = [:]
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            for table in tables where !excluded.contains(table) {
                let columns = try db.columns(in: table).count
                let order = (1...max(columns, 1)).map(String.init).joined(separator: ", ")
                dump[table] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\" ORDER BY \(order)").map {
                    Array($0.databaseValues)
                }
            }
            return dump
        }
    }

    /// The import log as stored, oldest first: every column, by name.
    func importLogRows() throws -> [ImportLogRow] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM import_log ORDER BY id").map(ImportLogRow.init)
        }
    }
}

/// One `import_log` row, every column kept.
struct ImportLogRow: CustomStringConvertible {
    var columns: [String: DatabaseValue]

    init(_ row: Row) {
        columns = Dictionary(uniqueKeysWithValues: row.columnNames.map { ($0, row[$0] as DatabaseValue) })
    }

    subscript(_ column: String) -> DatabaseValue { columns[column] ?? .null }

    func text(_ column: String) -> String? { String.fromDatabaseValue(self[column]) }
    func integer(_ column: String) -> Int64? { Int64.fromDatabaseValue(self[column]) }
    func blob(_ column: String) -> Data? { Data.fromDatabaseValue(self[column]) }

    /// Every column as text (blobs as hex and as UTF-8), for searching for what must not be there.
    var description: String {
        columns.sorted { $0.key < $1.key }.map { name, value -> String in
            switch value.storage {
            case .blob(let data): "\(name)=\([UInt8](data).hexString) \(String(decoding: data, as: UTF8.self))"
            case .string(let text): "\(name)=\(text)"
            default: "\(name)=\(value)"
            }
        }.joined(separator: " ")
    }
}
