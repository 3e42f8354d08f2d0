import Foundation
import GRDB

/// What `audit verify` found.
public struct AuditReport: Sendable {
    /// One site's changes as this store holds them.
    public struct Chain: Sendable {
        public var site: SiteID
        public var name: String?
        /// The highest change held.
        public var length: UInt64
        /// Changes held with their content.
        public var withContent: Int
        /// Changes held without content: erased, or about a pupil this site no longer sees.
        public var redacted: Int
        /// Changes up to ``length`` not held here: never in this site's scope.
        public var outOfScope: UInt64
        /// The site's signed checkpoints held.
        public var checkpoints: Int
    }

    /// A problem found.
    public struct Problem: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            /// This store's own history has a hole.
            case gap
            /// The site signed two different changes with one number.
            case fork
            /// A stored change or checkpoint does not match its site's signature.
            case altered
        }
        public var kind: Kind
        public var site: SiteID
        public var seq: UInt64
        public var detail: String
        /// The site's name, when this store knows it.
        public var siteName: String? = nil
        /// The problem as people read it, naming the site (by its id only when no name is known).
        public var description: String {
            "\(kind.rawValue): \(Dot(site: site, seq: seq).described(naming: { _ in siteName })): \(detail)"
        }
    }

    public var chains: [Chain]
    public var problems: [Problem]
    public var isClean: Bool { problems.isEmpty }
}

/// One change about a pupil, for `sensync history`.
public struct HistoryEntry: Sendable {
    public var dot: Dot
    public var siteName: String?
    public var author: String?
    public var hlc: HLC?
    /// Per record: table, record id and the fields written with their values.
    public var writes: [(table: String, record: RecordID, fields: [FieldWrite])]
    /// The content was erased or forgotten; only the fact of the change remains.
    public var isRedacted: Bool
    /// Why the change was kept but not merged.
    public var rejection: String?
}

extension Store {
    /// Checks every change this store holds against its origin's signature: each checkpoint's
    /// signature and its link to the one before, each run held whole against its checkpoint's
    /// root, each change held alone against the proof it came with; that nothing is missing below
    /// what the store records as held without a gap; and reports every fork recorded.
    public func auditVerify() throws -> AuditReport {
        try writer.read { db in
            let sites = try SiteOrdinals(db)
            var keys: [SiteID: PublicKeys] = [identity.id: publicKeys]
            if let la = try Self.pinnedLAOrSelf(in: db) { keys[la.site.id] = la.keys }
            for entry in try Self.directory(in: db)?.entries ?? [] { keys[entry.site.id] = entry.identity.keys }
            let signed = UInt64(try Int64.fetchOne(db, sql: "SELECT signed_seq FROM site_identity") ?? 0)
            var chains: [AuditReport.Chain] = []
            var problems: [AuditReport.Problem] = []
            for siteRow in try Row.fetchAll(
                db,
                sql: """
                    SELECT s.ord, s.site_id, s.name FROM site s
                    WHERE s.chain_seq > 0 OR EXISTS (SELECT 1 FROM change_log l WHERE l.site_ord = s.ord)
                    ORDER BY s.name, s.site_id
                    """)
            {
                guard let site = SiteID(siteRow[1] as String) else { continue }
                var held: [UInt64: EncodedChange] = [:]
                var reader = try LogReader(site: site, from: 1, db: db, sites: sites)
                var chain = AuditReport.Chain(
                    site: site, name: siteRow[2], length: 0, withContent: 0, redacted: 0, outOfScope: 0, checkpoints: 0)
                while let change = try reader.next() {
                    held[change.seq] = change
                    chain.length = max(chain.length, change.seq)
                    if change.isRedacted { chain.redacted += 1 } else { chain.withContent += 1 }
                    if (try? change.decodedHeader()) == nil {
                        problems.append(
                            .init(
                                kind: .altered, site: site, seq: change.seq, detail: "the stored change cannot be read")
                        )
                    }
                }
                chain.outOfScope = chain.length - UInt64(held.count)
                // Everything up to the prefix the store records (its own history, and what it
                // acknowledges holding) must be in the log.
                let prefix = UInt64(
                    try Int64.fetchOne(
                        db, sql: "SELECT chain_seq FROM site WHERE ord = ?", arguments: [siteRow[0] as Int64])
                        ?? 0)
                if let missing = prefix > 0 ? (1...prefix).first(where: { held[$0] == nil }) : nil {
                    problems.append(
                        .init(
                            kind: .gap, site: site, seq: missing,
                            detail: "the log lacks a change this store records as held"))
                }
                let checkpoints = try Self.checkpoints(of: site, db: db, sites: sites)
                chain.checkpoints = checkpoints.count
                var covered: Set<UInt64> = []
                for (i, checkpoint) in checkpoints.enumerated() {
                    guard let siteKeys = keys[site], checkpoint.isSigned(by: siteKeys) else {
                        problems.append(
                            .init(
                                kind: .altered, site: site, seq: checkpoint.first,
                                detail: "a checkpoint is not signed by its site"))
                        continue
                    }
                    if i > 0, checkpoints[i - 1].last + 1 == checkpoint.first,
                        checkpoint.previous != checkpoints[i - 1].digest
                    {
                        problems.append(
                            .init(
                                kind: .fork, site: site, seq: checkpoint.first,
                                detail: "the site's signed history does not follow on from its previous checkpoint"))
                    }
                    let inRange = (checkpoint.first...checkpoint.last).compactMap { held[$0] }
                    if inRange.count == checkpoint.count {
                        if Merkle.root(inRange.map(\.leaf)) != checkpoint.root {
                            problems.append(
                                .init(
                                    kind: .altered, site: site, seq: checkpoint.first,
                                    detail: "the stored changes do not match what their site signed"))
                        }
                    } else {
                        for change in inRange {
                            guard let path = try Self.storedProof(of: change.dot, db: db, sites: sites),
                                checkpoint.proves(change.leaf, at: change.seq, path: path)
                            else {
                                problems.append(
                                    .init(
                                        kind: .altered, site: site, seq: change.seq,
                                        detail: "the stored change does not match what its site signed"))
                                continue
                            }
                        }
                    }
                    for seq in checkpoint.first...checkpoint.last { covered.insert(seq) }
                }
                for seq in held.keys.sorted() where !covered.contains(seq) && !(site == identity.id && seq > signed) {
                    problems.append(
                        .init(
                            kind: .altered, site: site, seq: seq, detail: "the change carries no signature of its site")
                    )
                }
                chains.append(chain)
            }
            for row in try Row.fetchAll(db, sql: "SELECT site_ord, seq FROM fork ORDER BY site_ord, seq") {
                problems.append(
                    .init(
                        kind: .fork, site: try sites.site(row[0]), seq: UInt64(row[1] as Int64),
                        detail:
                            "the site signed two different changes with this number (restored from a backup, or its key is misused)"
                    ))
            }
            let names = Dictionary(
                chains.compactMap { c in c.name.map { (c.site, $0) } }, uniquingKeysWith: { a, _ in a })
            for i in problems.indices { problems[i].siteName = names[problems[i].site] }
            return AuditReport(chains: chains, problems: problems)
        }
    }

    /// Every change this store holds about a pupil, oldest first: who did what, from which site.
    public func history(of reference: String) throws -> [HistoryEntry] {
        let pupil: RecordID
        if let id = RecordID(reference) { pupil = id } else { pupil = try pupilID(for: reference) }
        return try writer.read { db in
            let sites = try SiteOrdinals(db)
            var names: [SiteID: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT site_id, name FROM site") {
                if let id = SiteID(row[0] as String), let name = row[1] as String? { names[id] = name }
            }
            var entries: [HistoryEntry] = []
            for dot in try Self.changes(about: pupil, db: db, sites: sites) {
                guard let change = try Self.storedChange(at: dot, db: db, sites: sites) else { continue }
                let ord = sites.byID[dot.site] ?? 0
                let rejection = try String.fetchOne(
                    db, sql: "SELECT reason FROM rejected_change WHERE site_ord = ? AND seq = ?",
                    arguments: [ord, Int64(dot.seq)])
                if let decoded = try? change.decoded() {
                    entries.append(
                        HistoryEntry(
                            dot: dot, siteName: names[dot.site], author: decoded.author, hlc: decoded.hlc,
                            writes: decoded.ops.map { ($0.table, $0.id, $0.writes) }, isRedacted: false,
                            rejection: rejection))
                } else {
                    entries.append(
                        HistoryEntry(
                            dot: dot, siteName: names[dot.site], author: nil, hlc: (try? change.decodedHeader())?.hlc,
                            writes: [], isRedacted: true, rejection: rejection))
                }
            }
            // An id this store knows nothing about (mistyped, or from another store): not an empty
            // history. An erased pupil's id still has its changes, redacted.
            guard !entries.isEmpty else {
                throw StoreError(
                    .notFound, "This store holds no history of a pupil with that id.",
                    hint: "Check the id or UPN with `sensync pupil list`.")
            }
            return entries.sorted { ($0.hlc ?? .zero, $0.dot) < ($1.hlc ?? .zero, $1.dot) }
        }
    }
}
