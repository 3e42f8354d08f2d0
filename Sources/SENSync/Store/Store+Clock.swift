import Foundation
import GRDB

/// Why this computer's clock may be ahead: when it applied the newest bundle it has received, it
/// read more than the clock guard past that bundle's making. Either the bundle took that long to
/// arrive (or its sender's clock is slow), or this clock is fast, and every change it stamped
/// would be refused by the other sites until their clocks caught up.
public struct ClockDoubt: Hashable, Sendable {
    /// The site that made the newest bundle received, by its name here.
    public var sender: String
    /// When that bundle was made, by its sender's clock (Unix milliseconds).
    public var madeAt: UInt64
    /// When it was applied here, by this computer's clock (Unix milliseconds).
    public var appliedAt: UInt64
    /// The import log row of that bundle.
    let importID: Int64

    /// How far this computer's clock read past the bundle's making when it applied it, to the
    /// nearest minute.
    public var minutesAhead: UInt64 { appliedAt > madeAt ? (appliedAt - madeAt + 30_000) / 60_000 : 0 }

    /// What was found, for people (no personal data).
    public var message: String {
        "This computer's clock may be \(Self.span(minutesAhead)) ahead: the newest bundle this site has received, from \(sender), was made \(Self.span(minutesAhead)) before this computer's time when it was applied (\(MergeError.utcMinute(appliedAt)) UTC by this computer's clock). Other sites refuse changes stamped too far ahead of their clocks (by default a day)."
    }

    /// What to do next.
    public var hint: String {
        "Check this computer's date and time: if they are wrong, correct them and try again. If they are right (the bundle took that long to arrive, or \(sender)'s clock is slow), say so with `sensync clock confirm`, then try again."
    }

    /// `minutes` as people read a span: days and hours, hours, or minutes.
    public static func span(_ minutes: UInt64) -> String {
        let days = minutes / 1_440
        let hours = minutes % 1_440 / 60
        if days > 0 { return "\(days) day(s)" + (hours > 0 ? " \(hours) hour(s)" : "") }
        return minutes >= 120 ? "\(minutes / 60) hours" : "\(minutes) minutes"
    }
}

/// What `sensync clock` shows: this computer's clock beside the stamps this site has received and
/// made.
public struct ClockCheck: Sendable {
    /// This computer's clock (Unix milliseconds).
    public var now: UInt64
    /// The newest bundle received (made latest by its sender's clock): who made it, when it was made
    /// and when it was applied here. The doubt's fields, whether or not it raises one.
    public var newestBundle: ClockDoubt?
    /// This site's latest stamp.
    public var latestOwnStamp: HLC
    /// When the user last said this clock is right (`sensync clock confirm`), by this clock.
    public var confirmedAt: String?
    /// Set when local writes are refused because this clock may be ahead.
    public var doubt: ClockDoubt?
    /// How far this site's latest stamp is ahead of this clock, when more than the guard.
    public var ownStampsAheadMinutes: UInt64?
}

extension Store {
    /// This computer's clock beside the newest stamps received and this site's own (read-only).
    public func clockCheck() throws -> ClockCheck {
        try reading { db in
            let applier = self.applier
            let own = try Self.ownStamps(in: db, against: applier)
            return ClockCheck(
                now: applier.now, newestBundle: try Self.newestBundle(in: db)?.doubt, latestOwnStamp: own.latest,
                confirmedAt: try String.fetchOne(db, sql: "SELECT clock_confirmed_at FROM site_identity"),
                doubt: try clockDoubt(at: applier.now, in: db), ownStampsAheadMinutes: own.aheadMinutes)
        }
    }

    /// This site's latest stamp, and how many minutes it is ahead of `applier`'s clock when that is
    /// more than the guard (the clock was set back after writing with a fast one).
    static func ownStamps(in db: Database, against applier: ChangeApplier) throws -> (
        latest: HLC, aheadMinutes: UInt64?
    ) {
        let latest = HLC(
            rawValue: UInt64(bitPattern: try Int64.fetchOne(db, sql: "SELECT hlc FROM site_identity") ?? 0))
        return (latest, applier.isAhead(latest) ? (latest.milliseconds - applier.now) / 60_000 : nil)
    }

    /// Why this computer's clock may be ahead of the sites it hears from, if anything says so and
    /// nobody has said since that it is right. Read-only. A clock that now reads earlier than it
    /// did when it applied the newest bundle was set back since: that is taken as put right.
    public func clockDoubt() throws -> ClockDoubt? {
        try reading { db in try clockDoubt(at: now(), in: db) }
    }

    func clockDoubt(at wall: UInt64, in db: Database) throws -> ClockDoubt? {
        guard let doubt = try Self.clockDoubt(guardSeconds: clockGuardSeconds, in: db) else { return nil }
        return wall < doubt.appliedAt ? nil : doubt
    }

    /// Records that this computer's clock is right although the bundles received so far suggest
    /// otherwise (they took long to arrive, or their senders' clocks are slow), so local writes go
    /// on. A bundle received later is checked again. Returns the doubt it cleared, if there was one.
    @discardableResult
    public func confirmClock() throws -> ClockDoubt? {
        try writer.write { db in
            let doubt = try Self.clockDoubt(guardSeconds: clockGuardSeconds, in: db)
            try db.execute(
                sql: """
                    UPDATE site_identity SET clock_confirmed_import = (SELECT coalesce(max(id), 0) FROM import_log),
                      clock_confirmed_at = ?
                    """,
                arguments: [HLC(milliseconds: now(), counter: 0).description])
            return doubt
        }
    }

    /// Before the first local change of a transaction: refuses it when this computer's clock may
    /// be ahead (``ClockDoubt``). Returns the wall clock it read, if it read one (only when there
    /// is doubt, so a write reads the clock as often as it did before this check).
    func checkClockBeforeWriting(in db: Database) throws -> UInt64? {
        guard let doubt = try Self.clockDoubt(guardSeconds: clockGuardSeconds, in: db) else { return nil }
        let wall = now()
        guard wall >= doubt.appliedAt else {
            // Set back since it applied that bundle: put right. Remembered, so that when real time
            // passes the fast clock's old reading the same bundle is not taken as evidence again.
            try db.execute(
                sql: "UPDATE site_identity SET clock_confirmed_import = max(clock_confirmed_import, ?)",
                arguments: [doubt.importID])
            return wall
        }
        throw StoreError(.clockAhead, "\(doubt.message) Nothing was recorded.", hint: doubt.hint)
    }

    /// The doubt the import log raises, ignoring the clock's present reading: the bundle made
    /// latest (by its sender's clock) of all applied, if it was applied more than the guard after
    /// it was made and after the user last confirmed the clock.
    static func clockDoubt(guardSeconds: Int, in db: Database) throws -> ClockDoubt? {
        guard let newest = try newestBundle(in: db), newest.doubt.importID > newest.confirmedImport,
            newest.doubt.appliedAt > newest.doubt.madeAt + UInt64(guardSeconds) * 1_000
        else { return nil }
        return newest.doubt
    }

    /// The applied bundle made latest by its sender's clock, and the last import the user
    /// confirmed the clock after.
    private static func newestBundle(in db: Database) throws -> (doubt: ClockDoubt, confirmedImport: Int64)? {
        guard
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT i.id, i.made_at, i.applied_at, coalesce(s.name, i.sender_name),
                               (SELECT clock_confirmed_import FROM site_identity)
                        FROM import_log i LEFT JOIN site s ON s.ord = i.sender_ord
                        WHERE i.made_at IS NOT NULL ORDER BY i.made_at DESC LIMIT 1
                        """)),
            let id = row[0] as Int64?, let madeAt = row[1] as Int64?, let appliedAt = row[2] as Int64?
        else { return nil }
        let doubt = ClockDoubt(
            sender: row[3] as String? ?? "another site", madeAt: UInt64(clamping: madeAt),
            appliedAt: UInt64(clamping: appliedAt), importID: id)
        return (doubt, row[4] as Int64? ?? 0)
    }
}
