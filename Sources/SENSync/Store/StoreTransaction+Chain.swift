import Foundation
import GRDB

/// Skipped ranges and history changes inside a write transaction.
extension StoreTransaction {
    /// Stores a history change (outside its site's chain order).
    mutating func appendHistory(
        _ change: EncodedChange, previousHash: Digest32, hash: Digest32, hlc: HLC, scope: RecordID, rejection: String?
    ) throws {
        var change = change
        if rejection != nil, try isErased(scope) {
            if let decoded = try? change.decoded() { try recordEnrolments(of: decoded) }
            change = change.redacted(scope: scope, hlc: hlc)
        }
        clock.observe(hlc)
        try indexScope(scope, of: change.dot)
        try db.execute(
            sql: """
                INSERT INTO loose_change (site_ord, seq, prev_hash, hash, hlc, body) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (site_ord, seq) DO UPDATE SET body = excluded.body, prev_hash = excluded.prev_hash, hash = excluded.hash
                """,
            arguments: [
                try sites.ordinal(for: change.site, in: db), Int64(change.seq), Data(previousHash.bytes),
                Data(hash.bytes),
                Int64(bitPattern: hlc.rawValue), Data(change.body),
            ])
        if let rejection {
            try db.execute(
                sql: "INSERT OR REPLACE INTO rejected_change (site_ord, seq, reason) VALUES (?, ?, ?)",
                arguments: [try sites.ordinal(for: change.site, in: db), Int64(change.seq), rejection])
        }
        try db.execute(sql: "DELETE FROM forgotten_pupil WHERE pupil_id = ?", arguments: [scope.description])
    }

    /// Moves a site's chain over `count` changes this store does not receive (out of its scope),
    /// recording only the last one's hash. The part already held is ignored.
    mutating func appendSkip(site: SiteID, firstSeq: UInt64, count: UInt64, lastHash: Digest32, erased: Bool) throws {
        let head = try chainHead(of: site)
        let lastSeq = firstSeq + count - 1
        guard lastSeq > head.seq else { return }
        if let pending = takeLogBuffer(site) { try write(pending, of: site) }
        let from = max(firstSeq, head.seq + 1)
        try db.execute(
            sql: """
                INSERT INTO change_log (site_ord, first_seq, last_seq, prev_hash, last_hash, max_hlc, changes, is_skip)
                VALUES (?, ?, ?, ?, ?, 0, x'', ?)
                """,
            arguments: [
                try sites.ordinal(for: site, in: db), Int64(from), Int64(lastSeq), Data(head.hash.bytes),
                Data(lastHash.bytes), erased ? ChainReader.erasedSkip : ChainReader.skip,
            ])
        try setChainHead(ChainHead(seq: lastSeq, hash: lastHash), of: site)
    }

    /// Whether this store holds the content of the change at `dot` (in its chain or as history),
    /// and its chain hash when it does.
    mutating func heldContent(_ dot: Dot) throws -> Digest32? {
        guard let ord = sites.byID[dot.site] else { return nil }
        // Asked for every change a bundle carries, so the statement is prepared once.
        let statement = try db.cachedStatement(
            sql: "SELECT hash, body FROM loose_change WHERE site_ord = ? AND seq = ?")
        if let row = try Row.fetchOne(statement, arguments: [ord, Int64(dot.seq)]) {
            let change = EncodedChange(site: dot.site, seq: dot.seq, body: Array(row[1] as Data))
            if !change.isRedacted { return Digest32(Array(row[0] as Data)) }
        }
        guard dot.seq <= (try chainHead(of: dot.site)).seq else { return nil }
        if let buffer = logBuffers[dot.site], buffer.firstSeq <= dot.seq, dot.seq <= buffer.lastSeq {
            // Merged in this transaction, so held with content; its exact hash is only needed when
            // checking a bundle, which happens before anything is buffered.
            return buffer.lastSeq == dot.seq ? buffer.lastHash : try chainHead(of: dot.site).hash
        }
        var found: Digest32?
        try Store.forEachChange(of: dot.site, in: dot.seq...dot.seq, db: db, sites: sites) { change, hash in
            if !change.isRedacted { found = hash }
        }
        return found
    }
}
