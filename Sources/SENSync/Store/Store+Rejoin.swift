import Foundation
import GRDB

/// What ``Store/carryOver(from:)`` did with the restored copy's own changes.
public struct CarryOverReport: Hashable, Sendable {
    /// The restored copy's own changes that reached another site (this store received them from
    /// upstream, byte for byte): nothing to do.
    public var alreadyHeld = 0
    /// Changes made only on the restored copy (or never sent before it was backed up), written
    /// again here as new changes of this site.
    public var carried = 0
    /// Of those, changes whose every write this store already holds: nothing new to record.
    public var unchanged = 0
    /// Changes about pupils on neither the restored copy's roll nor this site's (moved on before
    /// the backup, say): not written here; the LA holds any of them that reached it.
    public var notOnRoll = 0
    /// Changes the rules refused here, with the reason, without personal data.
    public var refused: [String] = []
    /// Changes whose content the restored copy no longer holds (erased): nothing to carry.
    public var withoutContent = 0
}

extension Store {
    /// Makes a new store at `path` for the site `restored` belongs to, under a new site id and new
    /// keys (same name, kind, URN and LA), for a site whose store was restored from a backup and
    /// so is behind its own history: its old id can never make changes again without forking.
    ///
    /// Next: the LA adds the new identity with ``replaceInDirectory(_:with:on:author:)`` (which
    /// moves the old site's pupils to it and retires the old id), the new store applies the LA's
    /// (or trust's) next bundle and so recovers every record that reached another site, then
    /// ``carryOver(from:)`` writes again what only the restored copy held.
    public static func rejoin(
        restored: Store, newStoreAt path: String, now: @escaping @Sendable () -> UInt64 = Store.systemNow
    ) throws -> Store {
        let old = restored.identity
        guard old.kind != .la else {
            throw StoreError(
                .invalidInput, "An LA store cannot rejoin under a new id: it signs the area directory.",
                hint: "Restore the LA's most recent backup, or see README, Troubleshooting: a restored backup.")
        }
        guard let la = try restored.pinnedLA() else {
            throw StoreError(
                .invalidInput, "This store has no LA pinned, so no LA can add it back under a new id.",
                hint: "Pin the LA with `sensync directory pin LA.identity` first.")
        }
        let identity = SiteIdentity(
            id: .v7(milliseconds: now()), name: old.name, kind: old.kind, urn: old.urn, laCode: old.laCode)
        return try create(at: path, identity: identity, la: la, clockGuardSeconds: restored.clockGuardSeconds, now: now)
    }

    /// At the LA: adds `new` to the directory in place of `old`, moves every pupil on the old
    /// site's roll to it from `date` (today when `nil`; a pupil who joins the old site later moves
    /// from the day they join; one transfer each, so the new site receives their whole history in
    /// its next bundle), then removes the old site from the directory (its bundles are refused from
    /// then on). All in one transaction: if any step fails, nothing changes. Returns how many
    /// pupils moved.
    ///
    /// `new` is either the same site rejoining under a new id (``rejoin(restored:newStoreAt:now:)``:
    /// the same kind, kept in the old site's trust) or the academy a maintained school converted
    /// into, which usually keeps the school's name and joins `trust` (none: a stand-alone academy).
    @discardableResult
    public func replaceInDirectory(
        _ old: SiteID, with new: PublicIdentity, trust: SiteID? = nil, on date: String? = nil, author: String
    ) throws -> Int {
        guard identity.kind == .la else {
            throw StoreError(.invalidInput, "Only the LA keeps the area directory.", hint: "Ask your LA.")
        }
        let author = try Self.requireAuthor(author)
        let day = try date.map { try Check.date($0, "transfer date") } ?? today.description
        // A site removed already (a leaked key file: the README removes it at once) is replaced
        // the same way; only its removal is already done.
        guard let current = try directory(), let entry = current.entry(old) else {
            throw StoreError(
                .notFound, "The site to replace is not in the directory.", hint: "See `sensync directory list`.")
        }
        let converts = entry.site.kind == .maintainedSchool && new.site.kind == .academy
        guard entry.site.kind == new.site.kind || converts, new.site.id != old else {
            throw StoreError(
                .invalidInput,
                "A site is replaced by the same kind of site under a new id (a rejoin), or a maintained school by the academy it became.",
                hint: "Give the identity file `sensync rejoin` made, or the academy's.")
        }
        guard converts || trust == nil else {
            throw StoreError(
                .invalidInput, "A site that rejoins stays in its trust.",
                hint: "Leave out the trust; move the academy to another trust afterwards if it moved.")
        }
        // A rejoining site keeps the old site's trust, while the directory still lists it.
        let trust = converts ? trust : entry.trust.flatMap { current.activeEntry($0)?.site.id }
        return try batch {
            try addToDirectory(new, trust: trust, replacing: old)
            let pupils = try reading { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT pupil_id, max(entry_date) FROM enrolment
                        WHERE school_id = ? AND deleted = 0 AND (leaving_date IS NULL OR leaving_date > ?)
                        GROUP BY pupil_id ORDER BY pupil_id
                        """, arguments: [old.description, day]
                ).map { row in (pupil: row[0] as String, joins: row[1] as String?) }
            }
            for (pupil, joins) in pupils {
                try transferPupil(
                    pupil, to: new.site.id, on: max(day, joins ?? day), author: author, replacing: old)
            }
            // Removed already and nobody left to move: replaced before (or a plain mistake).
            guard !entry.isRevoked || !pupils.isEmpty else {
                throw StoreError(
                    .invalidInput, "That site was removed and has no pupils left to move: it was replaced already.",
                    hint: "See `sensync directory list`.")
            }
            if !entry.isRevoked { try removeFromDirectory(old) }
            return pupils.count
        }
    }

    /// At the new store of a site that rejoined: writes again, as new changes of this site, the
    /// changes of the restored copy's site that this store did not receive from upstream (made
    /// only on the restored copy, or never sent before the backup). A change that reached another
    /// site arrives here byte for byte and is left alone. Enrolments at the old site become
    /// enrolments here. Apply the LA's bundle first, so only what no other site holds is written.
    /// One transaction: a change the rules refuse is reported and the rest go on.
    public func carryOver(from restored: Store) throws -> CarryOverReport {
        let old = restored.identity.id
        guard old != identity.id else {
            throw StoreError(
                .invalidInput, "A store cannot carry changes over from itself.", hint: "Give the restored store.")
        }
        // Only once the LA's replacement has reached this store (with the directory naming this
        // site in the old one's place come the old site's history and pupils): before it, every
        // change the restored copy holds looks new here, and writing them all again made a
        // conflict of every field the old site ever wrote.
        let directory = try reading { db in try Self.directory(in: db) }
        guard let directory, directory.activeEntry(identity.id) != nil, directory.activeEntry(old) == nil else {
            throw StoreError(
                .invalidInput,
                "This store has not yet received the LA's directory that puts it in place of \(restored.identity.name), so it cannot tell what only the old store holds.",
                hint:
                    "Once the LA has run `sensync directory add IDENTITY --replaces \"\(restored.identity.name)\"`, apply its next bundle (or your trust's) to this store, then carry over again."
            )
        }
        // The old site's changes, each with its pupil and whether the pupil is on the restored
        // copy's roll (a change only the copy holds is about a pupil it had, or made, there); the
        // highest of them a peer acknowledged; whether the copy knows of a gap in its own history.
        let (theirs, acknowledged, hasGap) = try restored.reading { db in
            let view = try ScopeView.load(
                db, me: restored.identity, directory: try Self.directory(in: db), today: restored.today)
            var reader = try LogReader(site: old, from: 1, db: db, sites: try SiteOrdinals(db))
            var changes: [(change: EncodedChange, pupil: RecordID, onOldRoll: Bool)] = []
            var onRoll: [RecordID: Bool] = [:]
            while let change = try reader.next() {
                guard let scope = try? change.decodedHeader().scope else { continue }
                if onRoll[scope] == nil { onRoll[scope] = try view.isEntitled(restored.identity, to: scope) }
                changes.append((change, scope, onRoll[scope]!))
            }
            let acknowledged =
                try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT max(a.seq) FROM peer_ack a JOIN site s ON s.ord = a.origin_ord WHERE s.site_id = ?
                        """, arguments: [old.description]) ?? 0
            return (changes, acknowledged, try Self.ownHistoryGap(of: old, in: db) != nil)
        }
        // The pupils on the copy's roll that other sites hold from it (a peer acknowledged one of
        // its changes about them) must have reached this store first: the LA moves them here when
        // it replaces the old site. Before that (a plain `directory add` of this site, say) every
        // change looked as if only the copy held it, and writing them all again undid the LA's
        // later edits.
        let heldUpstream = Set(
            theirs.filter { $0.onOldRoll && Int64($0.change.dot.seq) <= acknowledged }.map(\.pupil))
        // A pupil the copy's peers acknowledged holding (from the old site) is the LA's to keep,
        // move or erase: not written again here unless it is on this site's roll. Only while
        // the copy knows of no gap in its own history: a copy that learned it was restored from a
        // backup has numbers the LA holds as other changes, so its acknowledgements do not say
        // which of its own changes reached the LA.
        let heldByLA = hasGap ? [] : heldUpstream
        // The pupils this store has heard of: held, let go, or told of by a peer's holdings (a
        // pupil the LA moved on from this site before it heard of them is told of as a leaver).
        let known = try reading { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT scope FROM scope_clock UNION SELECT pupil_id FROM forgotten_pupil
                        UNION SELECT pupil_id FROM peer_scope
                        """
                ).compactMap(RecordID.init))
        }
        // Any pupil of the copy's roll known here says the replacement has: those the LA holds may
        // all have been erased or moved on since, and those it made last may be unacknowledged.
        let oldRoll = Set(theirs.filter(\.onOldRoll).map(\.pupil))
        if !heldUpstream.isEmpty {
            guard !oldRoll.isDisjoint(with: known) else {
                throw StoreError(
                    .invalidInput,
                    "None of \(restored.identity.name)'s pupils has reached this store from the LA yet, so it cannot tell what only the old store holds.",
                    hint:
                        "The LA adds this site with `sensync directory add IDENTITY --replaces \"\(restored.identity.name)\"` (which moves the pupils here; a plain add does not), then apply its next bundle here and carry over again."
                )
            }
        }
        var report = CarryOverReport()
        var toCarry: [Change] = []
        try reading { db in
            let sites = try SiteOrdinals(db)
            let view = try ScopeView.load(db, me: identity, directory: try Self.directory(in: db), today: today)
            for (change, pupil, onOldRoll) in theirs {
                if let held = try Self.storedChange(at: change.dot, db: db, sites: sites), held.leaf == change.leaf {
                    report.alreadyHeld += 1
                } else if let decoded = try? change.decoded() {
                    // Carried: a pupil on this site's roll, or one on the copy's roll that no site
                    // ever told this store of and the LA does not hold from the old site (made on
                    // the copy). Not carried: a pupil who had left the old site, whom the LA moved
                    // on from here (told of, or let go here), or whom the LA holds (`heldByLA`):
                    // the LA holds what reached it, may have moved or erased them since, and
                    // writing the copy's enrolment again would put the pupil back on this site's
                    // roll.
                    let entitled = try view.isEntitled(identity, to: pupil)
                    if entitled || (onOldRoll && !known.contains(pupil) && !heldByLA.contains(pupil)) {
                        toCarry.append(decoded)
                    } else {
                        report.notOnRoll += 1
                    }
                } else {
                    report.withoutContent += 1
                }
            }
        }
        let oldID = Value.text(old.description)
        let newID = Value.text(identity.id.description)
        try batch {
            for change in toCarry {
                let ops = change.ops.map { op in
                    var op = op
                    for i in op.writes.indices where op.writes[i].value == oldID { op.writes[i].value = newID }
                    return op
                }
                do {
                    let receipt = try write(author: change.author, scope: change.scope, ops: ops)
                    if receipt.changed { report.carried += 1 } else { report.unchanged += 1 }
                } catch let error as StoreError where error.isNotOnRoll {
                    report.notOnRoll += 1
                } catch let error as StoreError {
                    report.refused.append("change \(change.seq): \(error.message)")
                }
            }
        }
        return report
    }
}
