import Foundation

/// An academy's membership of a trust from one directory version on.
public struct TrustMembership: Hashable, Sendable {
    /// The directory version from which it holds.
    public var since: UInt64
    /// The trust, or `nil` when the academy left its trust.
    public var trust: SiteID?

    public init(since: UInt64, trust: SiteID?) {
        self.since = since
        self.trust = trust
    }
}

/// One site in the LA's directory.
///
/// The entry keeps its history: the version it was added at, every change of trust, and the
/// version it was removed at. So the latest directory answers "was this academy in that trust at
/// version v?" for every earlier version, and a change is judged against the version its author
/// held, at every store alike.
public struct DirectoryEntry: Hashable, Sendable {
    public var identity: PublicIdentity
    /// The directory version that first listed the site.
    public var addedAt: UInt64
    /// For an academy: its trust memberships, oldest first.
    public var memberships: [TrustMembership]
    /// The version that removed the site: its bundles are refused and nothing is sealed to it, but
    /// its identity is kept so changes it made earlier, relayed by others, remain attributable.
    public var revokedAt: UInt64?

    public init(
        identity: PublicIdentity, addedAt: UInt64 = 0, memberships: [TrustMembership] = [], revokedAt: UInt64? = nil
    ) {
        self.identity = identity
        self.addedAt = addedAt
        self.memberships = memberships
        self.revokedAt = revokedAt
    }

    /// An entry with one membership from `addedAt` on.
    public init(identity: PublicIdentity, trust: SiteID?, addedAt: UInt64 = 0) {
        self.init(
            identity: identity, addedAt: addedAt,
            memberships: trust.map { [TrustMembership(since: addedAt, trust: $0)] } ?? [])
    }

    public var site: SiteIdentity { identity.site }

    /// The academy's trust now.
    public var trust: SiteID? { memberships.last?.trust }

    /// The academy's trust at directory version `version`.
    public func trust(atVersion version: UInt64) -> SiteID? { memberships.last { $0.since <= version }?.trust }

    /// Whether the LA has removed the site.
    public var isRevoked: Bool { revokedAt != nil }

    /// Whether the site had been removed by directory version `version`.
    public func isRevoked(atVersion version: UInt64) -> Bool { revokedAt.map { version >= $0 } ?? false }
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
        var w = BinaryWriter(reservingCapacity: 64 + entries.count * 180)
        w.write(contentsOf: Self.tag)
        w.write(contentsOf: la.bytes)
        w.write(version)
        w.write(issuedAt)
        w.writeVarint(entries.count)
        for e in entries {
            e.identity.encode(into: &w)
            w.writeVarint(e.addedAt)
            w.writeVarint(e.revokedAt.map { $0 + 1 } ?? 0)
            w.writeVarint(e.memberships.count)
            for m in e.memberships {
                w.writeVarint(m.since)
                if let trust = m.trust {
                    w.write(UInt8(1))
                    w.write(contentsOf: trust.bytes)
                } else {
                    w.write(UInt8(0))
                }
            }
        }
        return w.bytes
    }

    private static let tag = Array("SENSync directory v2\u{0}".utf8)

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
            guard Array(try r.readBytes(tag.count)) == tag else { throw invalid }
            let laID = SiteID(unchecked: Array(try r.readBytes(16)))
            guard laID == la else { throw invalid }
            let version = try r.readUInt64()
            let issuedAt = try r.readUInt64()
            var entries: [DirectoryEntry] = []
            for _ in 0..<(try r.readCount(limit: 100_000)) {
                let identity = try PublicIdentity.decode(from: &r)
                let addedAt = try r.readVarint()
                let revoked = try r.readVarint()
                var memberships: [TrustMembership] = []
                for _ in 0..<(try r.readCount(limit: 10_000)) {
                    let since = try r.readVarint()
                    guard memberships.last.map({ $0.since < since }) ?? true else { throw invalid }
                    let flag = try r.readUInt8()
                    guard flag <= 1 else { throw invalid }
                    let trust = flag == 1 ? SiteID(unchecked: Array(try r.readBytes(16))) : nil
                    memberships.append(TrustMembership(since: since, trust: trust))
                }
                entries.append(
                    DirectoryEntry(
                        identity: identity, addedAt: addedAt, memberships: memberships,
                        revokedAt: revoked == 0 ? nil : revoked - 1))
            }
            guard r.isAtEnd else { throw invalid }
            return AreaDirectory(la: laID, version: version, issuedAt: issuedAt, entries: entries, signature: signature)
        } catch let error as SecurityError {
            throw error
        } catch {
            throw invalid
        }
    }

    /// A copy with `site` added, or its trust changed, at a higher version, signed by the LA. A
    /// site already listed keeps its history; a trust change is appended to it.
    public func adding(_ site: PublicIdentity, trust: SiteID?, keys: SiteKeys, now: UInt64) throws -> AreaDirectory {
        let next = version + 1
        var list = entries.filter { $0.identity.site.id != site.site.id }
        if var existing = entry(site.site.id) {
            existing.identity = site
            if existing.trust != trust { existing.memberships.append(TrustMembership(since: next, trust: trust)) }
            list.append(existing)
        } else {
            list.append(DirectoryEntry(identity: site, trust: trust, addedAt: next))
        }
        return try AreaDirectory(la: la, version: next, issuedAt: now, entries: list).signed(with: keys)
    }

    /// A copy with `site` revoked, a higher version, signed by the LA.
    public func removing(_ site: SiteID, keys: SiteKeys, now: UInt64) throws -> AreaDirectory {
        let next = version + 1
        let list = entries.map { e in
            var e = e
            if e.identity.site.id == site, e.revokedAt == nil { e.revokedAt = next }
            return e
        }
        return try AreaDirectory(la: la, version: next, issuedAt: now, entries: list).signed(with: keys)
    }

    /// This directory signed with the LA's keys.
    public func signed(with keys: SiteKeys) throws -> AreaDirectory {
        var copy = self
        copy.signature = try keys.sign(signedBytes())
        return copy
    }
}
