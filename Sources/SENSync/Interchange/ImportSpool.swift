import Foundation
import GRDB
import GRDBSQLite

/// The rows of several import files, gathered by pupil in a temporary table so each pupil's rows
/// become one change however the files spread them (a CSV export holds one kind per file: a
/// pupil's episode, needs and plan are in three files).
///
/// The rows go to SQLite's temporary database (on disk, in the import's transaction), not to
/// memory, so memory stays flat in the files' size. They come back by pupil (normalised UPN), and
/// within a pupil by kind in ``ImportFormat/kinds`` order (the pupil's own row first, a plan
/// before the provision that names it), then in the order the files and lines gave them: files
/// may be given in any order.
struct ImportSpool {
    private(set) var rows = 0

    /// A row read back is not as written: SQLite's temporary file was damaged under the import.
    static let damaged = StoreError(
        .database, "A row set aside while importing could not be read back.",
        hint: "Nothing was imported; run the import again.")

    init(db: Database) throws {
        try db.execute(sql: "DROP TABLE IF EXISTS temp.import_spool")
        try db.execute(
            sql: """
                CREATE TEMP TABLE import_spool (
                    upn TEXT NOT NULL, kind_rank INTEGER NOT NULL, seq INTEGER NOT NULL,
                    file INTEGER NOT NULL, row BLOB NOT NULL
                )
                """)
    }

    /// Keeps a row read from file number `file`, under the pupil `upn` it names (as normalised,
    /// or as written when it is not a valid UPN: the check reports it later).
    mutating func add(_ row: RawImportRow, upn: String, file: Int, db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO import_spool (upn, kind_rank, seq, file, row) VALUES (?, ?, ?, ?, ?)")
        let bytes = Self.encode(row)
        rows += 1
        let seq = rows
        try statement.executeDirectly { binder in
            binder.bind(upn)
            binder.bind(Int64(Self.rank(of: row.kind)).databaseValue)
            binder.bind(Int64(seq).databaseValue)
            binder.bind(Int64(file).databaseValue)
            binder.bind(blob: bytes)
        }
    }

    /// Every row kept, by pupil; `body` may write to the store.
    ///
    /// One query in pupil order: SQLite sorts the rows once (in memory up to its cache, then in
    /// temporary files, so memory stays bounded) and hands them over one at a time while `body`
    /// writes to the store's own tables (the query reads only the temporary one, which nothing
    /// writes meanwhile). An index kept in pupil order as rows arrive, or built afterwards and read
    /// a page at a time, would write every row a second time.
    func forEach(db: Database, _ body: (_ file: Int, _ row: RawImportRow) throws -> Void) throws {
        let statement = try db.cachedStatement(
            sql: "SELECT file, row FROM import_spool ORDER BY upn, kind_rank, seq")
        // Through the C API: every row.
        try statement.runDirectly { _ in
        } eachRow: { row in
            let count = Int(sqlite3_column_bytes(row, 1))
            let bytes =
                sqlite3_column_blob(row, 1).map {
                    Array(UnsafeRawBufferPointer(start: $0, count: count))
                } ?? []
            try body(Int(sqlite3_column_int64(row, 0)), try Self.decode(bytes))
        }
    }

    /// Where rows of `kind` come among a pupil's rows.
    static func rank(of kind: KindSpec?) -> Int {
        kind.flatMap { kind in ImportFormat.kinds.firstIndex { $0.name == kind.name } } ?? ImportFormat.kinds.count
    }

    /// Drops the table (it would go with the connection anyway).
    func drop(db: Database) throws {
        try db.execute(sql: "DROP TABLE IF EXISTS temp.import_spool")
    }

    // MARK: A row's bytes

    /// `varint line, kind name (empty: none), u8 unknown kind, varint cells, per cell: name,
    /// u8 has text (2: a number or true/false as text), [text]`; every text a varint length and
    /// its UTF-8.
    static func encode(_ row: RawImportRow) -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 64 + row.cells.count * 24)
        w.writeVarint(row.line)
        w.writeString(row.kind?.name ?? "")
        w.write(UInt8(row.unknownKind ? 1 : 0))
        w.writeVarint(row.cells.count)
        for (position, cell) in row.cells.enumerated() {
            w.writeString(cell.name)
            w.write(UInt8(cell.text == nil ? 0 : row.untyped.contains(position) ? 2 : 1))
            if let text = cell.text { w.writeString(text) }
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> RawImportRow {
        var r = BinaryReader(bytes)
        // As long as a line a reader accepts.
        let limit = JSONLinesReader.maxLineLength
        do {
            let line = try r.readCount(limit: Int.max)
            let kindName = try r.readString(limit: limit)
            let unknownKind = try r.readUInt8() == 1
            let count = try r.readCount(limit: limit)
            var cells: [(name: String, text: String?)] = []
            var untyped: Set<Int> = []
            cells.reserveCapacity(min(count, 256))
            for position in 0..<count {
                let name = try r.readString(limit: limit)
                let hasText = try r.readUInt8()
                if hasText == 2 { untyped.insert(position) }
                cells.append((name, hasText != 0 ? try r.readString(limit: limit) : nil))
            }
            return RawImportRow(
                line: line, kind: kindName.isEmpty ? nil : ImportFormat.kind(named: kindName),
                unknownKind: unknownKind, cells: cells, untyped: untyped)
        } catch {
            throw Self.damaged
        }
    }
}
