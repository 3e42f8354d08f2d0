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
    /// New changes merged (in chain order and as history).
    public var applied: Int
    /// Changes this store already held.
    public var duplicates: Int
    /// Changes summarised as out of this site's scope.
    public var skipped: Int
    /// Changes kept in the log but not merged, with the reason.
    public var rejected: [(dot: Dot, reason: String)]
    public var conflictsOpened: Int
    public var conflictsClosed: Int
    /// Pupils this site no longer sees and whose records it removed, now that its upstream holds them.
    public var pupilsForgotten: Int
    /// The directory version this bundle brought, if newer.
    public var directoryUpdatedTo: UInt64?
    /// When the earlier import happened, for ``Result/alreadyApplied``.
    public var previousImportAt: String?
}

/// What `bundle verify` found.
public struct VerifyReport: Sendable {
    public var header: BundleHeader
    /// Whether a store was used to check the signature, decrypt and check prerequisites.
    public var checkedAgainstStore: Bool
    /// Changes the store does not hold yet.
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
    var header: BundleHeader { layout.header }
}

extension Store {
    // MARK: Opening and checking

    /// Checks, in order: format and checksums of the header; the sender is in the directory (a
    /// newer directory in the bundle is accepted only with the LA's signature); the sender's
    /// signature; that the bundle is addressed to this site; then opens this site's section key.
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
        if !header.directory.isEmpty, header.directoryVersion > (current?.version ?? 0), identity.kind != .la {
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
            throw BundleError(
                .unknownSender,
                revoked
                    ? "This bundle comes from a site the LA has removed from the area directory."
                    : "This bundle comes from a site that is not in this site's area directory.",
                hint:
                    "Nothing was applied. If the sender is genuine, ask the LA to add it to the directory, then apply again."
            )
        }
        guard layout.signature.count == 64,
            senderKeys.isValidSignature(layout.signature, for: layout.headerDigest.bytes)
        else {
            throw BundleError(
                .badSignature, "This bundle's signature does not match its sender's key.",
                hint:
                    "Nothing was applied. The file was altered or not made by the site it names; ask the sender for it again."
            )
        }
        guard
            let section = header.sections.firstIndex(where: { $0.recipients.contains { $0.recipient == identity.id } }),
            let sealed = header.sections[section].recipients.first(where: { $0.recipient == identity.id })
        else {
            throw BundleError(
                .notAddressedToThisSite, "This bundle is addressed to other sites, not to this one.",
                hint:
                    "Nothing was applied. Ask the sender to make a bundle for this site (`sensync bundle create --to`)."
            )
        }
        let keys: SiteKeys
        do { keys = try self.keys() } catch let error as SecurityError {
            throw BundleError(.cannotDecrypt, error.message, hint: error.hint)
        }
        let key: SymmetricKey
        do {
            key = try PayloadSealing.unwrap(
                PayloadSealing.WrappedKey(
                    recipient: sealed.recipient, encapsulated: sealed.encapsulated, sealedKey: sealed.sealedKey),
                keys: keys, bundleID: header.bundleID)
        } catch let error as SecurityError {
            throw BundleError(.cannotDecrypt, error.message, hint: error.hint)
        }
        return OpenedBundle(
            url: url, layout: layout, section: section, key: key, sender: sender, newDirectory: newDirectory)
    }

    /// Reads a bundle's header without its payload and without a store.
    public static func inspectBundle(at url: URL) throws -> BundleHeader {
        try BundleFile.readLayout(at: url).header
    }

    /// Checks a bundle without applying it. Without a store: format, header checksum and every
    /// section's payload checksum. With a store: also the sender, signature, addressing, and —
    /// opening this site's section — every hash chain, prerequisites, forks and the clock guard.
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
        let (fresh, duplicates) = try store.verifyPrerequisites(opened)
        return VerifyReport(header: opened.header, checkedAgainstStore: true, newChanges: fresh, duplicates: duplicates)
    }

    static func forkError(_ site: SiteID) -> BundleError {
        BundleError(
            .fork,
            "Nothing was applied. Site \(site)'s history in this bundle differs from the history this store holds.",
            hint:
                "That site was probably restored from a backup and reused its identity. Contact its administrator before exchanging more bundles."
        )
    }

    static func storedHash(of dot: Dot, db: Database, sites: SiteOrdinals) throws -> Digest32? {
        var found: Digest32?
        try forEachChange(of: dot.site, in: dot.seq...dot.seq, db: db, sites: sites) { _, hash in found = hash }
        return found
    }

    /// Pass 1: checks every entry against the store without writing.
    private func verifyPrerequisites(_ opened: OpenedBundle) throws -> (fresh: Int, duplicates: Int) {
        let applier = self.applier
        let section = opened.header.sections[opened.section]
        return try writer.read { db in
            var tx = try StoreTransaction(db)
            var fresh = 0
            var duplicates = 0
            do {
                try BundleFile.streamSection(
                    at: opened.url, layout: opened.layout, section: opened.section, key: opened.key
                ) { entry in
                    switch entry {
                    case .change(let index, let change, let hash, _):
                        let head = try tx.chainHead(of: change.site)
                        if change.seq <= head.seq {
                            guard try tx.heldContent(change.dot) != nil else {
                                // Held only as skipped: now in scope here, so it fills the gap as history.
                                let decoded = try applier.checkHistory(change, in: &tx)
                                var clock = try tx.scopeClock(of: decoded.scope)
                                clock.advance(to: change.dot)
                                try tx.setScopeClock(clock, of: decoded.scope)
                                fresh += 1
                                return
                            }
                            duplicates += 1
                            if change.seq == head.seq || change.seq == section.origins[index].lastSeq {
                                let stored =
                                    change.seq == head.seq
                                    ? head.hash : try Self.storedHash(of: change.dot, db: db, sites: tx.sites)
                                if let stored, stored != hash { throw Self.forkError(change.site) }
                            }
                            return
                        }
                        guard let (decoded, expected) = try applier.checkPrerequisites(change, in: &tx) else { return }
                        guard expected == hash else { throw Self.forkError(change.site) }
                        tx.noteErasure(in: decoded)
                        let heldAsHistory = try tx.heldContent(change.dot) == hash
                        try tx.setChainHead(ChainHead(seq: change.seq, hash: hash), of: change.site)
                        var clock = try tx.scopeClock(of: decoded.scope)
                        clock.advance(to: change.dot)
                        try tx.setScopeClock(clock, of: decoded.scope)
                        if heldAsHistory { duplicates += 1 } else { fresh += 1 }
                    case .skip(let index, let first, let count, let last, _):
                        try Self.checkSkip(
                            site: section.origins[index].site, first: first, count: count, last: last, tx: &tx)
                    case .history(let change, _, let hash):
                        if let held = try tx.heldContent(change.dot) {
                            duplicates += 1
                            if held != hash { throw Self.forkError(change.site) }
                            return
                        }
                        let decoded = try applier.checkHistory(change, in: &tx)
                        tx.noteErasure(in: decoded)
                        var clock = try tx.scopeClock(of: decoded.scope)
                        clock.advance(to: change.dot)
                        try tx.setScopeClock(clock, of: decoded.scope)
                        fresh += 1
                    case .holdings:
                        break
                    }
                }
            } catch let error as MergeError {
                throw BundleError(error)
            }
            return (fresh, duplicates)
        }
    }

    /// A skip must continue the site's chain: it starts at or before the next change expected.
    private static func checkSkip(
        site: SiteID, first: UInt64, count: UInt64, last: Digest32, tx: inout StoreTransaction
    ) throws {
        let head = try tx.chainHead(of: site)
        let lastSeq = first + count - 1
        if first > head.seq + 1 {
            let range = MissingRange(site: site, from: head.seq + 1, through: first - 1, isScopeHistory: false)
            throw BundleError(
                .missingPrerequisites, "Nothing was applied. Missing \(range).",
                hint:
                    "Ask that site, or the site that relays its changes, for a bundle that includes them; then apply this one again.",
                missing: range)
        }
        if lastSeq > head.seq { try tx.setChainHead(ChainHead(seq: lastSeq, hash: last), of: site) }
    }

    // MARK: Applying

    /// Verifies a bundle completely, then applies it in one transaction.
    ///
    /// - Returns: what happened, also recorded in the import log.
    /// - Throws: ``BundleError`` if anything is wrong; the store is then unchanged (a refusal of a
    ///   well-formed, authentic bundle is recorded in the import log).
    @discardableResult
    public func apply(bundleAt url: URL) throws -> ImportReport {
        let opened = try openBundle(at: url)
        let header = opened.header
        if let previous = try writer.read({ db in
            try String.fetchOne(
                db,
                sql:
                    "SELECT imported_at FROM import_log WHERE header_digest = ? AND result = 'applied' ORDER BY id LIMIT 1",
                arguments: [Data(opened.layout.headerDigest.bytes)])
        }) {
            return ImportReport(
                result: .alreadyApplied, header: header, applied: 0, duplicates: 0, skipped: 0, rejected: [],
                conflictsOpened: 0,
                conflictsClosed: 0, pupilsForgotten: 0, previousImportAt: previous)
        }
        do {
            _ = try verifyPrerequisites(opened)
        } catch let error as BundleError where [.missingPrerequisites, .clockAhead, .fork].contains(error.code) {
            try? recordRefusal(opened, error)
            throw error
        }
        let applier = self.applier
        return try writer.write { db in
            var tx = try StoreTransaction(db)
            if let newDirectory = opened.newDirectory { tx.directoryCache = newDirectory }
            var report = ImportReport(
                result: .applied, header: header, applied: 0, duplicates: 0, skipped: 0, rejected: [],
                conflictsOpened: 0,
                conflictsClosed: 0, pupilsForgotten: 0, directoryUpdatedTo: opened.newDirectory?.version)
            var holdings: [(RecordID, VersionVector)] = []
            let section = header.sections[opened.section]
            func record(_ disposition: ChangeDisposition, _ dot: Dot) {
                switch disposition {
                case .duplicate: report.duplicates += 1
                case .applied(let opened, let closed):
                    report.applied += 1
                    report.conflictsOpened += opened
                    report.conflictsClosed += closed
                case .rejected(let reason): report.rejected.append((dot, reason))
                }
            }
            if let newDirectory = opened.newDirectory { try Self.saveDirectory(newDirectory, in: db) }
            do {
                try BundleFile.streamSection(
                    at: opened.url, layout: opened.layout, section: opened.section, key: opened.key
                ) { entry in
                    switch entry {
                    case .change(_, let change, let hash, let previous):
                        if change.seq <= (try tx.chainHead(of: change.site)).seq {
                            if try tx.heldContent(change.dot) != nil {
                                report.duplicates += 1
                            } else {
                                let decoded = try applier.checkHistory(change, in: &tx)
                                record(
                                    try applier.applyHistory(
                                        decoded, encoded: change, previousHash: previous, hash: hash, to: &tx),
                                    change.dot)
                            }
                            return
                        }
                        if try tx.heldContent(change.dot) == hash {
                            // Held already as history: it takes its place in the chain without
                            // being merged again, which would bring back values later changes
                            // replaced.
                            let decoded = try applier.checkHistory(change, in: &tx)
                            try tx.appendChange(
                                change, hash: hash, hlc: decoded.hlc, scope: decoded.scope, rejection: nil)
                            try tx.setChainHead(ChainHead(seq: change.seq, hash: hash), of: change.site)
                            report.duplicates += 1
                            return
                        }
                        record(try applier.apply(change, to: &tx), change.dot)
                    case .skip(let index, let first, let count, let last, let erased):
                        try tx.appendSkip(
                            site: section.origins[index].site, firstSeq: first, count: count, lastHash: last,
                            erased: erased)
                        report.skipped += Int(count)
                    case .history(let change, let previous, let hash):
                        if try tx.heldContent(change.dot) != nil {
                            report.duplicates += 1
                            return
                        }
                        let decoded = try applier.checkHistory(change, in: &tx)
                        record(
                            try applier.applyHistory(
                                decoded, encoded: change, previousHash: previous, hash: hash, to: &tx), change.dot)
                    case .holdings(let pupil, let held):
                        holdings.append((pupil, held))
                    }
                }
            } catch let error as MergeError {
                throw BundleError(error)
            }
            try tx.flush()
            let senderOrd = try Self.registerPeer(header.sender, in: db, sites: &tx.sites)
            try db.execute(
                sql: "UPDATE site SET directory_version = max(directory_version, ?) WHERE ord = ?",
                arguments: [Int64(header.directoryVersion), senderOrd])
            let ack = try Self.acknowledged(by: header.sender.id, in: db)
            for (site, seq) in header.versionVector.entries where seq > ack[site] {
                try db.execute(
                    sql: """
                        INSERT INTO peer_ack (peer_ord, origin_ord, seq) VALUES (?, ?, ?)
                        ON CONFLICT (peer_ord, origin_ord) DO UPDATE SET seq = max(seq, excluded.seq)
                        """, arguments: [senderOrd, try tx.sites.ordinal(for: site, in: db), Int64(seq)])
            }
            try db.execute(sql: "DELETE FROM peer_scope WHERE peer_ord = ?", arguments: [senderOrd])
            let insert = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO peer_scope (peer_ord, pupil_id, origin_ord, seq) VALUES (?, ?, ?, ?)")
            for (pupil, held) in holdings {
                for (site, seq) in held.entries {
                    try insert.execute(arguments: [
                        senderOrd, pupil.description, try tx.sites.ordinal(for: site, in: db), Int64(seq),
                    ])
                }
            }
            report.pupilsForgotten = try forgetPupilsNoLongerInScope(&tx)
            try tx.flush()
            try db.execute(
                sql: """
                    INSERT INTO import_log (bundle_id, header_digest, sender_ord, imported_at, result, change_count, applied,
                      duplicates, rejected, conflicts_opened, conflicts_closed, detail)
                    VALUES (?, ?, ?, ?, 'applied', ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    header.bundleID.description, Data(opened.layout.headerDigest.bytes), senderOrd,
                    HLC(milliseconds: now(), counter: 0).description, Int(section.changeCount + section.historyCount),
                    report.applied,
                    report.duplicates, report.rejected.count, report.conflictsOpened, report.conflictsClosed,
                    report.rejected.isEmpty
                        ? nil : report.rejected.map { "\($0.dot): \($0.reason)" }.joined(separator: "; "),
                ])
            return report
        }
    }

    static func registerPeer(_ site: SiteIdentity, in db: Database, sites: inout SiteOrdinals) throws -> Int64 {
        let ord = try sites.ordinal(for: site.id, in: db)
        try db.execute(
            sql: "UPDATE site SET name = coalesce(name, ?), kind = coalesce(kind, ?), is_peer = 1 WHERE ord = ?",
            arguments: [site.name, site.kind.rawValue, ord])
        return ord
    }

    private func recordRefusal(_ opened: OpenedBundle, _ error: BundleError) throws {
        try writer.write { db in
            var sites = try SiteOrdinals(db)
            let senderOrd = try Self.registerPeer(opened.sender, in: db, sites: &sites)
            try db.execute(
                sql: """
                    INSERT INTO import_log (bundle_id, header_digest, sender_ord, imported_at, result, change_count, applied,
                      duplicates, rejected, conflicts_opened, conflicts_closed, detail)
                    VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, ?)
                    """,
                arguments: [
                    opened.header.bundleID.description, Data(opened.layout.headerDigest.bytes), senderOrd,
                    HLC(milliseconds: now(), counter: 0).description, "refused: \(error.code.rawValue)",
                    Int(opened.header.sections[opened.section].changeCount), error.message,
                ])
        }
    }
}
