import Foundation
import GRDB
import Testing

@testable import SENSync

// MARK: - Reading a store's log

/// One change a store holds (with its content, or only its header), read back from its log.
struct StoredChange {
    var change: EncodedChange
    var header: ChangeHeader
    /// Kept in the log but not merged (`rejected_change`).
    var isRejected: Bool

    var dot: Dot { change.dot }
    /// The decoded change; only for one held with content.
    var decoded: Change {
        get throws { try change.decoded() }
    }
}

extension Store {
    /// Every change this store holds — with content or, for erased and passed-on pupils, only its
    /// header — in `(HLC, site)` order, which is a causal order. No bundle is involved.
    func storedChanges(includingRedacted: Bool = true) throws -> [StoredChange] {
        try writer.read { db in
            let sites = try SiteOrdinals(db)
            var rejected: Set<Dot> = []
            for row in try Row.fetchAll(db, sql: "SELECT site_ord, seq FROM rejected_change") {
                rejected.insert(Dot(site: try sites.site(row[0]), seq: UInt64(row[1] as Int64)))
            }
            var result: [StoredChange] = []
            for row in try Row.fetchAll(db, sql: "SELECT site_ord, first_seq, changes FROM change_log") {
                let log = try StoreTransaction.decodeRow(
                    site: try sites.site(row[0]), first: UInt64(row[1] as Int64), bytes: Array(row[2] as Data))
                for change in log.entries where includingRedacted || !change.isRedacted {
                    result.append(
                        StoredChange(
                            change: change, header: try change.decodedHeader(),
                            isRejected: rejected.contains(change.dot)))
                }
            }
            return result.sorted { ($0.header.hlc, $0.change.site) < ($1.header.hlc, $1.change.site) }
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
    /// A memory replica fed exactly `changes`, in order, the way a store holds them: changes
    /// without content are held as headers, rejected changes are held without being merged.
    ///
    /// Comparing a store's digest and conflicts with this replica's checks that the store keeps
    /// exactly the merge state of the changes it holds, whatever route they came by.
    static func replaying(_ changes: [StoredChange], as site: SiteID) throws -> MemoryReplica {
        var replica = MemoryReplica(site: site)
        // No clock guard: the changes were accepted once already.
        let applier = ChangeApplier(clockGuardMilliseconds: UInt64.max / 2, now: 0)
        for item in changes {
            if item.isRejected || item.change.isRedacted {
                replica.storeChange(
                    item.change, header: item.header, replacing: false, rejection: item.isRejected ? "rejected" : nil)
                if !item.change.isRedacted {
                    var clock = replica.scopeClock(of: item.header.scope)
                    clock.advance(to: item.dot)
                    replica.setScopeClock(clock, of: item.header.scope)
                }
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

/// Every change in the section of a bundle that `recipient` can open, in payload order, as stored
/// changes, so a memory replica can be fed a bundle's content.
func storedChanges(inBundleAt url: URL, openedBy recipient: Store) throws -> [StoredChange] {
    try changes(inBundleAt: url, openedBy: recipient).map {
        StoredChange(change: $0, header: try $0.decodedHeader(), isRejected: false)
    }
}

/// Writes a copy of the bundle at `url` to `out` with its header changed by `change`, keeping its
/// payloads. The header checksum is recomputed; the copy is signed with `signer` (the sender's
/// keys, for a bundle that should still verify), or keeps the original signature when `signer`
/// is `nil` (an altered bundle). `major` overrides the format major version in the preamble.
func rewriteBundleHeader(
    of url: URL, to out: URL, signer: SiteKeys?, major: UInt16? = nil, _ change: (inout BundleHeader) -> Void = { _ in }
) throws {
    try rewriteBundleHeader(of: url, to: out, signer: signer, major: major, change: change, encoding: nil)
}

/// ``rewriteBundleHeader(of:to:signer:major:_:)`` whose `encoding` then rewrites the encoded
/// header's bytes: a header no ``BundleHeader`` can encode.
func rewriteBundleHeader(
    of url: URL, to out: URL, signer: SiteKeys?, major: UInt16? = nil, change: (inout BundleHeader) -> Void,
    encoding: (([UInt8]) -> [UInt8])?
) throws {
    let layout = try BundleFile.readLayout(at: url)
    var header = layout.header
    change(&header)
    let bytes = [UInt8](try Data(contentsOf: url))
    let payloads = bytes[Int(layout.payloadOffset)...]
    if let major { header.formatMajor = major }
    let prefix: [UInt8]
    if let signer {
        prefix = try BundleFile.signedPrefix(
            header: header, keys: signer, headerBytes: encoding.map { $0(header.encoded()) })
    } else {
        // Keep the original signature over a header that has changed (an altered bundle).
        let resigned = try BundleFile.signedPrefix(header: header, keys: SiteKeys.generate())
        prefix = Array(resigned.dropLast(64)) + layout.signature
    }
    try Data(prefix + payloads).write(to: out)
}
