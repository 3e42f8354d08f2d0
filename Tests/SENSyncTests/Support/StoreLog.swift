import Foundation
import GRDB
import Testing

@testable import SENSync

// MARK: - Reading a store's log

/// One change a store holds with its content, read back from its log.
struct StoredChange {
    var change: EncodedChange
    var decoded: Change
    /// The chain hash of the site's previous change.
    var previousHash: Digest32
    /// This change's chain hash.
    var hash: Digest32
    /// Held outside its site's chain order (`loose_change`): part of a pupil's history.
    var isHistory: Bool
    /// Kept in the log but not merged (`rejected_change`).
    var isRejected: Bool

    var dot: Dot { change.dot }
}

extension Store {
    /// Every change this store holds with its content — its chains in `change_log` (runs held only
    /// as skipped, and redacted bodies, left out) and its history in `loose_change` — in
    /// `(HLC, site)` order, which is a causal order. No bundle is involved.
    func storedChanges() throws -> [StoredChange] {
        try writer.read { db in
            let sites = try SiteOrdinals(db)
            var rejected: Set<Dot> = []
            for row in try Row.fetchAll(db, sql: "SELECT site_ord, seq FROM rejected_change") {
                rejected.insert(Dot(site: try sites.site(row[0]), seq: UInt64(row[1] as Int64)))
            }
            var byDot: [Dot: StoredChange] = [:]
            for (site, _) in try Self.versionVector(in: db).entries {
                var reader = try ChainReader(site: site, from: 1, db: db, sites: sites)
                while let item = try reader.next() {
                    guard case .full(let change, let decoded, let hash, let previous) = item else { continue }
                    byDot[change.dot] = StoredChange(
                        change: change, decoded: decoded, previousHash: previous, hash: hash, isHistory: false,
                        isRejected: rejected.contains(change.dot))
                }
            }
            for row in try Row.fetchAll(db, sql: "SELECT site_ord, seq, prev_hash, hash, body FROM loose_change") {
                let change = EncodedChange(
                    site: try sites.site(row[0]), seq: UInt64(row[1] as Int64), body: Array(row[4] as Data))
                guard !change.isRedacted, byDot[change.dot] == nil else { continue }
                byDot[change.dot] = StoredChange(
                    change: change, decoded: try change.decoded(),
                    previousHash: try #require(Digest32(Array(row[2] as Data))),
                    hash: try #require(Digest32(Array(row[3] as Data))), isHistory: true,
                    isRejected: rejected.contains(change.dot))
            }
            return byDot.values.sorted { ($0.decoded.hlc, $0.change.site) < ($1.decoded.hlc, $1.change.site) }
        }
    }

    /// The pupils this store holds any record of (deleted ones included).
    func heldPupils() throws -> Set<RecordID> {
        try writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT pupil_id FROM pupil").compactMap(RecordID.init))
        }
    }
}

// MARK: - A reference replica fed what a store holds

extension MemoryReplica {
    /// A memory replica fed exactly `changes`, in order, the way a scoped store holds them: runs of
    /// a site's chain that are missing (held only as skipped) are stepped over, history changes are
    /// applied outside chain order, and rejected changes move the chain without being merged.
    ///
    /// Comparing a store's digest and conflicts with this replica's checks that the store keeps
    /// exactly the merge state of the changes it holds, whatever route they came by.
    static func replaying(_ changes: [StoredChange], as site: SiteID) throws -> MemoryReplica {
        var replica = MemoryReplica(site: site)
        // No clock guard: the changes were accepted once already.
        let applier = ChangeApplier(clockGuardMilliseconds: UInt64.max / 2, now: 0)
        for item in changes {
            let site = item.change.site
            if !item.isHistory, replica.chainHead(of: site).seq + 1 < item.change.seq {
                replica.setChainHead(ChainHead(seq: item.change.seq - 1, hash: item.previousHash), of: site)
            }
            if item.isRejected {
                if !item.isHistory { replica.setChainHead(ChainHead(seq: item.change.seq, hash: item.hash), of: site) }
                var clock = replica.scopeClock(of: item.decoded.scope)
                clock.advance(to: item.dot)
                replica.setScopeClock(clock, of: item.decoded.scope)
            } else if item.isHistory {
                let decoded = try applier.checkHistory(item.change, in: &replica)
                try applier.applyHistory(
                    decoded, encoded: item.change, previousHash: item.previousHash, hash: item.hash, to: &replica)
            } else {
                try applier.apply(item.change, to: &replica)
            }
        }
        return replica
    }

    /// Open conflicts as comparable strings: record, field, kind, and the dots of every candidate.
    var conflictLines: [String] {
        openConflicts.map {
            "\($0.key) \($0.conflict.field) \($0.conflict.kind) \(([$0.conflict.winner] + $0.conflict.losers).map(\.dot))"
        }
        .sorted()
    }
}

extension Store {
    /// Open conflicts in the form of ``MemoryReplica/conflictLines``.
    var conflictLines: [String] {
        get throws {
            try conflicts().map {
                "\($0.key) \($0.field) \($0.kind) \($0.candidates.map { Dot(site: $0.site, seq: $0.seq) })"
            }.sorted()
        }
    }
}

// MARK: - Reading and rewriting bundle files

/// Every entry of the section of a bundle that `recipient` can open, in payload order, as stored
/// changes (skips and holdings left out), so a memory replica can be fed a bundle's content.
func storedChanges(inBundleAt url: URL, openedBy recipient: Store) throws -> [StoredChange] {
    let opened = try recipient.openBundle(at: url)
    var result: [StoredChange] = []
    try BundleFile.streamSection(at: url, layout: opened.layout, section: opened.section, key: opened.key) { entry in
        switch entry {
        case .change(_, let change, let hash, let previous):
            result.append(
                StoredChange(
                    change: change, decoded: try change.decoded(), previousHash: previous, hash: hash, isHistory: false,
                    isRejected: false))
        case .history(let change, let previous, let hash):
            result.append(
                StoredChange(
                    change: change, decoded: try change.decoded(), previousHash: previous, hash: hash, isHistory: true,
                    isRejected: false))
        case .skip, .holdings: break
        }
    }
    return result
}

/// Writes a copy of the bundle at `url` to `out` with its header changed by `change`, keeping its
/// payloads. The header checksum is recomputed; the copy is signed with `signer` (the sender's
/// keys, for a bundle that should still verify), or keeps the original signature when `signer`
/// is `nil` (an altered bundle). `major` overrides the format major version in the preamble.
func rewriteBundleHeader(
    of url: URL, to out: URL, signer: SiteKeys?, major: UInt16? = nil, _ change: (inout BundleHeader) -> Void = { _ in }
) throws {
    let layout = try BundleFile.readLayout(at: url)
    var header = layout.header
    change(&header)
    let bytes = [UInt8](try Data(contentsOf: url))
    let payloads = bytes[Int(layout.payloadOffset)...]
    var w = BinaryWriter()
    let headerBytes = header.encoded()
    w.write(contentsOf: BundleFile.magic)
    w.write(major ?? header.formatMajor)
    w.write(header.formatMinor)
    w.write(UInt32(headerBytes.count))
    w.write(contentsOf: headerBytes)
    let digest = Digest32.sha256(w.bytes)
    w.write(contentsOf: digest.bytes)
    let signature = try signer.map { try $0.sign(digest.bytes) } ?? layout.signature
    w.write(UInt16(signature.count))
    w.write(contentsOf: signature)
    try Data(w.bytes + payloads).write(to: out)
}
