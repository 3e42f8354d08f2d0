import Foundation
import GRDB

/// What one pupil's holdings entry says: what a site holds of the pupil's changes, or held when it
/// passed them on. An empty `held` (not passed on) says it no longer tells anything of the pupil.
typealias HoldingsEntry = (pupil: RecordID, held: VersionVector, passedOn: Bool)

/// Holdings told by generation (bundle format 3.1, ``HoldingsBasis``): what each peer is told of
/// this store's holdings, and what this store was told of each peer's.
extension Store {
    /// Where a peer and this store stand in telling each other their holdings
    /// (`holdings_exchange`).
    private struct Exchange {
        /// The last generation of this store's holdings made for the peer.
        var sent: UInt64 = 0
        /// The generation of this store's holdings the peer last said it holds.
        var confirmed: UInt64 = 0
        /// The generation of the peer's holdings this store holds (0: none whole).
        var received: UInt64 = 0

        static func fetch(_ peer: Int64, in db: Database) throws -> Exchange {
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT sent, confirmed, received FROM holdings_exchange WHERE peer_ord = ?",
                    arguments: [peer])
            else { return Exchange() }
            return Exchange(
                sent: UInt64(row[0] as Int64), confirmed: UInt64(row[1] as Int64), received: UInt64(row[2] as Int64))
        }

        func save(_ peer: Int64, in db: Database) throws {
            try db.execute(
                sql:
                    "INSERT OR REPLACE INTO holdings_exchange (peer_ord, sent, confirmed, received) VALUES (?, ?, ?, ?)",
                arguments: [peer, Int64(sent), Int64(confirmed), Int64(received)])
        }
    }

    /// The holdings entries of a section to `site` and the basis they are coded against: the
    /// pupils whose holdings changed since the generation `site` confirmed holding, or every pupil
    /// when it confirmed none. Records what was told, under a new generation, whether or not the
    /// bundle ever arrives (the next section is coded against the same confirmed generation).
    func holdingsSection(to site: SiteIdentity, view: ScopeView, tx: inout StoreTransaction) throws
        -> (entries: [HoldingsEntry], basis: HoldingsBasis)
    {
        let db = tx.db
        let peer = try tx.sites.ordinal(for: site.id, in: db)
        var exchange = try Exchange.fetch(peer, in: db)
        let generation = exchange.sent + 1
        let base = exchange.confirmed
        // What was last told, per pupil: the encoded clock (nil once no longer told) and when.
        var told: [String: (held: Data?, passedOn: Bool, generation: UInt64)] = [:]
        let rows = try Row.fetchCursor(
            db, sql: "SELECT pupil_id, held, passed_on, generation FROM holdings_sent WHERE peer_ord = ?",
            arguments: [peer])
        while let row = try rows.next() {
            told[row[0]] = (row[1], row[2] as Int64 != 0, UInt64(row[3] as Int64))
        }
        let save = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO holdings_sent (peer_ord, pupil_id, held, passed_on, generation)
                VALUES (?, ?, ?, ?, ?)
                """)
        var entries: [HoldingsEntry] = []
        var reported: Set<String> = []
        for entry in try holdingsToReport(to: site, view: view, tx: &tx) {
            let key = entry.pupil.description
            reported.insert(key)
            var w = BinaryWriter()
            entry.held.encode(into: &w)
            let held = Data(w.bytes)
            let last = told[key]
            if let last, last.held == held, last.passedOn == entry.passedOn {
                if base == 0 || last.generation > base { entries.append(entry) }
                continue
            }
            try save.execute(arguments: [peer, key, held, entry.passedOn, Int64(generation)])
            entries.append(entry)
        }
        for (key, last) in told where !reported.contains(key) {
            guard let pupil = RecordID(key) else { continue }
            if last.held != nil {
                try save.execute(arguments: [peer, key, nil, false, Int64(generation)])
            } else if base == 0 || last.generation <= base {
                continue
            }
            // No longer told: the recipient forgets what it had (with base 0 it replaces all).
            if base > 0 { entries.append((pupil, VersionVector(), false)) }
        }
        // Pupils no longer told that the peer confirmed knowing so: nothing more to tell of them.
        if base > 0 {
            try db.execute(
                sql: "DELETE FROM holdings_sent WHERE peer_ord = ? AND held IS NULL AND generation <= ?",
                arguments: [peer, Int64(base)])
        }
        exchange.sent = generation
        try exchange.save(peer, in: db)
        entries.sort { $0.pupil < $1.pupil }
        return (entries, HoldingsBasis(base: base, generation: generation, confirmed: exchange.received))
    }

    /// Records what `sender` told of its holdings in a section (format 3.0: `basis` nil, every
    /// pupil), and which generation of this store's holdings it holds. The sender's holdings are
    /// only ever taken as the same or less than it holds: a section older than what is held is
    /// ignored, and one coded against a generation this store does not hold clears what it had.
    func recordHoldings(
        _ entries: [HoldingsEntry], basis: HoldingsBasis?, from sender: SiteID, tx: inout StoreTransaction
    ) throws {
        let db = tx.db
        let peer = try tx.sites.ordinal(for: sender, in: db)
        var exchange = try Exchange.fetch(peer, in: db)
        // What the sender holds of this store's holdings.
        if let confirmed = basis?.confirmed, confirmed > exchange.sent {
            // It holds a generation this store never made: this store was restored from a backup
            // (or lost its record of what it told). Tell it everything again, numbered after it.
            exchange.sent = confirmed
            exchange.confirmed = 0
        } else if let confirmed = basis?.confirmed, confirmed > 0 {
            // Bundles arrive in any order: an older one's confirmation is not a step back.
            exchange.confirmed = max(exchange.confirmed, confirmed)
        } else {
            exchange.confirmed = 0
        }
        // The sender's holdings.
        let replaceAll: Bool
        switch basis {
        case nil:
            replaceAll = true
            exchange.received = 0
        case let basis? where basis.generation <= exchange.received:
            try exchange.save(peer, in: db)
            return  // older than what this store holds of the sender's holdings
        case let basis? where basis.base == 0:
            replaceAll = true
            exchange.received = basis.generation
        case let basis? where basis.base <= exchange.received:
            replaceAll = false
            exchange.received = basis.generation
        case .some:
            // Coded against a generation this store does not hold (it was restored from a backup,
            // or cleared what it had): what it had is forgotten — fewer holdings mean more is
            // sent, never less — and confirming none asks for every pupil next time.
            replaceAll = true
            exchange.received = 0
        }
        if replaceAll {
            try db.execute(sql: "DELETE FROM peer_scope WHERE peer_ord = ?", arguments: [peer])
        }
        let forget = try db.cachedStatement(sql: "DELETE FROM peer_scope WHERE peer_ord = ? AND pupil_id = ?")
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO peer_scope (peer_ord, pupil_id, origin_ord, seq, passed_on) VALUES (?, ?, ?, ?, ?)
                """)
        for entry in entries {
            if !replaceAll { try forget.execute(arguments: [peer, entry.pupil.description]) }
            for (site, seq) in entry.held.entries {
                try insert.execute(arguments: [
                    peer, entry.pupil.description, try tx.sites.ordinal(for: site, in: db), Int64(seq), entry.passedOn,
                ])
            }
        }
        try exchange.save(peer, in: db)
    }
}
