import Foundation
import GRDB

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
    /// Rows read back at a time.
    static let pageSize = 1000

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

    /// Indexes the rows by pupil once they are all in: appending and then sorting once is much
    /// cheaper than keeping a tree in pupil order while rows arrive in file order (the temporary
    /// file's page cache is small: 10,000 pupils' CSV took a third longer than their JSON Lines).
    private func index(db: Database) throws {
        // Covering: read back in pupil order without a jump into the table for every row.
        try db.execute(
            sql: "CREATE INDEX temp.import_spool_by_pupil ON import_spool (upn, kind_rank, seq, file, row)")
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

    /// Every row kept, by pupil, a page at a time; `body` may write to the store.
    func forEach(db: Database, _ body: (_ file: Int, _ row: RawImportRow) throws -> Void) throws {
        try index(db: db)
        var after: (upn: String, kindRank: Int, seq: Int)?
        while true {
            let page = try Row.fetchAll(
                db,
                sql: after == nil
                    ? "SELECT upn, kind_rank, seq, file, row FROM import_spool ORDER BY upn, kind_rank, seq LIMIT ?"
                    : """
                    SELECT upn, kind_rank, seq, file, row FROM import_spool
                    WHERE (upn, kind_rank, seq) > (?, ?, ?) ORDER BY upn, kind_rank, seq LIMIT ?
                    """,
                arguments: after.map { [$0.upn, $0.kindRank, $0.seq, Self.pageSize] } ?? [Self.pageSize])
            guard let last = page.last else { return }
            for row in page {
                try body(row[3], try Self.decode(row[4]))
            }
            after = (last[0], last[1], last[2])
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
    /// u8 has text, [text]`; every text a varint length and its UTF-8.
    static func encode(_ row: RawImportRow) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + row.cells.reduce(0) { $0 + $1.name.utf8.count + ($1.text?.utf8.count ?? 0) + 4 })
        func varint(_ value: Int) {
            var v = UInt64(value)
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        func text(_ string: String) {
            varint(string.utf8.count)
            bytes.append(contentsOf: string.utf8)
        }
        varint(row.line)
        text(row.kind?.name ?? "")
        bytes.append(row.unknownKind ? 1 : 0)
        varint(row.cells.count)
        for cell in row.cells {
            text(cell.name)
            if let value = cell.text {
                bytes.append(1)
                text(value)
            } else {
                bytes.append(0)
            }
        }
        return bytes
    }

    static func decode(_ data: Data) throws -> RawImportRow {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var at = 0
            func byte() throws -> UInt8 {
                guard at < buffer.count else { throw Self.damaged }
                defer { at += 1 }
                return buffer[at]
            }
            func varint() throws -> Int {
                var value: UInt64 = 0
                var shift: UInt64 = 0
                while true {
                    let b = try byte()
                    guard shift < 64 else { throw Self.damaged }
                    value |= UInt64(b & 0x7F) << shift
                    if b < 0x80 { return Int(truncatingIfNeeded: value) }
                    shift += 7
                }
            }
            func text() throws -> String {
                let count = try varint()
                guard count >= 0, count <= buffer.count - at else {
                    throw Self.damaged
                }
                defer { at += count }
                return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[at..<at + count]), as: UTF8.self)
            }
            let line = try varint()
            let kindName = try text()
            let unknownKind = try byte() == 1
            let count = try varint()
            var cells: [(name: String, text: String?)] = []
            cells.reserveCapacity(min(count, 256))
            for _ in 0..<count {
                let name = try text()
                cells.append((name, try byte() == 1 ? try text() : nil))
            }
            return RawImportRow(
                line: line, kind: kindName.isEmpty ? nil : ImportFormat.kind(named: kindName), unknownKind: unknownKind,
                cells: cells)
        }
    }
}
