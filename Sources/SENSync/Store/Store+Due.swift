import Foundation
import GRDB

/// A duty as `sensync due` lists it: the obligation and the pupil's name and UPN.
public struct DueItem: Sendable, Hashable {
    public var obligation: Obligation
    public var pupilName: String
    public var upn: String?
    public var overdue: Bool
}

extension Store {
    /// Today in England.
    public var localToday: CalendarDate { today }

    /// Every pupil's file (records by kind), for duties, summaries and reports.
    /// `kinds` limits the records read to those kinds (a report reads only what it needs).
    /// - Parameter enrolments: The schools each pupil is on roll at (by default their current
    ///   enrolments), naming each file's current school.
    func pupilFiles(
        only pupil: RecordID? = nil, kinds: Set<String>? = nil, enrolments: [RecordID: [SiteID]]? = nil,
        in db: Database
    ) throws -> [PupilFile] {
        let pupils = try Self.records(Pupil.spec, pupil: pupil, in: db)
        var byPupil: [RecordID: [String: [KindRecord]]] = [:]
        // The pupil's own record is read into the file only when asked for by name (the exports
        // need it; `pupil show` lists a file's records and shows the pupil apart).
        for kind in RecordSchema.kinds
        where kind.name != Erasure.name && kinds.map({ $0.contains(kind.name) }) ?? (kind.name != Pupil.name) {
            if kind.name == Pupil.name {
                for record in pupils { byPupil[record.pupilID, default: [:]][kind.name, default: []].append(record) }
            } else if let pupil {
                byPupil[pupil, default: [:]][kind.name] = try Self.records(kind, pupil: pupil, in: db)
            } else {
                try Self.recordsByPupil(kind, in: db) { id, records in byPupil[id, default: [:]][kind.name] = records }
            }
        }
        let enrolments = try enrolments ?? Self.currentEnrolments(in: db, pupil: pupil, on: localToday)
        let names = try presenter(in: db).siteNames
        let removed = Set(
            (try Self.directory(in: db)?.entries ?? []).filter(\.isRevoked).map { $0.site.id.description })
        return pupils.filter { $0.id == $0.pupilID }.map { record in
            let current = enrolments[record.pupilID] ?? []
            // Every school they were ever on roll at (from the enrolments read, when they were):
            // those they are not at now they have left.
            let ever = (byPupil[record.pupilID]?[Enrolment.name] ?? []).compactMap {
                $0.values.text(Enrolment.Field.schoolID).flatMap(SiteID.init)
            }
            return PupilFile(
                pupil: record.pupilID, dateOfBirth: record.values.date(Pupil.Field.dateOfBirth),
                currentSchool: current.first.map { names[$0] ?? "another school" },
                records: byPupil[record.pupilID] ?? [:], loadedKinds: kinds,
                schoolsLeft: Set(Set(ever).subtracting(current).compactMap { names[$0] }), removedSchools: removed)
        }
    }

    /// The name of this area's LA, as this store knows it.
    func localAuthorityName(in db: Database) throws -> String {
        if identity.kind == .la { return identity.name }
        return try String.fetchOne(db, sql: "SELECT name FROM site WHERE kind = 'la' AND name IS NOT NULL LIMIT 1")
            ?? "The local authority"
    }

    /// The most days ahead ``due(asOf:within:)`` looks: about 100 years, past any duty's date.
    public static let maxDaysAhead = 36_525

    /// What is due or overdue at this site, soonest first: every open duty of every pupil this store
    /// holds, up to `within` days after `asOf` (today in England by default). Overdue duties are
    /// always listed.
    ///
    /// - Throws: ``StoreError`` when `days` is negative or more than ``maxDaysAhead``.
    public func due(asOf: CalendarDate? = nil, within days: Int? = nil) throws -> [DueItem] {
        if let days, !(0...Self.maxDaysAhead).contains(days) {
            throw StoreError(
                .invalidInput, "Duties are listed from 0 to \(Self.maxDaysAhead) days ahead (100 years).",
                hint: "Give a number of days in that range.")
        }
        let today = asOf ?? self.today
        return try reading { db in
            let la = try localAuthorityName(in: db)
            let pupils = Dictionary(
                try Self.records(Pupil.spec, pupil: nil, in: db).map { ($0.pupilID, $0) },
                uniquingKeysWith: { a, _ in a })
            var items: [DueItem] = []
            for read in try pupilFiles(kinds: ObligationRules.kindsRead, in: db) {
                // As the file stood that day: what was done later is still due then.
                let file = asOf.map { read.asOf($0) } ?? read
                let pupil = pupils[file.pupil]
                let name =
                    "\(pupil?.values.text(Pupil.Field.forename) ?? "?") \(pupil?.values.text(Pupil.Field.surname) ?? "?")"
                for obligation in ObligationRules.obligations(of: file, localAuthority: la) {
                    if let days, obligation.dueOn > today.adding(days: days) { continue }
                    // The family's time to comment, once over, leaves nothing to do (it read
                    // "OVERDUE … The family").
                    if obligation.isPeriod && obligation.dueOn < today { continue }
                    items.append(
                        DueItem(
                            obligation: obligation, pupilName: name, upn: pupil?.values.text(Pupil.Field.upn),
                            overdue: obligation.isOverdue(asOf: today)))
                }
            }
            return items.sorted {
                ($0.obligation.dueOn, $0.pupilName, $0.obligation.kind) < (
                    $1.obligation.dueOn, $1.pupilName, $1.obligation.kind
                )
            }
        }
    }
}

extension Store {
    /// One pupil's file: every record of every kind this store holds about them.
    public func pupilFile(of reference: String) throws -> PupilFile {
        let id = try pupilID(for: reference)
        return try reading { db in
            guard let file = try pupilFiles(only: id, in: db).first else {
                throw StoreError(
                    .notFound, "No pupil with that id is in this store.", hint: "See `sensync pupil list`.")
            }
            return file
        }
    }

    /// A pupil's open duties, soonest first.
    public func obligations(of reference: String) throws -> [Obligation] {
        let file = try pupilFile(of: reference)
        let la = try reading { db in try localAuthorityName(in: db) }
        return ObligationRules.obligations(of: file, localAuthority: la)
    }
}
