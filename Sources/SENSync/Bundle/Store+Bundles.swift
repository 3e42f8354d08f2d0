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
    /// Changes kept in the log but not merged, with the reason.
    public var rejected: [(dot: Dot, reason: String)]
    public var conflictsOpened: Int
    public var conflictsClosed: Int
    /// When the earlier import happened, for ``Result/alreadyApplied``.
    public var previousImportAt: String?
}

/// What `bundle verify` found.
public struct VerifyReport: Sendable {
    public var header: BundleHeader
    /// Whether a store was used to check prerequisites.
    public var checkedAgainstStore: Bool
    /// Changes the store does not hold yet.
    public var newChanges: Int
    public var duplicates: Int
}

extension Store {
    // MARK: Creating

    /// Writes a bundle holding every change the recipients have not acknowledged.
    ///
    /// The file is written to a temporary name and renamed into place, so `url` never holds a
    /// partial bundle.
    @discardableResult
    public func makeBundle(to recipients: [SiteID], at url: URL) throws -> BundleSummary {
        guard !recipients.isEmpty else {
            throw StoreError(.invalidInput, "A bundle needs at least one recipient.", hint: "Give --to SITE.")
        }
        guard !recipients.contains(identity.id) else {
            throw StoreError(.invalidInput, "A bundle cannot be addressed to its own site.", hint: "Give another site.")
        }
        let folder = url.deletingLastPathComponent()
        let payloadURL = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID128.v7().short).payload.sensync-tmp")
        let fileURL = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID128.v7().short).sensync-tmp")
        defer {
            try? FileManager.default.removeItem(at: payloadURL)
            try? FileManager.default.removeItem(at: fileURL)
        }
        guard FileManager.default.createFile(atPath: payloadURL.path, contents: nil) else {
            throw StoreError(.invalidInput, "Cannot write in the folder for --out.", hint: "Check the folder exists and is writable.")
        }
        let payloadHandle = try FileHandle(forWritingTo: payloadURL)
        var header = try writer.read { db -> BundleHeader in
            let sites = try SiteOrdinals(db)
            let vv = try Self.versionVector(in: db)
            var known = VersionVector()
            for (i, recipient) in recipients.enumerated() {
                let ack = try Self.acknowledged(by: recipient, in: db)
                if i == 0 {
                    known = ack
                } else {
                    known = VersionVector(Dictionary(uniqueKeysWithValues: vv.map { ($0.key, min(known[$0.key], ack[$0.key])) }))
                }
            }
            var readers: [ChangeLogReader] = []
            var origins: [OriginRange] = []
            for (site, seq) in vv.entries where seq > known[site] {
                var reader = try ChangeLogReader(site: site, range: (known[site] + 1)...seq, db: db, sites: sites)
                origins.append(OriginRange(site: site, firstSeq: known[site] + 1, lastSeq: seq, previousHash: .zero, lastHash: .zero))
                try reader.advance()
                readers.append(reader)
            }
            var hasher = StreamingSHA256()
            var payloadLength: UInt64 = 0
            var plainLength: UInt64 = 0
            var tableCounts: [String: UInt64] = [:]
            let deflater = try ZlibDeflater()
            let sink: ([UInt8]) throws -> Void = { bytes in
                hasher.update(bytes)
                payloadLength += UInt64(bytes.count)
                try payloadHandle.write(contentsOf: bytes)
            }
            var pending = BinaryWriter(reservingCapacity: 128 * 1024)
            pending.write(BundleFile.payloadVersion)
            var count: UInt64 = 0
            while true {
                var best: Int?
                for i in readers.indices where readers[i].current != nil {
                    if let b = best {
                        let (x, y) = (readers[i].current!, readers[b].current!)
                        if (x.hlc, x.change.site) < (y.hlc, y.change.site) { best = i }
                    } else {
                        best = i
                    }
                }
                guard let index = best else { break }
                let item = readers[index].current!
                if origins[index].firstSeq == item.change.seq { origins[index].previousHash = item.previousHash }
                origins[index].lastHash = item.hash
                for op in item.decoded.ops { tableCounts[op.table, default: 0] += 1 }
                pending.writeVarint(UInt64(index) << 1)
                pending.writeBytesWithLength(item.change.body)
                count += 1
                if pending.bytes.count >= 64 * 1024 {
                    plainLength += UInt64(pending.bytes.count)
                    try deflater.compress(pending.bytes, sink: sink)
                    pending = BinaryWriter(reservingCapacity: 128 * 1024)
                }
                try readers[index].advance()
            }
            plainLength += UInt64(pending.bytes.count)
            try deflater.compress(pending.bytes, sink: sink)
            try deflater.finish(sink: sink)
            return BundleHeader(
                schemaVersion: RecordSchema.version, bundleID: .v7(milliseconds: now()), createdAt: now(), sender: identity,
                recipients: recipients, payloadEncoding: .zlib, payloadLength: payloadLength, plainLength: plainLength,
                payloadSHA256: hasher.finalize(), changeCount: count, tableCounts: tableCounts, origins: origins,
                versionVector: vv)
        }
        try payloadHandle.close()
        header.formatMinor = BundleHeader.formatMinor
        var prefix = BinaryWriter(reservingCapacity: 4096)
        let headerBytes = header.encoded()
        prefix.write(contentsOf: BundleFile.magic)
        prefix.write(header.formatMajor)
        prefix.write(header.formatMinor)
        prefix.write(UInt32(headerBytes.count))
        prefix.write(contentsOf: headerBytes)
        prefix.write(contentsOf: Digest32.sha256(prefix.bytes).bytes)
        prefix.write(UInt16(0))
        guard FileManager.default.createFile(atPath: fileURL.path, contents: Data(prefix.bytes)) else {
            throw StoreError(.invalidInput, "Cannot write in the folder for --out.", hint: "Check the folder exists and is writable.")
        }
        let out = try FileHandle(forWritingTo: fileURL)
        try out.seekToEnd()
        let input = try FileHandle(forReadingFrom: payloadURL)
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
        try input.close()
        try out.synchronize()
        try out.close()
        if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        try FileManager.default.moveItem(at: fileURL, to: url)
        return BundleSummary(header: header, url: url, fileSize: UInt64(prefix.bytes.count) + header.payloadLength)
    }

    // MARK: Reading

    /// Reads a bundle's header without its payload and without a store.
    public static func inspectBundle(at url: URL) throws -> BundleHeader {
        try BundleFile.readLayout(at: url).header
    }

    /// Checks a bundle completely without applying it: format, header and payload checksums,
    /// every site's hash chain, and — when a store is given — addressing, prerequisites, forks
    /// and the clock guard.
    public static func verifyBundle(at url: URL, against store: Store? = nil) throws -> VerifyReport {
        let layout = try BundleFile.readLayout(at: url)
        guard let store else {
            try BundleFile.streamPayload(at: url, layout: layout) { _, change, _ in
                do { _ = try change.decoded() } catch {
                    throw BundleError(.unsupportedVersion, "A change in this bundle cannot be read (\((error as? DecodingFailure)?.reason ?? "unreadable")).", hint: "Install the latest SENSync.")
                }
            }
            return VerifyReport(header: layout.header, checkedAgainstStore: false, newChanges: Int(layout.header.changeCount), duplicates: 0)
        }
        try store.checkAddressing(layout.header)
        let (fresh, duplicates) = try store.verifyPrerequisites(url: url, layout: layout)
        return VerifyReport(header: layout.header, checkedAgainstStore: true, newChanges: fresh, duplicates: duplicates)
    }

    func checkAddressing(_ header: BundleHeader) throws(BundleError) {
        guard header.sender.id != identity.id else {
            throw BundleError(.notAddressedToThisSite, "This bundle was made by this site.", hint: "Apply it at the site it is addressed to.")
        }
        guard header.recipients.contains(identity.id) else {
            throw BundleError(
                .notAddressedToThisSite, "This bundle is addressed to other sites, not to this one.",
                hint: "Nothing was applied. Ask the sender to make a bundle for this site (`sensync bundle create --to`).")
        }
    }

    /// Pass 1: checks every change's prerequisites against the store without writing.
    private func verifyPrerequisites(url: URL, layout: BundleFile.Layout) throws -> (fresh: Int, duplicates: Int) {
        let applier = self.applier
        return try writer.read { db in
            var tx = try StoreTransaction(db)
            var fresh = 0
            var duplicates = 0
            try BundleFile.streamPayload(at: url, layout: layout) { index, change, hash in
                let origin = layout.header.origins[index]
                let head = try tx.chainHead(of: change.site)
                if change.seq <= head.seq {
                    duplicates += 1
                    if change.seq == head.seq || change.seq == origin.lastSeq {
                        let stored = change.seq == head.seq ? head.hash : try Self.storedHash(of: change.dot, db: db, sites: tx.sites)
                        if let stored, stored != hash { throw Self.forkError(change.site) }
                    }
                    return
                }
                do {
                    guard let (decoded, expected) = try applier.checkPrerequisites(change, in: &tx) else { return }
                    guard expected == hash else { throw Self.forkError(change.site) }
                    try tx.setChainHead(ChainHead(seq: change.seq, hash: hash), of: change.site)
                    var clock = try tx.scopeClock(of: decoded.scope)
                    clock.advance(to: change.dot)
                    try tx.setScopeClock(clock, of: decoded.scope)
                    fresh += 1
                } catch let error as MergeError {
                    throw BundleError(error)
                }
            }
            return (fresh, duplicates)
        }
    }

    static func forkError(_ site: SiteID) -> BundleError {
        BundleError(
            .fork, "Nothing was applied. Site \(site)'s history in this bundle differs from the history this store holds.",
            hint: "That site was probably restored from a backup and reused its identity. Contact its administrator before exchanging more bundles.")
    }

    static func storedHash(of dot: Dot, db: Database, sites: SiteOrdinals) throws -> Digest32? {
        var found: Digest32?
        try forEachChange(of: dot.site, in: dot.seq...dot.seq, db: db, sites: sites) { _, hash in found = hash }
        return found
    }

    // MARK: Applying

    /// Verifies a bundle completely, then applies it in one transaction.
    ///
    /// - Returns: what happened, also recorded in the import log.
    /// - Throws: ``BundleError`` if anything is wrong; the store is then unchanged (a refusal of a
    ///   well-formed bundle is recorded in the import log).
    @discardableResult
    public func apply(bundleAt url: URL) throws -> ImportReport {
        let layout = try BundleFile.readLayout(at: url)
        let header = layout.header
        try checkAddressing(header)
        if let previous = try writer.read({ db in
            try String.fetchOne(
                db, sql: "SELECT imported_at FROM import_log WHERE header_digest = ? AND result = 'applied' ORDER BY id LIMIT 1",
                arguments: [Data(layout.headerDigest.bytes)])
        }) {
            return ImportReport(
                result: .alreadyApplied, header: header, applied: 0, duplicates: 0, rejected: [], conflictsOpened: 0,
                conflictsClosed: 0, previousImportAt: previous)
        }
        do {
            _ = try verifyPrerequisites(url: url, layout: layout)
        } catch let error as BundleError where [.missingPrerequisites, .clockAhead, .fork].contains(error.code) {
            try? recordRefusal(layout, error)
            throw error
        }
        let applier = self.applier
        return try writer.write { db in
            var tx = try StoreTransaction(db)
            var report = ImportReport(
                result: .applied, header: header, applied: 0, duplicates: 0, rejected: [], conflictsOpened: 0, conflictsClosed: 0)
            try BundleFile.streamPayload(at: url, layout: layout) { _, change, _ in
                let disposition: ChangeDisposition
                do { disposition = try applier.apply(change, to: &tx) } catch let error as MergeError { throw BundleError(error) }
                switch disposition {
                case .duplicate: report.duplicates += 1
                case .applied(let opened, let closed):
                    report.applied += 1
                    report.conflictsOpened += opened
                    report.conflictsClosed += closed
                case .rejected(let reason):
                    report.rejected.append((change.dot, reason))
                }
            }
            try tx.flush()
            let senderOrd = try Self.registerPeer(header.sender, in: db, sites: &tx.sites)
            let ack = try Self.acknowledged(by: header.sender.id, in: db)
            for (site, seq) in header.versionVector.entries where seq > ack[site] {
                try db.execute(
                    sql: """
                        INSERT INTO peer_ack (peer_ord, origin_ord, seq) VALUES (?, ?, ?)
                        ON CONFLICT (peer_ord, origin_ord) DO UPDATE SET seq = max(seq, excluded.seq)
                        """, arguments: [senderOrd, try tx.sites.ordinal(for: site, in: db), Int64(seq)])
            }
            try db.execute(
                sql: """
                    INSERT INTO import_log (bundle_id, header_digest, sender_ord, imported_at, result, change_count, applied,
                      duplicates, rejected, conflicts_opened, conflicts_closed, detail)
                    VALUES (?, ?, ?, ?, 'applied', ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    header.bundleID.description, Data(layout.headerDigest.bytes), senderOrd,
                    HLC(milliseconds: now(), counter: 0).description, Int(header.changeCount), report.applied,
                    report.duplicates, report.rejected.count, report.conflictsOpened, report.conflictsClosed,
                    report.rejected.isEmpty ? nil : report.rejected.map { "\($0.dot): \($0.reason)" }.joined(separator: "; "),
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

    private func recordRefusal(_ layout: BundleFile.Layout, _ error: BundleError) throws {
        try writer.write { db in
            var sites = try SiteOrdinals(db)
            let senderOrd = try Self.registerPeer(layout.header.sender, in: db, sites: &sites)
            try db.execute(
                sql: """
                    INSERT INTO import_log (bundle_id, header_digest, sender_ord, imported_at, result, change_count, applied,
                      duplicates, rejected, conflicts_opened, conflicts_closed, detail)
                    VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, ?)
                    """,
                arguments: [
                    layout.header.bundleID.description, Data(layout.headerDigest.bytes), senderOrd,
                    HLC(milliseconds: now(), counter: 0).description, "refused: \(error.code.rawValue)",
                    Int(layout.header.changeCount), error.message,
                ])
        }
    }
}

/// Reads one site's changes from the log in order, one at a time, with their chain hashes.
struct ChangeLogReader {
    struct Item {
        var change: EncodedChange
        var decoded: Change
        var hash: Digest32
        var previousHash: Digest32
        var hlc: HLC { decoded.hlc }
    }

    let site: SiteID
    let range: ClosedRange<UInt64>
    private let cursor: RowCursor?
    private var reader = BinaryReader([])
    private var seq: UInt64 = 0
    private var hash = Digest32.zero
    private(set) var current: Item?

    init(site: SiteID, range: ClosedRange<UInt64>, db: Database, sites: SiteOrdinals) throws {
        self.site = site
        self.range = range
        guard let ord = sites.byID[site] else {
            cursor = nil
            return
        }
        cursor = try Row.fetchCursor(
            db,
            sql: "SELECT first_seq, prev_hash, changes FROM change_log WHERE site_ord = ? AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq",
            arguments: [ord, Int64(range.lowerBound), Int64(range.upperBound)])
    }

    mutating func advance() throws {
        current = nil
        guard let cursor else { return }
        while true {
            if reader.isAtEnd {
                guard let row = try cursor.next() else { return }
                let first = UInt64(row[0] as Int64)
                guard first == seq || seq == 0 else {
                    throw StoreError(.database, "The change log has a gap.", hint: "Run `sensync audit verify`.")
                }
                seq = first
                hash = Digest32(Array(row[1] as Data)) ?? .zero
                reader = BinaryReader(Array(row[2] as Data))
                continue
            }
            guard seq <= range.upperBound else { return }
            let body: [UInt8]
            do { body = try reader.readBytesWithLength() } catch {
                throw StoreError(.database, "The change log is damaged (\(error.reason)).", hint: "Run `sensync audit verify`.")
            }
            let change = EncodedChange(site: site, seq: seq, body: body)
            let previous = hash
            hash = change.chainHash(previous: previous)
            seq += 1
            if change.seq >= range.lowerBound {
                let decoded: Change
                do { decoded = try change.decoded() } catch {
                    throw StoreError(.database, "A stored change cannot be read (\(error.reason)).", hint: "Run `sensync audit verify`.")
                }
                current = Item(change: change, decoded: decoded, hash: hash, previousHash: previous)
                return
            }
        }
    }
}
