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
    struct Exchange {
        /// The last generation of this store's holdings made for the peer.
        var sent: UInt64 = 0
        /// The generation of this store's holdings the peer last said it holds.
        var confirmed: UInt64 = 0
        /// The generation of the peer's holdings this store holds (0: none whole).
        var received: UInt64 = 0
        /// Every pupil the peer may see revised up to this was found to need nothing (−1: none).
        var planRev: Int64 = -1
        /// Every pupil revised up to this was told to the peer as it is (−1: none).
        var toldRev: Int64 = -1
        /// The day and directory version the two revisions hold for (visibility depends on both).
        var revsBasis: String?

        static func fetch(_ peer: Int64, in db: Database) throws -> Exchange {
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT sent, confirmed, received, plan_rev, told_rev, revs_basis
                            FROM holdings_exchange WHERE peer_ord = ?
                            """),
                    arguments: [peer])
            else { return Exchange() }
            return Exchange(
                sent: UInt64(row[0] as Int64), confirmed: UInt64(row[1] as Int64), received: UInt64(row[2] as Int64),
                planRev: row[3], toldRev: row[4], revsBasis: row[5])
        }

        func save(_ peer: Int64, in db: Database) throws {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO holdings_exchange
                      (peer_ord, sent, confirmed, received, plan_rev, told_rev, revs_basis)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    peer, Int64(sent), Int64(confirmed), Int64(received), planRev, toldRev, revsBasis,
                ])
        }
    }

    /// The holdings entries of a section to `site` and the basis they are coded against: the
    /// pupils whose holdings changed since the generation `site` confirmed holding, or every pupil
    /// when it confirmed none. Records what was told, under a new generation, whether or not the
    /// bundle ever arrives (the next section is coded against the same confirmed generation), and
    /// `planRev`, the plan revision of the section's changes (both from `revisions`, read once per
    /// section: ``PlanRevisions``).
    ///
    /// What is told is kept per pupil; only pupils revised since the last section are looked at
    /// again (every pupil when the day or the directory changed, which change who sees whom).
    func holdingsSection(
        to site: SiteIdentity, view: ScopeView, revisions: PlanRevisions, planRev: Int64?,
        carried: [RecordID: VersionVector], tx: inout StoreTransaction
    ) throws -> (entries: [HoldingsEntry], basis: HoldingsBasis) {
        let db = tx.db
        let peer = try tx.sites.ordinal(for: site.id, in: db)
        var exchange = try Exchange.fetch(peer, in: db)
        let generation = exchange.sent + 1
        let base = exchange.confirmed
        let save = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO holdings_sent (peer_ord, pupil_id, held, passed_on, generation)
                VALUES (?, ?, ?, ?, ?)
                """)
        /// What was told of each pupil whose entry this section rewrites, before it (`nil`: nothing).
        var before: [String: Told?] = [:]
        /// Records `entry` as told of its pupil when it differs from what was last told.
        func tell(_ key: String, _ entry: HoldingsEntry?, last: Told?) throws {
            guard let entry else {
                if let last, last.held != nil {
                    before[key] = last
                    try save.execute(arguments: [peer, key, nil, false, Int64(generation)])
                }
                return
            }
            let held = Told.bytes(of: entry.held)
            if let last, last.held == held, last.passedOn == entry.passedOn { return }
            before[key] = .some(last)
            try save.execute(arguments: [peer, key, held, entry.passedOn, Int64(generation)])
        }
        if let since = revisions.toldSince, let revised = try PlanRevisions.revised(after: since, in: db) {
            for (pupil, _) in revised {
                let key = pupil.description
                try tell(
                    key, try holdingsReport(of: pupil, to: site, view: view, tx: &tx),
                    last: try Told.fetch(peer, key, db))
            }
        } else {
            // What was last told, per pupil, against every pupil told now.
            var told: [String: Told] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT pupil_id, held, passed_on, generation FROM holdings_sent WHERE peer_ord = ?",
                arguments: [peer])
            while let row = try rows.next() { told[row[0]] = Told(row, from: 1) }
            var reported: Set<String> = []
            for entry in try holdingsToReport(to: site, view: view, tx: &tx) {
                let key = entry.pupil.description
                reported.insert(key)
                try tell(key, entry, last: told[key])
            }
            for (key, last) in told where !reported.contains(key) { try tell(key, nil, last: last) }
        }
        /// What the peer takes this store to hold of a pupil it is not told of in this section,
        /// before the changes carried count (``BundleHeader/holdingsFromChanges``): what it was
        /// told before, when it holds that for certain (confirmed, or never told); `nil` when
        /// unknown, or passed on (the changes carried do not add to that).
        func believed(_ key: String, now: Told?) throws -> VersionVector? {
            if base == 0 { return VersionVector() }  // the section replaces all it believes
            let prior = before[key] ?? now
            guard let prior else { return VersionVector() }
            guard prior.generation <= Int64(base), !prior.passedOn else { return nil }
            return try prior.vector()
        }
        // Every pupil told (base 0), or those whose entry changed after the confirmed generation,
        // "no longer told" included — except those the changes carried tell exactly.
        var entries: [HoldingsEntry] = []
        var considered: Set<RecordID> = []
        let changed = try Row.fetchCursor(
            db,
            sql: base == 0
                ? "SELECT pupil_id, held, passed_on, generation FROM holdings_sent WHERE peer_ord = ? AND held IS NOT NULL"
                : "SELECT pupil_id, held, passed_on, generation FROM holdings_sent WHERE peer_ord = ? AND generation > ?",
            arguments: base == 0 ? [peer] : [peer, Int64(base)])
        while let row = try changed.next() {
            guard let pupil = RecordID(row[0] as String) else { continue }
            considered.insert(pupil)
            let told = Told(row, from: 1)
            let held = try told.vector()
            if let carried = carried[pupil], !told.passedOn, told.held != nil,
                var implied = try believed(row[0], now: told)
            {
                implied.formUnion(carried)
                if implied == held { continue }
            }
            entries.append((pupil, held, told.passedOn))
        }
        // A pupil carried and not looked at above is believed as it was told (or nothing): the
        // changes carried must add nothing to it (else — a change held only to relay it, a
        // pupil not told of, one passed on — it is told again, as it is).
        for (pupil, carried) in carried where !considered.contains(pupil) {
            let key = pupil.description
            let told = try Told.fetch(peer, key, db)
            if let told, told.held != nil, !told.passedOn, try told.vector().dominates(carried) { continue }
            try save.execute(arguments: [peer, key, told?.held, told?.passedOn ?? false, Int64(generation)])
            entries.append((pupil, try told?.vector() ?? VersionVector(), told?.passedOn ?? false))
        }
        // Pupils no longer told that the peer confirmed knowing so: nothing more to tell of them.
        if base > 0 {
            try db.execute(
                sql: "DELETE FROM holdings_sent WHERE peer_ord = ? AND held IS NULL AND generation <= ?",
                arguments: [peer, Int64(base)])
        }
        exchange.sent = generation
        exchange.toldRev = revisions.current
        exchange.planRev = planRev ?? -1
        exchange.revsBasis = revisions.basis
        try exchange.save(peer, in: db)
        entries.sort { $0.pupil < $1.pupil }
        return (entries, HoldingsBasis(base: base, generation: generation, confirmed: exchange.received))
    }

    /// What was last told a peer of one pupil (`holdings_sent`), and in which generation.
    struct Told {
        /// The encoded clock; `nil`: no longer told.
        var held: Data?
        var passedOn: Bool
        var generation: Int64

        init(_ row: Row, from i: Int) {
            held = row[i]
            passedOn = row[i + 1] as Int64 != 0
            generation = row[i + 2]
        }

        static func fetch(_ peer: Int64, _ key: String, _ db: Database) throws -> Told? {
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT held, passed_on, generation FROM holdings_sent WHERE peer_ord = ? AND pupil_id = ?"),
                arguments: [peer, key]
            ).map { Told($0, from: 0) }
        }

        static func bytes(of held: VersionVector) -> Data {
            var w = BinaryWriter()
            held.encode(into: &w)
            return Data(w.bytes)
        }

        func vector() throws -> VersionVector {
            guard let held else { return VersionVector() }
            var reader = BinaryReader(Array(held))
            return try VersionVector.decode(from: &reader)
        }
    }

    /// What this store tells `site` it holds, per pupil: of those `site` may see, what it holds;
    /// of those that left `site` (and erased ones it may have held), also what it passed on
    /// upstream when it forgot them — held safely there, so `site` may forget them too.
    /// ``holdingsReport(of:to:view:tx:)`` of every pupil that may concern `site`.
    private func holdingsToReport(to site: SiteIdentity, view: ScopeView, tx: inout StoreTransaction) throws
        -> [HoldingsEntry]
    {
        var pupils = Set(try view.pupils(visibleTo: site))
        for (pupil, _) in try view.leavers(of: site) { pupils.insert(pupil) }
        pupils.formUnion(try view.erased)
        pupils.formUnion(try view.forgotten)
        var result: [HoldingsEntry] = []
        for pupil in pupils.sorted() {
            if let entry = try holdingsReport(of: pupil, to: site, view: view, tx: &tx) { result.append(entry) }
        }
        return result
    }

    /// What this store tells `site` it holds of `pupil` (`nil`: nothing): the one place the rule
    /// is, for every pupil at once (``holdingsToReport(to:view:tx:)``) or one revised pupil.
    private func holdingsReport(of pupil: RecordID, to site: SiteIdentity, view: ScopeView, tx: inout StoreTransaction)
        throws -> HoldingsEntry?
    {
        let concerned =
            try view.isVisible(pupil, to: site) || (try view.leaverEndings(of: pupil, at: site)) != nil
            || ((try view.erased).contains(pupil) && (try view.receivesErasure(site, of: pupil)))
        if concerned {
            let held = try tx.scopeClock(of: pupil)
            return held.isEmpty ? nil : (pupil, held, false)
        }
        guard
            let stored = try Data.fetchOne(
                tx.db.cachedStatement(sql: "SELECT held FROM forgotten_pupil WHERE pupil_id = ?"),
                arguments: [pupil.description]),
            try view.receivesErasure(site, of: pupil)
        else { return nil }
        var reader = BinaryReader(Array(stored))
        guard let held = try? VersionVector.decode(from: &reader), !held.isEmpty else { return nil }
        return (pupil, held, true)
    }

    /// Records what `sender` told of its holdings in a section (format 3.0: `basis` nil, every
    /// pupil), and which generation of this store's holdings it holds. The sender's holdings are
    /// only ever taken as the same or less than it holds: a section older than what is held is
    /// ignored, and one coded against a generation this store does not hold clears what it had.
    ///
    /// `carried` (format 3.2) is, per pupil, each site's latest change the section carried: a
    /// pupil with no entry is then held as before plus those, unless the section could not be
    /// used (what was before is gone).
    func recordHoldings(
        _ entries: [HoldingsEntry], basis: HoldingsBasis?, carried: [RecordID: VersionVector] = [:],
        from sender: SiteID, tx: inout StoreTransaction
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
        var usable = true
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
            usable = false
            exchange.received = 0
        }
        if replaceAll {
            try db.execute(sql: "DELETE FROM peer_scope WHERE peer_ord = ?", arguments: [peer])
            // What the peer holds may have gone down: every pupil is looked at again.
            exchange.planRev = -1
        }
        let forget = try db.cachedStatement(sql: "DELETE FROM peer_scope WHERE peer_ord = ? AND pupil_id = ?")
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO peer_scope (peer_ord, pupil_id, origin_ord, seq, passed_on) VALUES (?, ?, ?, ?, ?)
                """)
        var listed: Set<RecordID> = []
        for entry in entries {
            listed.insert(entry.pupil)
            if !replaceAll {
                // A pupil the peer now holds less of than before (passed on, forgotten) is looked
                // at again, with every pupil: the plan revision holds only while holdings grow.
                let before = try Self.holdings(of: sender, pupil: entry.pupil, in: db, sites: tx.sites)
                if !(entry.passedOn ? VersionVector() : entry.held).dominates(before) { exchange.planRev = -1 }
                try forget.execute(arguments: [peer, entry.pupil.description])
            }
            for (site, seq) in entry.held.entries {
                try insert.execute(arguments: [
                    peer, entry.pupil.description, try tx.sites.ordinal(for: site, in: db), Int64(seq), entry.passedOn,
                ])
            }
        }
        if usable {
            let raise = try db.cachedStatement(
                sql: """
                    INSERT INTO peer_scope (peer_ord, pupil_id, origin_ord, seq, passed_on) VALUES (?, ?, ?, ?, 0)
                    ON CONFLICT (peer_ord, pupil_id, origin_ord) DO UPDATE SET seq = max(seq, excluded.seq)
                    """)
            for (pupil, held) in carried where !listed.contains(pupil) {
                for (site, seq) in held.entries {
                    try raise.execute(arguments: [
                        peer, pupil.description, try tx.sites.ordinal(for: site, in: db), Int64(seq),
                    ])
                }
            }
        }
        try exchange.save(peer, in: db)
    }
}

/// Where a bundle to one peer may start looking: pupils are revised (`scope_rev`) in every
/// transaction that logs, redacts or forgets a change about them, so a pupil revised no later than
/// the peer's plan revision was found, by an earlier bundle, to need nothing the peer lacks — and
/// still needs nothing while the peer's holdings of them do not go down (``Store/recordHoldings``
/// resets the revision when they may have), while the day (enrolment dates) and the directory
/// (trusts, removed sites) are the same. Likewise a pupil revised no later than the told revision
/// was told to the peer as it is. A bundle with nothing new then costs what was revised since the
/// last one, not every pupil the peer may see.
struct PlanRevisions {
    /// The latest revision in this store.
    let current: Int64
    /// Look only at pupils revised after this to plan changes (`nil`: at every pupil).
    let planSince: Int64?
    /// Look only at pupils revised after this to tell holdings (`nil`: at every pupil).
    let toldSince: Int64?
    /// What the revisions hold for: the day and the directory version.
    let basis: String

    init(for site: SiteIdentity, view: ScopeView, tx: inout StoreTransaction) throws {
        current = try StoreTransaction.currentRevision(tx.db)
        basis = "\(view.today)|\(view.directory?.version ?? 0)"
        guard let peer = tx.sites.byID[site.id] else {
            (planSince, toldSince) = (nil, nil)
            return
        }
        let exchange = try Store.Exchange.fetch(peer, in: tx.db)
        let holds = exchange.revsBasis == basis
        planSince = holds && exchange.planRev >= 0 ? exchange.planRev : nil
        toldSince = holds && exchange.toldRev >= 0 ? exchange.toldRev : nil
    }

    /// Beyond this many pupils revised, looking at every pupil the peer may see (read together,
    /// school by school) costs less than looking at each revised pupil of the area alone.
    static let revisedLimit = 500

    /// The pupils revised after `since`, each with its revision; `nil` when there are more than
    /// ``revisedLimit``.
    static func revised(after since: Int64, in db: Database) throws -> [(pupil: RecordID, rev: Int64)]? {
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT scope, rev FROM scope_rev WHERE rev > ? ORDER BY rev, scope LIMIT ?"),
            arguments: [since, revisedLimit + 1])
        guard rows.count <= revisedLimit else { return nil }
        return rows.compactMap { row in RecordID(row[0] as String).map { ($0, row[1]) } }
    }

    /// The revision of `pupil` (0: never revised since revisions were kept).
    static func revision(of pupil: RecordID, in db: Database) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT rev FROM scope_rev WHERE scope = ?"), arguments: [pupil.description]) ?? 0
    }
}
