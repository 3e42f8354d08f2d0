import Foundation

/// The three school census days of a year (sen-domain.md §2.1): autumn on the first Thursday in
/// October, spring on the third Thursday in January, summer on the third Thursday in May.
public enum CensusTerm: String, Sendable, CaseIterable, CustomStringConvertible {
    case autumn, spring, summer

    /// The census day of this term in calendar year `year` (`spring.day(in: 2025)` is 2025-01-16).
    public func day(in year: Int) -> CalendarDate {
        switch self {
        case .autumn: Self.thursday(1, month: 10, year: year)
        case .spring: Self.thursday(3, month: 1, year: year)
        case .summer: Self.thursday(3, month: 5, year: year)
        }
    }

    /// The term a date falls in, for a census dated by hand: January to March is spring, April to
    /// August summer, September to December autumn.
    public init(containing date: CalendarDate) {
        switch date.month {
        case 1...3: self = .spring
        case 4...8: self = .summer
        default: self = .autumn
        }
    }

    /// Whether this census collects pupils' SEN types (ranked needs): the spring census, for pupils
    /// with provision E or K (sen-domain.md §2.1). SEN provision is collected every census.
    public var collectsSENType: Bool { self == .spring }

    public var description: String { rawValue }

    /// The `n`th Thursday of a month.
    static func thursday(_ n: Int, month: Int, year: Int) -> CalendarDate {
        let first = CalendarDate(year: year, month: month, day: 1)
        // 1970-01-01, day 0, was a Thursday.
        let sinceThursday = ((first.daysSinceEpoch % 7) + 7) % 7
        return first.adding(days: (7 - sinceThursday) % 7 + 7 * (n - 1))
    }
}

/// A school's census SEN return as values: one row per pupil on roll on the census day, with their
/// SEN provision (E, K or N) and, in the spring census, their SEN types by rank (1 primary,
/// 2 secondary), in the DfE's codes. Rows that break a census rule are not written but listed in
/// ``problems``; an export with problems is refused.
///
/// Built from pupils' files with no store, so every row can be worked out by hand; the columns,
/// their sources and rules are in `Schemas/exports/census.md`.
public struct CensusExport: Sendable {
    /// One pupil's census SEN items.
    public struct Row: Sendable, Hashable {
        public var pupil: RecordID
        public var upn: String
        /// E, K or N.
        public var provision: String
        /// SEN type codes by rank from 1 (index 0); empty when the census does not collect them or
        /// the pupil's provision is N.
        public var needs: [String]

        public init(pupil: RecordID, upn: String, provision: String, needs: [String] = []) {
            self.pupil = pupil
            self.upn = upn
            self.provision = provision
            self.needs = needs
        }
    }

    /// The ranks the census collects: primary (1) and secondary (2). Needs ranked lower are not
    /// carried.
    public static let ranks = 1...2

    /// The CSV header: the declarations' census names (`UPN`, `SENprovision`), then `SENtype1` and
    /// `SENtype2` (the `SENtype` of `SENtypeRank` 1 and 2).
    public static let header: [String] =
        [Pupil.Field.upn.censusName, SENEpisode.Field.provision.censusName]
        + ranks.map { SENNeedRecord.Field.need.censusName + String($0) }

    /// The school returning the census.
    public var school: SiteIdentity
    public var censusDay: CalendarDate
    public var term: CensusTerm
    /// Pupils on roll on the census day, by UPN.
    public var rows: [Row]
    /// Records that break a census rule, by pupil; the export is refused while there are any.
    public var problems: [ExportProblem]

    /// The kinds of record the census reads from pupils' files.
    public static let kindsRead: Set<String> = [
        Pupil.name, Enrolment.name, SENEpisode.name, SENNeedRecord.name, EHCPlan.name,
    ]

    /// Builds the census return of `school` on `censusDay` from pupils' files (with the kinds in
    /// ``kindsRead``). `term` defaults to the term the day falls in.
    public init(school: SiteIdentity, censusDay: CalendarDate, term: CensusTerm? = nil, files: [PupilFile]) {
        self.school = school
        self.censusDay = censusDay
        self.term = term ?? CensusTerm(containing: censusDay)
        var rows: [Row] = []
        var problems: [ExportProblem] = []
        for file in files {
            guard let pupil = file.live(Pupil.name).first else { continue }
            let onRoll = file.live(Enrolment.name).contains {
                $0.values.text(Enrolment.Field.schoolID) == school.id.description
                    && $0.applies(on: censusDay, from: Enrolment.Field.entryDate, to: .leavingDate)
            }
            guard onRoll else { continue }
            var found: [ExportProblem] = []
            let row = Self.row(
                pupil: file.pupil, values: pupil.values, file: file, school: school.id, day: censusDay,
                collectsSENType: self.term.collectsSENType, problems: &found)
            if found.isEmpty {
                rows.append(row)
            } else {
                problems += found
            }
        }
        self.rows = rows.sorted { ($0.upn, $0.pupil) < ($1.upn, $1.pupil) }
        self.problems = problems.sorted { $0.pupil < $1.pupil }
    }

    private static func row(
        pupil: RecordID, values: KindValues, file: PupilFile, school: SiteID, day: CalendarDate,
        collectsSENType: Bool, problems: inout [ExportProblem]
    ) -> Row {
        func problem(_ message: String, hint: String? = nil) {
            problems.append(ExportProblem(pupil: pupil, message, hint: hint))
        }
        let upn = values.text(Pupil.Field.upn) ?? ""
        if upn.isEmpty {
            problem(
                "The pupil has no UPN; the census names every pupil by UPN.",
                hint: "Record it with `sensync pupil update \(pupil) --upn UPN`.")
        }

        // SEN provision on the day: the school's open episode, or E for an EHC plan in force.
        let episodes = file.live(SENEpisode.name).filter {
            $0.values.text(SENEpisode.Field.schoolID) == school.description
                && $0.applies(on: day, from: SENEpisode.Field.startDate, to: .endDate)
        }
        let open = Array(Set(episodes.compactMap { $0.values.text(SENEpisode.Field.provision) })).sorted()
        let plan = file.live(EHCPlan.name).filter {
            $0.applies(on: day, from: EHCPlan.Field.issuedOn, to: .ceasedOn)
        }.compactMap { $0.values.date(EHCPlan.Field.issuedOn) }.min()
        if open.count > 1 {
            problem(
                "Open SEN provision episodes here disagree on \(day) (\(open.joined(separator: ", "))).",
                hint:
                    "End the one that no longer applies (`sensync sen-episode update ID --end-date DATE`; the open ones are "
                    + "\(episodes.map(\.id.description).sorted().joined(separator: " and ")))).")
        }
        let provision = open.first ?? (plan == nil ? "N" : "E")
        let provisionCodes = CodeLists.named("census-sen-provision")
        if provisionCodes?.codes.contains(where: { $0.code == provision }) == false {
            problem(
                "'\(provision)' is not a census SEN provision code.",
                hint: "Use one of: \(provisionCodes?.codeSummary ?? "E, K, N").")
        }
        if let plan, provision != "E" {
            problem(
                "An EHC plan issued on \(plan) is in force on \(day), but the SEN provision recorded here is "
                    + "\(provision).",
                hint:
                    "A pupil with an EHC plan is E in the census: end the open episode and record an E one "
                    + "(`sensync sen-episode update \(episodes.first { $0.values.text(SENEpisode.Field.provision) != "E" }?.id.description ?? "ID") --end-date DATE`, then `sensync sen-episode add --pupil "
                    + "\(pupil) --provision E --school-id here --start-date DATE`), or from today in one step: "
                    + "`sensync pupil update \(pupil) --sen-status E`.")
        }

        // SEN types, in the census that collects them, for E and K.
        guard collectsSENType, provision == "E" || provision == "K" else {
            return Row(pupil: pupil, upn: upn, provision: provision)
        }
        let needs = file.live(SENNeedRecord.name).filter {
            $0.applies(on: day, from: SENNeedRecord.Field.startDate, to: .endDate)
        }
        for violation in CensusRules.problems(openProvision: [provision], needs: needs.map(\.values)) {
            problems.append(ExportProblem(pupil: pupil, violation))
        }
        let types = CodeLists.named("census-sen-type")
        for code in Set(needs.compactMap { $0.values.text(SENNeedRecord.Field.need) }).sorted() {
            if types?.codes.contains(where: { $0.code == code }) == false {
                problem(
                    "'\(code)' is not a census SEN type.",
                    hint: "Use one of: \(types?.codeSummary ?? "the census codes").")
            } else if !CensusRules.isCollected(code, on: day) {
                problem(
                    "DS (Down syndrome) is a census SEN type only from January 2025; this census is on \(day).",
                    hint: "For a census before 2025, record the need that applied then.")
            }
        }
        let byRank = ranks.map { rank in
            needs.first { $0.values.integer(SENNeedRecord.Field.rank) == Int64(rank) }?.values.text(
                SENNeedRecord.Field.need) ?? ""
        }
        return Row(pupil: pupil, upn: upn, provision: provision, needs: byRank)
    }

    /// The rows as CSV cells, in ``header`` order.
    public var csvRows: [[String]] {
        rows.map { row in
            [row.upn, row.provision] + Self.ranks.map { rank in rank <= row.needs.count ? row.needs[rank - 1] : "" }
        }
    }
}

extension Store {
    /// This school's census SEN return on `censusDay` (today in England by default): every pupil on
    /// roll here that day. `term` defaults to the term the day falls in; only the spring census
    /// carries SEN types.
    ///
    /// - Throws: ``StoreError`` when this store is not a school's (trusts and the LA return no
    ///   school census).
    public func censusExport(on censusDay: CalendarDate? = nil, term: CensusTerm? = nil) throws -> CensusExport {
        guard identity.kind.isSchool else {
            throw StoreError(
                .invalidInput,
                "The school census is returned by a school for the pupils on its roll; this is a "
                    + "\(identity.kind.label)'s store.",
                hint: "Run `sensync export census` with the school's store.")
        }
        let day = censusDay ?? today
        let files = try writer.read { db in try exportFiles(kinds: CensusExport.kindsRead, in: db) }
        return CensusExport(school: identity, censusDay: day, term: term, files: files)
    }
}
