import Foundation
import GRDB
import GRDBSQLite

/// Scope, entitlement and erasure inside a write transaction.
extension StoreTransaction {
    static let erasedReason = "is about a pupil whose records were erased"

    /// Whether `pupil`'s records were erased, here or by a change merged in this transaction.
    /// One seek on the erasure table's key per pupil (every local write asks about its pupil:
    /// reading every erased pupil made a write cost in proportion to the erasures the store
    /// holds).
    mutating func isErased(_ pupil: RecordID) throws -> Bool {
        if pendingErasures.contains(pupil) { return true }
        if let known = erasedCache[pupil] { return known }
        let erased =
            try Bool.fetchOne(
                try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM erasure WHERE pupil_id = ?)"),
                arguments: [pupil.description]) ?? false
        erasedCache[pupil] = erased
        return erased
    }

    /// Every recorded enrolment of a pupil: the school and the change that wrote it.
    mutating func enrolmentHistory(of pupil: RecordID) throws -> [(school: SiteID, dot: Dot)] {
        if let cached = enrolmentHistoryCache[pupil] { return cached }
        let statement = try db.cachedStatement(
            sql:
                "SELECT h.school_id, s.site_id, h.seq FROM enrolment_history h JOIN site s ON s.ord = h.site_ord WHERE h.pupil_id = ?"
        )
        // Through the C API: every merged change reads its pupil's enrolment history.
        var rows: [(school: SiteID, dot: Dot)] = []
        try statement.runDirectly {
            $0.bind(pupil.description)
        } eachRow: { row in
            guard let school = SQLiteBinder.text(row, 0).flatMap(SiteID.init),
                let site = SQLiteBinder.text(row, 1).flatMap(SiteID.init)
            else { return }
            rows.append((school, Dot(site: site, seq: UInt64(sqlite3_column_int64(row, 2)))))
        }
        enrolmentHistoryCache[pupil] = rows
        return rows
    }

    /// Records the schools a change enrols its pupil at. Kept even once the pupil is erased: an
    /// erasure must reach every school the pupil was ever at.
    mutating func recordEnrolments(_ schools: [SiteID], pupil: RecordID, dot: Dot) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO enrolment_history (pupil_id, school_id, site_ord, seq) VALUES (?, ?, ?, ?)")
        for school in schools {
            try statement.execute(arguments: [
                pupil.description, school.description, try sites.ordinal(for: dot.site, in: db), Int64(dot.seq),
            ])
        }
        enrolmentHistoryCache[pupil] = nil
    }

    /// The identity of a site as this store knows it: itself, its pinned LA, or the directory.
    mutating func knownIdentity(of site: SiteID) throws -> SiteIdentity? {
        if let cached = identities[site] { return cached }
        var found: SiteIdentity?
        if let row = try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT site_id, name, kind, urn, la_code FROM site_identity")),
            (row[0] as String) == site.description, let kind = SiteKind(rawValue: row[2])
        {
            found = SiteIdentity(id: site, name: row[1], kind: kind, urn: row[3], laCode: row[4])
        } else if let la = try Store.pinnedLA(in: db), la.site.id == site {
            found = la.site
        } else if let entry = try directory()?.entry(site) {
            found = entry.site
        }
        identities[site] = found
        return found
    }

    /// Forgets what was read of the directory and the sites it names (it was just changed in
    /// this transaction).
    mutating func directoryChanged() {
        directoryCache = nil
        identities.removeAll()
    }

    mutating func directory() throws -> AreaDirectory? {
        // Cached when absent too: a store with no directory yet would read for it on every write.
        if let directoryCache { return directoryCache }
        let directory = try Store.directory(in: db)
        directoryCache = .some(directory)
        return directory
    }

    /// The directory version this store holds (0 before it has one).
    mutating func directoryVersion() throws -> UInt64 { try directory()?.version ?? 0 }

    /// Whether the change described by `header` was entitled, judged from the change alone: its
    /// site, the directory version its author held, and the enrolments in its causal past (and
    /// its own, for a change that creates the pupil). The same at every store.
    ///
    /// - Returns: `nil` when entitled, else the reason it was not.
    mutating func entitlement(of site: SiteID, seq: UInt64, header: ChangeHeader) throws -> String? {
        guard enforcesScope else { return nil }
        guard header.directoryVersion <= (try directoryVersion()) else {
            throw MergeError(
                code: .missingPrerequisites,
                reason: .newerDirectory(
                    Dot(site: site, seq: seq), version: header.directoryVersion, held: try directoryVersion()),
                hint:
                    "Apply a bundle from your LA or trust first: it brings the newer directory. Then apply this one again.",
                missing: nil)
        }
        guard let origin = try knownIdentity(of: site) else {
            return "comes from a site that is not in this site's directory"
        }
        if origin.kind == .la { return nil }
        let directory = try directory()
        if let entry = directory?.entry(site), entry.isRevoked(atVersion: header.directoryVersion) {
            return "was made after its site was removed from the area directory"
        }
        var schools: Set<SiteID> = []
        // A change that has seen nothing about the pupil creates it: the enrolment it writes counts.
        if header.deps.isEmpty { schools.formUnion(header.schools) }
        for (school, dot) in try enrolmentHistory(of: header.scope)
        where dot.site == site ? dot.seq < seq : header.deps.includes(dot) {
            schools.insert(school)
        }
        guard
            ScopePolicy.couldHaveBeenEntitled(
                origin, schoolsSeen: schools, directory: directory, atVersion: header.directoryVersion)
        else {
            return "comes from a site that was never entitled to this pupil"
        }
        return nil
    }

    // MARK: ReplicaBackend policy

    /// Entitlement first (so a change refused as erased is known to have been entitled: its
    /// enrolments still route the erasure), then erasure.
    mutating func policyRejection(for change: Change) throws -> String? {
        if let reason = try entitlement(of: change.site, seq: change.seq, header: change.header) { return reason }
        if try isErased(change.scope), !change.isErasure { return Self.erasedReason }
        return nil
    }

    mutating func didMerge(_ change: Change) throws {
        if change.erasesItsPupil { pendingErasures.insert(change.scope) }
    }

    // MARK: Removing a pupil's content

    /// Removes a pupil's personal content from this store: every record row and, in the change
    /// log, every change's content (kept as headers, so proofs and causality still hold). When
    /// `erased`, the erasure records and the changes that wrote them are kept as proof.
    ///
    /// - Parameter relaying: For a pupil passed on, the changes whose content this store must keep
    ///   (held only to relay them) because its upstream does not hold them yet.
    mutating func purge(_ pupil: RecordID, erased: Bool, relaying: (Dot) -> Bool = { _ in false }) throws {
        try flushLog()
        forgetCachedRecords()
        forgetNewScope(pupil)
        revise(pupil)
        let scope = pupil.description
        for table in RecordSchema.tables where !(erased && table.name == RecordSchema.erasure.name) {
            try db.cachedStatement(sql: "DELETE FROM \(table.name) WHERE pupil_id = ?").execute(arguments: [scope])
        }
        try db.cachedStatement(sql: "DELETE FROM generic_record WHERE pupil_id = ?").execute(arguments: [scope])
        try db.cachedStatement(sql: "DELETE FROM import_source WHERE pupil_id = ?").execute(arguments: [scope])
        try db.cachedStatement(
            sql: "DELETE FROM conflict WHERE pupil_id = ? AND table_name != ?"
        ).execute(
            arguments: [scope, erased ? RecordSchema.erasure.name : ""])
        var bySite: [Int64: [UInt64]] = [:]
        for row in try Row.fetchAll(
            try db.cachedStatement(sql: "SELECT site_ord, seq FROM scope_change WHERE scope = ?"), arguments: [scope])
        {
            bySite[row[0], default: []].append(UInt64(row[1] as Int64))
        }
        var clock = VersionVector()
        for (ord, seqs) in bySite {
            let site = try sites.site(ord)
            var wanted = Set(seqs)
            clock[site] = seqs.max() ?? 0
            // Each log row holding any of these changes, rewritten once.
            for seq in seqs.sorted() where wanted.contains(seq) {
                guard var row = try loadRow(holding: Dot(site: site, seq: seq)) else { continue }
                var changed = false
                for i in row.entries.indices {
                    let entry = row.entries[i]
                    guard wanted.remove(entry.seq) != nil, !entry.isRedacted else { continue }
                    if erased, let decoded = try? entry.decoded(), decoded.isErasure { continue }
                    // A change held only to relay it stays until the upstream holds it (unless
                    // the pupil is erased: then nothing is relayed with content).
                    if try isRelayOnly(entry.dot) {
                        guard erased else { continue }
                        try clearRelayOnly(entry.dot)
                    } else if !erased, relaying(entry.dot) {
                        try markRelayOnly(entry.dot)
                        continue
                    }
                    row.entries[i] = entry.redacted()
                    changed = true
                }
                if changed { try rewrite(row, of: site) }
            }
        }
        if erased {
            // Nothing about an erased pupil will ever travel with content again: its headers are
            // all there is to hold.
            try setScopeClock(clock, of: pupil)
        } else {
            try clearScopeClock(of: pupil)
        }
    }

    /// The latest change `site` made about `pupil` that this store has logged (0 for none).
    mutating func lastOwnChange(about pupil: RecordID, site: SiteID) throws -> UInt64 {
        guard let ord = sites.byID[site] else { return 0 }
        let statement = try db.cachedStatement(
            sql: "SELECT max(seq) FROM scope_change WHERE scope = ? AND site_ord = ?")
        let last = try statement.runDirectly { binder in
            binder.bind(pupil.description)
            binder.bind(ord.databaseValue)
        } firstRow: { row in
            sqlite3_column_int64(row, 0)
        }
        return UInt64(last ?? 0)
    }
}
