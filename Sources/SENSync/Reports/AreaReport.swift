import Foundation

/// Medians and percentiles as the area report states them: the nearest-rank method (the value at
/// rank ⌈p/100 × n⌉ of the sorted values), so every figure is one of the observed values and can be
/// worked out by hand.
public enum Percentile {
    public static func of(_ values: [Int], _ p: Double) -> Int? {
        guard !values.isEmpty, p > 0, p <= 100 else { return nil }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(1, min(rank, sorted.count)) - 1]
    }
}

/// Waiting times in days: how many, the median, the 90th percentile and the longest.
public struct WaitSummary: Sendable, Hashable {
    public var count: Int
    public var median: Int?
    public var p90: Int?
    public var longest: Int?

    public init(_ days: [Int]) {
        count = days.count
        median = Percentile.of(days, 50)
        p90 = Percentile.of(days, 90)
        longest = days.max()
    }
}

/// "Where in my area are children waiting, and whose move is it?" — the LA's view of a merged
/// store, as values (rendered by the commands). Built from pupils' files by ``AreaReport/init``,
/// with no store: every figure can be checked on a hand-built area.
public struct AreaReport: Sendable {
    public struct School: Sendable, Hashable {
        public var name: String
        public var pupils = 0
        public var senSupport = 0
        public var ehcPlans = 0
        /// Days from a pupil's first concern to the start of their SEN support (K or E).
        public var concernToSupport = WaitSummary([])
        /// Concerns still open (or monitored) whose review date has passed.
        public var concernsPastReview = 0
        public var overdueDuties = 0
        /// Pupils on the school's roll, where the roll is known (entered with `report roll`).
        public var roll: Int?

        /// Pupils with SEN support, and with an EHC plan, as a percentage of the roll.
        public var senSupportShare: Double? { share(senSupport) }
        public var ehcPlanShare: Double? { share(ehcPlans) }
        func share(_ n: Int) -> Double? { roll.flatMap { $0 > 0 ? 100 * Double(n) / Double($0) : nil } }
    }

    /// Open EHC deadlines already passed, by step and by whose move it is.
    public struct EHCOverdue: Sendable, Hashable {
        public var step: String
        public var organisation: String
        public var count: Int
        /// The earliest of their due dates (the longest-waiting case).
        public var oldestDueOn: CalendarDate
    }

    public struct Agency: Sendable, Hashable {
        public var agency: String
        /// Referred → first seen, for referrals seen.
        public var seen: WaitSummary
        /// Referrals not yet answered, seen, declined or closed, and how long they have waited.
        public var waiting: WaitSummary
        /// Seen within 6, 12, 18 weeks, and later.
        public var distribution: [Int]
    }

    public struct Stage: Sendable, Hashable {
        public var stage: String
        public var open = 0
        public var overdue = 0
    }

    public var asOf: CalendarDate
    public var schools: [School]
    /// Pupils by primary need (rank 1, current), census code → count.
    public var primaryNeeds: [(code: String, count: Int)]
    public var agencies: [Agency]
    public var escalations: [Stage]
    /// Pupils by the broad area of their primary need.
    public var broadAreas: [(area: String, count: Int)]
    /// Overdue duties by the organisation responsible for them.
    public var overdueByOrganisation: [(organisation: String, count: Int)]
    /// Open EHC requests and plans past a statutory deadline, and whose move it is.
    public var ehcOverdue: [EHCOverdue]

    // Filled in by ``Store/areaReport(asOf:)`` from the store beyond the pupils' files.

    /// The site whose store the report reads, and every site it includes.
    public var heldBy = ""
    public var sites: [String] = []
    /// EHC deadlines falling in the year to the as-of date, met and missed.
    public var timeliness = EHCTimeliness(steps: [])
    /// Pupils sharing a UPN across different records.
    public var possibleDuplicatePupils = 0
    /// Data freshness: for each site, when its changes last arrived and what it lacks.
    public var freshness: [PeerHealth] = []

    /// The kinds of record the report reads from pupils' files, beside those duties come from.
    public static let kindsRead: Set<String> = ObligationRules.kindsRead.union([
        SENEpisode.name, SENNeedRecord.name, Concern.name, Referral.name, Escalation.name, EHCPlan.name,
    ])

    /// Builds the report from every pupil's file and their open duties.
    public init(
        asOf today: CalendarDate, files: [PupilFile], obligations: [RecordID: [Obligation]],
        rolls: [String: Int] = [:]
    ) {
        asOf = today
        var schools: [String: School] = [:]
        var needs: [String: Int] = [:]
        var seen: [String: [Int]] = [:]
        var waiting: [String: [Int]] = [:]
        var referredTo: Set<String> = []
        var stages: [String: Stage] = [:]
        var byOrganisation: [String: Int] = [:]
        var ehcOverdue: [String: EHCOverdue] = [:]
        var areas: [String: Int] = [:]
        let broadAreaOf = Dictionary(
            (CodeLists.named("census-sen-type")?.codes ?? []).map { ($0.code, $0.broadArea ?? "general") },
            uniquingKeysWith: { a, _ in a })
        var concernDays: [String: [Int]] = [:]
        func live(_ file: PupilFile, _ kind: String) -> [KindRecord] { file.live(kind) }
        // On the report's day: begun by then (or undated), and not ended by then.
        func by(_ date: CalendarDate?) -> Bool { date.map { $0 <= today } ?? false }
        func inForce(_ record: KindRecord, from start: String, to end: String) -> Bool {
            (record.values.date(start).map { $0 <= today } ?? true) && !by(record.values.date(end))
        }
        for file in files {
            let name = file.currentSchool ?? "Not on roll at a school"
            var school = schools[name] ?? School(name: name)
            school.pupils += 1
            let episodes = live(file, SENEpisode.name)
            let open = episodes.filter {
                inForce($0, from: SENEpisode.Field.startDate.rawValue, to: SENEpisode.Field.endDate.rawValue)
            }.compactMap { $0.values.text(SENEpisode.Field.provision) }
            // The LA's record of a plan in force counts too: after `ehc issue` the school's
            // episode says K until the school records E.
            let planInForce = live(file, EHCPlan.name).contains { plan in
                guard let issued = plan.values.date(EHCPlan.Field.issuedOn), issued <= today else { return false }
                return plan.values.date(EHCPlan.Field.ceasedOn).map { $0 > today } ?? true
            }
            let hasSEN = open.contains("E") || open.contains("K") || planInForce
            if open.contains("E") || planInForce {
                school.ehcPlans += 1
            } else if open.contains("K") {
                school.senSupport += 1
            }
            // The primary need of a pupil with SEN that day (a need left open after their SEN
            // support ended counted too, so the needs added up to more pupils than had SEN).
            for need in live(file, SENNeedRecord.name)
            where hasSEN
                && inForce(need, from: SENNeedRecord.Field.startDate.rawValue, to: SENNeedRecord.Field.endDate.rawValue)
                && need.values.integer(SENNeedRecord.Field.rank) == 1
            {
                if let code = need.values.text(SENNeedRecord.Field.need) {
                    needs[code, default: 0] += 1
                    areas[broadAreaOf[code] ?? "general", default: 0] += 1
                }
            }
            let concerns = live(file, Concern.name).filter { by($0.values.date(Concern.Field.raisedOn)) }
            if let first = concerns.compactMap({ $0.values.date(Concern.Field.raisedOn) }).min(),
                let support = episodes.filter({ ["K", "E"].contains($0.values.text(SENEpisode.Field.provision)) })
                    .compactMap({ $0.values.date(SENEpisode.Field.startDate) }).filter({ $0 >= first && $0 <= today })
                    .min()
            {
                concernDays[name, default: []].append(support.daysSinceEpoch - first.daysSinceEpoch)
            }
            school.concernsPastReview +=
                concerns.filter {
                    ["open", "monitoring"].contains($0.values.text(Concern.Field.status))
                        && ($0.values.date(Concern.Field.reviewDate).map { $0 < today } ?? false)
                }.count
            let overdue = (obligations[file.pupil] ?? []).filter { $0.isOverdue(asOf: today) }
            school.overdueDuties += overdue.count
            for o in overdue {
                byOrganisation[o.responsibleOrg, default: 0] += 1
                guard o.kind.hasPrefix("ehc-") else { continue }
                let key = "\(o.kind)\u{0}\(o.responsibleOrg)"
                var row =
                    ehcOverdue[key]
                    ?? EHCOverdue(step: o.kind, organisation: o.responsibleOrg, count: 0, oldestDueOn: o.dueOn)
                row.count += 1
                row.oldestDueOn = min(row.oldestDueOn, o.dueOn)
                ehcOverdue[key] = row
            }
            schools[name] = school
            for referral in live(file, Referral.name) {
                let v = referral.values
                guard let agency = v.text(Referral.Field.agency), let referred = v.date(Referral.Field.referredOn),
                    referred <= today
                else { continue }
                referredTo.insert(agency)
                if let first = v.date(Referral.Field.firstSeenOn), first <= today {
                    seen[agency, default: []].append(first.daysSinceEpoch - referred.daysSinceEpoch)
                } else if !by(v.date(Referral.Field.declinedOn)) && !by(v.date(Referral.Field.closedOn)) {
                    waiting[agency, default: []].append(today.daysSinceEpoch - referred.daysSinceEpoch)
                }
            }
            for escalation in live(file, Escalation.name)
            where inForce(escalation, from: Escalation.Field.openedOn.rawValue, to: Escalation.Field.closedOn.rawValue)
            {
                let stage = escalation.values.text(Escalation.Field.stage) ?? "unknown"
                var row = stages[stage] ?? Stage(stage: stage)
                row.open += 1
                if let due = escalation.values.date(Escalation.Field.responseDueOn), due < today { row.overdue += 1 }
                stages[stage] = row
            }
        }
        for (name, days) in concernDays { schools[name]?.concernToSupport = WaitSummary(days) }
        for (name, roll) in rolls { schools[name]?.roll = roll }
        self.schools = schools.values.sorted { $0.name < $1.name }
        primaryNeeds = needs.map { ($0.key, $0.value) }.sorted { ($0.count, $1.code) > ($1.count, $0.code) }
        agencies = referredTo.sorted().map { agency in
            let days = seen[agency] ?? []
            return Agency(
                agency: agency, seen: WaitSummary(days), waiting: WaitSummary(waiting[agency] ?? []),
                distribution: [
                    days.filter { $0 <= 42 }.count, days.filter { $0 > 42 && $0 <= 84 }.count,
                    days.filter { $0 > 84 && $0 <= 126 }.count, days.filter { $0 > 126 }.count,
                ])
        }
        let order = CodeLists.named("escalation-stage")?.codes.map(\.code) ?? []
        escalations = stages.values.sorted {
            (order.firstIndex(of: $0.stage) ?? 99) < (order.firstIndex(of: $1.stage) ?? 99)
        }
        let areaOrder = CodeLists.named("broad-area-of-need")?.codes.map(\.code) ?? []
        broadAreas = areas.map { ($0.key, $0.value) }.sorted {
            (areaOrder.firstIndex(of: $0.area) ?? 99) < (areaOrder.firstIndex(of: $1.area) ?? 99)
        }
        self.ehcOverdue = ehcOverdue.values.sorted {
            ($0.oldestDueOn, $0.step, $0.organisation) < ($1.oldestDueOn, $1.step, $1.organisation)
        }
        overdueByOrganisation = byOrganisation.map { ($0.key, $0.value) }.sorted {
            ($0.count, $1.organisation) > ($1.count, $0.organisation)
        }
    }
}

extension Store {
    /// The area report over everything this store holds (at the LA: the whole area).
    public func areaReport(asOf: CalendarDate? = nil) throws -> AreaReport {
        // Sync health reads the change log, not pupils' files: it runs beside them (a store
        // reads from several connections at once).
        let freshness = Concurrently { (try self.syncHealth(), try self.duplicatePupilCount()) }
        var report = try pupilFigures(asOf: asOf)
        report.timeliness = try ehcTimeliness(
            from: StatutoryClock.adding(months: -12, to: report.asOf).adding(days: 1), to: report.asOf,
            asOf: report.asOf)
        (report.freshness, report.possibleDuplicatePupils) = try freshness.value()
        report.sites = [identity.name] + report.freshness.map(\.site.name)
        return report
    }

    /// The report's figures that come from pupils' files alone (by school, need and agency, and
    /// overdue duties), without the area-wide sections: what a school's own report shows.
    ///
    /// - Parameter onRollHereOnly: Only pupils on roll at this site now (a school's own report:
    ///   a pupil who left stays in its store until its upstream holds what it wrote about them).
    public func pupilFigures(asOf: CalendarDate? = nil, onRollHereOnly: Bool = false) throws -> AreaReport {
        let today = asOf ?? self.today
        var (files, la, rolls) = try writer.read { db in
            // Each pupil at the school whose roll they were on that day (today's, whatever the
            // day asked for, were read before). One on no roll that day but enrolled later counts
            // at that school if anything recorded about them is dated by then, and is left out
            // if nothing is (they were not known yet).
            let roll = try Self.enrolments(in: db, on: today)
            var files = try pupilFiles(kinds: AreaReport.kindsRead, enrolments: roll.onRoll, in: db)
            // As each file stood that day: a step done later was not done yet.
            if let asOf { files = files.map { $0.asOf(asOf) } }
            files.removeAll { file in
                roll.nextSchool[file.pupil] != nil && !file.hasRecordDated(onOrBefore: today)
            }
            let names = try presenter(in: db).siteNames
            for i in files.indices where files[i].currentSchool == nil {
                guard let next = roll.nextSchool[files[i].pupil] else { continue }
                files[i].currentSchool = names[next] ?? "another school"
            }
            return (files, try localAuthorityName(in: db), try Self.schoolRolls(in: db, names: names))
        }
        // A school's own figures leave out pupils who have left it (kept here until its upstream
        // holds what it wrote about them).
        if onRollHereOnly { files.removeAll { $0.currentSchool != identity.name } }
        var obligations: [RecordID: [Obligation]] = [:]
        for file in files { obligations[file.pupil] = ObligationRules.obligations(of: file, localAuthority: la) }
        // A roll counted after the report's day says nothing of that day's roll (a count from
        // January was set against a report of October before).
        var report = AreaReport(
            asOf: today, files: files, obligations: obligations,
            rolls: Dictionary(
                rolls.filter { $0.asOf <= today }.map { ($0.name, $0.pupils) }, uniquingKeysWith: { a, _ in a }))
        report.heldBy = identity.name
        report.sites = [identity.name]
        return report
    }
}

extension AreaReport {
    /// The report as a page: a headline panel, then per section a chart (with its text
    /// alternative) and the table of the same values.
    public func document() -> HTMLDocument {
        func days(_ n: Int?) -> String { n.map { "\($0) days" } ?? "–" }
        func percent(_ p: Double?) -> String { p.map { String(format: "%.0f%%", $0) } ?? "–" }
        var blocks: [HTMLDocument.Block] = []
        blocks.append(
            .paragraph(
                "As of \(asOf), from the records held by \(heldBy). Sites included: \(sites.joined(separator: ", "))."))
        let h = headline
        blocks.append(
            .panel([
                ["Pupils", String(h.pupils)], ["SEN support", String(h.senSupport)], ["EHC plans", String(h.ehcPlans)],
                ["Duties overdue", String(h.overdueDuties)], ["Referrals waiting", String(h.referralsWaiting)],
                ["Possible duplicate pupils", String(h.possibleDuplicatePupils)],
            ]))
        blocks.append(.heading("SEN support and EHC plans by school"))
        blocks.append(
            .chart(
                HTMLDocument.BarChart(
                    title: "Pupils with SEN support or an EHC plan, by school",
                    summary: schools.map {
                        "\($0.name): \($0.senSupport) SEN support, \($0.ehcPlans) EHC plan\($0.ehcPlans == 1 ? "" : "s")"
                    }
                    .joined(separator: "; ") + ".",
                    bars: schools.map {
                        (
                            $0.name, Double($0.senSupport + $0.ehcPlans),
                            "\($0.senSupport) K + \($0.ehcPlans) E of \($0.pupils)"
                        )
                    })))
        blocks.append(
            .table(
                caption: "Pupils by school (share of the roll where the roll is known)",
                header: ["School", "Pupils", "Roll", "SEN support", "EHC plan", "Overdue duties"],
                rows: schools.map {
                    [
                        $0.name, String($0.pupils), $0.roll.map(String.init) ?? "not known",
                        String($0.senSupport) + ($0.senSupportShare.map { String(format: " (%.1f%%)", $0) } ?? ""),
                        String($0.ehcPlans) + ($0.ehcPlanShare.map { String(format: " (%.1f%%)", $0) } ?? ""),
                        String($0.overdueDuties),
                    ]
                }))
        blocks.append(.heading("Primary need"))
        blocks.append(
            .chart(
                HTMLDocument.BarChart(
                    title: "Pupils by broad area of primary need",
                    summary: broadAreas.map { "\(CodeLists.label("broad-area-of-need", $0.area)): \($0.count)" }
                        .joined(separator: "; ") + ".",
                    bars: broadAreas.map {
                        (CodeLists.label("broad-area-of-need", $0.area), Double($0.count), String($0.count))
                    })
            ))
        blocks.append(
            .table(
                caption: "Pupils by primary need", header: ["Need", "Pupils"],
                rows: primaryNeeds.map { [CodeLists.label("census-sen-type", $0.code), String($0.count)] }))
        blocks.append(.heading("Early identification"))
        blocks.append(
            .chart(
                HTMLDocument.BarChart(
                    title: "Median days from first concern to SEN support, by school",
                    summary: schools.map {
                        "\($0.name): median \(days($0.concernToSupport.median)), 90th percentile \(days($0.concernToSupport.p90)) over \($0.concernToSupport.count) pupils"
                    }
                    .joined(separator: "; ") + ".",
                    bars: schools.map {
                        ($0.name, Double($0.concernToSupport.median ?? 0), days($0.concernToSupport.median))
                    })))
        blocks.append(
            .table(
                caption: "First concern to SEN support (nearest-rank percentiles)",
                header: ["School", "Pupils", "Median", "90th percentile", "Concerns past review"],
                rows: schools.map {
                    [
                        $0.name, String($0.concernToSupport.count), days($0.concernToSupport.median),
                        days($0.concernToSupport.p90), String($0.concernsPastReview),
                    ]
                }))
        blocks.append(.heading("Waiting for outside agencies"))
        blocks.append(
            .chart(
                HTMLDocument.BarChart(
                    title: "Median days from referral to first appointment, by agency",
                    summary: agencies.map {
                        "\(CodeLists.label("referral-agency", $0.agency)): \(days($0.seen.median)) over \($0.seen.count) seen; \($0.waiting.count) still waiting"
                    }
                    .joined(separator: "; ") + ".",
                    bars: agencies.map {
                        (
                            CodeLists.label("referral-agency", $0.agency), Double($0.seen.median ?? 0),
                            days($0.seen.median)
                        )
                    })))
        blocks.append(
            .table(
                caption: "Referral waits (referred to first seen)",
                header: [
                    "Agency", "Seen", "Median", "90th percentile", "Within 6 weeks", "6–12", "12–18", "Over 18",
                    "Waiting", "Longest wait",
                ],
                rows: agencies.map {
                    [
                        CodeLists.label("referral-agency", $0.agency), String($0.seen.count), days($0.seen.median),
                        days($0.seen.p90),
                    ]
                        + $0.distribution.map(String.init) + [String($0.waiting.count), days($0.waiting.longest)]
                }))
        blocks.append(.heading("EHC needs assessments: statutory timeliness"))
        blocks.append(
            .chart(
                HTMLDocument.BarChart(
                    title: "Deadlines met in the year to \(asOf), by step",
                    summary: timeliness.steps.map {
                        "\($0.step): \(percent($0.percentIncludingExceptions)) met, \(percent($0.percentExcludingExceptions)) leaving out excepted cases"
                    }
                    .joined(separator: "; ") + ".",
                    bars: timeliness.steps.map {
                        ($0.step, $0.percentIncludingExceptions ?? 0, percent($0.percentIncludingExceptions))
                    })))
        blocks.append(
            .table(
                caption: "Timeliness with and without exceptions",
                header: ["Step", "Due", "On time", "Late (exception)", "Late", "Met", "Met excluding exceptions"],
                rows: timeliness.steps.map {
                    [
                        $0.step, String($0.due), String($0.onTime), String($0.lateWithException), String($0.late),
                        percent($0.percentIncludingExceptions), percent($0.percentExcludingExceptions),
                    ]
                }))
        blocks.append(
            .table(
                caption: "Open EHC deadlines passed, and whose move it is",
                header: ["Step", "Whose move", "Cases", "Oldest due"],
                rows: ehcOverdue.map { [$0.step, $0.organisation, String($0.count), $0.oldestDueOn.description] }))
        blocks.append(.heading("Whose move is it"))
        blocks.append(
            .table(
                caption: "Overdue duties by responsible organisation", header: ["Organisation", "Overdue"],
                rows: overdueByOrganisation.map { [$0.organisation, String($0.count)] }))
        blocks.append(
            .table(
                caption: "Complaints and appeals open", header: ["Stage", "Open", "Past response date"],
                rows: escalations.map {
                    [CodeLists.label("escalation-stage", $0.stage), String($0.open), String($0.overdue)]
                }))
        blocks.append(.heading("Data freshness"))
        blocks.append(
            .table(
                caption: "When each site's changes last arrived, and what it lacks",
                header: ["Site", "Last received", "Last sent", "Verdict"],
                rows: freshness.map {
                    [$0.site.name, $0.lastReceived ?? "never", $0.lastSent ?? "never", $0.verdictText]
                }))
        blocks.append(
            .paragraph(
                "Possible duplicate pupils (the same UPN on different records): \(possibleDuplicatePupils)."))
        return HTMLDocument(title: "Area report: \(heldBy)", blocks: blocks)
    }
}

/// Work started on another thread now, whose result is waited for when needed.
final class Concurrently<T: Sendable>: @unchecked Sendable {
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> T) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = Result { try body() }
            self.done.signal()
        }
    }

    /// The result, waiting for it if it is not ready; thrown if the work threw.
    func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
