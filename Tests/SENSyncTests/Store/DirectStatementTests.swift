import Foundation
import GRDB
import Testing

@testable import SENSync

/// Statements run through the SQLite C API (`Statement.runDirectly`) store and read exactly what
/// GRDB's own binding does: a store's bytes must not depend on which path wrote them.
struct DirectStatementTests {
    static let values: [DatabaseValue] = [
        .null, 0.databaseValue, Int64.min.databaseValue, Int64.max.databaseValue, 2.5.databaseValue,
        "".databaseValue, "plain".databaseValue, "Zoë 测试 📚\nline two".databaseValue,
        "before\u{0}after".databaseValue, Data().databaseValue, Data([0, 1, 2, 255]).databaseValue,
    ]

    /// Each value bound both ways, read back both ways, with its SQLite type.
    @Test func directBindingStoresWhatGRDBStores() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (path TEXT, n INTEGER, v)")
            let insert = try db.cachedStatement(sql: "INSERT INTO t (path, n, v) VALUES (?, ?, ?)")
            for (n, value) in Self.values.enumerated() {
                try insert.execute(arguments: ["grdb", n, value])
                try insert.executeDirectly { binder in
                    binder.bind("direct")
                    binder.bind(n.databaseValue)
                    binder.bind(value)
                }
            }
            let read = try db.cachedStatement(sql: "SELECT v, typeof(v), hex(v) FROM t WHERE path = ? AND n = ?")
            for n in Self.values.indices {
                let grdb = try #require(try Row.fetchOne(read, arguments: ["grdb", n]))
                let direct = try #require(try Row.fetchOne(read, arguments: ["direct", n]))
                #expect(direct == grdb, "value \(n): \(Self.values[n])")
                // Read through the C API too: the same value.
                let viaC = try read.runDirectly { binder in
                    binder.bind("direct")
                    binder.bind(n.databaseValue)
                } firstRow: { row in
                    DatabaseValue(sqliteStatement: row, index: 0)
                }
                #expect(viaC == grdb[0] as DatabaseValue, "value \(n)")
            }
        }
    }

    /// Text is bound up to its first U+0000, as GRDB binds it (the merge clock keeps such a value
    /// whole; the column shows what comes before it).
    @Test func textStopsAtItsFirstNul() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            let select = try db.cachedStatement(sql: "SELECT hex(?)")
            let text = try select.runDirectly {
                $0.bind("before\u{0}after")
            } firstRow: {
                SQLiteBinder.text($0, 0)
            }
            #expect(text == "6265666F7265")  // "before"
            let null = try db.cachedStatement(sql: "SELECT ?").runDirectly {
                $0.bind(.null)
            } firstRow: {
                SQLiteBinder.text($0, 0)
            }
            #expect(null == .some(nil))
        }
    }

    /// Every row, none, and a failing statement: the error is GRDB's, and the cached statement
    /// still works afterwards.
    @Test func rowsAndErrors() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            let insert = try db.cachedStatement(sql: "INSERT INTO u (id, name) VALUES (?, ?)")
            for id in 1...3 {
                try insert.executeDirectly { binder in
                    binder.bind(id.databaseValue)
                    binder.bind("n\(id)")
                }
            }
            #expect(throws: DatabaseError.self) {
                try insert.executeDirectly { binder in
                    binder.bind(1.databaseValue)
                    binder.bind("duplicate id")
                }
            }
            try insert.executeDirectly { binder in
                binder.bind(4.databaseValue)
                binder.bind("after the error")
            }
            var names: [String] = []
            try db.cachedStatement(sql: "SELECT name FROM u WHERE id >= ? ORDER BY id").runDirectly {
                $0.bind(2.databaseValue)
            } eachRow: { row in
                names.append(SQLiteBinder.text(row, 0) ?? "")
            }
            #expect(names == ["n2", "n3", "after the error"])
            let none = try db.cachedStatement(sql: "SELECT name FROM u WHERE id = ?").runDirectly {
                $0.bind(99.databaseValue)
            } firstRow: { _ in
                true
            }
            #expect(none == nil)
        }
    }
}
