import Foundation
import GRDB
import GRDBSQLite

extension Value {
    init(_ dbValue: DatabaseValue) {
        switch dbValue.storage {
        case .null: self = .null
        case .int64(let i): self = .integer(i)
        case .string(let s): self = .text(s)
        case .double(let d): self = .text(String(d))
        case .blob(let b): self = .text(Array(b).hexString)
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let i): i.databaseValue
        case .text(let s): s.databaseValue
        }
    }
}

/// Maps site ids to the small integers the store uses inside clocks and logs.
struct SiteOrdinals {
    private(set) var byID: [SiteID: Int64] = [:]
    private(set) var byOrdinal: [Int64: SiteID] = [:]

    init(_ db: Database) throws {
        for row in try Row.fetchAll(try db.cachedStatement(sql: "SELECT ord, site_id FROM site")) {
            let ord: Int64 = row[0]
            guard let id = SiteID(row[1] as String) else { continue }
            byID[id] = ord
            byOrdinal[ord] = id
        }
    }

    /// The ordinal for `site`, inserting the site if it is new.
    mutating func ordinal(for site: SiteID, in db: Database) throws -> Int64 {
        if let ord = byID[site] { return ord }
        // Other code (the directory) may have added the site since this cache was loaded.
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO site (site_id) VALUES (?)").execute(arguments: [
            site.description
        ])
        guard
            let ord = try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT ord FROM site WHERE site_id = ?"), arguments: [site.description])
        else {
            throw StoreError(.database, "A site could not be recorded.", hint: "Run `sensync audit verify`.")
        }
        byID[site] = ord
        byOrdinal[ord] = site
        return ord
    }

    func site(_ ordinal: Int64) throws -> SiteID {
        guard let site = byOrdinal[ordinal] else {
            throw StoreError(
                .database, "The store refers to an unknown site number \(ordinal).", hint: "Run `sensync audit verify`."
            )
        }
        return site
    }
}

/// How one table's records are read from and written to SQLite.
///
/// Readable tables hold each field's winning value in its own column and the rest of the merge
/// state (every head's clock, losing values, the tombstone's causal context) in the compact
/// `crdt_clock` blob, so a merge is one point read and one upsert per record.
struct TableCodec {
    let spec: TableSpec
    /// Each field's key in the clock blob: its wire number + 1 (the deletion marker, wire number 0,
    /// is key 1). Keys never move when fields are appended.
    let clockKeys: [String: Int]
    /// The column index (into `spec.fields`) of each clock key.
    let columnOfKey: [Int: Int]
    let selectSQL: String
    let upsertSQL: String

    init(_ spec: TableSpec) {
        self.spec = spec
        var keys: [String: Int] = [:]
        var columns: [Int: Int] = [:]
        for (index, field) in spec.fields.enumerated() {
            let key = field.name == RecordState.deletedField ? 1 : Int(field.number) + 1
            keys[field.name] = key
            columns[key] = index
        }
        clockKeys = keys
        columnOfKey = columns
        let columnNames = spec.fields.map(\.name)
        selectSQL =
            "SELECT \(columnNames.joined(separator: ", ")), crdt_clock FROM \(spec.name) WHERE pupil_id = ? AND id = ?"
        let all = ["pupil_id", "id"] + columnNames + ["crdt_clock"]
        upsertSQL = """
            INSERT INTO \(spec.name) (\(all.joined(separator: ", "))) VALUES (\(all.map { _ in "?" }.joined(separator: ", ")))
            ON CONFLICT (pupil_id, id) DO UPDATE SET \((columnNames + ["crdt_clock"]).map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
            """
    }

    static let all: [String: TableCodec] = Dictionary(
        uniqueKeysWithValues: RecordSchema.tables.map { ($0.name, TableCodec($0)) })

    /// Column values and clock blob for `state`.
    func columns(for state: RecordState, sites: inout SiteOrdinals, db: Database) throws -> (
        values: [DatabaseValue], clock: [UInt8]
    ) {
        var values: [DatabaseValue] = []
        values.reserveCapacity(spec.fields.count)
        for field in spec.fields {
            if let winner = state.fields[field.name]?.winner.value {
                values.append(winner.databaseValue)
            } else {
                values.append(field.name == RecordState.deletedField ? 0.databaseValue : .null)
            }
        }
        let clock = try ClockCodec.encode(state, keys: clockKeys, sites: &sites, db: db)
        return (values, clock)
    }

    /// Rebuilds the merge state from a row selected with ``selectSQL`` (or any row whose first
    /// columns are the fields in schema order followed by the clock).
    func state(from row: Row, offset: Int = 0, sites: SiteOrdinals) throws -> RecordState {
        try state(clock: Array(row[offset + spec.fields.count] as Data), sites: sites) { row[offset + $0] }
    }

    /// Rebuilds the merge state from the current row of a statement prepared from ``selectSQL``,
    /// read through the SQLite C API.
    func state(from statement: SQLiteStatement, sites: SiteOrdinals) throws -> RecordState {
        let column = CInt(spec.fields.count)
        let count = Int(sqlite3_column_bytes(statement, column))
        let clock: [UInt8] =
            count == 0 ? [] : Array(UnsafeRawBufferPointer(start: sqlite3_column_blob(statement, column), count: count))
        return try state(clock: clock, sites: sites) { DatabaseValue(sqliteStatement: statement, index: CInt($0)) }
    }

    /// Rebuilds the merge state from its clock blob and its column values (by field index).
    private func state(clock: [UInt8], sites: SiteOrdinals, column: (Int) -> DatabaseValue) throws -> RecordState {
        try ClockCodec.decode(clock, sites: sites, legacyFieldCount: ClockCodec.v1FieldCounts[spec.name]) {
            key in
            guard let index = columnOfKey[key] else { return nil }
            return (spec.fields[index].name, Value(column(index)))
        } knownName: { name in
            // A field written by a newer build before this one knew it ("#n"), now known.
            guard let number = RecordSchema.unknownNumber(name), let field = spec.field(number: number) else {
                return name
            }
            return field.name
        }
    }
}

/// The `crdt_clock` blob.
///
/// ```
/// u8 version = 2
/// varint dotCount, then per dot: varint siteOrdinal, varint seq, u64 hlc
/// varint fieldCount, then per field:
///   varint key          (0: a name follows as a string; 1: the deletion marker;
///                        k > 1: the table's field with wire number k − 1)
///   varint headCount, then per head (winner first):
///     varint dotIndex
///     u8 flags          (1: value follows inline; 2: causal context follows)
///     [value] [varint n, then n × (varint siteOrdinal, varint seq)]
/// ```
/// The winner of a field that has a column keeps its value in the column; every other value is
/// inline, as is a winning text that holds U+0000 (which SQLite's text binding would cut).
/// Version 1 (before fields could be appended to a table) keyed fields by column position.
enum ClockCodec {
    /// How many fields each table declared while clocks were version 1: a version-1 key k is the
    /// field with wire number k when k ≤ that count, and the deletion marker when k is one more.
    static let v1FieldCounts: [String: Int] = [
        "pupil": 7, "enrolment": 3, "note": 5, "support_plan": 6, "plan_outcome": 4, "provision_item": 7,
        "plan_review": 5, "erasure": 3,
    ]

    static func encode(
        _ state: RecordState, keys columnIndex: [String: Int], sites: inout SiteOrdinals, db: Database
    ) throws -> [UInt8] {
        // Each head's dot is written once and referred to by its place. Records have few
        // distinct dots (one per change that wrote a field still shown): found by a scan of the
        // list, and by a dictionary only once the list is long.
        var dots: [Dot: Int] = [:]
        var dotList: [(Dot, HLC)] = []
        func place(of dot: Dot) -> Int? {
            dotList.count <= 16 ? dotList.firstIndex { $0.0 == dot } : dots[dot]
        }
        // Each field's column looked up once, not twice per comparison of the sort.
        let fields = state.fields.map { (name: $0.key, field: $0.value, column: columnIndex[$0.key]) }.sorted {
            lhs, rhs in
            switch (lhs.column, rhs.column) {
            case let (l?, r?): l < r
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): lhs.name < rhs.name
            }
        }
        for (_, field, _) in fields {
            for head in field.heads where place(of: head.dot) == nil {
                if dotList.count == 16 {
                    for (i, (dot, _)) in dotList.enumerated() { dots[dot] = i }
                }
                if dotList.count >= 16 { dots[head.dot] = dotList.count }
                dotList.append((head.dot, head.hlc))
            }
        }
        var w = BinaryWriter(reservingCapacity: 16 + dotList.count * 14 + fields.count * 4)
        w.write(UInt8(2))
        w.writeVarint(dotList.count)
        for (dot, hlc) in dotList {
            w.writeVarint(UInt64(try sites.ordinal(for: dot.site, in: db)))
            w.writeVarint(dot.seq)
            w.write(hlc.rawValue)
        }
        w.writeVarint(fields.count)
        for (name, field, column) in fields {
            if let column {
                w.writeVarint(column)
            } else {
                w.writeVarint(0)
                w.writeString(name)
            }
            w.writeVarint(field.heads.count)
            for (i, head) in field.heads.enumerated() {
                w.writeVarint(place(of: head.dot)!)
                // SQLite binds text up to its first U+0000, so such a winner cannot live in its
                // column: keep it inline, whole (the column shows the text before the NUL).
                let inline = column == nil || i > 0 || head.value.text?.utf8.contains(0) == true
                w.write(UInt8((inline ? 1 : 0) | (head.deps != nil ? 2 : 0)))
                if inline { head.value.encode(into: &w) }
                if let deps = head.deps {
                    w.writeVarint(deps.count)
                    for entry in deps.entries {
                        w.writeVarint(UInt64(try sites.ordinal(for: entry.site, in: db)))
                        w.writeVarint(entry.seq)
                    }
                }
            }
        }
        return w.bytes
    }

    /// Decodes a clock. `column(k)` returns the name and column value of the field with clock key
    /// `k`; `knownName` renames a field stored by name.
    static func decode(
        _ bytes: [UInt8], sites: SiteOrdinals, legacyFieldCount: Int? = nil, column: (Int) -> (String, Value)?,
        knownName: (String) -> String = { $0 }
    ) throws -> RecordState {
        do {
            var r = BinaryReader(bytes)
            let version = try r.readUInt8()
            guard version == 1 || version == 2 else { throw DecodingFailure("unknown clock version") }
            let dotCount = try r.readCount(limit: 1 << 16)
            var dots: [(Dot, HLC)] = []
            dots.reserveCapacity(dotCount)
            for _ in 0..<dotCount {
                let site = try sites.site(Int64(try r.readVarint()))
                let seq = try r.readVarint()
                dots.append((Dot(site: site, seq: seq), HLC(rawValue: try r.readUInt64())))
            }
            let fieldCount = try r.readCount(limit: 1 << 16)
            var fields: [String: FieldState] = [:]
            fields.reserveCapacity(fieldCount)
            for _ in 0..<fieldCount {
                let key = try r.readCount(limit: 1 << 16)
                let name: String
                var columnValue: Value?
                if key == 0 {
                    name = knownName(try r.readString())
                } else {
                    var key = key
                    if version == 1 {
                        guard let count = legacyFieldCount else { throw DecodingFailure("unknown column \(key)") }
                        key = key <= count ? key + 1 : 1
                    }
                    guard let (n, v) = column(key) else { throw DecodingFailure("unknown column \(key)") }
                    name = n
                    columnValue = v
                }
                let headCount = try r.readCount(limit: 1 << 16)
                var heads: [Head] = []
                heads.reserveCapacity(headCount)
                for i in 0..<headCount {
                    let dotIndex = try r.readCount(limit: dots.count - 1)
                    let flags = try r.readUInt8()
                    let value: Value
                    if flags & 1 != 0 {
                        value = try Value.decode(from: &r)
                    } else {
                        guard i == 0, let columnValue else { throw DecodingFailure("missing value") }
                        value = columnValue
                    }
                    var deps: VersionVector?
                    if flags & 2 != 0 {
                        var vv = VersionVector()
                        for _ in 0..<(try r.readCount(limit: 1 << 16)) {
                            let site = try sites.site(Int64(try r.readVarint()))
                            vv[site] = try r.readVarint()
                        }
                        deps = vv
                    }
                    let (dot, hlc) = dots[dotIndex]
                    heads.append(Head(dot: dot, hlc: hlc, value: value, deps: deps))
                }
                fields[name] = FieldState(heads: heads)
            }
            return RecordState(fields: fields)
        } catch let failure as DecodingFailure {
            throw StoreError(
                .database, "A record's merge state is damaged (\(failure.reason)).", hint: "Run `sensync audit verify`."
            )
        }
    }
}
