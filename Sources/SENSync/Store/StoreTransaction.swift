import Foundation
import GRDB
import GRDBSQLite

/// The store seen from inside one write transaction: the ``ReplicaBackend`` the merge rules run
/// against.
///
/// Per-pupil clocks, each site's held prefix and the change log are buffered and written once by
/// ``flush()``, so applying a bundle costs about one read and one upsert per record plus one log
/// row per run of consecutive changes.
struct StoreTransaction: ReplicaBackend {
    let db: Database
    var sites: SiteOrdinals
    var clock: HybridClock
    /// The latest stamp this store's own clock takes from changes it applies: its wall clock plus
    /// the clock guard (`nil`: no limit). A change stamped further ahead (a fast clock's, accepted
    /// explicitly with `--accept-clock-ahead`) leaves this site's clock where it was: the LA took
    /// such a stamp, its own changes were then stamped days ahead, and every site with a right
    /// clock refused them.
    var clockCeiling: HLC?
    /// Rules across a change's records check its last record first, so the one refused is the
    /// later of two that clash (the import's second open episode or second need of a rank, named
    /// by its row), and go on past the first refusal to list every rule broken (an import lists
    /// every problem in one attempt: ``StoreError/alsoRefused``). Commands keep the first order and
    /// stop at the first: the record a command writes comes first, and its refusal names that
    /// command's options.
    var rulesLastFirst = false

    /// Takes the stamp of a change applied here into this site's clock, unless it is past
    /// ``clockCeiling``.
    private mutating func observeClock(_ hlc: HLC) {
        if let clockCeiling, hlc > clockCeiling { return }
        clock.observe(hlc)
    }
    /// For each site, how far this store holds its changes without a gap (`site.chain_seq`).
    private var prefixes: [SiteID: UInt64] = [:]
    /// For each site, the highest change held.
    private var maxHeld: [SiteID: UInt64] = [:]
    private var dirtyPrefixes: [SiteID: HLC] = [:]
    private var scopeClocks: [RecordID: VersionVector] = [:]
    private var dirtyScopes: Set<RecordID> = []
    /// Pupils a change was logged, redacted or forgotten about: their revision (`scope_rev`) is
    /// bumped at ``flush()``, so a bundle looks again at them and only them
    /// (``Store/planForScoped``, ``Store/holdingsSection``).
    private var revisedScopes: Set<RecordID> = []
    /// Pupils whose clock was read from the store and found empty: the store held no record of
    /// theirs (every record comes with a change, which sets the clock;
    /// ``purge(_:erased:relaying:)`` deletes records before it clears it), so it holds only those
    /// saved since, and a new pupil's other records are not looked for one by one (a bundle
    /// bringing a pupil's history: each change's record was a query that found nothing).
    private var newScopes: Set<RecordID> = []
    /// The hash of every record saved for a pupil in ``newScopes``: a record whose hash is not
    /// here is not in the store (a hash shared by chance only costs a lookup). 8 bytes a record,
    /// at most ``newRecordLimit`` of them and of new pupils (an import writes every pupil in one
    /// transaction: memory stays flat in the file's size); past it, lookups go to the store.
    private var savedInNewScopes: Set<Int> = []
    private static let newRecordLimit = 20_000
    private(set) var logBuffers: [SiteID: LogBuffer] = [:]
    /// The last log row read, per site, decoded (consecutive lookups hit it).
    private var rowCache: [SiteID: LogRow] = [:]
    /// The fields of each record read or saved in this transaction that the `conflict` table
    /// lists, as it lists them now.
    private var conflictedWhenLoaded: [RecordKey: Set<String>] = [:]
    /// Records read or saved while one local write runs (its checks, the unchanged-write filter
    /// and the merge each look at the same records); `nil` when not caching. See
    /// ``cachingRecords(_:)``.
    private var recordCache: [RecordKey: RecordState?]?
    var identities: [SiteID: SiteIdentity?] = [:]
    /// The area directory, once read (`.some(nil)`: this store has none).
    var directoryCache: AreaDirectory??
    /// Pupils erased by changes merged in this transaction; purged at ``flush()``.
    var pendingErasures: Set<RecordID> = []
    /// Whether each pupil asked about was erased, as the store held it when first asked.
    var erasedCache: [RecordID: Bool] = [:]
    var enrolmentHistoryCache: [RecordID: [(school: SiteID, dot: Dot)]] = [:]
    /// Whether changes are checked against their origin's entitlement (off only before this site
    /// has any directory, e.g. in merge-only tests).
    var enforcesScope = true
    /// Whether this transaction checked that the store is not behind its own history and that
    /// this computer's clock is not ahead of what it has received.
    var localWritesChecked = false
    /// Changes held only to relay them upstream (`relayed_change`): not merged here.
    private var relayOnly: Set<Dot>?

    /// Consecutive changes of one site waiting to be written as one `change_log` row.
    struct LogBuffer {
        var firstSeq: UInt64
        var entries: [EncodedChange] = []
        var maxHLC: HLC
        var writer = BinaryWriter(reservingCapacity: 4096)
        var lastSeq: UInt64 { firstSeq + UInt64(entries.count) - 1 }
    }

    /// One stored `change_log` row, decoded.
    struct LogRow {
        var firstSeq: UInt64
        var entries: [EncodedChange]
        var lastSeq: UInt64 { firstSeq + UInt64(entries.count) - 1 }
    }

    static let maxLogRowBytes = 256 * 1024

    init(_ db: Database) throws {
        self.db = db
        sites = try SiteOrdinals(db)
        let row = try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT hlc, kind, la_identity IS NOT NULL FROM site_identity"))
        let raw: Int64 = row?[0] ?? 0
        clock = HybridClock(last: HLC(rawValue: UInt64(bitPattern: raw)))
        // A site with no LA (only possible in merge-only tests) has no directory to check origins against.
        enforcesScope = (row?[1] as String?) == SiteKind.la.rawValue || (row?[2] as Bool?) == true
    }

    // MARK: The change log

    /// How far this store holds `site`'s changes without a gap.
    mutating func prefix(of site: SiteID) throws -> UInt64 {
        if let known = prefixes[site] { return known }
        var value: UInt64 = 0
        if let ord = sites.byID[site],
            let seq = try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT chain_seq FROM site WHERE ord = ?"), arguments: [ord])
        {
            value = UInt64(seq)
        }
        prefixes[site] = value
        return value
    }

    /// The highest change of `site` held.
    mutating func highestHeld(of site: SiteID) throws -> UInt64 {
        if let known = maxHeld[site] { return known }
        var value = try prefix(of: site)
        // Runs never overlap, so the run that starts last ends last: one seek on the primary key
        // (a max over last_seq would read every run of the site: a write would cost O(history)).
        if let ord = sites.byID[site],
            let seq = try Int64.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT last_seq FROM change_log WHERE site_ord = ? ORDER BY first_seq DESC LIMIT 1"),
                arguments: [ord])
        {
            value = max(value, UInt64(seq))
        }
        maxHeld[site] = value
        return value
    }

    /// The change held at `dot`. One held only to relay it is returned without its content: this
    /// store has not merged it.
    mutating func heldChange(_ dot: Dot) throws -> EncodedChange? {
        guard let held = try storedEntry(dot) else { return nil }
        return try isRelayOnly(dot) ? held.redacted() : held
    }

    /// The change held at `dot`, as stored (with its content if it has it).
    mutating func storedEntry(_ dot: Dot) throws -> EncodedChange? {
        if let buffer = logBuffers[dot.site], buffer.firstSeq <= dot.seq, dot.seq <= buffer.lastSeq {
            return buffer.entries[Int(dot.seq - buffer.firstSeq)]
        }
        guard dot.seq >= 1, dot.seq <= (try highestHeld(of: dot.site)) else { return nil }
        if let row = rowCache[dot.site], row.firstSeq <= dot.seq, dot.seq <= row.lastSeq {
            return row.entries[Int(dot.seq - row.firstSeq)]
        }
        guard let row = try loadRow(holding: dot) else { return nil }
        rowCache[dot.site] = row
        return row.entries[Int(dot.seq - row.firstSeq)]
    }

    mutating func isRelayOnly(_ dot: Dot) throws -> Bool {
        if relayOnly == nil {
            var set: Set<Dot> = []
            for row in try Row.fetchAll(try db.cachedStatement(sql: "SELECT site_ord, seq FROM relayed_change")) {
                set.insert(Dot(site: try sites.site(row[0]), seq: UInt64(row[1] as Int64)))
            }
            relayOnly = set
        }
        return relayOnly!.contains(dot)
    }

    /// Holds a change only to relay it upstream: its content is kept (the LA needs it) but not
    /// merged here, and it counts for nothing this store holds of its pupil.
    mutating func storeRelayed(_ change: EncodedChange, header: ChangeHeader) throws {
        if try storedEntry(change.dot) != nil {
            try replaceHeld(change)
        } else {
            try append(change, hlc: header.hlc)
        }
        try indexScope(header.scope, of: change.dot)
        observeClock(header.hlc)
        dirtyPrefixes[change.site] = max(dirtyPrefixes[change.site] ?? .zero, header.hlc)
        try markRelayOnly(change.dot)
    }

    /// Marks a held change as held only to relay it (its pupil was passed on here).
    mutating func markRelayOnly(_ dot: Dot) throws {
        _ = try isRelayOnly(dot)
        relayOnly?.insert(dot)
        try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO relayed_change (site_ord, seq) VALUES (?, ?)"
        ).execute(
            arguments: [try sites.ordinal(for: dot.site, in: db), Int64(dot.seq)])
    }

    /// Ends a change's relay-only status (it was merged, or its content removed).
    mutating func clearRelayOnly(_ dot: Dot) throws {
        guard try isRelayOnly(dot) else { return }
        relayOnly?.remove(dot)
        try db.cachedStatement(
            sql: "DELETE FROM relayed_change WHERE site_ord = ? AND seq = ?"
        ).execute(
            arguments: [try sites.ordinal(for: dot.site, in: db), Int64(dot.seq)])
    }

    /// The stored row holding `dot`, decoded.
    func loadRow(holding dot: Dot) throws -> LogRow? {
        guard let ord = sites.byID[dot.site] else { return nil }
        let statement = try db.cachedStatement(
            sql: """
                SELECT first_seq, last_seq, changes FROM change_log
                WHERE site_ord = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1
                """)
        guard let row = try Row.fetchOne(statement, arguments: [ord, Int64(dot.seq)]),
            UInt64(row[1] as Int64) >= dot.seq
        else { return nil }
        return try Self.decodeRow(site: dot.site, first: UInt64(row[0] as Int64), bytes: Array(row[2] as Data))
    }

    static func decodeRow(site: SiteID, first: UInt64, bytes: [UInt8]) throws -> LogRow {
        var reader = BinaryReader(bytes)
        var entries: [EncodedChange] = []
        var seq = first
        while !reader.isAtEnd {
            do { entries.append(try EncodedChange.read(site: site, seq: seq, from: &reader)) } catch {
                throw LogReader.damaged()
            }
            seq += 1
        }
        return LogRow(firstSeq: first, entries: entries)
    }

    mutating func storeChange(_ change: EncodedChange, header: ChangeHeader, replacing: Bool, rejection: String?)
        throws
    {
        // Enrolments of entitled changes only: an entitled change refused because its pupil is
        // erased still names a school the erasure must reach; a change without content is judged
        // from its header, which is all entitlement needs.
        if !header.schools.isEmpty,
            change.isRedacted
                ? try entitlement(of: change.site, seq: change.seq, header: header) == nil
                : rejection == nil || rejection == Self.erasedReason
        {
            try recordEnrolments(header.schools, pupil: header.scope, dot: change.dot)
        }
        var change = change
        if rejection != nil, !change.isRedacted, try isErased(header.scope) { change = change.redacted() }
        if replacing {
            try replaceHeld(change)
            try clearRelayOnly(change.dot)
        } else {
            try append(change, hlc: header.hlc)
        }
        try indexScope(header.scope, of: change.dot)
        observeClock(header.hlc)
        dirtyPrefixes[change.site] = max(dirtyPrefixes[change.site] ?? .zero, header.hlc)
        if let rejection {
            let statement = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO rejected_change (site_ord, seq, reason) VALUES (?, ?, ?)")
            try statement.execute(arguments: [
                try sites.ordinal(for: change.site, in: db), Int64(change.seq), rejection,
            ])
        }
    }

    /// Adds a change not held yet, to the site's pending run when it continues it.
    private mutating func append(_ change: EncodedChange, hlc: HLC) throws {
        let site = change.site
        // Take the buffer out of the dictionary so it is uniquely referenced: appending to a
        // copy would copy its bytes (up to 256 KiB) for every change.
        var pending = logBuffers.removeValue(forKey: site)
        if var buffer = pending, buffer.lastSeq + 1 == change.seq, buffer.writer.bytes.count < Self.maxLogRowBytes {
            pending = nil
            change.write(into: &buffer.writer)
            buffer.entries.append(change)
            buffer.maxHLC = max(buffer.maxHLC, hlc)
            logBuffers[site] = buffer
        } else {
            if let full = pending { try write(full, of: site) }
            var buffer = LogBuffer(firstSeq: change.seq, maxHLC: hlc)
            change.write(into: &buffer.writer)
            buffer.entries.append(change)
            logBuffers[site] = buffer
        }
        maxHeld[site] = max(try highestHeld(of: site), change.seq)
        var prefix = try prefix(of: site)
        if change.seq == prefix + 1 {
            prefix = change.seq
            // Rows held beyond a gap join the prefix once the gap is filled.
            while prefix < maxHeld[site]!, let next = try heldRunEnd(site: site, startingAt: prefix + 1) {
                prefix = next
            }
            prefixes[site] = prefix
        }
    }

    /// The last change of the stored run that starts at `first`, if one does.
    private mutating func heldRunEnd(site: SiteID, startingAt first: UInt64) throws -> UInt64? {
        if let buffer = logBuffers[site], buffer.firstSeq == first { return buffer.lastSeq }
        guard let ord = sites.byID[site] else { return nil }
        let statement = try db.cachedStatement(
            sql: "SELECT last_seq FROM change_log WHERE site_ord = ? AND first_seq = ?")
        return try Int64.fetchOne(statement, arguments: [ord, Int64(first)]).map(UInt64.init)
    }

    /// Replaces a held change (its content arrives, or is removed) in place.
    mutating func replaceHeld(_ change: EncodedChange) throws {
        if let held = logBuffers[change.site], held.firstSeq <= change.seq, change.seq <= held.lastSeq {
            var buffer = logBuffers.removeValue(forKey: change.site)!
            buffer.entries[Int(change.seq - buffer.firstSeq)] = change
            var writer = BinaryWriter(reservingCapacity: buffer.writer.bytes.count + 64)
            for entry in buffer.entries { entry.write(into: &writer) }
            buffer.writer = writer
            logBuffers[change.site] = buffer
            return
        }
        guard var row = try loadRow(holding: change.dot) else { throw LogReader.damaged() }
        row.entries[Int(change.seq - row.firstSeq)] = change
        try rewrite(row, of: change.site)
    }

    /// Writes a decoded row back.
    mutating func rewrite(_ row: LogRow, of site: SiteID) throws {
        var writer = BinaryWriter(reservingCapacity: 4096)
        for entry in row.entries { entry.write(into: &writer) }
        try db.cachedStatement(
            sql: "UPDATE change_log SET changes = ? WHERE site_ord = ? AND first_seq = ?"
        ).execute(
            arguments: [Data(writer.bytes), try sites.ordinal(for: site, in: db), Int64(row.firstSeq)])
        rowCache[site] = nil
    }

    /// Records that the change at `dot` is about `scope`.
    mutating func indexScope(_ scope: RecordID, of dot: Dot) throws {
        revisedScopes.insert(scope)
        let ord = try sites.ordinal(for: dot.site, in: db)
        // Through the C API: every change, local or merged, has its row here.
        try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO scope_change (scope, site_ord, seq) VALUES (?, ?, ?)"
        ).executeDirectly {
            $0.bind(scope.description)
            $0.bind(ord)
            $0.bind(Int64(dot.seq))
        }
    }

    // MARK: ReplicaBackend

    mutating func scopeClock(of scope: RecordID) throws -> VersionVector {
        if let clock = scopeClocks[scope] { return clock }
        var clock = VersionVector()
        let statement = try db.cachedStatement(sql: "SELECT site_ord, seq FROM scope_clock WHERE scope = ?")
        // Through the C API: every change, local or merged, reads its pupil's clock.
        let sites = sites
        try statement.runDirectly {
            $0.bind(scope.description)
        } eachRow: { row in
            clock[try sites.site(sqlite3_column_int64(row, 0))] = UInt64(sqlite3_column_int64(row, 1))
        }
        scopeClocks[scope] = clock
        if clock.isEmpty, newScopes.count < Self.newRecordLimit { newScopes.insert(scope) }
        return clock
    }

    mutating func setScopeClock(_ clock: VersionVector, of scope: RecordID) throws {
        scopeClocks[scope] = clock
        dirtyScopes.insert(scope)
        revisedScopes.insert(scope)
    }

    /// Marks `scope` as revised (its changes' content or its place in this store changed).
    mutating func revise(_ scope: RecordID) { revisedScopes.insert(scope) }

    /// Forgets the per-pupil clock of `scope` (the pupil was passed on; ``purge(_:erased:relaying:)``
    /// marks it revised).
    mutating func clearScopeClock(of scope: RecordID) throws {
        try db.cachedStatement(sql: "DELETE FROM scope_clock WHERE scope = ?").execute(arguments: [scope.description])
        scopeClocks[scope] = VersionVector()
        newScopes.remove(scope)
        dirtyScopes.remove(scope)
    }

    /// Runs `body` with the records it reads and saves kept in memory, so each is read from the
    /// database once. Only for a body that changes records through ``saveRecord(_:for:changedFields:)``
    /// (or ``purge(_:erased:relaying:)``, which forgets them): one local write.
    mutating func cachingRecords<T>(_ body: (inout StoreTransaction) throws -> T) rethrows -> T {
        recordCache = [:]
        defer { recordCache = nil }
        return try body(&self)
    }

    /// Forgets the records held by ``cachingRecords(_:)`` (they were changed behind its back).
    mutating func forgetCachedRecords() {
        if recordCache != nil { recordCache = [:] }
    }

    /// Looks `scope`'s records up in the store from now on (its records are about to be deleted
    /// behind ``saveRecord(_:for:changedFields:)``'s back).
    mutating func forgetNewScope(_ scope: RecordID) {
        newScopes.remove(scope)
    }

    mutating func record(_ key: RecordKey) throws -> RecordState? {
        if let cached = recordCache?[key] { return cached }
        if newScopes.contains(key.scope), !savedInNewScopes.contains(key.hashValue) { return nil }
        let state = try loadRecord(key)
        recordCache?[key] = .some(state)
        return state
    }

    private mutating func loadRecord(_ key: RecordKey) throws -> RecordState? {
        let state: RecordState?
        if let codec = TableCodec.all[key.table] {
            let sites = sites
            let statement = try db.cachedStatement(sql: codec.selectSQL)
            let found = try statement.runDirectly { binder in
                binder.bind(key.scope.description)
                binder.bind(key.id.description)
            } firstRow: { row in
                try codec.state(from: row, sites: sites)
            }
            guard let found else { return nil }
            state = found
        } else {
            guard
                let blob = try Data.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT crdt_clock FROM generic_record WHERE table_name = ? AND pupil_id = ? AND id = ?"),
                    arguments: [key.table, key.scope.description, key.id.description])
            else { return nil }
            state = try ClockCodec.decode(Array(blob), sites: sites) { _ in nil }
        }
        let conflicted = Set(state?.conflicts.map(\.field) ?? [])
        conflictedWhenLoaded[key] = conflicted.isEmpty ? nil : conflicted
        return state
    }

    mutating func saveRecord(_ state: RecordState, for key: RecordKey, changedFields: Set<String>) throws {
        if newScopes.contains(key.scope), savedInNewScopes.insert(key.hashValue).inserted,
            savedInNewScopes.count > Self.newRecordLimit
        {
            newScopes.removeAll()
            savedInNewScopes.removeAll()
        }
        if let codec = TableCodec.all[key.table] {
            let (values, clock) = try codec.columns(for: state, sites: &sites, db: db)
            try db.cachedStatement(sql: codec.upsertSQL).executeDirectly { binder in
                binder.bind(key.scope.description)
                binder.bind(key.id.description)
                for value in values { binder.bind(value) }
                binder.bind(blob: clock)
            }
        } else {
            let clock = try ClockCodec.encode(state, keys: [:], sites: &sites, db: db)
            try db.cachedStatement(
                sql: """
                    INSERT INTO generic_record (table_name, pupil_id, id, crdt_clock) VALUES (?, ?, ?, ?)
                    ON CONFLICT (table_name, pupil_id, id) DO UPDATE SET crdt_clock = excluded.crdt_clock
                    """
            ).execute(arguments: [key.table, key.scope.description, key.id.description, Data(clock)])
        }
        recordCache?[key] = .some(state)
        let before = conflictedWhenLoaded[key] ?? []
        let after = Set(state.conflicts.map(\.field))
        conflictedWhenLoaded[key] = after.isEmpty ? nil : after
        if before != after {
            let keyArgs: StatementArguments = [key.table, key.scope.description, key.id.description]
            for field in before.subtracting(after) {
                try db.cachedStatement(
                    sql: "DELETE FROM conflict WHERE table_name = ? AND pupil_id = ? AND record_id = ? AND field = ?"
                ).execute(
                    arguments: keyArgs + [field])
            }
            for field in after.subtracting(before) {
                try db.cachedStatement(
                    sql: "INSERT OR IGNORE INTO conflict (table_name, pupil_id, record_id, field) VALUES (?, ?, ?, ?)"
                ).execute(
                    arguments: keyArgs + [field])
            }
        }
    }

    // MARK: Flushing

    mutating func write(_ buffer: LogBuffer, of site: SiteID) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO change_log (site_ord, first_seq, last_seq, max_hlc, changes) VALUES (?, ?, ?, ?, ?)")
        try statement.execute(arguments: [
            try sites.ordinal(for: site, in: db), Int64(buffer.firstSeq), Int64(buffer.lastSeq),
            Int64(bitPattern: buffer.maxHLC.rawValue), Data(buffer.writer.bytes),
        ])
    }

    /// Writes buffered change-log rows.
    mutating func flushLog() throws {
        for (site, buffer) in logBuffers { try write(buffer, of: site) }
        logBuffers.removeAll()
        rowCache.removeAll()
    }

    /// Writes everything buffered and purges erased pupils. Call once, at the end of the
    /// transaction.
    mutating func flush() throws {
        try flushLog()
        for pupil in pendingErasures.sorted() { try purge(pupil, erased: true) }
        erasedCache.removeAll()
        pendingErasures.removeAll()
        for (site, hlc) in dirtyPrefixes {
            let ord = try sites.ordinal(for: site, in: db)
            try db.cachedStatement(
                sql: "UPDATE site SET chain_seq = ?, chain_hlc = max(chain_hlc, ?) WHERE ord = ?"
            ).execute(
                arguments: [Int64(try prefix(of: site)), Int64(bitPattern: hlc.rawValue), ord])
        }
        dirtyPrefixes.removeAll()
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
        if !revisedScopes.isEmpty {
            let rev = try Self.currentRevision(db) + 1
            let revise = try db.cachedStatement(
                sql:
                    "INSERT INTO scope_rev (scope, rev) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET rev = excluded.rev"
            )
            for scope in revisedScopes { try revise.execute(arguments: [scope.description, rev]) }
            revisedScopes.removeAll()
        }
        try db.cachedStatement(sql: "UPDATE site_identity SET hlc = ?").execute(arguments: [
            Int64(bitPattern: clock.last.rawValue)
        ])
    }

    /// The latest pupil revision this store made (0: none).
    static func currentRevision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(rev), 0) FROM scope_rev")) ?? 0
    }
}
