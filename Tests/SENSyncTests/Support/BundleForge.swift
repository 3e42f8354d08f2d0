import Crypto
import Foundation
import GRDB

@testable import SENSync

/// Builds a bundle with whatever content it is given, signed and sealed with the keys it is given:
/// what an attacker holding one site's key can make. The file is well formed, so a store's
/// defences beyond the format (signatures, origin checkpoints, proofs, carrier and entitlement
/// rules) are what must refuse it.
struct BundleForge {
    enum Entry {
        case checkpoint(Checkpoint, isComplete: Bool)
        case change(EncodedChange, checkpoint: Int, path: [Digest32]?)
        case holdings(RecordID, VersionVector)
    }

    var sender: SiteIdentity
    var senderKeys: SiteKeys
    var directoryVersion: UInt64 = 0
    var versionVector = VersionVector()
    var entries: [Entry] = []
    /// Overrides the counts written in the header (a lying header); `nil` counts the entries.
    var counts: (checkpoints: UInt64, changes: UInt64, redacted: UInt64, holdings: UInt64)?

    init(sender: SiteIdentity, keys: SiteKeys) {
        self.sender = sender
        self.senderKeys = keys
    }

    /// The plaintext payload, coded as a sending store codes it.
    func plaintext() -> [UInt8] {
        var w = BinaryWriter()
        var coding = PayloadCodingState()
        w.write(BundleFile.payloadVersion)
        for entry in entries {
            switch entry {
            case .checkpoint(let checkpoint, let isComplete):
                coding.writeCheckpoint(checkpoint, isComplete: isComplete, into: &w)
            case .change(let change, let index, let path):
                // Any header bytes, as given: a forger need not write canonical ones.
                w.writeVarint(PayloadEntry.Kind.change.rawValue)
                w.writeVarint(UInt64(index))
                coding.writeSeq(change.seq, of: change.site, into: &w)
                if let path {
                    w.writeVarint(path.count)
                    for hash in path { w.write(contentsOf: hash.bytes) }
                }
                guard let header = try? change.decodedHeader() else {
                    preconditionFailure("a forged change's header must decode to be coded in a payload")
                }
                coding.writeHeaderAndContent(change, header: header, into: &w)
            case .holdings(let pupil, let held):
                coding.writeHoldings(pupil: pupil, held, passedOn: false, into: &w)
            }
        }
        return w.bytes
    }

    /// Writes the bundle, sealed to `recipient` from the sender's keys, with `plain` as its
    /// payload (the entries' plaintext unless given).
    func write(to recipient: PublicIdentity, at url: URL, plain: [UInt8]? = nil) throws {
        let bundleID = UUID128.v7(milliseconds: baseMilliseconds)
        let payloadPlain = plain ?? plaintext()
        let key = SymmetricKey(size: .bits256)
        var sealer = PayloadSealing.Sealer(key: key, bundleID: bundleID)
        var sealed: [UInt8] = []
        let deflater = try ZlibDeflater()
        try deflater.compress(payloadPlain) { try sealer.seal($0) { sealed += $0 } }
        try deflater.finish { try sealer.seal($0) { sealed += $0 } }
        try sealer.finish { sealed += $0 }
        let sha = Digest32.sha256(sealed)
        let wrapped = try PayloadSealing.wrap(
            key, to: recipient.keys, from: senderKeys,
            binding: PayloadSealing.Binding(
                bundleID: bundleID, sender: sender.id, recipient: recipient.site.id,
                payloadLength: UInt64(sealed.count), plainLength: UInt64(payloadPlain.count), payloadSHA256: sha))
        var checkpoints: UInt64 = 0
        var changes: UInt64 = 0
        var redacted: UInt64 = 0
        var holdings: UInt64 = 0
        for entry in entries {
            switch entry {
            case .checkpoint: checkpoints += 1
            case .change(let change, _, _): if change.isRedacted { redacted += 1 } else { changes += 1 }
            case .holdings: holdings += 1
            }
        }
        if let counts { (checkpoints, changes, redacted, holdings) = counts }
        let header = BundleHeader(
            schemaVersion: RecordSchema.version, bundleID: bundleID, createdAt: baseMilliseconds, sender: sender,
            directoryVersion: directoryVersion, directory: [], versionVector: versionVector,
            sections: [
                BundleSection(
                    recipient: recipient.site.id, encapsulated: wrapped.encapsulated, sealedKey: wrapped.sealedKey,
                    payloadLength: UInt64(sealed.count), plainLength: UInt64(payloadPlain.count), payloadSHA256: sha,
                    checkpointCount: checkpoints, changeCount: changes, redactedCount: redacted,
                    holdingsCount: holdings, origins: [:], tableCounts: [:])
            ])
        try Self.writeFile(header: header, payload: sealed, keys: senderKeys, to: url)
    }

    /// Writes preamble, header, digest, signature and payload.
    static func writeFile(
        header: BundleHeader, payload: [UInt8], keys: SiteKeys, to url: URL, headerBytes: [UInt8]? = nil
    ) throws {
        let prefix = try BundleFile.signedPrefix(header: header, keys: keys, headerBytes: headerBytes)
        try Data(prefix + payload).write(to: url)
    }
}

extension Store {
    /// The changes this store holds of `site` with sequence numbers in `range`, in order.
    func heldChanges(of site: SiteID, in range: ClosedRange<UInt64>) throws -> [EncodedChange] {
        try writer.read { db in
            var tx = try StoreTransaction(db)
            return try range.compactMap { try tx.heldChange(Dot(site: site, seq: $0)) }
        }
    }

    /// The checkpoints this store holds of `site`.
    func heldCheckpoints(of site: SiteID) throws -> [Checkpoint] {
        try writer.read { db in try Self.checkpoints(of: site, db: db, sites: try SiteOrdinals(db)) }
    }

    /// Whether the site table registers `site` as a peer.
    func isPeer(_ site: SiteID) throws -> Bool {
        try writer.read { db in
            try Bool.fetchOne(db, sql: "SELECT is_peer FROM site WHERE site_id = ?", arguments: [site.description])
                ?? false
        }
    }

    /// Every row of the `site` table, as text: what a refused bundle must not change.
    func siteRows() throws -> [String] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM site ORDER BY ord").map { "\($0)" }
        }
    }
}
