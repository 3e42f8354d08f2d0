import Foundation
import GRDB

/// What `audit verify` found.
public struct AuditReport: Sendable {
    /// One site's chain as this store holds it.
    public struct Chain: Sendable {
        public var site: SiteID
        public var name: String?
        /// The last change held (the chain's length).
        public var length: UInt64
        /// Changes held with their content.
        public var withContent: Int
        /// Changes held without content: erased, or about a pupil this site no longer sees.
        public var redacted: Int
        /// Changes known only by hash: never in this site's scope.
        public var outOfScope: UInt64
    }

    /// A problem found.
    public struct Problem: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable { case gap, fork, altered }
        public var kind: Kind
        public var site: SiteID
        public var seq: UInt64
        public var detail: String
        public var description: String { "\(kind.rawValue): site \(site), change \(seq): \(detail)" }
    }

    public var chains: [Chain]
    /// Changes held outside chain order (pupils' history), each checked against its own hash.
    public var historyChanges: Int
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
    /// Checks every site's hash chain in this store: each log row continues the previous one,
    /// every change's hash links to the next, and each chain ends at the head the store records.
    public func auditVerify() throws -> AuditReport {
        try writer.read { db in
            let sites = try SiteOrdinals(db)
            var chains: [AuditReport.Chain] = []
            var problems: [AuditReport.Problem] = []
            for siteRow in try Row.fetchAll(
                db,
                sql:
                    "SELECT ord, site_id, name, chain_seq, chain_hash FROM site WHERE chain_seq > 0 ORDER BY name, site_id"
            ) {
                let ord: Int64 = siteRow[0]
                guard let site = SiteID(siteRow[1] as String) else { continue }
                var chain = AuditReport.Chain(
                    site: site, name: siteRow[2], length: UInt64(siteRow[3] as Int64), withContent: 0, redacted: 0,
                    outOfScope: 0)
                var expected: UInt64 = 1
                var hash = Digest32.zero
                for row in try Row.fetchAll(
                    db,
                    sql:
                        "SELECT first_seq, last_seq, prev_hash, last_hash, changes, is_skip FROM change_log WHERE site_ord = ? ORDER BY first_seq",
                    arguments: [ord])
                {
                    let first = UInt64(row[0] as Int64)
                    let last = UInt64(row[1] as Int64)
                    if first != expected {
                        problems.append(
                            .init(
                                kind: .gap, site: site, seq: expected,
                                detail: "changes \(expected)–\(first - 1) are missing from the log"))
                    }
                    let previous = Digest32(Array(row[2] as Data)) ?? .zero
                    if previous != hash && first == expected {
                        problems.append(
                            .init(
                                kind: .fork, site: site, seq: first,
                                detail: "the change does not follow the one before it"))
                    }
                    hash = previous
                    if (row[5] as Int) != 0 {
                        chain.outOfScope += last - first + 1
                        hash = Digest32(Array(row[3] as Data)) ?? .zero
                    } else {
                        var reader = BinaryReader(Array(row[4] as Data))
                        var seq = first
                        while !reader.isAtEnd {
                            guard let body = try? reader.readBytesWithLength() else {
                                problems.append(
                                    .init(
                                        kind: .altered, site: site, seq: seq, detail: "the stored change cannot be read"
                                    ))
                                break
                            }
                            let change = EncodedChange(site: site, seq: seq, body: body)
                            hash = change.chainHash(previous: hash)
                            if change.isRedacted { chain.redacted += 1 } else { chain.withContent += 1 }
                            seq += 1
                        }
                        if seq != last + 1 || hash != Digest32(Array(row[3] as Data)) {
                            problems.append(
                                .init(
                                    kind: .altered, site: site, seq: last,
                                    detail: "the stored changes do not match their recorded hash"))
                            hash = Digest32(Array(row[3] as Data)) ?? hash
                        }
                    }
                    expected = last + 1
                }
                if expected != chain.length + 1 {
                    problems.append(
                        .init(
                            kind: .gap, site: site, seq: expected,
                            detail: "the log ends before the recorded head \(chain.length)"))
                } else if hash != Digest32(Array(siteRow[4] as Data)) {
                    problems.append(
                        .init(
                            kind: .altered, site: site, seq: chain.length,
                            detail: "the chain does not end at the recorded head hash"))
                }
                chains.append(chain)
            }
            var history = 0
            for row in try Row.fetchAll(db, sql: "SELECT site_ord, seq, prev_hash, hash, body FROM loose_change") {
                let site = try sites.site(row[0])
                let change = EncodedChange(site: site, seq: UInt64(row[1] as Int64), body: Array(row[4] as Data))
                history += 1
                if change.chainHash(previous: Digest32(Array(row[2] as Data)) ?? .zero)
                    != Digest32(Array(row[3] as Data))
                {
                    problems.append(
                        .init(
                            kind: .altered, site: site, seq: change.seq,
                            detail: "a history change does not match its hash"))
                }
            }
            return AuditReport(chains: chains, historyChanges: history, problems: problems)
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
            for row in try Row.fetchAll(
                db, sql: "SELECT site_ord, seq FROM scope_change WHERE scope = ?", arguments: [pupil.description])
            {
                let site = try sites.site(row[0])
                let seq = UInt64(row[1] as Int64)
                let dot = Dot(site: site, seq: seq)
                var change: EncodedChange?
                if let body = try Data.fetchOne(
                    db, sql: "SELECT body FROM loose_change WHERE site_ord = ? AND seq = ?",
                    arguments: [row[0] as Int64, Int64(seq)])
                {
                    change = EncodedChange(site: site, seq: seq, body: Array(body))
                }
                if change == nil || change!.isRedacted {
                    try Self.forEachChange(of: site, in: seq...seq, db: db, sites: sites) { found, _ in
                        if change == nil || !found.isRedacted { change = found }
                    }
                }
                let rejection = try String.fetchOne(
                    db, sql: "SELECT reason FROM rejected_change WHERE site_ord = ? AND seq = ?",
                    arguments: [row[0] as Int64, Int64(seq)])
                guard let change else { continue }
                if let decoded = try? change.decoded() {
                    entries.append(
                        HistoryEntry(
                            dot: dot, siteName: names[site], author: decoded.author, hlc: decoded.hlc,
                            writes: decoded.ops.map { ($0.table, $0.id, $0.writes) }, isRedacted: false,
                            rejection: rejection))
                } else {
                    let hlc =
                        change.isRedacted ? HLC(rawValue: change.body[49..<57].reduce(0) { $0 << 8 | UInt64($1) }) : nil
                    entries.append(
                        HistoryEntry(
                            dot: dot, siteName: names[site], author: nil, hlc: hlc, writes: [], isRedacted: true,
                            rejection: rejection))
                }
            }
            return entries.sorted { ($0.hlc ?? .zero, $0.dot) < ($1.hlc ?? .zero, $1.dot) }
        }
    }
}
