import Foundation
import GRDB

/// Scope, entitlement and erasure inside a write transaction.
extension StoreTransaction {
    /// Records that the change at `dot` is about `scope`.
    mutating func indexScope(_ scope: RecordID, of dot: Dot) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO scope_change (scope, site_ord, seq) VALUES (?, ?, ?)")
        try statement.execute(arguments: [scope.description, try sites.ordinal(for: dot.site, in: db), Int64(dot.seq)])
    }

    mutating func isErased(_ pupil: RecordID) throws -> Bool {
        if erasedCache == nil {
            erasedCache = Set(try String.fetchAll(db, sql: "SELECT pupil_id FROM erasure").compactMap(RecordID.init))
        }
        return erasedCache!.contains(pupil) || pendingErasures.contains(pupil)
    }

    /// While checking a bundle without applying it: the changes after an erasure in the bundle
    /// are checked as they will be applied, with the pupil erased.
    mutating func noteErasure(in change: Change) {
        if change.erasesItsPupil { pendingErasures.insert(change.scope) }
    }

    /// Every recorded enrolment write of a pupil: the school and the change that wrote it.
    mutating func enrolmentHistory(of pupil: RecordID) throws -> [(school: SiteID, dot: Dot)] {
        if let cached = enrolmentHistoryCache[pupil] { return cached }
        let statement = try db.cachedStatement(
            sql:
                "SELECT h.school_id, s.site_id, h.seq FROM enrolment_history h JOIN site s ON s.ord = h.site_ord WHERE h.pupil_id = ?"
        )
        let rows = try Row.fetchAll(statement, arguments: [pupil.description]).compactMap {
            row -> (school: SiteID, dot: Dot)? in
            guard let school = SiteID(row[0] as String), let site = SiteID(row[1] as String) else { return nil }
            return (school, Dot(site: site, seq: UInt64(row[2] as Int64)))
        }
        enrolmentHistoryCache[pupil] = rows
        return rows
    }

    /// The identity of a site as this store knows it: itself, its pinned LA, or the directory.
    mutating func knownIdentity(of site: SiteID) throws -> SiteIdentity? {
        if let cached = identities[site] { return cached }
        var found: SiteIdentity?
        if let row = try Row.fetchOne(db, sql: "SELECT site_id, name, kind, urn, la_code FROM site_identity"),
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

    mutating func directory() throws -> AreaDirectory? {
        if let directoryCache { return directoryCache }
        directoryCache = try Store.directory(in: db)
        return directoryCache
    }

    // MARK: ReplicaBackend policy

    mutating func policyRejection(for change: Change) throws -> String? {
        if try isErased(change.scope), !change.isErasure {
            return "is about a pupil whose records were erased"
        }
        guard enforcesScope else { return nil }
        guard let origin = try knownIdentity(of: change.site) else {
            return "comes from a site that is not in this site's directory"
        }
        if origin.kind == .la { return nil }
        let history = try enrolmentHistory(of: change.scope)
        if history.isEmpty, change.isErasure {
            // An erasure of a pupil this store has never seen enrolled: it holds nothing the
            // erasure could wrongly remove, and it must refuse any of the pupil's content that
            // arrives later.
            return nil
        }
        var schools: Set<SiteID> = []
        for (school, dot) in history where change.hasSeen(dot) { schools.insert(school) }
        for op in change.ops where op.table == RecordSchema.enrolment.name {
            for write in op.writes where write.field == "school_id" {
                if let school = write.value.text.flatMap(SiteID.init) { schools.insert(school) }
            }
        }
        guard ScopePolicy.couldHaveBeenEntitled(origin, schoolsSeen: schools, directory: try directory()) else {
            return "comes from a site that was never entitled to this pupil"
        }
        return nil
    }

    /// An erasure made by the LA waits for nothing. The LA may erase any pupil, so the changes it
    /// was written after do not decide whether it is accepted; and the sites that stopped seeing
    /// the pupil (the old school, its trust) never receive them, so waiting would block the
    /// erasure, and every later bundle from its sender, for ever.
    ///
    /// Any other site's erasure waits only for its place in each site's chain. The pupil's history
    /// it was written after may reach this store only as skipped: the site that erased redacts
    /// it, so nobody can send it again, and waiting for it would block the erasure and every later
    /// change from that site for ever. Any of it that arrives later is refused as erased.
    ///
    /// A change about a pupil already erased here is refused, so it too waits only for its place
    /// in each chain.
    mutating func dependencyWait(for change: Change) throws -> DependencyWait {
        guard change.isErasure else {
            return try isErased(change.scope) ? .chainOnly : .all
        }
        return try knownIdentity(of: change.site)?.kind == .la ? .none : .chainOnly
    }

    /// Records the schools `change` enrols its pupil at. For merged changes, and for changes
    /// refused because the pupil was erased: an enrolment that arrives after the erasure still
    /// names a school that may hold the pupil (moved there by a bundle from the old school), and
    /// the erasure must reach it.
    mutating func recordEnrolments(of change: Change) throws {
        for op in change.ops where op.table == RecordSchema.enrolment.name {
            for write in op.writes where write.field == "school_id" {
                guard let school = write.value.text.flatMap(SiteID.init) else { continue }
                try db.execute(
                    sql:
                        "INSERT OR IGNORE INTO enrolment_history (pupil_id, school_id, site_ord, seq) VALUES (?, ?, ?, ?)",
                    arguments: [
                        change.scope.description, school.description, try sites.ordinal(for: change.site, in: db),
                        Int64(change.seq),
                    ])
                enrolmentHistoryCache[change.scope] = nil
            }
        }
    }

    mutating func didMerge(_ change: Change) throws {
        try recordEnrolments(of: change)
        if change.erasesItsPupil { pendingErasures.insert(change.scope) }
    }

    // MARK: Purging a pupil's content

    /// Removes a pupil's personal content from this store: every record row and, in the change
    /// log, every body about them (kept as redacted entries, so chains and causality still hold).
    /// The erasure record and the changes that wrote it are kept as proof.
    mutating func purge(_ pupil: RecordID) throws {
        try flushLog()
        let scope = pupil.description
        for table in RecordSchema.tables where table.name != RecordSchema.erasure.name {
            try db.execute(sql: "DELETE FROM \(table.name) WHERE pupil_id = ?", arguments: [scope])
        }
        try db.execute(sql: "DELETE FROM generic_record WHERE pupil_id = ?", arguments: [scope])
        try db.execute(
            sql: "DELETE FROM conflict WHERE pupil_id = ? AND table_name != ?",
            arguments: [scope, RecordSchema.erasure.name])
        var bySite: [Int64: [UInt64]] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT site_ord, seq FROM scope_change WHERE scope = ?", arguments: [scope])
        {
            bySite[row[0], default: []].append(UInt64(row[1] as Int64))
        }
        for (ord, seqs) in bySite {
            let wanted = Set(seqs)
            let site = try sites.site(ord)
            // Chain rows holding any of these changes.
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT first_seq, last_seq, changes FROM change_log WHERE site_ord = ?1 AND \(ChainReader.seekRow) AND is_skip = 0 AND first_seq <= ?3",
                arguments: [ord, Int64(seqs.min()!), Int64(seqs.max()!)])
            {
                let first = UInt64(row[0] as Int64)
                var reader = BinaryReader(Array(row[2] as Data))
                var out = BinaryWriter(reservingCapacity: (row[2] as Data).count)
                var seq = first
                var changed = false
                while !reader.isAtEnd {
                    let body: [UInt8]
                    do { body = try reader.readBytesWithLength() } catch {
                        throw StoreError(
                            .database, "The change log is damaged (\(error.reason)).",
                            hint: "Run `sensync audit verify`.")
                    }
                    var entry = EncodedChange(site: site, seq: seq, body: body)
                    if wanted.contains(seq), let redacted = Self.redactedUnlessErasure(entry, scope: pupil) {
                        entry = redacted
                        changed = true
                    }
                    out.writeBytesWithLength(entry.body)
                    seq += 1
                }
                if changed {
                    try db.execute(
                        sql: "UPDATE change_log SET changes = ? WHERE site_ord = ? AND first_seq = ?",
                        arguments: [Data(out.bytes), ord, Int64(first)])
                }
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT seq, body FROM loose_change WHERE site_ord = ?", arguments: [ord])
            {
                let seq = UInt64(row[0] as Int64)
                guard wanted.contains(seq) else { continue }
                let entry = EncodedChange(site: site, seq: seq, body: Array(row[1] as Data))
                if let redacted = Self.redactedUnlessErasure(entry, scope: pupil) {
                    try db.execute(
                        sql: "UPDATE loose_change SET body = ? WHERE site_ord = ? AND seq = ?",
                        arguments: [Data(redacted.body), ord, Int64(seq)])
                }
            }
        }
    }

    /// The redacted form of a stored change, or `nil` if it must be kept (already redacted, or
    /// it only writes the erasure record).
    static func redactedUnlessErasure(_ change: EncodedChange, scope: RecordID) -> EncodedChange? {
        guard !change.isRedacted, let decoded = try? change.decoded() else { return nil }
        if decoded.isErasure { return nil }
        return change.redacted(scope: scope, hlc: decoded.hlc)
    }
}
