import Foundation
import SENSync

/// The golden bundle fixture's area (`Tests/SENSyncTests/Fixtures/golden-v3.bundle`): the same
/// sites and the same fixed keys, derived from a byte of each site's id. TEST ONLY: anyone can
/// read these keys here, so they protect nothing; they let the harness open and re-sign what the
/// fixture's sites made.
enum FixtureArea {
    static let academy = SiteIdentity(
        id: fixedID(0x0A, tail: 0xA0), name: "Golden Academy", kind: .academy, urn: "100001", laCode: "801")
    static let la = SiteIdentity(id: fixedID(0x0B, tail: 0xB0), name: "Golden LA", kind: .la, laCode: "801")
    static let trust = SiteIdentity(id: fixedID(0x0C, tail: 0xC0), name: "Golden Trust", kind: .trust)
    static let school = SiteIdentity(
        id: fixedID(0x0D, tail: 0xD0), name: "Golden School", kind: .maintainedSchool, urn: "100002", laCode: "801")
    static let sites = [academy, la, trust, school]

    /// When the fixture was made (its header's `createdAt`), plus an hour: the recipient's clock.
    static let now: UInt64 = 1_767_603_656_000 + 3_600_000

    static func fixedID(_ lead: UInt8, tail: UInt8) -> SiteID {
        guard let id = SiteID(bytes: [lead] + Array(repeating: tail, count: 15)) else {
            preconditionFailure("a fixed site id is 16 bytes")
        }
        return id
    }

    static func keys(_ site: SiteIdentity) -> SiteKeys {
        let lead = site.id.bytes[0]
        do {
            return try SiteKeys(
                signingRaw: (0..<32).map { UInt8(truncatingIfNeeded: Int(lead) &* 31 &+ $0 &* 7 &+ 1) },
                agreementRaw: (0..<32).map { UInt8(truncatingIfNeeded: Int(lead) &* 17 &+ $0 &* 13 &+ 5) })
        } catch {
            preconditionFailure("the fixture's keys are 32 bytes each")
        }
    }

    static let laKeys = keys(la)

    static func publicIdentity(_ site: SiteIdentity) -> PublicIdentity {
        PublicIdentity(site: site, keys: keys(site).publicKeys)
    }

    static let originKeys: [SiteID: PublicKeys] = Dictionary(
        uniqueKeysWithValues: sites.map { ($0.id, keys($0).publicKeys) })

    /// The trust's store: a recipient of the fixture, pinned to its LA, made once. The bundle
    /// target only verifies (applies and rolls back), so it never changes.
    static let recipientStore: Store = {
        do {
            return try Store.inMemory(identity: trust, la: publicIdentity(la), keys: keys(trust), now: { now })
        } catch {
            preconditionFailure("the fixture recipient's store could not be made: \(error)")
        }
    }()

    /// The trust's section of the fixture, as far as the payload parser reads it (its counts).
    static let payloadSection = BundleSection(
        recipient: trust.id, encapsulated: Array(repeating: 0, count: 32), sealedKey: Array(repeating: 0, count: 48),
        payloadLength: 1056, plainLength: 1516, payloadSHA256: Digest32.sha256([UInt8]()), checkpointCount: 3,
        changeCount: 8, redactedCount: 0, holdingsCount: 1, origins: [:], tableCounts: [:])

    /// `bytes` with the bundle header's checksum repaired and the digest signed again with the LA's
    /// key, where the preamble's lengths allow; otherwise unchanged.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 20 else { return bytes }
        let headerLength = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let digestEnd = 20 + headerLength + 32
        guard digestEnd <= bytes.count else { return bytes }
        var out = bytes
        let digest = Digest32.sha256(bytes[0..<(20 + headerLength)])
        out.replaceSubrange((20 + headerLength)..<digestEnd, with: digest.bytes)
        let signatureEnd = digestEnd + 2 + 64
        guard signatureEnd <= bytes.count, bytes[digestEnd] == 0, bytes[digestEnd + 1] == 64,
            let signature = try? laKeys.sign(digest.bytes), signature.count == 64
        else { return out }
        out.replaceSubrange((digestEnd + 2)..<signatureEnd, with: signature)
        return out
    }
}
