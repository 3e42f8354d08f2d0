import Foundation
import Testing

@testable import SENSync

/// The area report's figures on a small hand-built area; every answer is worked out in the test.
struct AreaReportTests {
    @Test func percentilesUseTheNearestRank() {
        #expect(Percentile.of(Array(1...10), 50) == 5)  // rank ⌈5⌉ = 5
        #expect(Percentile.of(Array(1...10), 90) == 9)  // rank ⌈9⌉ = 9
        #expect(Percentile.of([3, 1, 2], 50) == 2)  // rank ⌈1.5⌉ = 2 of 1, 2, 3
        #expect(Percentile.of([3, 1, 2], 90) == 3)  // rank ⌈2.7⌉ = 3
        #expect(Percentile.of([7], 90) == 7)
        #expect(Percentile.of([], 50) == nil)
    }

    static func record(_ kind: KindSpec, _ pupil: RecordID, _ values: [String: String]) -> KindRecord {
        KindRecord(
            kind: kind.name, id: .v7(), pupilID: pupil,
            values: KindValues(values.mapValues { Int64($0).map(Value.integer) ?? .text($0) }), isDeleted: false)
    }

    /// Four pupils at one school, each figure worked out by hand in the comments.
    static func workedArea() -> AreaReport {
        let p = (0..<4).map { _ in RecordID.v7() }
        func file(_ i: Int, _ records: [KindRecord]) -> PupilFile {
            PupilFile(
                pupil: p[i], dateOfBirth: nil, currentSchool: "Oakfield",
                records: Dictionary(grouping: records, by: \.kind))
        }
        let files = [
            // Concern 5 Jan → SEN support 2 Feb: 28 days. Speech therapy seen after 42 days.
            file(
                0,
                [
                    record(Concern.spec, p[0], ["raised_on": "2026-01-05", "status": "sen-support"]),
                    record(SENEpisode.spec, p[0], ["provision": "K", "start_date": "2026-02-02"]),
                    record(SENNeedRecord.spec, p[0], ["need": "SLCN", "rank": "1", "start_date": "2026-02-02"]),
                    record(
                        Referral.spec, p[0],
                        [
                            "agency": "speech-language-therapy", "referred_on": "2026-01-05",
                            "first_seen_on": "2026-02-16",
                        ]),
                ]),
            // Concern 10 Jan → SEN support 21 Mar: 70 days. Seen after 91 days.
            file(
                1,
                [
                    record(Concern.spec, p[1], ["raised_on": "2026-01-10", "status": "sen-support"]),
                    record(SENEpisode.spec, p[1], ["provision": "K", "start_date": "2026-03-21"]),
                    record(SENNeedRecord.spec, p[1], ["need": "SLCN", "rank": "1", "start_date": "2026-03-21"]),
                    record(
                        Referral.spec, p[1],
                        [
                            "agency": "speech-language-therapy", "referred_on": "2025-12-22",
                            "first_seen_on": "2026-03-23",
                        ]),
                ]),
            // An open concern past its review date; a referral waiting 30 days.
            file(
                2,
                [
                    record(
                        Concern.spec, p[2], ["raised_on": "2026-02-01", "status": "open", "review_date": "2026-02-15"]),
                    record(Referral.spec, p[2], ["agency": "speech-language-therapy", "referred_on": "2026-03-01"]),
                ]),
            // An EHC plan; a declined referral (not waiting); an open LA complaint past its deadline.
            file(
                3,
                [
                    record(SENEpisode.spec, p[3], ["provision": "E", "start_date": "2025-09-01"]),
                    record(SENNeedRecord.spec, p[3], ["need": "ASD", "rank": "1", "start_date": "2025-09-01"]),
                    record(
                        Referral.spec, p[3],
                        ["agency": "educational-psychology", "referred_on": "2026-01-01", "declined_on": "2026-01-20"]),
                    record(
                        Escalation.spec, p[3],
                        ["stage": "la-complaint", "opened_on": "2026-02-01", "response_due_on": "2026-03-01"]),
                    record(
                        Escalation.spec, p[3],
                        ["stage": "school-complaint", "opened_on": "2026-01-01", "closed_on": "2026-01-20"]),
                ]),
        ]
        let overdue = Obligation(
            kind: "plan-review", pupil: p[0], record: .v7(), what: "Review", dueOn: CalendarDate("2026-03-01")!,
            responsibleOrg: "Oakfield", responsibleRole: nil, statute: nil, exceptionApplies: false)
        var later = overdue
        later.dueOn = CalendarDate("2026-05-01")!
        // An EHC decision 2 weeks overdue, the LA's move; a later one not yet due.
        let ehcLate = Obligation(
            kind: "ehc-decision", pupil: p[2], record: .v7(), what: "Decide", dueOn: CalendarDate("2026-03-17")!,
            responsibleOrg: "Northshire", responsibleRole: nil, statute: "s36(4)", exceptionApplies: false)
        var ehcLater = ehcLate
        ehcLater.dueOn = CalendarDate("2026-04-10")!
        return AreaReport(
            asOf: CalendarDate("2026-03-31")!, files: files,
            obligations: [p[0]: [overdue, later], p[2]: [ehcLate, ehcLater]], rolls: ["Oakfield": 200])
    }

    @Test func anAreaWorkedOutByHand() {
        let report = Self.workedArea()

        let school = try! #require(report.schools.first)
        #expect(report.schools.count == 1 && school.pupils == 4)
        #expect(school.senSupport == 2 && school.ehcPlans == 1)
        #expect(school.concernToSupport == WaitSummary([28, 70]))
        #expect(school.concernToSupport.median == 28 && school.concernToSupport.p90 == 70)
        #expect(school.concernsPastReview == 1)
        #expect(school.overdueDuties == 2)
        // 2 of a roll of 200 on SEN support is 1%; 1 EHC plan is 0.5%.
        #expect(school.roll == 200 && school.senSupportShare == 1.0 && school.ehcPlanShare == 0.5)
        #expect(
            report.overdueByOrganisation.map { "\($0.organisation) \($0.count)" } == ["Northshire 1", "Oakfield 1"])
        #expect(report.primaryNeeds.map { "\($0.code) \($0.count)" } == ["SLCN 2", "ASD 1"])
        // SLCN and ASD both fall under communication and interaction.
        #expect(report.broadAreas.map { "\($0.area) \($0.count)" } == ["communication-interaction 3"])
        #expect(
            report.ehcOverdue == [
                .init(
                    step: "ehc-decision", organisation: "Northshire", count: 1, oldestDueOn: CalendarDate("2026-03-17")!
                )
            ])

        let speech = try! #require(report.agencies.first { $0.agency == "speech-language-therapy" })
        #expect(speech.seen.count == 2 && speech.seen.median == 42 && speech.seen.p90 == 91)
        #expect(speech.distribution == [1, 0, 1, 0])  // within 6 weeks; 12–18 weeks
        #expect(speech.waiting.count == 1 && speech.waiting.longest == 30)
        let ep = try! #require(report.agencies.first { $0.agency == "educational-psychology" })
        #expect(ep.seen.count == 0 && ep.waiting.count == 0)
        #expect(report.escalations.map { "\($0.stage) \($0.open) \($0.overdue)" } == ["la-complaint 1 1"])
    }

    /// Old's store, in an area of schools Old and New: two pupils at Old (UPNs `first` and
    /// `first + 1`, entering on `entering`, by default today), the first moving to New on
    /// `movingOn`, as Old records it.
    static func twoPupilsOneMoves(_ dir: URL, first: Int, entering: String? = nil, movingOn: String) throws -> Store {
        let area = try ScopeArea(folder: dir)
        try area.add("Old", .maintainedSchool)
        try area.add("New", .maintainedSchool)
        try area.distributeDirectory()
        let old = area["Old"]
        for n in 0...1 {
            try old.addPupil(
                NewPupil(
                    upn: syntheticUPN(first + n), forename: "P\(n)", surname: "S", dateOfBirth: "2016-04-01",
                    entryDate: entering),
                author: "SENCO")
        }
        let leaver = try old.pupilID(for: syntheticUPN(first))
        try old.transferPupil(leaver.description, to: area.id("New"), on: movingOn, author: "SENCO")
        return old
    }

    /// A school's own figures count the pupils on its roll: one who moved on is still in its
    /// store (until its upstream holds what it wrote), not in its figures.
    @Test func aSchoolsFiguresLeaveOutAPupilWhoHasLeft() throws {
        try withTemporaryDirectory { dir in
            let old = try Self.twoPupilsOneMoves(dir, first: 61, movingOn: ScopeArea.today)
            #expect(try old.pupils().count == 2)  // still held: the LA has not had it yet
            #expect(try old.pupilFigures(onRollHereOnly: true).schools.map(\.pupils).reduce(0, +) == 1)
            #expect(try old.pupilFigures().schools.map(\.pupils).reduce(0, +) == 2)
        }
    }

    /// As of a day, a pupil is counted at the school whose roll they were on that day, and not at
    /// all before they joined any: the enrolments read were today's whatever the day asked for.
    @Test func aPupilIsCountedWhereTheyWereOnRollOnTheDay() throws {
        try withTemporaryDirectory { dir in
            let old = try Self.twoPupilsOneMoves(dir, first: 71, entering: "2025-09-01", movingOn: "2026-01-05")
            func onRoll(_ day: String) throws -> Int {
                try old.pupilFigures(asOf: CalendarDate(day)!, onRollHereOnly: true).schools.map(\.pupils).reduce(0, +)
            }
            #expect(try onRoll("2025-08-01") == 0)
            #expect(try onRoll("2025-12-01") == 2)
            #expect(try onRoll("2026-02-02") == 1)
        }
    }

    /// `--as-of` is a day in the past the figures are worked out for: provision and needs in force
    /// that day, referrals made by then (seen by then, or waiting), escalations open then. They
    /// were read as they stand now (a report as of a day before any referral counted one waiting
    /// for -730 days; provision that began later counted).
    @Test func figuresAsOfADayCountWhatWasInForceThatDay() {
        let p = RecordID.v7()
        let records = [
            Self.record(SENEpisode.spec, p, ["provision": "K", "start_date": "2025-01-06", "end_date": "2025-05-19"]),
            Self.record(SENEpisode.spec, p, ["provision": "E", "start_date": "2025-05-19"]),
            Self.record(SENNeedRecord.spec, p, ["need": "SLCN", "rank": "1", "start_date": "2025-01-06"]),
            Self.record(
                Referral.spec, p,
                [
                    "agency": "speech-language-therapy", "reason": "r", "referred_on": "2025-03-03",
                    "referred_by": "SENCO", "first_seen_on": "2025-06-02",
                ]),
            Self.record(
                Referral.spec, p,
                [
                    "agency": "educational-psychology", "reason": "r", "referred_on": "2025-09-01",
                    "referred_by": "SENCO",
                ]),
        ]
        let file = PupilFile(
            pupil: p, dateOfBirth: nil, currentSchool: "Oakfield", records: Dictionary(grouping: records, by: \.kind))
        func report(_ day: String) -> AreaReport {
            AreaReport(asOf: CalendarDate(day)!, files: [file], obligations: [:])
        }
        // Before anything: no provision, no need in force, no referral made.
        let before = report("2024-12-02")
        #expect(before.schools.first.map { "\($0.senSupport) \($0.ehcPlans)" } == "0 0")
        #expect(before.primaryNeeds.isEmpty && before.agencies.isEmpty, "\(before.agencies)")
        // SEN support, and one referral waiting 28 days.
        let spring = report("2025-03-31")
        #expect(spring.schools.first.map { "\($0.senSupport) \($0.ehcPlans)" } == "1 0")
        #expect(spring.primaryNeeds.map(\.code) == ["SLCN"])
        #expect(
            spring.agencies.map {
                "\($0.agency) seen \($0.seen.count) waiting \($0.waiting.count) \($0.waiting.longest ?? -1)"
            }
                == ["speech-language-therapy seen 0 waiting 1 28"])
        // The plan from 19 May; the first referral seen on 2 June (91 days), the second not made yet.
        let summer = report("2025-07-01")
        #expect(summer.schools.first.map { "\($0.senSupport) \($0.ehcPlans)" } == "0 1")
        #expect(
            summer.agencies.map { "\($0.agency) \($0.seen.count) \($0.waiting.count)" } == [
                "speech-language-therapy 1 0"
            ])
    }

    /// The LA's own record of an EHC plan counts the pupil as having one, whatever the school's
    /// census episode still says (after `ehc issue` it says K until the school records E); a
    /// plan issued after the report's date, or ceased by it, does not.
    @Test func anIssuedEHCPlanCountsWhateverTheSchoolsEpisodeSays() {
        let p = (0..<4).map { _ in RecordID.v7() }
        func file(_ i: Int, plan: [String: String]) -> PupilFile {
            PupilFile(
                pupil: p[i], dateOfBirth: nil, currentSchool: "Oakfield",
                records: Dictionary(
                    grouping: [
                        Self.record(SENEpisode.spec, p[i], ["provision": "K", "start_date": "2025-09-01"]),
                        Self.record(EHCPlan.spec, p[i], plan),
                    ], by: \.kind))
        }
        let report = AreaReport(
            asOf: CalendarDate("2026-03-31")!,
            files: [
                file(0, plan: ["issued_on": "2026-03-02"]),
                file(1, plan: ["issued_on": "2026-04-01"]),
                file(2, plan: ["issued_on": "2025-01-06", "ceased_on": "2026-03-31"]),
                file(3, plan: ["issued_on": "2025-01-06", "ceased_on": "2026-04-01"]),
            ], obligations: [:])
        let school = try! #require(report.schools.first)
        #expect(school.ehcPlans == 2 && school.senSupport == 2, "\(school)")
    }
}

/// The HTML page: self-contained, accessible, escaped.
struct HTMLDocumentTests {
    @Test func chartsHaveTextAlternativesAndThePageFetchesNothing() {
        let chart = HTMLDocument.BarChart(
            title: "Waits <by> agency", summary: "A & B waited 10 and 20 days.",
            bars: [("A <school>", 10, "10 days"), ("B", 20, "20 days"), ("C", 0, "none")])
        let page = HTMLDocument(
            title: "Report & more",
            blocks: [
                .panel([["Pupils", "3"]]), .chart(chart),
                .table(caption: "Waits", header: ["Agency", "Days"], rows: [["A <school>", "10"]]),
            ]
        ).html
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<html lang=\"en-GB\">"))
        #expect(page.contains("<title>Report &amp; more</title>"))
        #expect(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"))
        #expect(page.contains("<svg role=\"img\" aria-labelledby=\"chart1-title chart1-desc\""))
        #expect(page.contains("<title id=\"chart1-title\">Waits &lt;by&gt; agency</title>"))
        #expect(page.contains("<desc id=\"chart1-desc\">A &amp; B waited 10 and 20 days.</desc>"))
        #expect(page.contains("A &lt;school&gt;") && !page.contains("A <school>"))
        // The longest bar fills the bar area; values are written beside the bars, not only drawn.
        #expect(page.contains("width=\"300.0\""))
        #expect(page.contains(">20 days</text>") && page.contains(">none</text>"))
        #expect(
            page.contains("<th scope=\"col\">Agency</th>") && page.contains("<th scope=\"row\">A &lt;school&gt;</th>"))
        #expect(page.contains("@page{size:A4"))
    }
}
