import Foundation

/// One site in the LA's directory.
public struct DirectoryEntry: Hashable, Sendable {
    public var identity: PublicIdentity
    /// For an academy: the trust it belongs to.
    public var trust: SiteID?
    /// Removed by the LA: its bundles are refused and nothing is sealed to it, but its identity is
    /// kept so changes it made earlier, relayed by others, remain attributable.
    public var isRevoked: Bool

    public init(identity: PublicIdentity, trust: SiteID? = nil, isRevoked: Bool = false) {
        self.identity = identity
        self.trust = trust
        self.isRevoked = isRevoked
    }

    public var site: SiteIdentity { identity.site }
}

/// The LA's signed list of the sites in its area: ids, names, kinds, URNs, LA codes, trust
/// membership and public keys.
///
/// Sites pin the LA's identity at set-up and accept a directory only with the LA's signature and a
/// higher version than the one they hold. Directories travel inside bundles.
public struct AreaDirectory: Hashable, Sendable {
    /// The LA that signs it.
    public var la: SiteID
    /// Increases with every change.
    public var version: UInt64
    /// When it was signed (Unix milliseconds).
    public var issuedAt: UInt64
    /// Sorted by site id; includes the LA itself.
    public private(set) var entries: [DirectoryEntry]
    public var signature: [UInt8]

    public init(la: SiteID, version: UInt64, issuedAt: UInt64, entries: [DirectoryEntry], signature: [UInt8] = []) {
        self.la = la
        self.version = version
        self.issuedAt = issuedAt
        self.entries = entries.sorted { $0.identity.site.id < $1.identity.site.id }
        self.signature = signature
    }

    /// The entry for `site`, if listed (revoked entries included).
    public func entry(_ site: SiteID) -> DirectoryEntry? { entries.first { $0.identity.site.id == site } }

    /// The entry for `site` if it is listed and not revoked: a site that may send and receive bundles.
    public func activeEntry(_ site: SiteID) -> DirectoryEntry? { entry(site).flatMap { $0.isRevoked ? nil : $0 } }

    /// The academies whose trust is `trust`.
    public func academies(of trust: SiteID) -> [SiteID] {
        entries.filter { $0.trust == trust }.map(\.identity.site.id)
    }

    /// What the signature covers.
    func signedBytes() -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 64 + entries.count * 160)
        w.write(contentsOf: Array("SENSync directory v1\u{0}".utf8))
        w.write(contentsOf: la.bytes)
        w.write(version)
        w.write(issuedAt)
        w.writeVarint(entries.count)
        for e in entries {
            e.identity.encode(into: &w)
            // Flags: 1 = a trust follows; 2 = revoked.
            w.write(UInt8((e.trust != nil ? 1 : 0) | (e.isRevoked ? 2 : 0)))
            if let trust = e.trust { w.write(contentsOf: trust.bytes) }
        }
        return w.bytes
    }

    /// The complete encoding: signed bytes then the signature.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.writeBytesWithLength(signedBytes())
        w.writeBytesWithLength(signature)
        return w.bytes
    }

    /// Decodes and checks the signature against the LA's pinned public key.
    public static func decode(_ bytes: [UInt8], verifiedBy laKeys: PublicKeys, la: SiteID) throws -> AreaDirectory {
        let invalid = SecurityError(
            .directoryInvalid, "The area directory in this bundle is not signed by your LA.",
            hint: "Nothing was applied. Check the LA identity this site pinned at set-up.")
        var outer = BinaryReader(bytes)
        guard let signed = try? outer.readBytesWithLength(limit: 16 << 20),
            let signature = try? outer.readBytesWithLength(limit: 128),
            outer.isAtEnd, laKeys.isValidSignature(signature, for: signed)
        else { throw invalid }
        var r = BinaryReader(signed)
        do {
            guard Array(try r.readBytes(21)) == Array("SENSync directory v1\u{0}".utf8) else { throw invalid }
            let laID = SiteID(unchecked: Array(try r.readBytes(16)))
            guard laID == la else { throw invalid }
            let version = try r.readUInt64()
            let issuedAt = try r.readUInt64()
            var entries: [DirectoryEntry] = []
            for _ in 0..<(try r.readCount(limit: 100_000)) {
                let identity = try PublicIdentity.decode(from: &r)
                let flags = try r.readUInt8()
                guard flags & ~3 == 0 else { throw invalid }
                let trust = flags & 1 != 0 ? SiteID(unchecked: Array(try r.readBytes(16))) : nil
                entries.append(DirectoryEntry(identity: identity, trust: trust, isRevoked: flags & 2 != 0))
            }
            guard r.isAtEnd else { throw invalid }
            return AreaDirectory(la: laID, version: version, issuedAt: issuedAt, entries: entries, signature: signature)
        } catch let error as SecurityError {
            throw error
        } catch {
            throw invalid
        }
    }

    /// A copy with `entry` added or replaced, a higher version, signed by the LA.
    public func adding(_ entry: DirectoryEntry, keys: SiteKeys, now: UInt64) throws -> AreaDirectory {
        var list = entries.filter { $0.identity.site.id != entry.identity.site.id }
        list.append(entry)
        return try AreaDirectory(la: la, version: version + 1, issuedAt: now, entries: list).signed(with: keys)
    }

    /// A copy with `site` revoked, a higher version, signed by the LA.
    public func removing(_ site: SiteID, keys: SiteKeys, now: UInt64) throws -> AreaDirectory {
        let list = entries.map { e in
            e.identity.site.id == site ? DirectoryEntry(identity: e.identity, trust: e.trust, isRevoked: true) : e
        }
        return try AreaDirectory(la: la, version: version + 1, issuedAt: now, entries: list).signed(with: keys)
    }

    /// This directory signed with the LA's keys.
    public func signed(with keys: SiteKeys) throws -> AreaDirectory {
        var copy = self
        copy.signature = try keys.sign(signedBytes())
        return copy
    }
}
