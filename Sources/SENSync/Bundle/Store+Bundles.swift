import Crypto
import Foundation
import GRDB

/// A bundle that was written.
public struct BundleSummary: Sendable {
    public var header: BundleHeader
    public var url: URL
    public var fileSize: UInt64
}

/// The recorded result of importing one bundle.
public struct ImportReport: Sendable {
    public enum Result: String, Sendable, Codable {
        /// The bundle was applied (possibly with duplicates and rejected changes).
        case applied
        /// This exact bundle was applied before; nothing changed.
        case alreadyApplied = "already-applied"
    }

    public var result: Result
    public var header: BundleHeader
    /// New changes merged.
    public var applied: Int
    /// Changes this store already held.
    public var duplicates: Int
    /// Changes not taken: about pupils this site does not hold or has passed on, or without
    /// content this site needs.
    public var skipped: Int
    /// Changes held without content (about erased pupils).
    public var heldWithoutContent: Int
    /// Changes a trust holds only to relay them to the LA (its academy's, about pupils it does
    /// not hold).
    public var relayed: Int
    /// Changes kept in the log but not merged, with the reason.
    public var rejected: [(dot: Dot, reason: String)]
    /// Changes refused and not kept: carried by a site that may not pass them on, or from a site
    /// whose history forked.
    public var refused: [(dot: Dot, reason: String)]
    public var conflictsOpened: Int
    public var conflictsClosed: Int
    /// Every change the bundle carried is counted once in one of ``applied``, ``duplicates``,
    /// ``skipped``, ``heldWithoutContent``, ``relayed``, ``rejected`` and ``refused``: their sum.
    public var changesCounted: Int {
        applied + duplicates + skipped + heldWithoutContent + relayed + rejected.count + refused.count
    }
    /// Pupils this site no longer sees and whose records it removed, now that its upstream holds them.
    public var pupilsForgotten: Int
    /// The directory version this bundle brought, if newer.
    public var directoryUpdatedTo: UInt64?
    /// When the earlier import happened, for ``Result/alreadyApplied``.
    public var previousImportAt: String?
    /// The names this store knows for the sites of the ``rejected`` and ``refused`` changes.
    public var siteNames: [SiteID: String]
    /// Changes accepted although stamped further ahead of this machine's clock than the guard
    /// allows, per site, because the user asked to (`--accept-clock-ahead`).
    public var acceptedClockAhead: [SiteID: Int] = [:]
    /// Set when, after this bundle, peers acknowledge more of this site's own changes than this
    /// store holds: it was restored from a backup (or is a copy). Local writes are refused until
    /// it holds them again (bundles from upstream may bring them back).
    public var behindOwnHistory: OwnHistoryGap?
    /// Set when this machine's clock read more than its clock guard later than the sender's
    /// when the bundle was made: how many minutes later. Either the bundle took that long to
    /// arrive, or this machine's clock is ahead — and then every change this site records is
    /// stamped ahead, and other sites refuse it.
    public var madeBeforeThisClockMinutes: UInt64?
    /// Set when, after this bundle, local writes are refused because this computer's clock may be
    /// ahead (the bundle is the newest received and was applied more than the guard after it was
    /// made).
    public var clockDoubt: ClockDoubt?

    init(result: Result, header: BundleHeader) {
        self.result = result
        self.header = header
        applied = 0
        duplicates = 0
        skipped = 0
        heldWithoutContent = 0
        relayed = 0
        rejected = []
        refused = []
        conflictsOpened = 0
        conflictsClosed = 0
        pupilsForgotten = 0
        siteNames = [:]
    }

    /// A rejected or refused change as people read it: "change 6 of Oakfield Primary" (by its
    /// site's id only when this store knows no name for it).
    public func describe(_ dot: Dot) -> String {
        dot.described(naming: { siteNames[$0] })
    }
}

/// What `bundle verify` found.
public struct VerifyReport: Sendable {
    public var header: BundleHeader
    /// Whether a store was used to check the signature, decrypt and check prerequisites.
    public var checkedAgainstStore: Bool
    /// Changes the store does not hold yet that it would take.
    public var newChanges: Int
    public var duplicates: Int
}

/// A bundle whose header, sender, signature and addressing have been checked, with this site's
/// content key.
struct OpenedBundle {
    var url: URL
    var layout: BundleFile.Layout
    var section: Int
    var key: SymmetricKey
    var sender: SiteIdentity
    /// A newer directory the bundle brought, verified against the pinned LA.
    var newDirectory: AreaDirectory?
    /// The public keys of every site this store can check a signature of.
    var originKeys: [SiteID: PublicKeys]
    /// The names of the same sites, from the same signed sources, for messages.
    var siteNames: [SiteID: String]
    var header: BundleHeader { layout.header }
}

/// What the first, read-only pass over a payload learned for the second.
struct PayloadScan {
    /// Pupils an erasure in the bundle erases: their changes may come without content.
    var erasedInBundle: Set<RecordID> = []
    /// For each pupil, every school a change in the bundle enrols it at (the headers are checked
    /// against their origins' signatures, so these are facts).
    var schools: [RecordID: Set<SiteID>] = [:]
}

extension Store {
    // MARK: Opening and checking

    /// Checks, in order: format and checksums of the header; the sender is in the directory (a
    /// newer directory in the bundle is accepted only with the LA's signature); the sender's
    /// signature; that the bundle is addressed to this site; then opens this site's section key,
    /// which only the named sender could have sealed.
    func openBundle(at url: URL) throws -> OpenedBundle {
        let layout = try BundleFile.readLayout(at: url)
        let header = layout.header
        guard header.sender.id != identity.id else {
            throw BundleError(
                .notAddressedToThisSite, "This bundle was made by this site.",
                hint: "Apply it at the site it is addressed to.")
        }
        let (la, current) = try writer.read { db in (try Self.pinnedLAOrSelf(in: db), try Self.directory(in: db)) }
        guard let la else {
            throw BundleError(
                .unknownSender, "This site has not pinned its LA's identity, so it cannot check who sent the bundle.",
                hint: "Nothing was applied. Pin your LA with `sensync directory pin LA-IDENTITY-FILE`.")
        }
        var newDirectory: AreaDirectory?
        // The LA too: restored from a backup, it gets back the directory it had signed since.
        if !header.directory.isEmpty, header.directoryVersion > (current?.version ?? 0) {
            do {
                let candidate = try AreaDirectory.decode(header.directory, verifiedBy: la.keys, la: la.site.id)
                guard candidate.version == header.directoryVersion else {
                    throw SecurityError(.directoryInvalid, "", hint: "")
                }
                newDirectory = candidate
            } catch {
                throw BundleError(
                    .badSignature, "The area directory in this bundle is not signed by your LA.",
                    hint: "Nothing was applied. Check the sender and the LA identity this site pinned.")
            }
        }
        if !header.directory.isEmpty, let current, header.directoryVersion == current.version,
            let other = try? AreaDirectory.decode(header.directory, verifiedBy: la.keys, la: la.site.id),
            other.signedBytes() != current.signedBytes()
        {
            // The LA signed two lists under one number (restored from a backup, it changed the
            // directory before any site told it of the newer one): keeping either without a word
            // splits the area into sites that refuse each other's bundles.
            throw BundleError(
                .fork,
                "This bundle carries version \(current.version) of the area directory, which lists other sites than the version \(current.version) this site holds: the LA signed two different directories under one number.",
                hint:
                    "Nothing was applied. Tell your LA: its store was restored from a backup. It should add again the sites this site's directory lists and its own does not (`sensync directory list` here), then send a bundle: its newer version replaces both."
            )
        }
        let directory = newDirectory ?? current
        let senderKeys: PublicKeys
        let sender: SiteIdentity
        if header.sender.id == la.site.id {
            senderKeys = la.keys
            sender = la.site
        } else if let entry = directory?.activeEntry(header.sender.id) {
            senderKeys = entry.identity.keys
            sender = entry.site
        } else {
            let revoked = directory?.entry(header.sender.id)?.isRevoked == true
            // Which site it says it is, by id: whoever reads the refusal can find out more. Not by
            // the name it gives, which no signature vouches for (it could hold anything).
            let calling =
                "It gives site id \(header.sender.id); `sensync bundle inspect` shows the name it claims."
            throw BundleError(
                .unknownSender,
                revoked
                    ? "This bundle comes from a site the LA has removed from the area directory."
                    : "This bundle comes from a site that is not in this site's area directory.",
                hint: revoked
                    ? "Nothing was applied. \(calling) A removed site cannot be added again: if it rejoined under a new identity (`sensync rejoin start`), ask it for a bundle made from its new store."
                    : "Nothing was applied. \(calling) If the sender is genuine, ask the LA to add it to the directory, then apply again."
            )
        }
        guard senderKeys.isValidSignature(layout.signature, for: layout.headerDigest.bytes) else {
            throw BundleError(
                .badSignature, "This bundle's signature does not match its sender's key.",
                hint:
                    "Nothing was applied. The file was damaged in transit (its signature bytes are not covered by a checksum), altered, or not made by the site it names: ask the sender for it again, copied in binary mode; if a fresh copy is refused too, tell your LA."
            )
        }
        guard let section = header.sections.firstIndex(where: { $0.recipient == identity.id }) else {
            // Whom it is for, by the names the signed directory gives them: most often it was
            // applied at the wrong store, and the sender did nothing wrong.
            let recipients = header.sections.map { part in
                part.recipient == la.site.id
                    ? la.site.name : directory?.entry(part.recipient)?.site.name ?? "site \(part.recipient)"
            }
            throw BundleError(
                .notAddressedToThisSite, "This bundle is addressed to other sites, not to this one.",
                hint:
                    "Nothing was applied. It is for \(recipients.joined(separator: ", ")): apply it at that site's store (check --store and $SENSYNC_STORE). If it was meant for this site, ask the sender to make one for it (`sensync bundle create --to`)."
            )
        }
        let keys: SiteKeys
        do { keys = try self.keys() } catch let error as SecurityError {
            throw BundleError(.cannotDecrypt, error.message, hint: error.hint)
        }
        let part = header.sections[section]
        let key: SymmetricKey
        do {
            key = try PayloadSealing.unwrap(
                PayloadSealing.WrappedKey(encapsulated: part.encapsulated, sealedKey: part.sealedKey),
                keys: keys, senderKeys: senderKeys,
                binding: PayloadSealing.Binding(
                    bundleID: header.bundleID, sender: header.sender.id, recipient: identity.id,
                    payloadLength: part.payloadLength, plainLength: part.plainLength,
                    payloadSHA256: part.payloadSHA256))
        } catch let error as SecurityError {
            throw BundleError(.cannotDecrypt, error.message, hint: error.hint)
        }
        var originKeys: [SiteID: PublicKeys] = [:]
        var siteNames: [SiteID: String] = [:]
        for entry in directory?.entries ?? [] {
            originKeys[entry.site.id] = entry.identity.keys
            siteNames[entry.site.id] = entry.site.name
        }
        originKeys[la.site.id] = la.keys
        siteNames[la.site.id] = la.site.name
        originKeys[identity.id] = publicKeys
        siteNames[identity.id] = identity.name
        return OpenedBundle(
            url: url, layout: layout, section: section, key: key, sender: sender, newDirectory: newDirectory,
            originKeys: originKeys, siteNames: siteNames)
    }

    /// The name of `site` as this store's signed sources give it: this site, its pinned LA, or the
    /// area directory (where a removed site keeps its entry). `nil` for any other site, whatever a
    /// bundle calls it.
    static func signedName(of site: SiteID, in db: Database, identity: SiteIdentity) throws -> String? {
        if site == identity.id { return identity.name }
        if let la = try pinnedLAOrSelf(in: db), la.site.id == site { return la.site.name }
        return try directory(in: db)?.entry(site)?.site.name
    }

    /// Reads a bundle's header without its payload and without a store.
    public static func inspectBundle(at url: URL) throws -> BundleHeader {
        try BundleFile.readLayout(at: url).header
    }

    /// Checks a bundle without applying it. Without a store: format, header checksum and every
    /// section's payload checksum. With a store: also the sender, signature, addressing, every
    /// origin signature, and — by applying it in a transaction that is then rolled back —
    /// prerequisites, forks and the clock guard.
    public static func verifyBundle(at url: URL, against store: Store? = nil) throws -> VerifyReport {
        guard let store else {
            let layout = try BundleFile.readLayout(at: url)
            for i in layout.header.sections.indices {
                try BundleFile.checkPayloadChecksum(at: url, layout: layout, section: i)
            }
            return VerifyReport(
                header: layout.header, checkedAgainstStore: false, newChanges: Int(layout.header.changeCount),
                duplicates: 0)
        }
        let opened = try store.openBundle(at: url)
        let scan = try store.scan(opened)
        let report = try store.writer.writeWithoutTransaction { db -> ImportReport in
            var result: ImportReport?
            try db.inTransaction {
                var tx = try StoreTransaction(db)
                result = try store.applyEntries(opened, scan: scan, tx: &tx)
                return .rollback
            }
            return result!
        }
        return VerifyReport(
            header: opened.header, checkedAgainstStore: true, newChanges: report.applied + report.rejected.count,
            duplicates: report.duplicates)
    }

    /// This site's section of the bundle at `url`, checked as applying checks it up to the
    /// payload, then opened and decompressed but not parsed (the fuzz seed corpus is made from it).
    package func plainPayload(ofBundleAt url: URL) throws -> [UInt8] {
        let opened = try openBundle(at: url)
        return try BundleFile.plainPayload(at: url, layout: opened.layout, section: opened.section, key: opened.key)
    }

    // MARK: Applying

    /// Verifies a bundle completely, then applies it in one transaction.
    ///
    /// Every refusal is recorded in the import log — with the file's SHA-256, the reason, and the
    /// bundle id and sender as far as the file could be read — and nothing else changes: the
    /// sender is not registered as a peer. If the store cannot be written, the refusal is still
    /// thrown, unrecorded.
    ///
    /// - Returns: what happened, also recorded in the import log.
    /// - Throws: ``BundleError`` if anything is wrong; the store is then unchanged but for the
    ///   refusal recorded in the import log.
    ///
    /// - Parameter acceptingClockAheadFrom: Sites whose changes are accepted however far ahead of
    ///   this machine's clock they are stamped (a site whose clock ran fast and has been put
    ///   right: its stamps stay ahead until real time catches up). Recorded in the import log.
    @discardableResult
    public func apply(bundleAt url: URL, acceptingClockAheadFrom accepted: Set<SiteID> = []) throws -> ImportReport {
        var opened: OpenedBundle?
        do {
            let bundle = try openBundle(at: url)
            opened = bundle
            return try apply(bundle, acceptingClockAheadFrom: accepted)
        } catch let error as BundleError {
            try? recordRefusal(of: url, opened: opened, error)
            throw error
        }
    }

    /// Applies a bundle that ``openBundle(at:)`` accepted: scans it, then applies it in one
    /// transaction, which any refusal rolls back.
    private func apply(_ opened: OpenedBundle, acceptingClockAheadFrom accepted: Set<SiteID>) throws -> ImportReport {
        let header = opened.header
        if let previous = try writer.read({ db in
            try String.fetchOne(
                db,
                sql:
                    "SELECT imported_at FROM import_log WHERE header_digest = ? AND result = 'applied' ORDER BY id LIMIT 1",
                arguments: [Data(opened.layout.headerDigest.bytes)])
        }) {
            var report = ImportReport(result: .alreadyApplied, header: header)
            report.previousImportAt = previous
            return report
        }
        let scan = try self.scan(opened)
        return try writer.write { db in
            var tx = try StoreTransaction(db)
            var report = try applyEntries(opened, scan: scan, acceptingClockAheadFrom: accepted, tx: &tx)
            let senderOrd = try Self.registerPeer(header.sender, in: db, sites: &tx.sites)
            // What the sender holds now, as its version vector is (not the most it ever held): an
            // LA restored from a backup holds an older directory, and the next bundle to it brings
            // the newer one back.
            try db.execute(
                sql: "UPDATE site SET directory_version = ? WHERE ord = ?",
                arguments: [Int64(header.directoryVersion), senderOrd])
            try db.execute(sql: "DELETE FROM peer_ack WHERE peer_ord = ?", arguments: [senderOrd])
            for (site, seq) in header.versionVector.entries {
                try db.execute(
                    sql: "INSERT INTO peer_ack (peer_ord, origin_ord, seq) VALUES (?, ?, ?)",
                    arguments: [senderOrd, try tx.sites.ordinal(for: site, in: db), Int64(seq)])
            }
            report.pupilsForgotten = try forgetPupilsNoLongerInScope(&tx, sender: header.sender.id)
            try tx.flush()
            report.behindOwnHistory = try Self.ownHistoryGap(of: identity.id, in: db)
            let named = Set((report.rejected + report.refused).map(\.dot.site)).union(report.acceptedClockAhead.keys)
            report.siteNames = opened.siteNames.filter { named.contains($0.key) }
            let section = header.sections[opened.section]
            let notes =
                report.rejected.map { "\(report.describe($0.dot)): \($0.reason)" }
                + report.refused.map { "\(report.describe($0.dot)) refused: \($0.reason)" }
                + report.acceptedClockAhead.sorted { $0.key < $1.key }.map { site, count in
                    "accepted \(count) change(s) from \(opened.siteNames[site] ?? "site \(site)") stamped ahead of this machine's clock, as asked (--accept-clock-ahead)"
                }
            let appliedAt = now()
            try db.execute(
                sql: """
                    INSERT INTO import_log (bundle_id, header_digest, sender_ord, sender_id, sender_name, imported_at,
                      result, change_count, applied, duplicates, rejected, conflicts_opened, conflicts_closed, detail,
                      made_at, applied_at, kept_without_content, relayed, not_taken)
                    VALUES (?, ?, ?, ?, ?, ?, 'applied', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    header.bundleID.description, Data(opened.layout.headerDigest.bytes), senderOrd,
                    header.sender.id.description, opened.sender.name,
                    HLC(milliseconds: appliedAt, counter: 0).description,
                    Int(section.changeCount + section.redactedCount), report.applied, report.duplicates,
                    report.rejected.count + report.refused.count, report.conflictsOpened, report.conflictsClosed,
                    notes.isEmpty ? nil : notes.joined(separator: "; "),
                    Int64(clamping: header.createdAt), Int64(clamping: appliedAt), report.heldWithoutContent,
                    report.relayed, report.skipped,
                ])
            report.clockDoubt = try clockDoubt(at: appliedAt, in: db)
            return report
        }
    }

    /// Pass 1, read-only: streams the payload once to check every origin signature and proof and
    /// the payload's structure, and notes what pass 2 needs to know before it starts.
    func scan(_ opened: OpenedBundle) throws -> PayloadScan {
        var scan = PayloadScan()
        try BundleFile.streamSection(
            at: opened.url, layout: opened.layout, section: opened.section, key: opened.key,
            originKeys: opened.originKeys, siteNames: opened.siteNames
        ) { entry in
            guard case .change(let change, _, _, _, let header) = entry else { return }
            if !header.schools.isEmpty { scan.schools[header.scope, default: []].formUnion(header.schools) }
            // Decoded only if it may erase (one change in thousands): the test reads no value.
            if header.schools.isEmpty, change.contentWrites(table: RecordSchema.erasure.name),
                let decoded = try? change.decoded(), decoded.erasesItsPupil
            {
                scan.erasedInBundle.insert(header.scope)
            }
        }
        return scan
    }

    /// Pass 2, inside a write transaction: applies every entry. Anything that refuses the bundle
    /// throws, and the transaction rolls back.
    func applyEntries(
        _ opened: OpenedBundle, scan: PayloadScan, acceptingClockAheadFrom accepted: Set<SiteID> = [],
        tx: inout StoreTransaction
    ) throws -> ImportReport {
        let db = tx.db
        var applier = self.applier
        applier.acceptsClockAhead = accepted
        tx.clockCeiling = HLC(milliseconds: applier.now + applier.clockGuardMilliseconds, counter: 0)
        let sender = opened.sender
        let name: (SiteID) -> String? = { opened.siteNames[$0] }
        var report = ImportReport(result: .applied, header: opened.header)
        report.directoryUpdatedTo = opened.newDirectory?.version
        if applier.now > opened.header.createdAt + applier.clockGuardMilliseconds {
            report.madeBeforeThisClockMinutes = (applier.now - opened.header.createdAt) / 60_000
        }
        if let newDirectory = opened.newDirectory {
            try Self.saveDirectory(newDirectory, in: db)
            tx.directoryCache = newDirectory
            tx.identities.removeAll()
        }
        let directory = try tx.directory()
        // Pupils passed on are taken back when their history comes again — all of it: if a
        // change this site held about them (its own transfer, say) is still without content at the
        // end, the sender has not heard of it, and the pupil stays passed on.
        let forgotten = Set(
            try String.fetchAll(db, sql: "SELECT pupil_id FROM forgotten_pupil").compactMap(RecordID.init))
        var reacquired: Set<RecordID> = []
        var forkedFrom: [SiteID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT site_ord, min(seq) FROM fork GROUP BY site_ord") {
            forkedFrom[try tx.sites.site(row[0])] = UInt64(row[1] as Int64)
        }
        var holdings: [HoldingsEntry] = []
        // For each pupil, each site's latest change the section carries (whatever becomes of it
        // here): the sender holds them (``BundleHeader/holdingsFromChanges``).
        var carried: [RecordID: VersionVector] = [:]
        var checkpoints: [Checkpoint] = []
        // The sender signed some of its numbers twice (see ``clash(of:ord:db:)``).
        var signedTwice: Dot?
        // The leaves of each complete checkpoint, and how many of its changes were taken: if not
        // all, the ones taken need their own proofs, for this store to relay them or audit them.
        var completeLeaves: [Int: [Dot: Digest32]] = [:]
        var taken: [Int: Int] = [:]
        // A trust relays everything its academies make to the LA: what it cannot take for itself
        // it holds only to pass on.
        let fromMyAcademy = directory?.entry(sender.id)?.trust == identity.id
        func relay(_ change: EncodedChange, _ header: ChangeHeader) throws -> Bool {
            guard fromMyAcademy, change.site == sender.id else { return false }
            if let held = try tx.storedEntry(change.dot) {
                guard held.leaf == change.leaf else { return false }
                if !held.isRedacted || change.isRedacted {
                    report.duplicates += 1
                    return true
                }
            }
            try tx.storeRelayed(change, header: header)
            report.relayed += 1
            return true
        }
        try BundleFile.streamSection(
            at: opened.url, layout: opened.layout, section: opened.section, key: opened.key,
            originKeys: opened.originKeys, siteNames: opened.siteNames
        ) { entry in
            switch entry {
            case .checkpoint(let index, let checkpoint, let isComplete):
                checkpoints.append(checkpoint)
                let ord = try tx.sites.ordinal(for: checkpoint.site, in: db)
                if let seq = try Self.clash(of: checkpoint, ord: ord, db: db) {
                    // This site's own numbers, signed otherwise elsewhere (this store is a copy
                    // that wrote again under numbers already sent): the change held there under
                    // the first of them follows, and shows the fork as a change (kept below).
                    if checkpoint.site == identity.id { return }
                    // The site signed its numbers twice (a restored backup): even a change this
                    // store lacks, proved by the second run, may stand on a number whose change
                    // here differs, and its proof could not be kept beside the first run's.
                    guard checkpoint.site != sender.id else {
                        // Refused once the stream ends, unless one of its changes shows the
                        // fork first (a number held here with another change: the plainer news).
                        signedTwice = signedTwice ?? Dot(site: checkpoint.site, seq: seq)
                        return
                    }
                    // Passed on by a relay: refuse that site's changes from this run on (none
                    // could keep its proof), as for a fork shown by a change.
                    forkedFrom[checkpoint.site] = min(forkedFrom[checkpoint.site] ?? .max, checkpoint.first)
                    report.refused.append((Dot(site: checkpoint.site, seq: seq), "its site signed its changes twice"))
                    return
                }
                if isComplete { completeLeaves[index] = [:] }
                try Self.saveCheckpoint(checkpoint, ord: ord, db: db)
            case .holdings(let pupil, let held, let passedOn):
                holdings.append((pupil, held, passedOn))
            case .change(let change, let index, let path, let leaf, let header):
                if completeLeaves[index] != nil { completeLeaves[index]?[change.dot] = leaf }
                let pupil = header.scope
                carried[pupil, default: VersionVector()].advance(to: change.dot)
                if let fork = forkedFrom[change.site], change.seq >= fork {
                    report.refused.append((change.dot, "its site's history forked at change \(fork)"))
                    return
                }
                // Every school the pupil was at, as this store knows, and as the bundle shows.
                var schools = Set(try tx.enrolmentHistory(of: pupil).map(\.school))
                schools.formUnion(scan.schools[pupil] ?? [])
                guard
                    ScopePolicy.mayCarry(
                        sender, changeFrom: change.site, schoolsEver: schools, directory: directory)
                else {
                    // Held here already, with its content or without it once the pupil was passed
                    // on (a sender that did not know this store holds it: a school the pupil
                    // moved on to, sending a school they left its own changes): nothing is taken
                    // from the sender, so nothing to refuse.
                    if let held = try tx.storedEntry(change.dot), held.leaf == change.leaf {
                        if !held.isRedacted || change.isRedacted { report.duplicates += 1 } else { report.skipped += 1 }
                        return
                    }
                    report.refused.append((change.dot, "carried by a site that never had this pupil"))
                    return
                }
                let erasing = try scan.erasedInBundle.contains(pupil) || tx.isErased(pupil)
                var change = change
                if erasing, !change.isRedacted, try tx.scopeClock(of: pupil).isEmpty,
                    (try? change.decoded())?.erasesItsPupil != true
                {
                    // A pupil this site does not hold, being erased: only the headers are kept.
                    change = change.redacted()
                }
                if change.isRedacted, !erasing {
                    // An academy that joined this trust sends its history from where this trust
                    // holds it, with changes whose content it let go once its old trust held
                    // them: held here without content, they fill the academy's numbers (so this
                    // trust can say it holds them, and the academy stops sending them), and count
                    // for nothing this trust holds of their pupils (the content comes from the LA
                    // if the pupil comes here).
                    if try !relay(change, header) { report.skipped += 1 }
                    return
                }
                let checked: ChangeApplier.Checked
                do {
                    checked = try applier.check(change, header: header, in: &tx)
                } catch let error as MergeError where error.code == .fork {
                    guard change.site != sender.id else {
                        var refusal = BundleError(error, naming: name)
                        refusal.senderForkedAt = change.dot
                        throw refusal
                    }
                    // A relay passed on one of two histories of another site: keep the one held,
                    // refuse the site's changes from here on, and report it.
                    try recordFork(change, in: &tx)
                    forkedFrom[change.site] = min(forkedFrom[change.site] ?? .max, change.seq)
                    report.refused.append((change.dot, "its site has two different changes with this number"))
                    return
                } catch let error as MergeError where error.code == .missingPrerequisites {
                    // A pupil this site does not hold: what it lacks of them arrives with the rest
                    // of their history, once the sender learns what this site holds. Nor one it
                    // holds but may no longer see (a pupil who left): the rest of their history
                    // will not come here, and an academy's change about them (made while another
                    // trust's writes reached it) still has to be relayed to the LA.
                    if identity.kind != .la, error.missing != nil,
                        try tx.scopeClock(of: pupil).isEmpty
                            || !ScopeView.load(&tx, me: identity, today: today).isEntitled(identity, to: pupil)
                    {
                        if try !relay(change, header) { report.skipped += 1 }
                        return
                    }
                    throw BundleError(error, naming: name)
                } catch let error as MergeError {
                    throw BundleError(error, naming: name)
                }
                let disposition: ChangeDisposition
                do {
                    disposition = try applier.apply(checked, encoded: change, to: &tx)
                } catch let error as MergeError {
                    // Entitlement needs a newer directory than this store holds.
                    throw BundleError(error, naming: name)
                }
                switch disposition {
                case .duplicate: report.duplicates += 1
                case .applied(let opened, let closed):
                    report.applied += 1
                    if accepted.contains(change.site), applier.isAhead(header.hlc) {
                        report.acceptedClockAhead[change.site, default: 0] += 1
                    }
                    report.conflictsOpened += opened
                    report.conflictsClosed += closed
                case .rejected(let reason): report.rejected.append((change.dot, reason))
                case .heldWithoutContent: report.heldWithoutContent += 1
                }
                if forgotten.contains(pupil), !change.isRedacted { reacquired.insert(pupil) }
                taken[index, default: 0] += 1
                if let path, !path.isEmpty {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO change_proof (site_ord, seq, path) VALUES (?, ?, ?)",
                        arguments: [
                            try tx.sites.ordinal(for: change.site, in: db), Int64(change.seq),
                            Data(path.flatMap(\.bytes)),
                        ])
                }
            }
        }
        if let signedTwice {
            var refusal = BundleError(
                MergeError(code: .fork, reason: .signedTwice(signedTwice), hint: MergeError.forkHint), naming: name)
            refusal.senderForkedAt = signedTwice
            throw refusal
        }
        for (index, byDot) in completeLeaves.sorted(by: { $0.key < $1.key }) {
            let checkpoint = checkpoints[index]
            guard byDot.count == checkpoint.count, taken[index, default: 0] < checkpoint.count else { continue }
            let leaves = (checkpoint.first...checkpoint.last).compactMap { byDot[Dot(site: checkpoint.site, seq: $0)] }
            for seq in checkpoint.first...checkpoint.last {
                let dot = Dot(site: checkpoint.site, seq: seq)
                guard let held = try tx.storedEntry(dot), held.leaf == byDot[dot] else { continue }
                let path = Merkle.path(for: Int(seq - checkpoint.first), in: leaves)
                try db.execute(
                    sql: "INSERT OR IGNORE INTO change_proof (site_ord, seq, path) VALUES (?, ?, ?)",
                    arguments: [try tx.sites.ordinal(for: dot.site, in: db), Int64(seq), Data(path.flatMap(\.bytes))])
            }
        }
        for pupil in reacquired.sorted() where try !tx.isErased(pupil) {
            let incomplete = try Self.changes(about: pupil, db: db, sites: tx.sites).contains { dot in
                guard let held = try tx.storedEntry(dot) else { return false }
                return held.isRedacted
            }
            if incomplete, identity.kind == .trust, try owesEndingToAMember(pupil, sender: sender.id, tx: &tx) {
                // The news that the pupil left one of this trust's academies came with it, and
                // the academy lacks it: held again, to pass on (see
                // ``forgetPupilsNoLongerInScope(_:sender:)``, which lets the pupil go after).
                try db.execute(sql: "DELETE FROM forgotten_pupil WHERE pupil_id = ?", arguments: [pupil.description])
            } else if incomplete {
                // Passed on again; what this site (or an academy it relays for) made and its
                // upstream does not hold yet is kept, only to relay it.
                let keeps = try relaysFor(&tx, sender: sender.id)
                let upstreamAck = try upstream(in: &tx).map { try Self.acknowledged(by: $0, in: db) } ?? VersionVector()
                // What came is held here now and passed on with the rest: said so in the site's
                // next bundles, so that its senders stop sending it (the news that it left,
                // above all, which a trust sends until its academy says it holds it).
                var passedOn = try tx.scopeClock(of: pupil)
                if let stored = try Data.fetchOne(
                    db, sql: "SELECT held FROM forgotten_pupil WHERE pupil_id = ?", arguments: [pupil.description])
                {
                    var reader = BinaryReader(Array(stored))
                    passedOn.formUnion(try VersionVector.decode(from: &reader))
                }
                try tx.purge(pupil, erased: false) { dot in keeps.contains(dot.site) && upstreamAck[dot.site] < dot.seq
                }
                var w = BinaryWriter()
                passedOn.encode(into: &w)
                try db.execute(
                    sql: "UPDATE forgotten_pupil SET held = ? WHERE pupil_id = ?",
                    arguments: [Data(w.bytes), pupil.description])
            } else {
                try db.execute(sql: "DELETE FROM forgotten_pupil WHERE pupil_id = ?", arguments: [pupil.description])
            }
        }
        try tx.flush()
        try recordHoldings(
            holdings, basis: opened.header.sections[opened.section].holdingsBasis,
            carried: opened.header.holdingsFromChanges ? carried : [:], from: sender.id, tx: &tx)
        return report
    }

    /// Keeps the evidence that a site signed two different changes under one number.
    func recordFork(_ change: EncodedChange, in tx: inout StoreTransaction) throws {
        guard let held = try tx.heldChange(change.dot) else { return }
        try tx.db.execute(
            sql: """
                INSERT OR IGNORE INTO fork (site_ord, seq, held_leaf, other_leaf, detected_at) VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [
                try tx.sites.ordinal(for: change.site, in: tx.db), Int64(change.seq), Data(held.leaf.bytes),
                Data(change.leaf.bytes), HLC(milliseconds: now(), counter: 0).description,
            ])
    }

    static func registerPeer(_ site: SiteIdentity, in db: Database, sites: inout SiteOrdinals) throws -> Int64 {
        let ord = try sites.ordinal(for: site.id, in: db)
        try db.execute(
            sql: "UPDATE site SET name = coalesce(name, ?), kind = coalesce(kind, ?), is_peer = 1 WHERE ord = ?",
            arguments: [site.name, site.kind.rawValue, ord])
        return ord
    }

    /// Records a refused bundle in the import log, and nothing else: no site is added or
    /// registered as a peer. When the sender's own changes showed it had forked (a copy restored
    /// from a backup, written on), the row keeps the number (`forked_seq`), so the next bundle to
    /// that site carries what this store holds under it and the copy learns it forked.
    ///
    /// What is known is recorded, and only that. `file_sha256` is the SHA-256 of the file as it
    /// was refused, which can always be computed; `header_digest` is set only when the header was
    /// authenticated, and `bundle_id` only when the header could be read. The sender's id is the
    /// one the header claims; its name
    /// comes only from this store's signed sources (the directory, the pinned LA), never from the
    /// bundle. The file's name is not recorded: people name files after pupils.
    private func recordRefusal(of url: URL, opened: OpenedBundle?, _ error: BundleError) throws {
        // A file that cannot be read at all was never received: there is nothing to record.
        guard let fileDigest = BundleFile.fileSHA256(at: url) else { return }
        let header = opened?.header ?? BundleFile.readClaimedHeader(at: url)
        let section =
            opened.map { $0.header.sections[$0.section] }
            ?? header?.sections.first { $0.recipient == identity.id }
        try writer.write { db in
            let senderID = header?.sender.id
            let senderName: String? =
                if let opened { opened.sender.name } else if let senderID {
                    try Self.signedName(of: senderID, in: db, identity: identity)
                } else { nil }
            let senderOrd = try senderID.flatMap { id in
                try Int64.fetchOne(db, sql: "SELECT ord FROM site WHERE site_id = ?", arguments: [id.description])
            }
            try db.execute(
                sql: """
                    INSERT INTO import_log (bundle_id, header_digest, file_sha256, sender_ord, sender_id, sender_name,
                      imported_at, result, change_count, applied, duplicates, rejected, conflicts_opened,
                      conflicts_closed, detail, forked_seq, kept_without_content, relayed, not_taken)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, ?, ?, 0, 0, 0)
                    """,
                arguments: [
                    header?.bundleID.description, opened.map { Data($0.layout.headerDigest.bytes) },
                    Data(fileDigest.bytes), senderOrd, senderID?.description,
                    senderName, HLC(milliseconds: now(), counter: 0).description, "refused: \(error.code.rawValue)",
                    section.map { Int($0.changeCount + $0.redactedCount) } ?? 0, error.message,
                    error.senderForkedAt.flatMap { $0.site == senderID && senderOrd != nil ? Int64($0.seq) : nil },
                ])
        }
    }
}
