import Foundation
import GRDB

/// "Which site is behind, and what is stuck?" — one line per site this store exchanges with.
public struct PeerHealth: Sendable, Hashable {
    public enum Verdict: Sendable, Hashable {
        case inStep
        /// It lacks changes from here (that it may see), or we lack some of its own.
        case behind(theyLack: Int, weLack: Int, since: String?)
        case needsAttention(String)
        /// An academy that exchanges with the LA through its trust, not directly.
        case throughTrust(String)
    }

    public var site: SiteIdentity
    /// When its latest bundle was applied here, and when this store last made one for it
    /// (`YYYY-MM-DD`, in UTC as logged).
    public var lastReceived: String?
    public var lastSent: String?
    /// Changes this store holds that it lacks and may see (what a bundle made now would carry).
    /// `nil` at the LA for an academy that exchanges through its trust: what it holds is told to
    /// its trust, not here (the trust's own `report sync` counts it).
    public var theyLack: Int?
    /// At the LA (which receives every site's whole history): the site's own changes it said it
    /// holds beyond what the LA holds. `nil` elsewhere: a site sends others only what they may see,
    /// so its count would not say what is missing.
    public var weLack: Int?
    /// Its bundles refused here since the last one applied, and the last reason.
    public var refusedSinceLastApplied: Int
    public var lastRefusal: String?
    public var verdict: Verdict

    /// The verdict in words.
    public var verdictText: String {
        switch verdict {
        case .inStep: "in step"
        case .behind(let they, let we, let since):
            [
                they > 0
                    ? "lacks \(they) change(s) from here\(since.map { " (last bundle made for it \($0))" } ?? ", no bundle made for it yet")"
                    : nil,
                we > 0 ? "holds up to \(we) of its own change(s) this store has not received" : nil,
            ].compactMap { $0 }.joined(separator: "; ")
        case .needsAttention(let why): "needs attention: \(why)"
        case .throughTrust(let trust): "exchanges through \(trust)"
        }
    }
}

extension Store {
    /// Days without a bundle from a site after which its sync health needs attention, whatever
    /// else it shows: four weeks (a school holiday is shown as such: nothing arrives).
    public static let silentDays = 28

    /// The import log's result for a bundle addressed to other sites.
    static let misaddressed = "refused: \(BundleError.Code.notAddressedToThisSite.rawValue)"

    /// Sync health for every site this store exchanges with: at the LA every site in the
    /// directory; elsewhere the LA, its trust or academies, and any site it has exchanged with.
    public func syncHealth() throws -> [PeerHealth] {
        let (peers, trustNames, usual) = try writer.read { db -> ([SiteIdentity], [SiteID: String], Set<SiteID>) in
            let directory = try Self.directory(in: db)
            // The trust each site is reached through: at the LA, an academy's trust; at an
            // academy in a trust, the LA is reached through it.
            var trustNames: [SiteID: String] = [:]
            for entry in directory?.entries ?? [] where !entry.isRevoked {
                guard let trust = entry.trust else { continue }
                trustNames[entry.identity.site.id] =
                    try String.fetchOne(
                        db, sql: "SELECT name FROM site WHERE site_id = ?", arguments: [trust.description])
            }
            if identity.kind != .la, let mine = trustNames[identity.id], let la = try Self.pinnedLAOrSelf(in: db) {
                trustNames[la.site.id] = mine
            }
            let la = try Self.pinnedLAOrSelf(in: db)
            var sites: [SiteIdentity] = []
            // The sites it exchanges with as a rule: every site at the LA; elsewhere the LA, its
            // trust or academies. Only these fall silent; another (a school sent a transferred
            // pupil directly) has nothing to answer.
            var usual: Set<SiteID> = la.map { [$0.site.id] } ?? []
            func add(_ site: SiteIdentity?) {
                guard let site, site.id != identity.id, !sites.contains(where: { $0.id == site.id }) else { return }
                sites.append(site)
            }
            add(la?.site)
            for entry in directory?.entries ?? [] where !entry.isRevoked {
                let related =
                    identity.kind == .la || entry.trust == identity.id
                    || directory?.entry(identity.id)?.trust == entry.identity.site.id
                let exchanged =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT (SELECT count(*) FROM import_log WHERE sender_id = ? AND result != ?)
                              + (SELECT count(*) FROM bundle_sent WHERE recipient_id = ?)
                            """,
                        arguments: [
                            entry.identity.site.id.description, Self.misaddressed, entry.identity.site.id.description,
                        ])
                    ?? 0
                if related { usual.insert(entry.identity.site.id) }
                if related || exchanged > 0 { add(entry.identity.site) }
            }
            return (sites, trustNames, usual)
        }
        var out: [PeerHealth] = []
        let lacking = try pendingChanges(for: peers)
        for site in peers {
            let theyLack = lacking[site.id] ?? 0
            let row = try writer.read { db in
                let id = site.id.description
                let received = try String.fetchOne(
                    db, sql: "SELECT max(imported_at) FROM import_log WHERE sender_id = ? AND result = 'applied'",
                    arguments: [id])
                let made = try Row.fetchOne(
                    db, sql: "SELECT max(made_at), min(made_at) FROM bundle_sent WHERE recipient_id = ?",
                    arguments: [id])
                let (sent, firstSent) = (made?[0] as String?, made?[1] as String?)
                let lastAppliedID =
                    try Int64.fetchOne(
                        db, sql: "SELECT max(id) FROM import_log WHERE sender_id = ? AND result = 'applied'",
                        arguments: [id]) ?? 0
                // A bundle for another site applied here by mistake says nothing of a site this
                // store does not exchange with as a rule (which then never sends one to clear it).
                let refusals = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT result, detail FROM import_log
                        WHERE sender_id = ? AND result LIKE 'refused%' AND id > ? AND (? OR result != ?) ORDER BY id
                        """,
                    arguments: [id, lastAppliedID, usual.contains(site.id), Self.misaddressed])
                let theirs =
                    try Int64.fetchOne(
                        db,
                        sql: """
                            SELECT a.seq FROM peer_ack a JOIN site p ON p.ord = a.peer_ord
                            WHERE p.site_id = ? AND a.origin_ord = a.peer_ord
                            """, arguments: [id]) ?? 0
                let held =
                    try Int64.fetchOne(db, sql: "SELECT chain_seq FROM site WHERE site_id = ?", arguments: [id]) ?? 0
                let trust = trustNames[site.id]
                return (
                    received: received.map { String($0.prefix(10)) }, sent: sent.map { String($0.prefix(10)) },
                    firstSent: firstSent.flatMap { CalendarDate(String($0.prefix(10))) },
                    refusals: refusals.count,
                    lastRefusal: refusals.last.map { ($0[1] as String?) ?? ($0[0] as String) },
                    weLack: identity.kind == .la ? Int(max(0, theirs - held)) : nil, trust: trust
                )
            }
            let verdict: PeerHealth.Verdict
            if row.refusals > 0 {
                verdict = .needsAttention(
                    "its last \(row.refusals) bundle(s) were refused (\(row.lastRefusal ?? "see `sensync log`"))")
            } else if let trust = row.trust, identity.kind == .la || site.kind == .la {
                // Its bundles, and what it says it holds, come through its trust: a bundle the LA
                // made it directly is not answered here, and one it once sent directly (before it
                // joined the trust) dates nothing (it read "silent", lacking its own changes).
                verdict = .throughTrust(trust)
            } else if row.received == nil && row.sent == nil {
                verdict = .needsAttention("no bundle exchanged yet")
            } else if usual.contains(site.id), let received = row.received.flatMap(CalendarDate.init),
                today.daysSinceEpoch - received.daysSinceEpoch >= Self.silentDays
            {
                // Nothing from it for weeks: nobody here knows what it has recorded since (a
                // trust showed an academy silent for two months "in step").
                verdict = .needsAttention(
                    "nothing received from it since \(received) (\(today.daysSinceEpoch - received.daysSinceEpoch) days)"
                )
            } else if usual.contains(site.id), row.received == nil, let first = row.firstSent,
                today.daysSinceEpoch - first.daysSinceEpoch >= Self.silentDays
            {
                // Bundles made for it, none ever back: it lacks nothing, but nobody here knows what
                // it holds or has recorded (it read "in step" for ever).
                verdict = .needsAttention(
                    "nothing received from it since the first bundle made for it, \(first) (\(today.daysSinceEpoch - first.daysSinceEpoch) days)"
                )
            } else if theyLack == 0 && (row.weLack ?? 0) == 0 {
                verdict = .inStep
            } else {
                verdict = .behind(theyLack: theyLack, weLack: row.weLack ?? 0, since: row.sent)
            }
            let throughTrust = if case .throughTrust = verdict { true } else { false }
            out.append(
                PeerHealth(
                    site: site, lastReceived: row.received, lastSent: row.sent, theyLack: throughTrust ? nil : theyLack,
                    weLack: row.weLack,
                    refusedSinceLastApplied: row.refusals, lastRefusal: row.lastRefusal, verdict: verdict))
        }
        return out.sorted { $0.site.name < $1.site.name }
    }
}
