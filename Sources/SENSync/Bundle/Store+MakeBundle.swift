import Crypto
import Foundation
import GRDB

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
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw StoreError(
                .invalidInput, "Cannot write in the folder for --out.", hint: "Check the folder exists and is writable."
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
        try handle.synchronize()
        try handle.close()
        return (sealedLength, plainLength, hasher.finalize())
    }
}

/// One origin's part of a section: walks the chain from what the recipient has acknowledged,
/// turning changes out of the recipient's scope into skipped runs, and stopping where this site
/// holds no content that the recipient may need.
private struct OriginCursor {
    var reader: ChainReader
    let site: SiteID
    /// Runs to send as skipped before the next change, in order; neighbours of the same kind are
    /// joined.
    var pendingSkips: [(first: UInt64, count: UInt64, last: Digest32, previous: Digest32, erased: Bool)] = []
    var next: (change: EncodedChange, decoded: Change, hash: Digest32, previous: Digest32)?
    var range: OriginRange?
    var index: Int?

    init(reader: ChainReader, site: SiteID) {
        self.reader = reader
        self.site = site
    }

    mutating func advance(
        include: (Change) -> Bool, entitled: (RecordID) -> Bool, erased: Set<RecordID>, mayForwardSkips: Bool
    ) throws {
        next = nil
        while let item = try reader.next() {
            switch item {
            case .full(let change, let decoded, let hash, let previous):
                if include(decoded) {
                    next = (change, decoded, hash, previous)
                    return
                }
                addSkip(first: change.seq, count: 1, last: hash, previous: previous, erased: false)
            case .redacted(let change, let scope, let hash, let previous):
                let isErased = erased.contains(scope)
                if entitled(scope) && !isErased { return }  // content the recipient needs is not here
                addSkip(first: change.seq, count: 1, last: hash, previous: previous, erased: isErased)
            case .skipRun(let first, let last, let lastHash, let previous, let isErased):
                // Any site may pass on a run of erased pupils' changes: nobody can send their
                // content any more.
                guard mayForwardSkips || isErased else { return }
                addSkip(first: first, count: last - first + 1, last: lastHash, previous: previous, erased: isErased)
            }
        }
    }

    private mutating func addSkip(first: UInt64, count: UInt64, last: Digest32, previous: Digest32, erased: Bool) {
        if let end = pendingSkips.indices.last, pendingSkips[end].erased == erased {
            pendingSkips[end].count += count
            pendingSkips[end].last = last
        } else {
            pendingSkips.append((first, count, last, previous, erased))
        }
    }
}

extension Store {
    /// Writes a bundle to `recipients`: for each, every change it has not acknowledged that it may
    /// see (the rest summarised as skipped), the history it lacks of pupils it may see, and what
    /// this site holds. Signed by this site; each recipient's part sealed to its key.
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
        let keys = try self.keys()
        let bundleID = UUID128.v7(milliseconds: now())
        let folder = url.deletingLastPathComponent()
        let stem = ".\(url.lastPathComponent).\(bundleID.short)"
        let fileURL = folder.appendingPathComponent("\(stem).sensync-tmp")
        let sectionURLs = recipients.indices.map { folder.appendingPathComponent("\(stem).\($0).sensync-tmp") }
        defer {
            try? FileManager.default.removeItem(at: fileURL)
            for u in sectionURLs { try? FileManager.default.removeItem(at: u) }
        }
        let today = CalendarDate.today(Date(timeIntervalSince1970: Double(now()) / 1000))
        var header = try writer.read { db -> BundleHeader in
            let sites = try SiteOrdinals(db)
            let directory = try Self.directory(in: db)
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
                        to: recipient, url: sectionURLs[i], bundleID: bundleID, view: view, db: db, sites: sites))
            }
            return BundleHeader(
                schemaVersion: RecordSchema.version, bundleID: bundleID, createdAt: now(), sender: identity,
                directoryVersion: directory?.version ?? 0,
                directory: includeDirectory ? (directory?.encoded() ?? []) : [],
                versionVector: try Self.versionVector(in: db), sections: sections)
        }
        header.formatMinor = BundleHeader.formatMinor
        var prefix = BinaryWriter(reservingCapacity: 4096)
        let headerBytes = header.encoded()
        prefix.write(contentsOf: BundleFile.magic)
        prefix.write(header.formatMajor)
        prefix.write(header.formatMinor)
        prefix.write(UInt32(headerBytes.count))
        prefix.write(contentsOf: headerBytes)
        let digest = Digest32.sha256(prefix.bytes)
        prefix.write(contentsOf: digest.bytes)
        let signature = try keys.sign(digest.bytes)
        prefix.write(UInt16(signature.count))
        prefix.write(contentsOf: signature)
        guard FileManager.default.createFile(atPath: fileURL.path, contents: Data(prefix.bytes)) else {
            throw StoreError(
                .invalidInput, "Cannot write in the folder for --out.", hint: "Check the folder exists and is writable."
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
        return BundleSummary(header: header, url: url, fileSize: UInt64(prefix.bytes.count) + header.payloadLength)
    }

    /// Writes one recipient's section and returns its header entry.
    private func writeSection(
        to recipient: PublicIdentity, url: URL, bundleID: UUID128, view: ScopeView, db: Database, sites: SiteOrdinals
    ) throws -> BundleSection {
        let site = recipient.site
        let key = SymmetricKey(size: .bits256)
        let sealedKey = try PayloadSealing.wrap(key, for: site.id, keys: recipient.keys, bundleID: bundleID)
        let out = try SectionWriter(url: url, key: key, bundleID: bundleID)
        let vv = try Self.versionVector(in: db)
        let ack = try Self.acknowledged(by: site.id, in: db)
        let mayForwardSkips = ScopePolicy.scope(of: site, isWithin: identity, directory: view.directory)
        var entitledCache: [RecordID: Bool] = [:]
        func entitled(_ pupil: RecordID) -> Bool {
            if let known = entitledCache[pupil] { return known }
            let value = (try? view.isEntitled(site, to: pupil)) ?? false
            entitledCache[pupil] = value
            return value
        }
        // Pupils who have left the recipient: it still receives the change that ended its enrolment,
        // with that change's causal past (all from when the pupil was its own), until it acknowledges it.
        var endings: [RecordID: (end: Dot, past: VersionVector)] = [:]
        for (pupil, list) in try view.leavers(of: site) {
            for ending in list {
                guard ack[ending.change.site] < ending.change.seq,
                    let decoded = try? storedChange(at: ending.change, db: db, sites: sites)?.decoded()
                else { continue }
                endings[pupil] = (ending.change, decoded.deps)
            }
        }
        func include(_ change: Change) -> Bool {
            if entitled(change.scope) || ((try? view.isErasure(change, for: site)) ?? false) { return true }
            guard let ending = endings[change.scope] else { return false }
            return change.dot == ending.end || ending.past.includes(change.dot)
        }
        let erased = try view.erased
        var cursors: [OriginCursor] = []
        for (origin, seq) in vv.entries where seq > ack[origin] {
            var cursor = OriginCursor(
                reader: try ChainReader(site: origin, from: ack[origin] + 1, db: db, sites: sites), site: origin)
            try cursor.advance(include: include, entitled: entitled, erased: erased, mayForwardSkips: mayForwardSkips)
            cursors.append(cursor)
        }
        var history = try historyLacking(
            recipient: site, view: view, ack: ack, db: db, sites: sites, entitled: entitled)
        if !endings.isEmpty {
            let peerOrd = sites.byID[site.id]
            for (pupil, ending) in endings.sorted(by: { $0.key < $1.key }) {
                var advertised = VersionVector()
                if let peerOrd {
                    for row in try Row.fetchAll(
                        db, sql: "SELECT origin_ord, seq FROM peer_scope WHERE peer_ord = ? AND pupil_id = ?",
                        arguments: [peerOrd, pupil.description])
                    {
                        advertised[try sites.site(row[0])] = UInt64(row[1] as Int64)
                    }
                }
                history += try changes(about: pupil, after: advertised, ack: ack, db: db, sites: sites)
                    .filter { ending.past.includes($0.0.dot) }
                    .map { (change: $0.0, decoded: $0.1, previous: $0.2, hlc: $0.3) }
            }
            history.sort { ($0.hlc, $0.change.site) < ($1.hlc, $1.change.site) }
        }
        // A sender that may not pass on skipped runs stops each chain at its first one (see
        // `OriginCursor`). What it holds in full beyond that point about pupils the recipient may
        // see can only travel as history, and must: its own later changes may depend on it.
        if !mayForwardSkips {
            var carried = Set(history.map(\.change.dot))
            let count = history.count
            for (origin, seq) in vv.entries where seq > ack[origin] {
                guard let ord = sites.byID[origin],
                    let stop = try Int64.fetchOne(
                        db,
                        sql:
                            "SELECT min(first_seq) FROM change_log WHERE site_ord = ? AND is_skip = \(ChainReader.skip) AND last_seq > ?",
                        arguments: [ord, Int64(ack[origin])])
                else { continue }
                var reader = try ChainReader(
                    site: origin, from: max(UInt64(stop), ack[origin] + 1), db: db, sites: sites)
                while let item = try reader.next() {
                    guard case .full(let change, let decoded, _, let previous) = item, include(decoded),
                        carried.insert(change.dot).inserted
                    else { continue }
                    history.append((change: change, decoded: decoded, previous: previous, hlc: decoded.hlc))
                }
            }
            if history.count > count { history.sort { ($0.hlc, $0.change.site) < ($1.hlc, $1.change.site) } }
        }
        var historyIndex = 0
        var origins: [OriginRange] = []
        var changeCount: UInt64 = 0
        var skippedCount: UInt64 = 0
        var tableCounts: [String: UInt64] = [:]

        func register(_ cursor: inout OriginCursor, first: UInt64, previous: Digest32) -> Int {
            if let index = cursor.index { return index }
            cursor.index = origins.count
            origins.append(
                OriginRange(
                    site: cursor.site, firstSeq: first, lastSeq: first - 1, previousHash: previous, lastHash: previous))
            return cursor.index!
        }
        func emitSkip(_ cursor: inout OriginCursor) {
            for skip in cursor.pendingSkips {
                let index = register(&cursor, first: skip.first, previous: skip.previous)
                out.pending.writeVarint(UInt64(index) << 2 | PayloadEntry.Kind.skip.rawValue)
                out.pending.writeVarint(skip.count << 1 | (skip.erased ? 1 : 0))
                out.pending.write(contentsOf: skip.last.bytes)
                origins[index].lastSeq = skip.first + skip.count - 1
                origins[index].lastHash = skip.last
                skippedCount += skip.count
            }
            cursor.pendingSkips = []
        }

        while true {
            var best: Int?
            for i in cursors.indices {
                guard let candidate = cursors[i].next else { continue }
                if let b = best, let current = cursors[b].next,
                    (current.decoded.hlc, current.change.site) <= (candidate.decoded.hlc, candidate.change.site)
                {
                    continue
                }
                best = i
            }
            let historyFirst: Bool
            if historyIndex < history.count {
                if let b = best, let chain = cursors[b].next {
                    historyFirst =
                        (history[historyIndex].hlc, history[historyIndex].change.site) < (
                            chain.decoded.hlc, chain.change.site
                        )
                } else {
                    historyFirst = true
                }
            } else {
                historyFirst = false
            }
            if historyFirst {
                let item = history[historyIndex]
                historyIndex += 1
                out.pending.writeVarint(PayloadEntry.Kind.history.rawValue)
                out.pending.write(contentsOf: item.change.site.bytes)
                out.pending.writeVarint(item.change.seq)
                out.pending.write(contentsOf: item.previous.bytes)
                out.pending.writeBytesWithLength(item.change.body)
                for op in item.decoded.ops { tableCounts[op.table, default: 0] += 1 }
            } else if let b = best, let item = cursors[b].next {
                emitSkip(&cursors[b])
                let index = register(&cursors[b], first: item.change.seq, previous: item.previous)
                out.pending.writeVarint(UInt64(index) << 2 | PayloadEntry.Kind.change.rawValue)
                out.pending.writeBytesWithLength(item.change.body)
                origins[index].lastSeq = item.change.seq
                origins[index].lastHash = item.hash
                changeCount += 1
                for op in item.decoded.ops { tableCounts[op.table, default: 0] += 1 }
                try cursors[b].advance(
                    include: include, entitled: entitled, erased: erased, mayForwardSkips: mayForwardSkips)
            } else {
                break
            }
            try out.flushIfLarge()
        }
        for i in cursors.indices { emitSkip(&cursors[i]) }
        if identity.kind != .la {
            let forgotten = try view.forgotten
            for pupil in try view.pupils(visibleTo: identity) where entitled(pupil) {
                let held = forgotten.contains(pupil) ? VersionVector() : try scopeClock(of: pupil, db: db, sites: sites)
                out.pending.writeVarint(PayloadEntry.Kind.holdings.rawValue)
                out.pending.write(contentsOf: pupil.bytes)
                out.pending.writeVarint(held.count)
                for e in held.entries {
                    out.pending.write(contentsOf: e.site.bytes)
                    out.pending.writeVarint(e.seq)
                }
                try out.flushIfLarge()
            }
        }
        let (length, plain, sha) = try out.finish()
        return BundleSection(
            recipients: [
                SealedKey(recipient: site.id, encapsulated: sealedKey.encapsulated, sealedKey: sealedKey.sealedKey)
            ],
            payloadLength: length, plainLength: plain, payloadSHA256: sha, changeCount: changeCount,
            skippedCount: skippedCount,
            historyCount: UInt64(history.count), tableCounts: tableCounts, origins: origins)
    }

    /// A change this store holds with its content, from the history table or the chain.
    func storedChange(at dot: Dot, db: Database, sites: SiteOrdinals) throws -> EncodedChange? {
        guard let ord = sites.byID[dot.site] else { return nil }
        if let body = try Data.fetchOne(
            db, sql: "SELECT body FROM loose_change WHERE site_ord = ? AND seq = ?", arguments: [ord, Int64(dot.seq)])
        {
            let change = EncodedChange(site: dot.site, seq: dot.seq, body: Array(body))
            if !change.isRedacted { return change }
        }
        var reader = try ChainReader(site: dot.site, from: dot.seq, db: db, sites: sites)
        if case .full(let change, _, _, _) = try reader.next(), change.seq == dot.seq { return change }
        return nil
    }

    private func scopeClock(of pupil: RecordID, db: Database, sites: SiteOrdinals) throws -> VersionVector {
        var clock = VersionVector()
        for row in try Row.fetchAll(
            db, sql: "SELECT site_ord, seq FROM scope_clock WHERE scope = ?", arguments: [pupil.description])
        {
            clock[try sites.site(row[0])] = UInt64(row[1] as Int64)
        }
        return clock
    }

    /// Changes about pupils `recipient` may see that it has said it lacks, and that the chain part
    /// of the bundle will not carry: a transferred pupil's earlier history, or what a stale sender
    /// summarised as out of scope. Sorted by HLC.
    private func historyLacking(
        recipient: SiteIdentity, view: ScopeView, ack: VersionVector, db: Database, sites: SiteOrdinals,
        entitled: (RecordID) -> Bool
    ) throws -> [(change: EncodedChange, decoded: Change, previous: Digest32, hlc: HLC)] {
        guard recipient.kind != .la else { return [] }  // nobody filters for the LA: it is never behind on history
        guard let peerOrd = sites.byID[recipient.id] else {
            return try allHistory(for: recipient, view: view, ack: ack, db: db, sites: sites)
        }
        var result: [(EncodedChange, Change, Digest32, HLC)] = []
        let forgotten = try view.forgotten
        for pupil in try view.pupils(visibleTo: recipient) where !forgotten.contains(pupil) {
            let held = try scopeClock(of: pupil, db: db, sites: sites)
            var advertised = VersionVector()
            for row in try Row.fetchAll(
                db, sql: "SELECT origin_ord, seq FROM peer_scope WHERE peer_ord = ? AND pupil_id = ?",
                arguments: [peerOrd, pupil.description])
            {
                advertised[try sites.site(row[0])] = UInt64(row[1] as Int64)
            }
            if held.allSatisfy({ advertised[$0.key] >= $0.value }) { continue }
            result += try changes(about: pupil, after: advertised, ack: ack, db: db, sites: sites)
        }
        return result.sorted { ($0.3, $0.0.site) < ($1.3, $1.0.site) }.map { ($0.0, $0.1, $0.2, $0.3) }
    }

    private func allHistory(
        for recipient: SiteIdentity, view: ScopeView, ack: VersionVector, db: Database, sites: SiteOrdinals
    ) throws -> [(change: EncodedChange, decoded: Change, previous: Digest32, hlc: HLC)] {
        var result: [(EncodedChange, Change, Digest32, HLC)] = []
        let forgotten = try view.forgotten
        for pupil in try view.pupils(visibleTo: recipient) where !forgotten.contains(pupil) {
            result += try changes(about: pupil, after: VersionVector(), ack: ack, db: db, sites: sites)
        }
        return result.sorted { ($0.3, $0.0.site) < ($1.3, $1.0.site) }.map { ($0.0, $0.1, $0.2, $0.3) }
    }

    /// This site's changes about `pupil` beyond `advertised` that the chain part will not carry.
    private func changes(
        about pupil: RecordID, after advertised: VersionVector, ack: VersionVector, db: Database, sites: SiteOrdinals
    ) throws -> [(EncodedChange, Change, Digest32, HLC)] {
        var result: [(EncodedChange, Change, Digest32, HLC)] = []
        for row in try Row.fetchAll(
            db, sql: "SELECT site_ord, seq FROM scope_change WHERE scope = ? ORDER BY site_ord, seq",
            arguments: [pupil.description])
        {
            let site = try sites.site(row[0])
            let seq = UInt64(row[1] as Int64)
            guard seq > advertised[site] else { continue }
            if let loose = try Row.fetchOne(
                db, sql: "SELECT prev_hash, body FROM loose_change WHERE site_ord = ? AND seq = ?",
                arguments: [row[0] as Int64, Int64(seq)])
            {
                let change = EncodedChange(site: site, seq: seq, body: Array(loose[1] as Data))
                if !change.isRedacted, let decoded = try? change.decoded() {
                    result.append((change, decoded, Digest32(Array(loose[0] as Data)) ?? .zero, decoded.hlc))
                    continue
                }
            }
            guard seq <= ack[site] else { continue }  // the chain part carries it
            var reader = try ChainReader(site: site, from: seq, db: db, sites: sites)
            if case .full(let change, let decoded, _, let previous) = try reader.next(), change.seq == seq {
                result.append((change, decoded, previous, decoded.hlc))
            }
        }
        return result
    }
}
