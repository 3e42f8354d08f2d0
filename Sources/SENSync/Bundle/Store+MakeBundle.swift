import Crypto
import Foundation
import GRDB
import GRDBSQLite

/// Writes one section's plaintext: compresses, seals and stores it in a temporary file while
/// hashing the sealed bytes.
private final class SectionWriter {
    let handle: FileHandle
    let deflater: ZlibDeflater
    var sealer: PayloadSealing.Sealer
    var hasher = StreamingSHA256()
    var sealedLength: UInt64 = 0
    var plainLength: UInt64 = 0
    var pending = BinaryWriter(reservingCapacity: 128 * 1024)

    init(url: URL, key: SymmetricKey, bundleID: UUID128) throws {
        guard PrivateFiles.create(atPath: url.path, contents: nil) else {
            throw StoreError(
                .file, "Cannot write in the folder for --out.", hint: "Check the folder exists and is writable."
            )
        }
        handle = try FileHandle(forWritingTo: url)
        deflater = try ZlibDeflater()
        sealer = PayloadSealing.Sealer(key: key, bundleID: bundleID)
        pending.write(BundleFile.payloadVersion)
    }

    func sink(_ sealed: [UInt8]) throws {
        hasher.update(sealed)
        sealedLength += UInt64(sealed.count)
        try handle.write(contentsOf: sealed)
    }

    func flushIfLarge() throws {
        guard pending.bytes.count >= 64 * 1024 else { return }
        try compressPending()
    }

    private func compressPending() throws {
        plainLength += UInt64(pending.bytes.count)
        try deflater.compress(pending.bytes) { compressed in try self.sealer.seal(compressed, sink: self.sink) }
        pending = BinaryWriter(reservingCapacity: 128 * 1024)
    }

    func finish() throws -> (length: UInt64, plain: UInt64, sha: Digest32) {
        try compressPending()
        try deflater.finish { compressed in try self.sealer.seal(compressed, sink: self.sink) }
        try sealer.finish(sink: sink)
        // Not synced: it is copied into the bundle, which is synced whole before it is renamed
        // into place (a sync here waited for the disk once more per recipient, for nothing).
        try handle.close()
        return (sealedLength, plainLength, hasher.finalize())
    }
}

/// A change chosen for a section: where it is and when it was made.
private struct Planned: Comparable {
    var dot: Dot
    var hlc: HLC
    static func < (a: Planned, b: Planned) -> Bool { (a.hlc, a.dot.site, a.dot.seq) < (b.hlc, b.dot.site, b.dot.seq) }
}

/// One origin's checkpoints as this store holds them, for finding the one covering a change.
private struct CheckpointIndex {
    var bySite: [SiteID: [Checkpoint]] = [:]

    mutating func checkpoint(covering dot: Dot, db: Database, sites: SiteOrdinals) throws -> Checkpoint? {
        if bySite[dot.site] == nil { bySite[dot.site] = try Store.checkpoints(of: dot.site, db: db, sites: sites) }
        let list = bySite[dot.site]!
        // The latest checkpoint starting at or before the change.
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].first <= dot.seq { low = mid + 1 } else { high = mid }
        }
        guard low > 0, list[low - 1].covers(dot.seq) else { return nil }
        return list[low - 1]
    }
}

extension Store {
    /// Writes a bundle to `recipients`: for each, every change it lacks that it may see — the LA
    /// everything beyond what it acknowledged, any other site its pupils' changes beyond what it
    /// said it holds, the change that ended an enrolment of its own, and the erasure of any pupil
    /// it ever held — each proved against its origin's signed checkpoint; and what this site holds
    /// of the pupils concerned. Signs this site's own new changes first. Signed by this site; each
    /// recipient's part sealed to it from this site.
    ///
    /// The file is written under a temporary name and renamed into place, so `url` never holds a
    /// partial bundle.
    @discardableResult
    public func makeBundle(to recipients: [SiteID], at url: URL) throws -> BundleSummary {
        guard !recipients.isEmpty else {
            throw StoreError(.invalidInput, "A bundle needs at least one recipient.", hint: "Give --to SITE.")
        }
        guard !recipients.contains(identity.id) else {
            throw StoreError(.invalidInput, "A bundle cannot be addressed to its own site.", hint: "Give another site.")
        }
        guard Set(recipients).count == recipients.count else {
            throw StoreError(.invalidInput, "A recipient is named twice.", hint: "Name each site once.")
        }
        if PrivateFiles.isFolder(atPath: url.path) {
            throw StoreError(
                .invalidInput, "The bundle's path names a folder, which was left as it is.",
                hint: "Give a file name inside it.")
        }
        let keys = try self.keys()
        let bundleID = UUID128.v7(milliseconds: now())
        let folder = url.deletingLastPathComponent()
        // The process id in the name: another command making a bundle to the same path at the
        // same time is still writing its files, which are not leftovers (``removeLeftovers(of:)``).
        let stem = ".\(url.lastPathComponent).\(bundleID.short).p\(getpid())"
        let fileURL = folder.appendingPathComponent("\(stem).sensync-tmp")
        let sectionURLs = recipients.indices.map { folder.appendingPathComponent("\(stem).\($0).sensync-tmp") }
        defer {
            try? FileManager.default.removeItem(at: fileURL)
            for u in sectionURLs { try? FileManager.default.removeItem(at: u) }
        }
        Self.removeLeftovers(of: url)
        let today = self.today
        var header = try writer.write { db -> BundleHeader in
            var tx = try StoreTransaction(db)
            try signOwnChanges(&tx, keys: keys)
            let directory = try tx.directory()
            let la = try Self.pinnedLAOrSelf(in: db)
            let view = try ScopeView.load(db, me: identity, directory: directory, today: today)
            var sections: [BundleSection] = []
            var includeDirectory = false
            for (i, recipientID) in recipients.enumerated() {
                let recipient: PublicIdentity
                if let la, la.site.id == recipientID {
                    recipient = la
                } else if let entry = directory?.activeEntry(recipientID) {
                    recipient = entry.identity
                } else if directory?.entry(recipientID)?.isRevoked == true {
                    throw StoreError(
                        .unknownSite,
                        "That site was removed from the area directory, so no bundle can be sealed to it.",
                        hint:
                            "A removed site cannot be added again; if it rejoined under a new identity, send to that one (see `sensync directory list`)."
                    )
                } else {
                    throw StoreError(
                        .unknownSite,
                        "That site is not in this site's area directory, so no bundle can be sealed to it.",
                        hint: directory == nil
                            ? "Apply a bundle from your LA (or trust) first: it brings the directory."
                            : "Ask the LA to add the site to the directory.")
                }
                let known =
                    try Int64.fetchOne(
                        db, sql: "SELECT directory_version FROM site WHERE site_id = ?",
                        arguments: [recipientID.description]) ?? 0
                if let directory, UInt64(known) < directory.version { includeDirectory = true }
                sections.append(
                    try writeSection(
                        to: recipient, url: sectionURLs[i], bundleID: bundleID, keys: keys, view: view, tx: &tx))
            }
            return BundleHeader(
                schemaVersion: RecordSchema.version, bundleID: bundleID, createdAt: now(), sender: identity,
                directoryVersion: directory?.version ?? 0,
                directory: includeDirectory ? (directory?.encoded() ?? []) : [],
                versionVector: try Self.versionVector(in: db), sections: sections)
        }
        header.formatMinor = BundleHeader.formatMinor
        header.holdingsFromChanges = true
        let prefix = try BundleFile.signedPrefix(header: header, keys: keys)
        guard PrivateFiles.create(atPath: fileURL.path, contents: Data(prefix)) else {
            throw StoreError(
                .file, "Cannot write in the folder for --out.", hint: "Check the folder exists and is writable."
            )
        }
        let out = try FileHandle(forWritingTo: fileURL)
        try out.seekToEnd()
        for sectionURL in sectionURLs {
            let input = try FileHandle(forReadingFrom: sectionURL)
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
            try input.close()
        }
        try out.synchronize()
        try out.close()
        if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        try FileManager.default.moveItem(at: fileURL, to: url)
        try writer.write { db in
            for (recipient, section) in zip(recipients, header.sections) {
                try db.execute(
                    sql: "INSERT INTO bundle_sent (bundle_id, recipient_id, made_at, change_count) VALUES (?, ?, ?, ?)",
                    arguments: [
                        bundleID.description, recipient.description, HLC(milliseconds: now(), counter: 0).description,
                        Int(section.changeCount + section.redactedCount),
                    ])
            }
        }
        return BundleSummary(header: header, url: url, fileSize: UInt64(prefix.count) + header.payloadLength)
    }

    // MARK: Signing

    /// Signs this site's changes made since it last signed, in checkpoints of at most
    /// ``Checkpoint/maxLeaves`` changes, each naming the one before it.
    func signOwnChanges(_ tx: inout StoreTransaction, keys: SiteKeys) throws {
        let db = tx.db
        // From the last checkpoint held of this site's own changes, wherever it came from: a store
        // restored from a backup gets its lost changes back from upstream with the checkpoints
        // that signed them (it signed again from where the backup had, its new checkpoint was
        // dropped as one already held, and its next change reached no one).
        let last = try Self.checkpoints(of: identity.id, db: db, sites: tx.sites).last
        let signed = max(
            UInt64(try Int64.fetchOne(db, sql: "SELECT signed_seq FROM site_identity") ?? 0), last?.last ?? 0)
        let head = try tx.prefix(of: identity.id)
        guard head > signed else { return }
        let ord = try tx.sites.ordinal(for: identity.id, in: db)
        var previous = last?.digest ?? .zero
        var reader = try LogReader(site: identity.id, from: signed + 1, db: db, sites: tx.sites)
        var first = signed + 1
        var leaves: [Digest32] = []
        func seal() throws {
            let checkpoint = try Checkpoint.make(
                site: identity.id, first: first, leaves: leaves, previous: previous, keys: keys)
            try Self.saveCheckpoint(checkpoint, ord: ord, db: db)
            previous = checkpoint.digest
            first = checkpoint.last + 1
            leaves.removeAll(keepingCapacity: true)
        }
        while let change = try reader.next(), change.seq <= head {
            guard change.seq == first + UInt64(leaves.count) else { throw LogReader.damaged() }
            leaves.append(change.leaf)
            if leaves.count == Checkpoint.maxLeaves { try seal() }
        }
        if !leaves.isEmpty { try seal() }
        guard first == head + 1 else { throw LogReader.damaged() }
        try db.execute(sql: "UPDATE site_identity SET signed_seq = ?", arguments: [Int64(head)])
    }

    static func saveCheckpoint(_ checkpoint: Checkpoint, ord: Int64, db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO checkpoint (site_ord, first_seq, last_seq, root, previous, signature)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
        try statement.execute(arguments: [
            ord, Int64(checkpoint.first), Int64(checkpoint.last), Data(checkpoint.root.bytes),
            Data(checkpoint.previous.bytes), Data(checkpoint.signature),
        ])
    }

    /// The first number at which `checkpoint` clashes with a checkpoint of its site held here: one
    /// that covers some of the same numbers but is not the same signed run. A site signs each of
    /// its changes once, in runs that never overlap (signing is committed before any bundle
    /// carrying it is written), so a clash means the site's signing went back: it was restored
    /// from a backup and signed its numbers again, whatever it wrote under them.
    static func clash(of checkpoint: Checkpoint, ord: Int64, db: Database) throws -> UInt64? {
        let statement = try db.cachedStatement(
            sql: """
                SELECT first_seq, last_seq, root, previous FROM checkpoint
                WHERE site_ord = ? AND first_seq <= ? AND last_seq >= ? ORDER BY first_seq
                """)
        for row in try Row.fetchAll(statement, arguments: [ord, Int64(checkpoint.last), Int64(checkpoint.first)]) {
            let (first, last) = (UInt64(row[0] as Int64), UInt64(row[1] as Int64))
            let same =
                first == checkpoint.first && last == checkpoint.last && Array(row[2] as Data) == checkpoint.root.bytes
                && Array(row[3] as Data) == checkpoint.previous.bytes
            if !same { return max(first, checkpoint.first) }
        }
        return nil
    }

    /// A site's checkpoints held here, by first change.
    static func checkpoints(of site: SiteID, db: Database, sites: SiteOrdinals) throws -> [Checkpoint] {
        guard let ord = sites.byID[site] else { return [] }
        return try Row.fetchAll(
            db,
            sql:
                "SELECT first_seq, last_seq, root, previous, signature FROM checkpoint WHERE site_ord = ? ORDER BY first_seq",
            arguments: [ord]
        ).map { row in
            Checkpoint(
                site: site, first: UInt64(row[0] as Int64), last: UInt64(row[1] as Int64),
                root: Digest32(Array(row[2] as Data)) ?? .zero, previous: Digest32(Array(row[3] as Data)) ?? .zero,
                signature: Array(row[4] as Data))
        }
    }

    // MARK: Choosing what a recipient gets

    /// Every change held beyond what the LA acknowledged, with content or without.
    private func planForLA(_ la: SiteID, tx: inout StoreTransaction) throws -> [Planned] {
        let ack = try Self.acknowledged(by: la, in: tx.db)
        var plan: [Planned] = []
        for row in try Row.fetchAll(tx.db, sql: "SELECT DISTINCT site_ord FROM change_log") {
            let site = try tx.sites.site(row[0])
            guard try tx.highestHeld(of: site) > ack[site] else { continue }
            var reader = try LogReader(site: site, from: ack[site] + 1, db: tx.db, sites: tx.sites)
            while let change = try reader.next() {
                plan.append(Planned(dot: change.dot, hlc: try Self.hlc(of: change)))
            }
        }
        return plan
    }

    /// What this store holds under the first number at which `site`'s own bundle showed that it
    /// had forked (`forked_seq` in the import log's refusals). It goes back to the site in every
    /// bundle, so that a copy restored from a backup and written on learns that other sites hold
    /// other changes under its numbers (the numbers it is told are held, it holds too, only with
    /// other changes). The copy it was made from holds that change already: a duplicate there.
    private func refusedFork(of site: SiteID, tx: inout StoreTransaction) throws -> Planned? {
        guard let ord = tx.sites.byID[site],
            let seq = try Int64.fetchOne(
                tx.db, sql: "SELECT min(forked_seq) FROM import_log WHERE sender_ord = ? AND forked_seq IS NOT NULL",
                arguments: [ord]),
            let change = try tx.heldChange(Dot(site: site, seq: UInt64(seq)))
        else { return nil }
        return Planned(dot: change.dot, hlc: try Self.hlc(of: change))
    }

    private static func hlc(of change: EncodedChange) throws -> HLC {
        do { return try change.decodedHeader().hlc } catch { throw LogReader.damaged() }
    }

    /// For a site that sees only some pupils: per pupil, the changes it lacks by what it last said
    /// it holds. Only the pupils revised since the site's plan revision are looked at when it
    /// holds (``PlanRevisions``); `planRev` is the revision to record once the bundle is made.
    private func planForScoped(
        _ site: SiteIdentity, view: ScopeView, revisions: PlanRevisions, tx: inout StoreTransaction
    ) throws -> (plan: [Planned], planRev: Int64) {
        var chosen: [Dot: HLC] = [:]
        let ack = try Self.acknowledged(by: site.id, in: tx.db)
        let revised = try revisions.planSince.flatMap { try PlanRevisions.revised(after: $0, in: tx.db) }
        // What `site` holds of every pupil, in one read when every pupil is looked at: a site
        // holds about the pupils it may see, so the read is of the size of the pupils planned for
        // (a query per pupil cost an LA's empty bundle to a school of 2,000 pupils 10% of its
        // time); else of each pupil looked at.
        let everyPupil =
            revised == nil ? try Self.holdingsOfEveryPupil(of: site.id, in: tx.db, sites: tx.sites) : nil
        var holdings: [RecordID: VersionVector] = [:]
        /// What `site` holds of `pupil` now (not what it passed on).
        func liveHoldings(of pupil: RecordID) throws -> VersionVector {
            if let everyPupil { return everyPupil[pupil] ?? VersionVector() }
            if let held = holdings[pupil] { return held }
            let held = try Self.holdings(of: site.id, pupil: pupil, in: tx.db, sites: tx.sites)
            holdings[pupil] = held
            return held
        }
        // `filter` decides, for a change held with content, whether to send it; changes held
        // without content are sent only about an erased pupil. Returns whether it chose any.
        @discardableResult
        func add(pupil: RecordID, erased: Bool, filter: (Dot) -> Bool) throws -> Bool {
            var floor = try liveHoldings(of: pupil)
            if erased { floor.formUnion(ack) }
            var any = false
            for dot in try Self.changes(about: pupil, above: floor, db: tx.db, sites: tx.sites)
            where chosen[dot] == nil && filter(dot) {
                guard let change = try tx.heldChange(dot), !change.isRedacted || erased else { continue }
                chosen[dot] = try Self.hlc(of: change)
                any = true
            }
            return any
        }
        // The pupils it may see that need something; the plan revision moves up to just below
        // the first pupil (by revision) that did: it and every later one are looked at again.
        var planRev = revisions.current
        if let revised {
            for (pupil, rev) in revised where try view.isVisible(pupil, to: site) {
                if try add(pupil: pupil, erased: false, filter: { _ in true }) { planRev = min(planRev, rev - 1) }
            }
        } else {
            for pupil in try view.pupils(visibleTo: site) {
                guard try add(pupil: pupil, erased: false, filter: { _ in true }) else { continue }
                planRev = min(planRev, try PlanRevisions.revision(of: pupil, in: tx.db) - 1)
            }
        }
        // A site a pupil left receives the change that ended its enrolment, with what that change
        // was written after, until it holds it: then it can pass the pupil on.
        for (pupil, endings) in try view.leavers(of: site) {
            // Once it has passed the pupil on, it had the ending — unless what it said it passed
            // on leaves the ending out: a trust that let the pupil go while the academy was away
            // (it holds the ending only by its number, so its acknowledgement is no proof).
            let holds = try Self.holdings(of: site.id, pupil: pupil, passedOn: true, in: tx.db, sites: tx.sites)
            let saidPassedOn = try Self.passedOn(by: site.id, pupil: pupil, in: tx.db, sites: tx.sites)
            // Nor is it proof from a site that still holds the pupil (its holdings of them are not
            // only what it passed on) without the ending: a trust that came to hold its academy's
            // ending only by its number (content let go), then took the pupil's history back as
            // the ending's prerequisites, kept them on the academy's roll for ever and sent the
            // academy their changes in every round (busy seed 0xC115C4EC066).
            let holdsThePupil = !(try liveHoldings(of: pupil)).isEmpty
            for ending in endings
            where holds[ending.change.site] < ending.change.seq
                && (saidPassedOn || holdsThePupil || ack[ending.change.site] < ending.change.seq)
            {
                guard let change = try tx.heldChange(ending.change), let header = try? change.decodedHeader() else {
                    continue
                }
                try add(pupil: pupil, erased: false) { dot in
                    dot == ending.change || header.deps.includes(dot)
                        || (dot.site == ending.change.site && dot.seq < ending.change.seq)
                }
            }
        }
        for pupil in try view.erased.sorted() where try view.receivesErasure(site, of: pupil) {
            try add(pupil: pupil, erased: true) { _ in true }
        }
        // A site's upstream (an academy's trust) relays its whole history to the LA, so it gets
        // every change this site made that it does not hold yet, whoever the change is about; it
        // keeps only what it may see.
        if try upstream(in: &tx) == site.id, try tx.highestHeld(of: identity.id) > ack[identity.id] {
            var reader = try LogReader(site: identity.id, from: ack[identity.id] + 1, db: tx.db, sites: tx.sites)
            while let change = try reader.next() {
                guard chosen[change.dot] == nil else { continue }
                chosen[change.dot] = try Self.hlc(of: change)
            }
        }
        return (chosen.map { Planned(dot: $0.key, hlc: $0.value) }, planRev)
    }

    /// What `peer` told this store it holds of each pupil (not counting what it passed on):
    /// ``Store/holdings(of:pupil:passedOn:in:sites:)`` for every pupil at once.
    static func holdingsOfEveryPupil(of peer: SiteID, in db: Database, sites: SiteOrdinals) throws
        -> [RecordID: VersionVector]
    {
        var held: [RecordID: VersionVector] = [:]
        guard let peerOrd = sites.byID[peer] else { return held }
        let cursor = try Row.fetchCursor(
            try db.cachedStatement(
                sql: "SELECT pupil_id, origin_ord, seq FROM peer_scope WHERE peer_ord = ? AND passed_on <= 0"),
            arguments: [peerOrd])
        while let row = try cursor.next() {
            guard let pupil = RecordID(row[0] as String) else { continue }
            held[pupil, default: VersionVector()][try sites.site(row[1])] = UInt64(row[2] as Int64)
        }
        return held
    }

    /// The changes this store has logged about `pupil` above `floor`, the numbers under which
    /// (per site of origin) the recipient needs nothing. Read origin by origin through the
    /// index: each origin's latest change first, and its run above the floor only when there is
    /// one, so a pupil's history the recipient already holds is never read (an empty bundle
    /// costs what the pupils and their origins are, not their history).
    static func changes(
        about pupil: RecordID, above floor: VersionVector = VersionVector(), db: Database, sites: SiteOrdinals
    )
        throws -> [Dot]
    {
        let latest = try db.cachedStatement(
            sql: """
                SELECT site_ord, seq FROM scope_change
                WHERE scope = ?1 AND site_ord = (SELECT min(site_ord) FROM scope_change WHERE scope = ?1 AND site_ord > ?2)
                ORDER BY seq DESC LIMIT 1
                """)
        let above = try db.cachedStatement(
            sql: "SELECT seq FROM scope_change WHERE scope = ? AND site_ord = ? AND seq > ? ORDER BY seq")
        let scope = pupil.description
        var dots: [Dot] = []
        var ord = Int64.min
        // Through the C API: an LA's bundle to a school runs these for every pupil it may see.
        while let row = try latest.runDirectly(
            {
                $0.bind(scope)
                $0.bind(ord)
            },
            firstRow: { (ord: sqlite3_column_int64($0, 0), seq: sqlite3_column_int64($0, 1)) })
        {
            ord = row.ord
            let site = try sites.site(ord)
            let bound = floor[site]
            guard UInt64(row.seq) > bound else { continue }
            try above.runDirectly {
                $0.bind(scope)
                $0.bind(row.ord)
                $0.bind(Int64(bound))
            } eachRow: {
                dots.append(Dot(site: site, seq: UInt64(sqlite3_column_int64($0, 0))))
            }
        }
        return dots
    }

    // MARK: Writing a section

    /// Writes one recipient's section and returns its header entry.
    private func writeSection(
        to recipient: PublicIdentity, url: URL, bundleID: UUID128, keys: SiteKeys, view: ScopeView,
        tx: inout StoreTransaction
    ) throws -> BundleSection {
        let site = recipient.site
        let db = tx.db
        let revisions = try PlanRevisions(for: site, view: view, tx: &tx)
        var plan: [Planned]
        var planRev: Int64?
        if site.kind == .la {
            plan = try planForLA(site.id, tx: &tx)
        } else {
            (plan, planRev) = try planForScoped(site, view: view, revisions: revisions, tx: &tx)
        }
        if let forked = try refusedFork(of: site.id, tx: &tx), !plan.contains(where: { $0.dot == forked.dot }) {
            plan.append(forked)
        }
        plan.sort()

        // Group by checkpoint; a checkpoint is complete when every change it covers is sent.
        var index = CheckpointIndex()
        var checkpoints: [Checkpoint] = []
        var checkpointOf: [Dot: Int] = [:]
        var members: [Int: Int] = [:]
        var positions: [SiteID: [UInt64: Int]] = [:]
        var proved: [Planned] = []
        for item in plan {
            guard let checkpoint = try index.checkpoint(covering: item.dot, db: db, sites: tx.sites) else { continue }
            let key = checkpoint.first
            let position: Int
            if let known = positions[item.dot.site]?[key] {
                position = known
            } else {
                position = checkpoints.count
                checkpoints.append(checkpoint)
                positions[item.dot.site, default: [:]][key] = position
            }
            checkpointOf[item.dot] = position
            members[position, default: 0] += 1
            proved.append(item)
        }
        let complete = checkpoints.indices.map { members[$0] == checkpoints[$0].count }

        let key = SymmetricKey(size: .bits256)
        let out = try SectionWriter(url: url, key: key, bundleID: bundleID)
        var coding = PayloadCodingState()
        for (i, checkpoint) in checkpoints.enumerated() {
            coding.writeCheckpoint(checkpoint, isComplete: complete[i], into: &out.pending)
        }
        var leafCache: [Int: [Digest32]?] = [:]
        var changeCount: UInt64 = 0
        var redactedCount: UInt64 = 0
        var origins: [SiteID: UInt64] = [:]
        var tableCounts: [String: UInt64] = [:]
        // For each pupil, each site's latest change written: what the recipient takes this store
        // to hold of them, beyond what it was told, unless a holdings entry says otherwise.
        var carried: [RecordID: VersionVector] = [:]
        for item in proved {
            // As stored: a change held only to relay it goes to the LA with its content.
            guard let position = checkpointOf[item.dot], let change = try tx.storedEntry(item.dot) else { continue }
            var path: [Digest32]?
            if !complete[position] {
                let checkpoint = checkpoints[position]
                if leafCache[position] == nil {
                    leafCache[position] = try heldLeaves(of: checkpoint, tx: &tx)
                }
                if let leaves = leafCache[position] ?? nil {
                    path = Merkle.path(for: Int(item.dot.seq - checkpoint.first), in: leaves)
                } else if let stored = try Self.storedProof(of: item.dot, db: db, sites: tx.sites) {
                    path = stored
                } else {
                    continue  // held without a way to prove it: it travels from another site
                }
            }
            guard let header = try? change.decodedHeader() else { throw LogReader.damaged() }
            guard coding.writeChange(change, header: header, checkpoint: position, path: path, into: &out.pending)
            else { continue }  // a header no reader could rebuild would spoil the whole bundle
            carried[header.scope, default: VersionVector()].advance(to: change.dot)
            origins[item.dot.site, default: 0] += 1
            if change.isRedacted {
                redactedCount += 1
            } else {
                changeCount += 1
                if let decoded = try? change.decoded() {
                    for op in decoded.ops { tableCounts[op.table, default: 0] += 1 }
                }
            }
            try out.flushIfLarge()
        }
        let holdings = try holdingsSection(
            to: site, view: view, revisions: revisions, planRev: planRev, carried: carried, tx: &tx)
        for entry in holdings.entries {
            coding.writeHoldings(pupil: entry.pupil, entry.held, passedOn: entry.passedOn, into: &out.pending)
            try out.flushIfLarge()
        }
        let (length, plain, sha) = try out.finish()
        let wrapped = try PayloadSealing.wrap(
            key, to: recipient.keys, from: keys,
            binding: PayloadSealing.Binding(
                bundleID: bundleID, sender: identity.id, recipient: site.id, payloadLength: length,
                plainLength: plain, payloadSHA256: sha))
        // Only checkpoints that proved a change written are listed; one whose changes were all
        // dropped above still counts, harmlessly.
        var section = BundleSection(
            recipient: site.id, encapsulated: wrapped.encapsulated, sealedKey: wrapped.sealedKey,
            payloadLength: length, plainLength: plain, payloadSHA256: sha, checkpointCount: UInt64(checkpoints.count),
            changeCount: changeCount, redactedCount: redactedCount, holdingsCount: UInt64(holdings.entries.count),
            origins: origins, tableCounts: tableCounts)
        section.holdingsBasis = holdings.basis
        return section
    }

    /// Every leaf of `checkpoint` when this store holds every change it covers, else `nil`.
    private func heldLeaves(of checkpoint: Checkpoint, tx: inout StoreTransaction) throws -> [Digest32]? {
        var leaves: [Digest32] = []
        leaves.reserveCapacity(checkpoint.count)
        for seq in checkpoint.first...checkpoint.last {
            guard let change = try tx.heldChange(Dot(site: checkpoint.site, seq: seq)) else { return nil }
            leaves.append(change.leaf)
        }
        return Merkle.root(leaves) == checkpoint.root ? leaves : nil
    }

    /// The audit path this store was given with a change it holds without the rest of its run.
    static func storedProof(of dot: Dot, db: Database, sites: SiteOrdinals) throws -> [Digest32]? {
        guard let ord = sites.byID[dot.site],
            let blob = try Data.fetchOne(
                db, sql: "SELECT path FROM change_proof WHERE site_ord = ? AND seq = ?",
                arguments: [ord, Int64(dot.seq)])
        else { return nil }
        let bytes = Array(blob)
        guard bytes.count % 32 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 32).map { Digest32(unchecked: Array(bytes[$0..<($0 + 32)])) }
    }
}

extension Store {
    /// Removes the temporary files an earlier, interrupted `makeBundle` to the same file left
    /// behind (a killed process runs no cleanup). A section file is refused like any partial
    /// bundle; a whole file killed before its rename is the bundle itself, sealed to its
    /// recipients. Nothing else would ever remove them.
    static func removeLeftovers(of url: URL) {
        let folder = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent)."
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".sensync-tmp") {
            // Left alone while the process that names it runs: it is writing them now.
            if let pid = Self.writerProcess(ofTemporaryFile: name), kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// The process id a temporary file's name carries (`.NAME.BUNDLE.pPID[.N].sensync-tmp`), if any.
    static func writerProcess(ofTemporaryFile name: String) -> pid_t? {
        name.split(separator: ".").lazy.compactMap { part -> pid_t? in
            guard part.first == "p" else { return nil }
            return pid_t(part.dropFirst())
        }.first
    }

    /// How many changes a bundle made now to `recipient` would carry: what it lacks that it may see.
    /// Plans in a transaction that is rolled back, so nothing is signed or written.
    func pendingChanges(for recipient: SiteIdentity) throws -> Int {
        try pendingChanges(for: [recipient])[recipient.id] ?? 0
    }

    /// ``pendingChanges(for:)`` for many sites, reading the directory and the scope once.
    func pendingChanges(for recipients: [SiteIdentity]) throws -> [SiteID: Int] {
        let today = self.today
        return try writer.writeWithoutTransaction { db in
            var counts: [SiteID: Int] = [:]
            try db.inTransaction {
                var tx = try StoreTransaction(db)
                let view = try ScopeView.load(db, me: identity, directory: try tx.directory(), today: today)
                // What each site holds is read in one query per site, and its pupils' enrolments
                // once per school (``ScopeView``).
                for recipient in recipients {
                    counts[recipient.id] =
                        recipient.kind == .la
                        ? try planForLA(recipient.id, tx: &tx).count
                        : try planForScoped(
                            recipient, view: view, revisions: PlanRevisions(for: recipient, view: view, tx: &tx),
                            tx: &tx
                        ).plan.count
                }
                return .rollback
            }
            return counts
        }
    }
}
