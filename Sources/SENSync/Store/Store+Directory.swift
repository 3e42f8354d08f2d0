import Foundation
import GRDB

extension Store {
    // MARK: The pinned LA

    /// The LA whose signed directory this site accepts (the LA itself, at an LA).
    public func pinnedLA() throws -> PublicIdentity? {
        if identity.kind == .la { return publicIdentity }
        return try writer.read { db in try Self.pinnedLA(in: db) }
    }

    static func pinnedLA(in db: Database) throws -> PublicIdentity? {
        guard let data = try Data.fetchOne(try db.cachedStatement(sql: "SELECT la_identity FROM site_identity")) else {
            return nil
        }
        var r = BinaryReader(Array(data))
        return try? PublicIdentity.decode(from: &r)
    }

    static func savePinnedLA(_ la: PublicIdentity, in db: Database) throws {
        var w = BinaryWriter()
        la.encode(into: &w)
        try db.cachedStatement(
            sql: "UPDATE site_identity SET la_site_id = ?, la_identity = ?"
        ).execute(
            arguments: [la.site.id.description, Data(w.bytes)])
        try db.cachedStatement(
            sql: """
                INSERT INTO site (site_id, name, kind, is_peer) VALUES (?, ?, ?, 0)
                ON CONFLICT (site_id) DO UPDATE SET name = excluded.name, kind = excluded.kind
                """
        ).execute(arguments: [la.site.id.description, la.site.name, la.site.kind.rawValue])
    }

    /// Pins the LA's identity (confirm its fingerprint with the LA first). A site pins one LA,
    /// once.
    public func pinLA(_ la: PublicIdentity) throws {
        guard identity.kind != .la else {
            throw StoreError(
                .invalidInput, "An LA does not pin another LA's identity.",
                hint: "Schools, academies and trusts pin their LA's identity; an LA is the one they pin.")
        }
        guard la.site.kind == .la else {
            throw StoreError(
                .invalidInput, "That identity is not an LA's.", hint: "Use the identity file your LA exported.")
        }
        // As at `init --la-identity`: an LA whose code is not this site's would refuse to list it.
        if let code = identity.laCode, let laCode = la.site.laCode, code != laCode {
            throw StoreError(
                .invalidInput,
                "This site was made with LA code \(code), but that LA's code is \(laCode): it would not list this site.",
                hint:
                    "Check you were given your own LA's identity file; if this site's LA code is wrong, make the store again with `sensync init --la-identity`."
            )
        }
        try writer.write { db in
            if let pinned = try Self.pinnedLA(in: db) {
                guard pinned == la else {
                    throw StoreError(
                        .invalidInput, "This site has already pinned a different LA identity.",
                        hint: "A site belongs to one LA; make a new store to move.")
                }
                return
            }
            try Self.savePinnedLA(la, in: db)
        }
    }

    // MARK: The directory

    /// The newest directory this site holds.
    public func directory() throws -> AreaDirectory? {
        try reading { db in try Self.directory(in: db) }
    }

    static func directory(in db: Database) throws -> AreaDirectory? {
        guard let row = try Row.fetchOne(try db.cachedStatement(sql: "SELECT encoded FROM directory")),
            let la = try pinnedLAOrSelf(in: db)
        else { return nil }
        let encoded = row[0] as Data
        return VerifiedDirectories.shared.directory(encoded: encoded, la: la) {
            try? AreaDirectory.decode(Array(encoded), verifiedBy: la.keys, la: la.site.id)
        }
    }

    static func pinnedLAOrSelf(in db: Database) throws -> PublicIdentity? {
        guard
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT site_id, name, kind, urn, la_code, signing_key, agreement_key FROM site_identity"))
        else { return nil }
        if (row[2] as String) == SiteKind.la.rawValue, let id = SiteID(row[0] as String) {
            return PublicIdentity(
                site: SiteIdentity(id: id, name: row[1], kind: .la, urn: row[3], laCode: row[4]),
                keys: PublicKeys(signing: Array(row[5] as Data), agreement: Array(row[6] as Data)))
        }
        return try pinnedLA(in: db)
    }

    /// Stores `directory` (already verified) and records its sites' names and kinds.
    static func saveDirectory(_ directory: AreaDirectory, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO directory (singleton, version, encoded) VALUES (1, ?, ?)
                ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, encoded = excluded.encoded
                """
        ).execute(arguments: [Int64(directory.version), Data(directory.encoded())])
        for entry in directory.entries {
            try db.cachedStatement(
                sql: """
                    INSERT INTO site (site_id, name, kind) VALUES (?, ?, ?)
                    ON CONFLICT (site_id) DO UPDATE SET name = excluded.name, kind = excluded.kind
                    """
            ).execute(arguments: [entry.site.id.description, entry.site.name, entry.site.kind.rawValue])
        }
    }

    /// Adds (or updates) a site in the LA's directory, signing a new version. LA only.
    ///
    /// - Parameter trust: For an academy, the trust it belongs to (which must already be listed).
    @discardableResult
    public func addToDirectory(_ site: PublicIdentity, trust: SiteID? = nil) throws -> AreaDirectory {
        try addToDirectory(site, trust: trust, replacing: nil)
    }

    /// ``addToDirectory(_:trust:)``; `replacing` is a listed site `site` is about to replace
    /// (a rejoin), whose name it may share.
    @discardableResult
    func addToDirectory(_ site: PublicIdentity, trust: SiteID?, replacing: SiteID?) throws -> AreaDirectory {
        guard identity.kind == .la else {
            throw StoreError(
                .invalidInput, "Only the LA keeps the area directory.", hint: "Send your identity file to your LA.")
        }
        guard site.site.kind != .la || site.site.id == identity.id else {
            throw StoreError(
                .invalidInput, "The directory lists one LA: this one. That identity file is another LA's.",
                hint:
                    "Add the schools, academies and trusts of this LA's area; a site of another LA joins through that LA's directory."
            )
        }
        // What `init` checks of a site, checked again of its file: a file edited by hand (or made
        // by another program) gave a name of line breaks, escapes or a kilobyte, and a name the
        // directory's own reader refuses left the LA without a directory.
        // One refusal, whatever the detail: `init`'s own hints name its options, which a file has
        // none of.
        let valid: Bool
        do {
            try Self.validate(site.site, la: nil)
            valid = try Check.text(site.site.name, "site name", max: 100) == site.site.name
        } catch is StoreError {
            valid = false
        }
        guard valid else {
            throw StoreError(
                .invalidInput,
                "That identity file's site details are not ones a store can have (a name too long, padded, empty or holding characters that cannot be recorded; or a URN or LA code that is not one).",
                hint: "Ask the site for its identity file again (`sensync identity export`), made by SENSync.")
        }
        if let code = site.site.laCode, let mine = identity.laCode, code != mine {
            throw StoreError(
                .invalidInput, "That site gives another LA's code (\(code)); this LA's is \(mine).",
                hint: "Ask the site to make its store again with --la-code \(mine) (or none), pinned to this LA.")
        }
        let keys = try keys()
        return try writingDirectory { db in
            guard let current = try Self.directory(in: db) else {
                throw StoreError(
                    .database, "The LA's directory is missing.",
                    hint:
                        "The store may be damaged: run `sensync audit verify`, and restore it from a backup if it fails."
                )
            }
            if let existing = current.entry(site.site.id) {
                guard existing.identity.keys == site.keys, existing.site.kind == site.site.kind else {
                    throw StoreError(
                        .invalidInput, "The directory already lists that site with other keys or another kind.",
                        hint: "A site whose keys changed joins as a new site: remove the old one first.")
                }
                guard !existing.isRevoked else {
                    throw StoreError(
                        .invalidInput, "That site was removed from the directory and cannot be added again.",
                        hint: "Initialise a new store for it and add that.")
                }
            }
            // The same identity in the same trust again (an identity file added twice): nothing
            // changes, and no new version goes out to every site.
            if let existing = current.activeEntry(site.site.id), existing.identity == site, existing.trust == trust {
                return current
            }
            // Sites are named, not numbered, wherever people see them (`--to`, reports, status):
            // two active sites of one name could not be told apart.
            let name = site.site.name.lowercased()
            if let namesake = current.entries.first(where: {
                !$0.isRevoked && $0.site.id != site.site.id && $0.site.id != replacing
                    && $0.site.name.lowercased() == name
            }) {
                throw StoreError(
                    .invalidInput,
                    "The directory already lists a site named \(namesake.site.name) (\(KindSpec.withArticle(namesake.site.kind.label))); two sites of one name could not be told apart.",
                    hint:
                        "If this site takes that one's place (the school rejoining under a new id, or the academy it converted into), add it with --replaces; otherwise ask the site to make its store again with a name that tells them apart (for example with its town)."
                )
            }
            // A URN names one establishment: census, SEN2 and rolls count by it.
            if let urn = site.site.urn,
                let holder = current.entries.first(where: {
                    !$0.isRevoked && $0.site.id != site.site.id && $0.site.id != replacing && $0.site.urn == urn
                })
            {
                throw StoreError(
                    .invalidInput,
                    "The directory already lists \(holder.site.name) with URN \(urn); a URN names one establishment.",
                    hint:
                        "If this site takes that one's place (the school rejoining under a new id), add it with --replaces; otherwise ask the site to make its store again with its own URN."
                )
            }
            if let trust {
                guard site.site.kind == .academy else {
                    throw StoreError(.invalidInput, "Only an academy belongs to a trust.", hint: "Leave out --trust.")
                }
                guard let entry = current.activeEntry(trust) else {
                    throw StoreError(.invalidInput, "The trust is not in the directory.", hint: "Add the trust first.")
                }
                guard entry.site.kind == .trust else {
                    throw StoreError(
                        .invalidInput,
                        "The site given as --trust is \(KindSpec.withArticle(entry.site.kind.label)), not a trust.",
                        hint: "Name the academy's trust (`sensync directory list` shows each site's kind).")
                }
            }
            let next = try current.adding(site, trust: trust, keys: keys, now: now())
            try Self.saveDirectory(next, in: db)
            return next
        }
    }

    /// Removes a site from the LA's directory, signing a new version. LA only.
    @discardableResult
    public func removeFromDirectory(_ site: SiteID) throws -> AreaDirectory {
        guard identity.kind == .la else {
            throw StoreError(
                .invalidInput, "Only the LA keeps the area directory.",
                hint: "Run it at the LA's store; `sensync directory list` lists the sites at any store.")
        }
        guard site != identity.id else {
            throw StoreError(
                .invalidInput, "The LA cannot remove itself.",
                hint: "Give the name or id of a school, academy or trust (`sensync directory list`).")
        }
        let keys = try keys()
        return try writingDirectory { db in
            guard let current = try Self.directory(in: db) else {
                throw StoreError(
                    .database, "The LA's directory is missing.",
                    hint:
                        "The store may be damaged: run `sensync audit verify`, and restore it from a backup if it fails."
                )
            }
            guard let entry = current.entry(site), !entry.isRevoked else {
                throw StoreError(
                    .notFound, "That site is not an active site in the directory.",
                    hint: "See `sensync directory list`.")
            }
            // An academy's bundles go to its trust: removing the trust first would leave them with
            // nowhere to go.
            let academies = current.entries.filter { $0.trust == site && !$0.isRevoked }.map(\.site.name).sorted()
            guard academies.isEmpty else {
                throw StoreError(
                    .invalidInput,
                    "\(academies.joined(separator: ", ")) \(academies.count == 1 ? "is" : "are") still in this trust; its bundles go through the trust.",
                    hint:
                        "Move \(academies.count == 1 ? "it" : "each") to another trust first (`sensync directory add ACADEMY.identity --trust OTHER-TRUST`), or remove \(academies.count == 1 ? "it" : "them") if closing."
                )
            }
            let next = try current.removing(site, keys: keys, now: now())
            try Self.saveDirectory(next, in: db)
            return next
        }
    }
}

/// Directories already decoded and verified, by their exact bytes and the LA key that verified
/// them. Every local write and every bundle needs the directory, and decoding it and checking its
/// signature is the same work each time for the same bytes (it grows with the area: about 300
/// entries for a large LA); a different byte or key is decoded and verified afresh.
final class VerifiedDirectories: @unchecked Sendable {
    static let shared = VerifiedDirectories()
    private let lock = NSLock()
    private var entries: [(encoded: Data, la: PublicIdentity, directory: AreaDirectory)] = []

    func directory(encoded: Data, la: PublicIdentity, verify: () -> AreaDirectory?) -> AreaDirectory? {
        lock.lock()
        let hit = entries.first { $0.la == la && $0.encoded == encoded }?.directory
        lock.unlock()
        if let hit { return hit }
        guard let directory = verify() else { return nil }
        lock.lock()
        entries.append((encoded, la, directory))
        if entries.count > 8 { entries.removeFirst() }
        lock.unlock()
        return directory
    }
}
