import Foundation
import GRDB

/// Pupils on a school's roll as the LA knows it (from the school census), kept so the area report
/// can state SEN support and EHC plans as a share of the roll.
public struct SchoolRoll: Sendable, Hashable {
    public var site: SiteID
    public var name: String
    public var pupils: Int
    public var asOf: CalendarDate
}

extension Store {
    /// The largest roll recorded: more than any school in England has.
    public static let maxRoll = 20_000

    /// Records the number of pupils on a school's roll (a site known here, by name or id) on a
    /// date, replacing what was recorded before. Local to this store: rolls are not replicated.
    public func setSchoolRoll(school reference: String, pupils: Int, asOf: CalendarDate) throws -> SchoolRoll {
        guard pupils >= 0 else {
            throw StoreError(.invalidInput, "A roll cannot be negative.", hint: "Give the number of pupils on roll.")
        }
        guard pupils <= Self.maxRoll else {
            throw StoreError(
                .invalidInput, "A school's roll is at most \(Self.maxRoll) pupils.",
                hint: "Give the number of pupils on roll from the school's census.")
        }
        guard asOf <= localToday else {
            throw StoreError(
                .invalidInput, "The roll's date is in the future.",
                hint: "Give the census date the count is from (today by default).")
        }
        let site = try resolveSite(reference, includingThisSite: true)
        guard site.kind != .la && site.kind != .trust else {
            throw StoreError(
                .invalidInput, "\(site.name) is not a school; only schools have a roll.",
                hint: "Name a school from `sensync peer list`.")
        }
        try writer.write { db in
            // The roll is every pupil, with SEN or not: never fewer than this store holds there.
            let held =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(DISTINCT e.pupil_id) FROM enrolment e
                        JOIN pupil p ON p.pupil_id = e.pupil_id AND p.id = e.pupil_id AND p.deleted = 0
                        WHERE e.school_id = ? AND e.deleted = 0 AND e.entry_date <= ?
                          AND (e.leaving_date IS NULL OR e.leaving_date > ?)
                        """, arguments: [site.id.description, asOf.description, asOf.description]) ?? 0
            // One roll per school, the latest: an older count would replace it (and the check
            // above would be against that older day's roll).
            if let recorded = try String.fetchOne(
                db, sql: "SELECT as_of FROM school_roll WHERE site_id = ?", arguments: [site.id.description]),
                let latest = CalendarDate(recorded), asOf < latest
            {
                throw StoreError(
                    .invalidInput,
                    "\(site.name)'s roll on \(latest) is recorded already; a count from before it would replace it.",
                    hint: "Give the latest count, from the latest census.")
            }
            guard pupils >= held else {
                throw StoreError(
                    .invalidInput,
                    "That is fewer than the \(held) pupil(s) this store holds on \(site.name)'s roll on \(asOf).",
                    hint: "Give the school's whole roll from its census (every pupil, with SEN or not).")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO school_roll (site_id, pupils, as_of) VALUES (?, ?, ?)",
                arguments: [site.id.description, pupils, asOf.description])
        }
        return SchoolRoll(site: site.id, name: site.name, pupils: pupils, asOf: asOf)
    }

    /// Every school roll recorded here, by school name.
    public func schoolRolls() throws -> [SchoolRoll] {
        try reading { db in try Self.schoolRolls(in: db, names: presenter(in: db).siteNames) }
    }

    static func schoolRolls(in db: Database, names: [SiteID: String]) throws -> [SchoolRoll] {
        try Row.fetchAll(db, sql: "SELECT site_id, pupils, as_of FROM school_roll").compactMap { row in
            guard let site = SiteID(row[0] as String), let asOf = CalendarDate(row[2] as String) else { return nil }
            return SchoolRoll(site: site, name: names[site] ?? site.short, pupils: row[1], asOf: asOf)
        }.sorted { $0.name < $1.name }
    }
}
