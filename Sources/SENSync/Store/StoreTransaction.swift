import Foundation
import GRDB

/// The store seen from inside one write transaction: the ``ReplicaBackend`` the merge rules run
/// against.
///
/// Chain heads, per-pupil clocks and the change log are buffered and written once by
/// ``flush()``, so applying a bundle costs about one read and one upsert per record plus one
/// log row per run of changes.
struct StoreTransaction: ReplicaBackend {
    let db: Database
    var sites: SiteOrdinals
    var clock: HybridClock
    private var chainHeads: [SiteID: ChainHead] = [:]
    private var dirtyChains: [SiteID: HLC] = [:]
    private var scopeClocks: [RecordID: VersionVector] = [:]
    private var dirtyScopes: Set<RecordID> = []
    private(set) var logBuffers: [SiteID: LogBuffer] = [:]
    private var conflictedWhenLoaded: [RecordKey: Set<String>] = [:]
    var identities: [SiteID: SiteIdentity?] = [:]
    var directoryCache: AreaDirectory?
    /// Pupils erased by changes merged in this transaction; purged at ``flush()``.
    var pendingErasures: Set<RecordID> = []
    var erasedCache: Set<RecordID>?
    var enrolmentHistoryCache: [RecordID: [(school: SiteID, dot: Dot)]] = [:]
    /// Whether changes are checked against their origin's entitlement (off only before this site
    /// has any directory, e.g. in merge-only tests).
    var enforcesScope = true

    /// Changes to one site's chain waiting to be written as one `change_log` row.
    struct LogBuffer {
        var firstSeq: UInt64
        var lastSeq: UInt64
        var prevHash: Digest32
        var lastHash: Digest32
        var maxHLC: HLC
        var writer = BinaryWriter(reservingCapacity: 4096)
    }

    static let maxLogRowBytes = 256 * 1024

    init(_ db: Database) throws {
        self.db = db
        sites = try SiteOrdinals(db)
        let row = try Row.fetchOne(db, sql: "SELECT hlc, kind, la_identity IS NOT NULL FROM site_identity")
        let raw: Int64 = row?[0] ?? 0
        clock = HybridClock(last: HLC(rawValue: UInt64(bitPattern: raw)))
        // A site with no LA (only possible in merge-only tests) has no directory to check origins against.
        enforcesScope = (row?[1] as String?) == SiteKind.la.rawValue || (row?[2] as Bool?) == true
    }

    // MARK: ReplicaBackend

    mutating func chainHead(of site: SiteID) throws -> ChainHead {
        if let head = chainHeads[site] { return head }
        var head = ChainHead.empty
        if let ord = sites.byID[site],
            let row = try Row.fetchOne(
                db, sql: "SELECT chain_seq, chain_hash FROM site WHERE ord = ?", arguments: [ord])
        {
            let seq: Int64 = row[0]
            head = ChainHead(seq: UInt64(seq), hash: Digest32(Array(row[1] as Data)) ?? .zero)
        }
        chainHeads[site] = head
        return head
    }

    mutating func setChainHead(_ head: ChainHead, of site: SiteID) throws {
        chainHeads[site] = head
        if dirtyChains[site] == nil { dirtyChains[site] = .zero }
    }

    mutating func scopeClock(of scope: RecordID) throws -> VersionVector {
        if let clock = scopeClocks[scope] { return clock }
        var clock = VersionVector()
        let statement = try db.cachedStatement(sql: "SELECT site_ord, seq FROM scope_clock WHERE scope = ?")
        for row in try Row.fetchAll(statement, arguments: [scope.description]) {
            clock[try sites.site(row[0])] = UInt64(row[1] as Int64)
        }
        scopeClocks[scope] = clock
        return clock
    }

    mutating func setScopeClock(_ clock: VersionVector, of scope: RecordID) throws {
        scopeClocks[scope] = clock
        dirtyScopes.insert(scope)
    }

    mutating func record(_ key: RecordKey) throws -> RecordState? {
        let state: RecordState?
        if let codec = TableCodec.all[key.table] {
            let statement = try db.cachedStatement(sql: codec.selectSQL)
            guard let row = try Row.fetchOne(statement, arguments: [key.scope.description, key.id.description]) else {
                return nil
            }
            state = try codec.state(from: row, sites: sites)
        } else {
            guard
                let blob = try Data.fetchOne(
                    db, sql: "SELECT crdt_clock FROM generic_record WHERE table_name = ? AND pupil_id = ? AND id = ?",
                    arguments: [key.table, key.scope.description, key.id.description])
            else { return nil }
            state = try ClockCodec.decode(Array(blob), sites: sites) { _ in nil }
        }
        if let state {
            let conflicted = Set(state.conflicts.map(\.field))
            if !conflicted.isEmpty { conflictedWhenLoaded[key] = conflicted }
        }
        return state
    }

    mutating func saveRecord(_ state: RecordState, for key: RecordKey, changedFields: Set<String>) throws {
        if let codec = TableCodec.all[key.table] {
            let (values, clock) = try codec.columns(for: state, sites: &sites, db: db)
            let statement = try db.cachedStatement(sql: codec.upsertSQL)
            // Existential elements: GRDB's generic `StatementArguments` initialiser maps with a key
            // path, which costs a runtime key-path instantiation on every call.
            var arguments: [(any DatabaseValueConvertible)?] = [key.scope.description, key.id.description]
            arguments.reserveCapacity(values.count + 3)
            for value in values { arguments.append(value) }
            arguments.append(Data(clock))
            try statement.execute(arguments: StatementArguments(arguments))
        } else {
            let clock = try ClockCodec.encode(state, columnIndex: [:], sites: &sites, db: db)
            try db.execute(
                sql: """
                    INSERT INTO generic_record (table_name, pupil_id, id, crdt_clock) VALUES (?, ?, ?, ?)
                    ON CONFLICT (table_name, pupil_id, id) DO UPDATE SET crdt_clock = excluded.crdt_clock
                    """, arguments: [key.table, key.scope.description, key.id.description, Data(clock)])
        }
        let before = conflictedWhenLoaded.removeValue(forKey: key) ?? []
        let after = Set(state.conflicts.map(\.field))
        if before != after {
            let keyArgs: StatementArguments = [key.table, key.scope.description, key.id.description]
            for field in before.subtracting(after) {
                try db.execute(
                    sql: "DELETE FROM conflict WHERE table_name = ? AND pupil_id = ? AND record_id = ? AND field = ?",
                    arguments: keyArgs + [field])
            }
            for field in after.subtracting(before) {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO conflict (table_name, pupil_id, record_id, field) VALUES (?, ?, ?, ?)",
                    arguments: keyArgs + [field])
            }
        }
    }

    mutating func appendChange(_ change: EncodedChange, hash: Digest32, hlc: HLC, scope: RecordID, rejection: String?)
        throws
    {
        var change = change
        if rejection != nil, try isErased(scope) {
            if let decoded = try? change.decoded() { try recordEnrolments(of: decoded) }
            change = change.redacted(scope: scope, hlc: hlc)
        }
        try indexScope(scope, of: change.dot)
        clock.observe(hlc)
        dirtyChains[change.site] = max(dirtyChains[change.site] ?? .zero, hlc)
        // Take the buffer out of the dictionary so it is uniquely referenced: appending to a
        // copy would copy its bytes (up to 256 KiB) for every change.
        var pending = logBuffers.removeValue(forKey: change.site)
        if var buffer = pending, buffer.lastSeq + 1 == change.seq,
            buffer.writer.bytes.count + change.body.count < Self.maxLogRowBytes
        {
            pending = nil
            buffer.writer.writeBytesWithLength(change.body)
            buffer.lastSeq = change.seq
            buffer.lastHash = hash
            buffer.maxHLC = max(buffer.maxHLC, hlc)
            logBuffers[change.site] = buffer
        } else {
            if let full = pending { try write(full, of: change.site) }
            var buffer = LogBuffer(
                firstSeq: change.seq, lastSeq: change.seq, prevHash: try chainHead(of: change.site).hash,
                lastHash: hash, maxHLC: hlc)
            buffer.writer.writeBytesWithLength(change.body)
            logBuffers[change.site] = buffer
        }
        if let rejection {
            try db.execute(
                sql: "INSERT OR REPLACE INTO rejected_change (site_ord, seq, reason) VALUES (?, ?, ?)",
                arguments: [try sites.ordinal(for: change.site, in: db), Int64(change.seq), rejection])
        }
    }

    // MARK: Flushing

    mutating func write(_ buffer: LogBuffer, of site: SiteID) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO change_log (site_ord, first_seq, last_seq, prev_hash, last_hash, max_hlc, changes)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        try statement.execute(arguments: [
            try sites.ordinal(for: site, in: db), Int64(buffer.firstSeq), Int64(buffer.lastSeq),
            Data(buffer.prevHash.bytes), Data(buffer.lastHash.bytes), Int64(bitPattern: buffer.maxHLC.rawValue),
            Data(buffer.writer.bytes),
        ])
    }

    /// Removes and returns a site's pending change-log buffer.
    mutating func takeLogBuffer(_ site: SiteID) -> LogBuffer? { logBuffers.removeValue(forKey: site) }

    /// Writes buffered change-log rows.
    mutating func flushLog() throws {
        for (site, buffer) in logBuffers { try write(buffer, of: site) }
        logBuffers.removeAll()
    }

    /// Writes everything buffered and purges erased pupils. Call once, at the end of the
    /// transaction.
    mutating func flush() throws {
        try flushLog()
        for pupil in pendingErasures.sorted() { try purge(pupil) }
        erasedCache = nil
        pendingErasures.removeAll()
        for (site, hlc) in dirtyChains {
            let head = chainHeads[site]!
            let ord = try sites.ordinal(for: site, in: db)
            try db.execute(
                sql: "UPDATE site SET chain_seq = ?, chain_hash = ?, chain_hlc = max(chain_hlc, ?) WHERE ord = ?",
                arguments: [Int64(head.seq), Data(head.hash.bytes), Int64(bitPattern: hlc.rawValue), ord])
        }
        dirtyChains.removeAll()
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO scope_clock (scope, site_ord, seq) VALUES (?, ?, ?)
                ON CONFLICT (scope, site_ord) DO UPDATE SET seq = excluded.seq
                """)
        for scope in dirtyScopes {
            for (site, seq) in scopeClocks[scope]!.entries {
                try statement.execute(arguments: [scope.description, try sites.ordinal(for: site, in: db), Int64(seq)])
            }
        }
        dirtyScopes.removeAll()
        try db.execute(sql: "UPDATE site_identity SET hlc = ?", arguments: [Int64(bitPattern: clock.last.rawValue)])
    }
}
