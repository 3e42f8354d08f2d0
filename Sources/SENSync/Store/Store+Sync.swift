import Foundation
import GRDB

/// A peer site and how far it has acknowledged this store's changes.
public struct PeerStatus: Hashable, Sendable {
    public var site: SiteIdentity
    /// What the peer last said it holds (from its bundles' version vectors).
    public var acknowledged: VersionVector
    /// How many changes this store holds that the peer lacks and may see: what a bundle made for
    /// it now would carry (changes about pupils it may not see are never "lacked").
    public var lacks: UInt64
}

/// A summary of a store for `sensync status`.
public struct StoreStatus: Sendable {
    public var site: SiteIdentity
    /// Live records per table.
    public var recordCounts: [(table: String, count: Int)]
    /// Deleted records (tombstones) per table.
    public var tombstoneCounts: [(table: String, count: Int)]
    public var openConflicts: Int
    /// What this store holds of each site's chain: each site's changes up to a number, without a gap.
    public var versionVector: VersionVector
    /// How many changes of each site this store holds, gaps or not (a trust or school holds only
    /// the LA's changes about its pupils; a trust also holds its academies' changes to pass on).
    public var changesHeld: [SiteID: Int]
    /// Names of known sites.
    public var siteNames: [SiteID: String]
    public var peers: [PeerStatus]
    public var imports: Int
    public var lastImport: ImportLogEntry?
    /// How many minutes this site's latest stamp is ahead of this machine's clock, when that is
    /// more than the clock guard: its clock ran fast (or was set back), and other sites refuse
    /// its changes until real time catches up, unless they accept them explicitly.
    public var clockAheadMinutes: UInt64?
    /// Set when peers hold more of this site's own changes than this store does.
    public var behindOwnHistory: OwnHistoryGap?
    /// Set when the bundles received say this computer's clock may be ahead: local writes are
    /// refused until it is put right or confirmed.
    public var clockDoubt: ClockDoubt?
}

/// One line of the import log.
public struct ImportLogEntry: Hashable, Sendable, Codable {
    /// The bundle's id; empty for a refused file whose header could not be read.
    public var bundleID: String
    /// The sender's name as this store knows it; `nil` for a refused file from a site it does not
    /// know, or whose header could not be read.
    public var sender: String?
    /// The sender's site id as the bundle's header gives it (for a refused bundle, only claimed);
    /// `nil` when the header could not be read.
    public var senderID: String?
    public var importedAt: String
    public var result: String
    public var changeCount: Int
    /// Changes new to this store merged.
    public var applied: Int
    /// Changes this store held already.
    public var duplicates: Int
    /// Changes kept in the log but not merged (see ``detail``), or refused.
    public var rejected: Int
    /// Changes new to this store kept without content: about erased pupils. `nil` on entries
    /// logged before SENSync counted them.
    public var keptWithoutContent: Int?
    /// Changes new to this store that a trust keeps only to pass on to the LA. `nil` as above.
    public var relayed: Int?
    /// Changes not taken: about pupils this site does not hold, or whose content it let go of.
    /// `nil` as above.
    public var notTaken: Int?
    public var conflictsOpened: Int
    public var conflictsClosed: Int
    public var detail: String?
    /// The SHA-256 of a refused file as it was refused (hex), to match it with the file
    /// (`sha256sum`); `nil` for a bundle applied.
    public var fileSHA256: String?
}

/// An open conflict, ready to show or resolve.
public struct ConflictEntry: Hashable, Sendable {
    /// One competing value with who wrote it, where and when.
    public struct Candidate: Hashable, Sendable {
        public var value: Value
        public var site: SiteID
        public var siteName: String?
        public var author: String?
        public var hlc: HLC
        public var seq: UInt64
    }

    public var key: RecordKey
    public var field: String
    public var kind: FieldConflict.Kind
    /// The current value first, then the values that lost. In an edited-while-deleted conflict the
    /// first is the record's deletion (``isDeletion(_:)``), not a value of the field.
    public var candidates: [Candidate]

    /// Whether candidate `index` is the record's deletion rather than a value of the field.
    public func isDeletion(_ index: Int) -> Bool { kind == .editedWhileDeleted && index == 0 }
}

extension Store {
    // MARK: Sites and peers

    /// Records a site this store exchanges bundles with.
    public func addPeer(_ peer: SiteIdentity) throws {
        try addSite(peer, isPeer: true)
    }

    /// Records a site's name and kind so it is shown by name, without exchanging bundles with
    /// it directly (an academy whose changes arrive through its trust, say).
    public func addKnownSite(_ site: SiteIdentity) throws {
        try addSite(site, isPeer: false)
    }

    private func addSite(_ site: SiteIdentity, isPeer: Bool) throws {
        guard site.id != identity.id else {
            throw StoreError(.invalidInput, "That is this store's own site.", hint: "Add the other site's id.")
        }
        try writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO site (site_id, name, kind, is_peer) VALUES (?, ?, ?, ?)
                    ON CONFLICT (site_id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                      is_peer = max(is_peer, excluded.is_peer)
                    """, arguments: [site.id.description, site.name, site.kind.rawValue, isPeer ? 1 : 0])
        }
    }

    /// Every site this store knows about (peers and origins of changes), excluding itself.
    public func knownSites() throws -> [(site: SiteID, name: String?, kind: SiteKind?, isPeer: Bool)] {
        try writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT site_id, name, kind, is_peer FROM site WHERE site_id != ? ORDER BY name, site_id",
                arguments: [identity.id.description]
            )
            .compactMap { row in
                guard let id = SiteID(row[0] as String) else { return nil }
                return (id, row[1], (row[2] as String?).flatMap(SiteKind.init), (row[3] as Int) != 0)
            }
        }
    }

    /// Finds a known site by id, unique id prefix or name (case-insensitive).
    ///
    /// - Parameter includingThisSite: Whether `reference` may name this site itself (its id or
    ///   name); otherwise that is an error saying so.
    public func resolveSite(_ reference: String, includingThisSite: Bool = false) throws -> SiteIdentity {
        let ref = reference.trimmingCharacters(in: .whitespaces)
        if includingThisSite, names(thisSite: ref) { return identity }
        let sites = try knownSites()
        if let id = SiteID(ref) {
            if let s = sites.first(where: { $0.site == id }) {
                return SiteIdentity(id: id, name: s.name ?? id.short, kind: s.kind ?? .maintainedSchool)
            }
            throw try unknownSite(ref, message: "This store does not know that site.")
        }
        let byName = sites.filter { $0.name?.lowercased() == ref.lowercased() }
        let byPrefix = ref.count >= 4 ? sites.filter { $0.site.description.hasPrefix(ref.lowercased()) } : []
        var matches = byName.isEmpty ? byPrefix : byName
        // A school that rejoined under a new id keeps its name: its old id, removed from the
        // directory, does not make the name ambiguous.
        if matches.count > 1, let directory = try directory() {
            let active = matches.filter { directory.activeEntry($0.site) != nil }
            if active.count == 1 { matches = active }
        }
        guard let match = matches.first else {
            throw try unknownSite(ref, message: "No known site matches that name or id.")
        }
        guard matches.count == 1 else {
            throw StoreError(.ambiguous, "More than one known site matches that name or id.", hint: "Use the site id.")
        }
        return SiteIdentity(id: match.site, name: match.name ?? match.site.short, kind: match.kind ?? .maintainedSchool)
    }

    /// Whether `reference` (trimmed) is this site's id or name.
    private func names(thisSite reference: String) -> Bool {
        SiteID(reference) == identity.id || reference.lowercased() == identity.name.lowercased()
    }

    /// The error for a site reference that names no other known site, with what to do next: a
    /// store learns the area's sites from the LA's directory; only the LA adds sites to it.
    private func unknownSite(_ reference: String, message: String) throws -> StoreError {
        if names(thisSite: reference) {
            return StoreError(
                .unknownSite, "That names this site itself, not another site.",
                hint: "Name another site: see `sensync peer list`.")
        }
        let hint =
            if identity.kind == .la {
                "See `sensync directory list`; add a site with `sensync directory add SITE.identity`."
            } else if try directory() == nil {
                "This store has no directory yet: apply a bundle from the LA (or your trust), which brings the list of sites."
            } else {
                "See `sensync peer list`. A site the LA added since your last bundle from it is known once you apply its next bundle."
            }
        return StoreError(.unknownSite, message, hint: hint)
    }

    /// What this store holds of each site's chain.
    public func versionVector() throws -> VersionVector {
        try writer.read { db in try Self.versionVector(in: db) }
    }

    static func versionVector(in db: Database) throws -> VersionVector {
        var vv = VersionVector()
        for row in try Row.fetchAll(db, sql: "SELECT site_id, chain_seq FROM site WHERE chain_seq > 0") {
            if let id = SiteID(row[0] as String) { vv[id] = UInt64(row[1] as Int64) }
        }
        return vv
    }

    static func acknowledged(by peer: SiteID, in db: Database) throws -> VersionVector {
        var vv = VersionVector()
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT o.site_id, a.seq FROM peer_ack a JOIN site p ON p.ord = a.peer_ord JOIN site o ON o.ord = a.origin_ord
                WHERE p.site_id = ?
                """, arguments: [peer.description])
        {
            if let id = SiteID(row[0] as String) { vv[id] = UInt64(row[1] as Int64) }
        }
        return vv
    }

    /// What `peer` has acknowledged holding.
    public func acknowledged(by peer: SiteID) throws -> VersionVector {
        try writer.read { db in try Self.acknowledged(by: peer, in: db) }
    }

    // MARK: Status

    /// Counts, peers and the last import.
    public func status() throws -> StoreStatus {
        var status = try writer.read { db in
            var counts: [(String, Int)] = []
            var tombstones: [(String, Int)] = []
            for table in RecordSchema.tables {
                if table.isAppendOnly {
                    counts.append((table.name, try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name)") ?? 0))
                    tombstones.append((table.name, 0))
                } else {
                    counts.append(
                        (
                            table.name,
                            try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name) WHERE deleted = 0") ?? 0
                        ))
                    tombstones.append(
                        (
                            table.name,
                            try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name) WHERE deleted = 1") ?? 0
                        ))
                }
            }
            let vv = try Self.versionVector(in: db)
            var held: [SiteID: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT s.site_id, count(*) FROM (
                      SELECT site_ord, seq FROM scope_change UNION SELECT site_ord, seq FROM relayed_change
                    ) c JOIN site s ON s.ord = c.site_ord GROUP BY c.site_ord
                    """)
            {
                if let id = SiteID(row[0] as String) { held[id] = row[1] }
            }
            var names: [SiteID: String] = [:]
            var peers: [PeerStatus] = []
            for row in try Row.fetchAll(db, sql: "SELECT site_id, name, kind, is_peer FROM site ORDER BY name") {
                guard let id = SiteID(row[0] as String) else { continue }
                if let name = row[1] as String? { names[id] = name }
                guard (row[3] as Int) != 0 else { continue }
                let ack = try Self.acknowledged(by: id, in: db)
                peers.append(
                    PeerStatus(
                        site: SiteIdentity(
                            id: id, name: row[1] ?? id.short,
                            kind: SiteKind(rawValue: row[2] ?? "") ?? .maintainedSchool),
                        acknowledged: ack, lacks: 0))
            }
            let conflicts =
                try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM (SELECT DISTINCT table_name, pupil_id, record_id, field FROM conflict)")
                ?? 0
            let imports = try Int.fetchOne(db, sql: "SELECT count(*) FROM import_log") ?? 0
            let applier = self.applier
            return StoreStatus(
                site: identity, recordCounts: counts, tombstoneCounts: tombstones, openConflicts: conflicts,
                versionVector: vv, changesHeld: held, siteNames: names, peers: peers, imports: imports,
                lastImport: try Self.importLog(in: db, limit: 1).first,
                clockAheadMinutes: try Self.ownStamps(in: db, against: applier).aheadMinutes,
                behindOwnHistory: try Self.ownHistoryGap(of: identity.id, in: db),
                clockDoubt: try clockDoubt(at: applier.now, in: db))
        }
        let lacking = try pendingChanges(for: status.peers.map(\.site))
        for i in status.peers.indices { status.peers[i].lacks = UInt64(lacking[status.peers[i].site.id] ?? 0) }
        return status
    }

    /// The most recent imports, newest first.
    public func importLog(limit: Int = 50) throws -> [ImportLogEntry] {
        try writer.read { db in try Self.importLog(in: db, limit: limit) }
    }

    static func importLog(in db: Database, limit: Int) throws -> [ImportLogEntry] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT coalesce(i.bundle_id, ''), coalesce(s.name, i.sender_name), i.imported_at, i.result, i.change_count, i.applied, i.duplicates, i.rejected,
                       i.conflicts_opened, i.conflicts_closed, i.detail, i.sender_id, i.file_sha256,
                       i.kept_without_content, i.relayed, i.not_taken
                FROM import_log i LEFT JOIN site s ON s.ord = i.sender_ord ORDER BY i.id DESC LIMIT ?
                """, arguments: [limit]
        ).map { row in
            ImportLogEntry(
                bundleID: row[0], sender: row[1], senderID: row[11], importedAt: row[2], result: row[3],
                changeCount: row[4], applied: row[5], duplicates: row[6], rejected: row[7], keptWithoutContent: row[13],
                relayed: row[14], notTaken: row[15], conflictsOpened: row[8], conflictsClosed: row[9], detail: row[10],
                fileSHA256: (row[12] as Data?).map { [UInt8]($0).hexString })
        }
    }

    // MARK: Digest

    /// The digest of the replicated state: equal on any two stores that hold the same changes.
    public func digest() throws -> Digest32 {
        try writer.read { db in
            let sites = try SiteOrdinals(db)
            var digester = StateDigester()
            let generic = try String.fetchAll(db, sql: "SELECT DISTINCT table_name FROM generic_record")
            let tables = Set(RecordSchema.tables.map(\.name)).union(generic).sorted()
            for table in tables {
                if let codec = TableCodec.all[table] {
                    let columns = codec.spec.fields.map(\.name).joined(separator: ", ")
                    let cursor = try Row.fetchCursor(
                        db, sql: "SELECT pupil_id, id, \(columns), crdt_clock FROM \(table) ORDER BY pupil_id, id")
                    while let row = try cursor.next() {
                        let key = RecordKey(
                            table: table, scope: try RecordID.stored(row[0] as String),
                            id: try RecordID.stored(row[1] as String))
                        digester.add(try codec.state(from: row, offset: 2, sites: sites), for: key)
                    }
                } else {
                    let cursor = try Row.fetchCursor(
                        db,
                        sql:
                            "SELECT pupil_id, id, crdt_clock FROM generic_record WHERE table_name = ? ORDER BY pupil_id, id",
                        arguments: [table])
                    while let row = try cursor.next() {
                        let key = RecordKey(
                            table: table, scope: try RecordID.stored(row[0] as String),
                            id: try RecordID.stored(row[1] as String))
                        digester.add(try ClockCodec.decode(Array(row[2] as Data), sites: sites) { _ in nil }, for: key)
                    }
                }
            }
            return digester.finalize()
        }
    }

    // MARK: Conflicts

    /// Every open conflict, with each candidate's author, site and time.
    public func conflicts() throws -> [ConflictEntry] {
        try writer.read { db in
            var tx = try StoreTransaction(db)
            let names = Dictionary(
                try Row.fetchAll(db, sql: "SELECT site_id, name FROM site WHERE name IS NOT NULL").compactMap { row in
                    SiteID(row[0] as String).map { ($0, row[1] as String) }
                }, uniquingKeysWith: { a, _ in a })
            var entries: [ConflictEntry] = []
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT DISTINCT table_name, pupil_id, record_id FROM conflict ORDER BY table_name, pupil_id, record_id"
            ) {
                let key = RecordKey(
                    table: row[0], scope: try RecordID.stored(row[1] as String),
                    id: try RecordID.stored(row[2] as String))
                guard let state = try tx.record(key) else { continue }
                for conflict in state.conflicts {
                    let candidates = try ([conflict.winner] + conflict.losers).map { head in
                        ConflictEntry.Candidate(
                            value: head.value, site: head.dot.site, siteName: names[head.dot.site],
                            author: try Self.author(of: head.dot, in: db, sites: tx.sites), hlc: head.hlc,
                            seq: head.dot.seq)
                    }
                    entries.append(
                        ConflictEntry(key: key, field: conflict.field, kind: conflict.kind, candidates: candidates))
                }
            }
            return entries
        }
    }

    /// Resolves the conflict on `field` of a record with a new value as a person types it, checked
    /// against the field's rule as an update of the field is (`2026-13-01` is not a date, a code
    /// must be on its list, an amount is in pounds).
    @discardableResult
    public func resolveConflict(record reference: String, field: String, text: String, author: String) throws
        -> WriteReceipt
    {
        let (key, state) = try findRecord(reference)
        guard state.conflicts.contains(where: { $0.field == field }) else { throw Self.noConflict }
        guard let kind = RecordSchema.kind(key.table), let definition = kind.fields.first(where: { $0.name == field })
        else {
            throw StoreError(
                .invalidInput, "This SENSync does not know that field, so it cannot check a new value for it.",
                hint: "Keep one of the listed values with --keep N.")
        }
        let value = try reading { db in try parse(text, for: definition, kind: kind, pupil: key.scope, in: db) }
        return try resolveConflict(record: reference, field: field, value: value, author: author)
    }

    /// Refuses a value that is not what ``parse(_:for:kind:pupil:in:)`` makes of some typed text
    /// for the field: the value is written back as text and parsed again.
    private func check(_ value: Value, keeps field: FieldDefinition, of kind: KindSpec, pupil: RecordID) throws {
        let typed: String?
        switch (field.rule, value) {
        case (_, .null): typed = ""
        case (.pence, .integer(let pence)) where pence >= 0:
            typed = "\(pence / 100).\(pence % 100 < 10 ? "0" : "")\(pence % 100)"
        case (.integer, .integer(let n)), (.flag, .integer(let n)): typed = String(n)
        case (.text, .text(let t)), (.date, .text(let t)), (.code, .text(let t)), (.codes, .text(let t)),
            (.reference, .text(let t)), (.site, .text(let t)):
            typed = t
        default: typed = nil
        }
        let parsed = try typed.map { text in
            try reading { db in try parse(text, for: field, kind: kind, pupil: pupil, in: db) }
        }
        guard parsed == value else {
            throw StoreError(
                .invalidInput,
                "That value is not one the \(field.label.lowercased()) of \(kind.nounWithArticle) can hold.",
                hint: "See the values it takes with `sensync record fields \(kind.commandName)`.")
        }
    }

    private static let noConflict = StoreError(
        .notFound, "That record has no open conflict on that field.", hint: "See `sensync conflicts list`.")

    /// Resolves the conflict on `field` of a record by writing `value` (which supersedes every
    /// competing value). For an edited-while-deleted conflict, `value` is `.integer(1)` to keep
    /// the deletion or `.integer(0)` to restore the record. A value that is none of the competing
    /// ones must keep the field's rule (``resolveConflict(record:field:text:author:)`` parses one
    /// from what a person typed).
    @discardableResult
    public func resolveConflict(record reference: String, field: String, value: Value, author: String) throws
        -> WriteReceipt
    {
        let (key, state) = try findRecord(reference)
        let conflicts = state.conflicts.filter { $0.field == field }
        guard let conflict = conflicts.first else { throw Self.noConflict }
        if conflict.kind == .concurrentEdit,
            !([conflict.winner] + conflict.losers).contains(where: { $0.value == value }),
            let kind = RecordSchema.kind(key.table), let definition = kind.fields.first(where: { $0.name == field })
        {
            try check(value, keeps: definition, of: kind, pupil: key.scope)
        }
        let target = conflict.kind == .editedWhileDeleted ? RecordState.deletedField : field
        var writes = [FieldWrite(target, value)]
        if conflict.kind == .editedWhileDeleted {
            // Keeping the deletion re-deletes having seen the edits; restoring undeletes.
            guard value == .integer(0) || value == .integer(1) else {
                throw StoreError(
                    .invalidInput, "Choose to keep the deletion or restore the record.",
                    hint: "Use --keep-deleted or --restore.")
            }
            writes = [FieldWrite(RecordState.deletedField, value)]
        }
        return try write(
            author: author, scope: key.scope, ops: [RecordOp(table: key.table, id: key.id, writes: writes)])
    }

    // MARK: Change log

    /// Reads the author of the change at `dot` from the change log.
    static func author(of dot: Dot, in db: Database, sites: SiteOrdinals) throws -> String? {
        try storedChange(at: dot, db: db, sites: sites).flatMap { try? $0.decoded() }?.author
    }

    /// The change this store holds at `dot`, with its content or redacted.
    static func storedChange(at dot: Dot, db: Database, sites: SiteOrdinals) throws -> EncodedChange? {
        var reader = try LogReader(site: dot.site, from: dot.seq, db: db, sites: sites)
        guard let change = try reader.next(), change.seq == dot.seq else { return nil }
        return change
    }
}
