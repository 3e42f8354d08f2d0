import Foundation
import Testing

@testable import SENSync

/// The LA's SEN2 items for a small area, every row worked out by hand; and the records SEN2
/// refuses, with messages that name no one.
struct SEN2ExportTests {
    static func upn(_ n: Int) -> String { syntheticUPN(8200 + n) }

    /// A row as the CSV writes it: every column of the header, empty unless given.
    static func row(_ module: String, _ person: RecordID, _ request: RecordID? = nil, _ items: [String: String] = [:])
        -> [String]
    {
        SEN2Export.header.map { column in
            switch column {
            case "Module": module
            case "PersonID": person.description
            case "RequestsID": request?.description ?? ""
            default: items[column] ?? ""
            }
        }
    }

    struct Area {
        let la: Store
        let pupils: [Int: RecordID]
        let requests: [Int: RecordID]
    }

    /// Northshire LA, with Oakfield (URN 100001) and Hillview (URN 100002), and eight pupils:
    ///
    /// 1. Ada (Oakfield since 2024-09-01): requested 2025-03-03, assessed (Y 2025-04-07), draft
    ///    2025-06-23, a 20-week exception from 2025-05-01, plan issued 2025-07-14 and reviewed
    ///    2025-12-01 (maintain, decided 2025-12-10); ASD 1, SLCN 2, OTH 3.
    /// 2. Ben (Hillview since 2023-09-01): requested 2025-09-15, not assessed (N 2025-10-20).
    /// 3. Cara (Oakfield): requested 2025-12-15, decided Y on 2026-01-20.
    /// 4. Dev (Hillview since 2023-09-01): requested 2018-11-01, Y 2018-12-10, plan 2019-05-01,
    ///    reviewed 2024-05-13 (M), 2025-05-12 (A) and 2026-01-10 (M); SEMH 1.
    /// 5. Eve (Oakfield since 2019-09-01): requested 2020-01-06, Y 2020-02-10, plan 2020-05-18,
    ///    ceased 2025-07-31; MLD 1.
    /// 6. Finn (Oakfield): requested 2023-03-01, N 2023-04-10.
    /// 7. Gus (Oakfield): requested 2026-01-06.
    /// 8. Hana (Hillview since 2024-09-01): requested 2024-11-04, no decision yet.
    static func area() throws -> Area {
        // Recorded on 2026-02-02, once the latest of these had happened.
        let area = try TestArea(
            folder: FileManager.default.temporaryDirectory, clock: TestClock(start: 1_770_022_800_000))
        let oakfield = try area.add("Oakfield", .maintainedSchool, urn: "100001").identity.id
        let hillview = try area.add("Hillview", .maintainedSchool, urn: "100002").identity.id
        let la = area.la
        var pupils: [Int: RecordID] = [:]
        var requests: [Int: RecordID] = [:]
        let names = ["Ada", "Ben", "Cara", "Dev", "Eve", "Finn", "Gus", "Hana"]
        let schools = [oakfield, hillview, oakfield, hillview, oakfield, oakfield, oakfield, hillview]
        let entries = [
            "2024-09-01", "2023-09-01", "2024-09-01", "2023-09-01", "2019-09-01", "2022-09-01", "2024-09-01",
            "2024-09-01",
        ]
        for i in 0..<8 {
            pupils[i + 1] = try la.addPupil(
                NewPupil(
                    upn: upn(i + 1), forename: names[i], surname: "Example", dateOfBirth: "2015-03-1\(i)",
                    school: schools[i], entryDate: entries[i]), author: "LA")
        }
        func need(_ n: Int, _ code: String, _ rank: Int, _ start: String) throws {
            try la.addRecord(
                SENNeedRecord.self, pupil: upn(n), [.need: code, .rank: String(rank), .startDate: start], author: "LA")
        }
        func request(_ n: Int, _ received: String, _ source: String, decision: String? = nil, on: String? = nil)
            throws
        {
            let id = try la.addRecord(
                EHCAssessment.self, pupil: upn(n), [.requestReceivedOn: received, .requestSource: source], author: "LA")
            if let decision, let on {
                try la.updateRecord(
                    EHCAssessment.self, id.description, [.decision: decision, .decidedOn: on], author: "LA")
            }
            requests[n] = id
        }
        func review(_ plan: RecordID, _ meeting: String, _ outcome: String, _ decided: String) throws {
            try la.addRecord(
                EHCReview.self, pupil: nil,
                [.planID: plan.description, .meetingOn: meeting, .outcome: outcome, .decidedOn: decided], author: "LA")
        }

        try need(1, "ASD", 1, "2025-07-14")
        try need(1, "SLCN", 2, "2025-07-14")
        try need(1, "OTH", 3, "2025-07-14")
        try request(1, "2025-03-03", "school", decision: "Y", on: "2025-04-07")
        try la.updateRecord(EHCAssessment.self, requests[1]!.description, [.draftServedOn: "2025-06-23"], author: "LA")
        try la.addRecord(
            EHCException.self, pupil: nil,
            [
                .assessmentID: requests[1]!.description, .step: "final-plan", .reason: "personal-circumstances",
                .fromDate: "2025-05-01",
            ], author: "LA")
        let adaPlan = try la.issueEHCPlan(
            assessment: requests[1]!.description, on: "2025-07-14", caseOfficer: nil, author: "LA")
        try review(adaPlan, "2025-12-01", "M", "2025-12-10")

        try request(2, "2025-09-15", "parent", decision: "N", on: "2025-10-20")
        try request(3, "2025-12-15", "school", decision: "Y", on: "2026-01-20")

        try need(4, "SEMH", 1, "2019-05-01")
        try request(4, "2018-11-01", "parent", decision: "Y", on: "2018-12-10")
        let devPlan = try la.issueEHCPlan(
            assessment: requests[4]!.description, on: "2019-05-01", caseOfficer: nil, author: "LA")
        try review(devPlan, "2024-05-13", "M", "2024-05-20")
        try review(devPlan, "2025-05-12", "A", "2025-06-02")
        try review(devPlan, "2026-01-10", "M", "2026-01-12")

        try need(5, "MLD", 1, "2020-05-18")
        try request(5, "2020-01-06", "parent", decision: "Y", on: "2020-02-10")
        let evePlan = try la.issueEHCPlan(
            assessment: requests[5]!.description, on: "2020-05-18", caseOfficer: nil, author: "LA")
        try la.updateRecord(EHCPlan.self, evePlan.description, [.ceasedOn: "2025-07-31"], author: "LA")

        try request(6, "2023-03-01", "parent", decision: "N", on: "2023-04-10")
        try request(7, "2026-01-06", "school")
        try request(8, "2024-11-04", "parent")
        return Area(la: la, pupils: pupils, requests: requests)
    }

    static func person(_ a: Area, _ n: Int) -> [String] {
        let names = ["Ada", "Ben", "Cara", "Dev", "Eve", "Finn", "Gus", "Hana"]
        return row(
            "Person", a.pupils[n]!, nil,
            [
                "UPN": upn(n), "Surname": "Example", "Forename": names[n - 1],
                "PersonBirthDate": "2015-03-1\(n - 1)",
            ])
    }

    @Test func sen2026CountsThePlansInForceAndThe2025Work() throws {
        let a = try Self.area()
        let sen2 = try a.la.sen2Export(referenceDate: SEN2Export.referenceDate(year: 2026))
        #expect(sen2.referenceDate == CalendarDate("2026-01-15"))
        #expect(sen2.period == CalendarDate("2025-01-01")!...CalendarDate("2025-12-31")!)
        #expect(sen2.problems.isEmpty, "\(sen2.problems)")
        let p = a.pupils
        let r = a.requests
        let expected: [[String]] =
            // Ada: received, assessed and issued in 2025; the decision to issue is dated by the draft;
            // a 20-week exception applies; the plan is in force with its December review; her needs
            // ranked 1 and 2 (OTH, rank 3, is cut).
            [Self.person(a, 1)]
            + [
                Self.row(
                    "Requests", p[1]!, r[1],
                    ["ReceivedDate": "2025-03-03", "RequestOutcome": "Y", "RequestOutcomeDate": "2025-04-07"]),
                Self.row(
                    "Assessment", p[1]!, r[1],
                    ["AssessmentOutcome": "Y", "AssessmentOutcomeDate": "2025-06-23", "Week20": "1"]),
                Self.row("NamedPlan", p[1]!, r[1], ["StartDate": "2025-07-14"]),
                Self.row("ActivePlans", p[1]!, r[1], ["ReviewMeeting": "2025-12-01", "ReviewOutcome": "M"]),
                Self.row(
                    "PlacementDetail", p[1]!, r[1],
                    ["URN": "100001", "PlacementRank": "1", "EntryDate": "2024-09-01"]),
                Self.row("SENneed", p[1]!, r[1], ["SENtype": "ASD", "SENtypeRank": "1"]),
                Self.row("SENneed", p[1]!, r[1], ["SENtype": "SLCN", "SENtypeRank": "2"]),
            ]
            // Ben: not assessed.
            + [Self.person(a, 2)]
            + [
                Self.row(
                    "Requests", p[2]!, r[2],
                    ["ReceivedDate": "2025-09-15", "RequestOutcome": "N", "RequestOutcomeDate": "2025-10-20"])
            ]
            // Cara: received in 2025, decided after the reference date: not yet decided.
            + [
                Self.person(a, 3),
                Self.row("Requests", p[3]!, r[3], ["ReceivedDate": "2025-12-15", "RequestOutcome": "A"]),
            ]
            // Dev: a plan from 2019 in force, under its request; 2025's review (amend), not 2024's or
            // 2026's; no draft recorded, so the decision to issue is dated by the plan.
            + [Self.person(a, 4)]
            + [
                Self.row(
                    "Requests", p[4]!, r[4],
                    ["ReceivedDate": "2018-11-01", "RequestOutcome": "Y", "RequestOutcomeDate": "2018-12-10"]),
                Self.row(
                    "Assessment", p[4]!, r[4],
                    ["AssessmentOutcome": "Y", "AssessmentOutcomeDate": "2019-05-01", "Week20": "0"]),
                Self.row("NamedPlan", p[4]!, r[4], ["StartDate": "2019-05-01"]),
                Self.row("ActivePlans", p[4]!, r[4], ["ReviewMeeting": "2025-05-12", "ReviewOutcome": "A"]),
                Self.row(
                    "PlacementDetail", p[4]!, r[4],
                    ["URN": "100002", "PlacementRank": "1", "EntryDate": "2023-09-01"]),
                Self.row("SENneed", p[4]!, r[4], ["SENtype": "SEMH", "SENtypeRank": "1"]),
            ]
            // Eve: her plan ceased in 2025, so it is reported with its cease date but is not in force.
            + [Self.person(a, 5)]
            + [
                Self.row(
                    "Requests", p[5]!, r[5],
                    ["ReceivedDate": "2020-01-06", "RequestOutcome": "Y", "RequestOutcomeDate": "2020-02-10"]),
                Self.row(
                    "Assessment", p[5]!, r[5],
                    ["AssessmentOutcome": "Y", "AssessmentOutcomeDate": "2020-05-18", "Week20": "0"]),
                Self.row("NamedPlan", p[5]!, r[5], ["StartDate": "2020-05-18", "CeaseDate": "2025-07-31"]),
            ]
            // Finn (ended in 2023) and Gus (received in 2026) are not in this return. Hana: received in
            // 2024 and still undecided, so open during 2025.
            + [
                Self.person(a, 8),
                Self.row("Requests", p[8]!, r[8], ["ReceivedDate": "2024-11-04", "RequestOutcome": "A"]),
            ]
        #expect(sen2.csvRows == expected)
        let text = try CSVTable.text(header: SEN2Export.header, rows: sen2.csvRows)
        #expect(text.hasPrefix("Module,PersonID,RequestsID,UPN,Surname,Forename,PersonBirthDate,ReceivedDate,"))
    }

    @Test func sen2025CountsItsOwnYear() throws {
        let a = try Self.area()
        let sen2 = try a.la.sen2Export(referenceDate: SEN2Export.referenceDate(year: 2025))
        #expect(sen2.referenceDate == CalendarDate("2025-01-16"))
        #expect(sen2.problems.isEmpty, "\(sen2.problems)")
        let p = a.pupils
        let r = a.requests
        // On 16 January 2025: Dev's plan (its 2024 review) and Eve's (not yet ceased; no review in
        // 2024) are in force; Hana's request was received in 2024. Nothing else had happened yet.
        let expected: [[String]] =
            [Self.person(a, 4)]
            + [
                Self.row(
                    "Requests", p[4]!, r[4],
                    ["ReceivedDate": "2018-11-01", "RequestOutcome": "Y", "RequestOutcomeDate": "2018-12-10"]),
                Self.row(
                    "Assessment", p[4]!, r[4],
                    ["AssessmentOutcome": "Y", "AssessmentOutcomeDate": "2019-05-01", "Week20": "0"]),
                Self.row("NamedPlan", p[4]!, r[4], ["StartDate": "2019-05-01"]),
                Self.row("ActivePlans", p[4]!, r[4], ["ReviewMeeting": "2024-05-13", "ReviewOutcome": "M"]),
                Self.row(
                    "PlacementDetail", p[4]!, r[4],
                    ["URN": "100002", "PlacementRank": "1", "EntryDate": "2023-09-01"]),
                Self.row("SENneed", p[4]!, r[4], ["SENtype": "SEMH", "SENtypeRank": "1"]),
            ]
            + [Self.person(a, 5)]
            + [
                Self.row(
                    "Requests", p[5]!, r[5],
                    ["ReceivedDate": "2020-01-06", "RequestOutcome": "Y", "RequestOutcomeDate": "2020-02-10"]),
                Self.row(
                    "Assessment", p[5]!, r[5],
                    ["AssessmentOutcome": "Y", "AssessmentOutcomeDate": "2020-05-18", "Week20": "0"]),
                Self.row("NamedPlan", p[5]!, r[5], ["StartDate": "2020-05-18"]),
                Self.row("ActivePlans", p[5]!, r[5]),
                Self.row(
                    "PlacementDetail", p[5]!, r[5],
                    ["URN": "100001", "PlacementRank": "1", "EntryDate": "2019-09-01"]),
                Self.row("SENneed", p[5]!, r[5], ["SENtype": "MLD", "SENtypeRank": "1"]),
            ]
            + [
                Self.person(a, 8),
                Self.row("Requests", p[8]!, r[8], ["ReceivedDate": "2024-11-04", "RequestOutcome": "A"]),
            ]
        #expect(sen2.csvRows == expected)
    }

    @Test func theReferenceDateIsTheJanuaryCensusDay() {
        #expect(SEN2Export.referenceDate(year: 2025) == CalendarDate("2025-01-16"))
        #expect(SEN2Export.latestReferenceDate(onOrBefore: CalendarDate("2026-01-14")!) == CalendarDate("2025-01-16"))
        #expect(SEN2Export.latestReferenceDate(onOrBefore: CalendarDate("2026-01-15")!) == CalendarDate("2026-01-15"))
        #expect(SEN2Export.latestReferenceDate(onOrBefore: CalendarDate("2026-11-30")!) == CalendarDate("2026-01-15"))
    }

    @Test func onlyTheLAReturnsSEN2() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let school = try area.add("Oakfield", .maintainedSchool, urn: "100001")
        #expect(throws: StoreError.self) { try school.sen2Export() }
    }

    // MARK: Refusals, on hand-made pupils' files

    static let la = SiteIdentity(id: fixedID(9), name: "Northshire", kind: .la, laCode: "999")
    static let oakfield = SiteIdentity(id: fixedID(1), name: "Oakfield", kind: .maintainedSchool, urn: "100001")
    static let hillview = SiteIdentity(id: fixedID(2), name: "Hillview", kind: .maintainedSchool, urn: "100002")
    static let noURN = SiteIdentity(id: fixedID(3), name: "Brookside", kind: .academy)
    static let sites = [oakfield.id: oakfield, hillview.id: hillview, noURN.id: noURN]

    static func record(_ kind: KindSpec, _ pupil: RecordID, _ values: [String: String], id: RecordID = .v7())
        -> KindRecord
    {
        KindRecord(
            kind: kind.name, id: id, pupilID: pupil,
            values: KindValues(values.mapValues { Int64($0).map(Value.integer) ?? .text($0) }), isDeleted: false)
    }

    /// A pupil with a request received 2025-03-03, assessed, and a plan issued 2025-07-14 and in force,
    /// on roll at `schools` (entered on the given days), with `needs` and `linked` plan.
    static func planned(
        schools: [(SiteIdentity, String)] = [(oakfield, "2024-09-01")], needs: [(String, Int)] = [("ASD", 1)],
        linked: Bool = true
    ) -> (file: PupilFile, request: RecordID, plan: RecordID) {
        let pupil = RecordID.v7()
        let request = RecordID.v7()
        let plan = RecordID.v7()
        var records = [
            record(Pupil.spec, pupil, ["upn": upn(1), "forename": "Ada", "surname": "Example"], id: pupil),
            record(
                EHCAssessment.spec, pupil,
                [
                    "request_received_on": "2025-03-03", "request_source": "school", "decision": "Y",
                    "decided_on": "2025-04-07", "final_issued_on": "2025-07-14",
                ], id: request),
            record(
                EHCPlan.spec, pupil,
                ["issued_on": "2025-07-14"].merging(linked ? ["assessment_id": request.description] : [:]) { $1 },
                id: plan),
        ]
        records += schools.map {
            record(Enrolment.spec, pupil, ["school_id": $0.0.id.description, "entry_date": $0.1])
        }
        records += needs.map {
            record(SENNeedRecord.spec, pupil, ["need": $0.0, "rank": String($0.1), "start_date": "2025-07-14"])
        }
        return (
            PupilFile(
                pupil: pupil, dateOfBirth: nil, currentSchool: nil, records: Dictionary(grouping: records, by: \.kind)),
            request, plan
        )
    }

    static func export(_ file: PupilFile) -> SEN2Export {
        SEN2Export(la: la, referenceDate: SEN2Export.referenceDate(year: 2026), files: [file], sites: sites)
    }

    static func expectRefused(_ export: SEN2Export, _ fragment: String, pupil: RecordID) {
        #expect(export.problems.count == 1, "\(export.problems)")
        #expect(export.problems.first?.pupil == pupil)
        #expect(export.problems.first?.description.contains(fragment) == true, "\(export.problems)")
        for problem in export.problems {
            #expect(!problem.description.contains(upn(1)) && !problem.description.contains("Ada"))
        }
    }

    @Test func nsaIsRefusedWithItsReasonNotMapped() {
        let (file, _, _) = Self.planned(needs: [("NSA", 1)])
        let export = Self.export(file)
        Self.expectRefused(export, "SEN2 does not have", pupil: file.pupil)
        #expect(!export.rows.contains { $0.module == .senNeed })
        // NSA for a pupil without a plan in force is not reported, and not a problem.
        let (waiting, _, _) = Self.planned(needs: [("NSA", 1)])
        var records = waiting.records
        records[EHCPlan.name] = []
        records[EHCAssessment.name] = records[EHCAssessment.name]?.map {
            var r = $0
            r.values[EHCAssessment.Field.finalIssuedOn.rawValue] = nil
            return r
        }
        let pending = Self.export(
            PupilFile(pupil: waiting.pupil, dateOfBirth: nil, currentSchool: nil, records: records))
        #expect(pending.problems.isEmpty, "\(pending.problems)")
        #expect(pending.rows.map(\.module) == [.person, .requests, .assessment])
    }

    @Test func aPlanNotLinkedToItsRequestIsRefused() {
        let (file, _, plan) = Self.planned(linked: false)
        let export = Self.export(file)
        // The plan is unlinked and its assessment records a final plan with no plan of its own.
        #expect(
            export.problems.contains { $0.description.contains("not linked") && $0.description.contains("\(plan)") })
        #expect(export.problems.allSatisfy { $0.pupil == file.pupil })
    }

    @Test func aSchoolWithNoURNIsRefused() {
        let (file, _, _) = Self.planned(schools: [(Self.noURN, "2024-09-01")])
        Self.expectRefused(Self.export(file), "Brookside has no URN", pupil: file.pupil)
    }

    @Test func aDualRegisteredPupilHasTwoPlacementsByEntryDate() {
        let (file, request, _) = Self.planned(
            schools: [(Self.hillview, "2025-01-06"), (Self.oakfield, "2024-09-01")], needs: [("ASD", 1), ("NSA", 3)])
        let export = Self.export(file)
        #expect(export.problems.isEmpty, "\(export.problems)")  // NSA ranked 3 is cut, not refused
        #expect(
            export.csvRows.filter { $0[0] == "PlacementDetail" }
                == [
                    Self.row(
                        "PlacementDetail", file.pupil, request,
                        ["URN": "100001", "PlacementRank": "1", "EntryDate": "2024-09-01"]),
                    Self.row(
                        "PlacementDetail", file.pupil, request,
                        ["URN": "100002", "PlacementRank": "2", "EntryDate": "2025-01-06"]),
                ])
        let three = Self.planned(
            schools: [(Self.hillview, "2025-01-06"), (Self.oakfield, "2024-09-01"), (Self.oakfield, "2025-02-01")])
        Self.expectRefused(Self.export(three.file), "at most two", pupil: three.file.pupil)
    }

    @Test func everyColumnIsDocumented() throws {
        let document = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Schemas/exports/sen2.md"), encoding: .utf8)
        let missing = SEN2Export.header.filter { !document.contains("| `\($0)` |") }
        #expect(missing.isEmpty, "Schemas/exports/sen2.md does not document: \(missing)")
        let modules = SEN2Export.Module.allCases.filter { !document.contains("| `\($0.rawValue)` |") }
        #expect(modules.isEmpty, "Schemas/exports/sen2.md does not document the modules: \(modules)")
    }
}
