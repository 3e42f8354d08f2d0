import Foundation
import Testing

@testable import SENSync

/// The census SEN items of a small school, every row worked out by hand; and the rows a census
/// refuses, with messages that name no one.
struct CensusExportTests {
    static func upn(_ n: Int) -> String { syntheticUPN(8100 + n) }

    @Test func censusDaysAreTheDfEsThursdays() {
        #expect(CensusTerm.spring.day(in: 2025) == CalendarDate("2025-01-16"))  // sen-domain.md §7 item 22
        #expect(CensusTerm.spring.day(in: 2026) == CalendarDate("2026-01-15"))  // 1 January 2026 is a Thursday
        #expect(CensusTerm.autumn.day(in: 2025) == CalendarDate("2025-10-02"))  // 1 October 2025 is a Wednesday
        #expect(CensusTerm.autumn.day(in: 2026) == CalendarDate("2026-10-01"))  // and 1 October 2026 a Thursday
        #expect(CensusTerm.summer.day(in: 2026) == CalendarDate("2026-05-21"))  // Thursdays 7, 14, 21 May
        #expect(CensusTerm(containing: CalendarDate("2026-02-02")!) == .spring)
        #expect(CensusTerm(containing: CalendarDate("2026-04-01")!) == .summer)
        #expect(CensusTerm(containing: CalendarDate("2026-09-01")!) == .autumn)
        #expect(CensusTerm.allCases.filter(\.collectsSENType) == [.spring])
    }

    /// Oakfield and its seven pupils, all on roll from 2024-09-01 unless said:
    ///
    /// 1. Ada: K from 2025-09-01; SLCN rank 1, SEMH rank 2, ASD rank 3.
    /// 2. Ben: K from 2024-09-01 ended 2025-12-01 (SPLD rank 1, ended too); K again from 2026-02-01,
    ///    with no need yet.
    /// 3. Cara: K from 2024-09-01 with HI; moved to Hillview on 2025-12-19.
    /// 4. Dev: K from 2025-10-01 with NSA rank 1.
    /// 5. Eve: no episode here, but the LA's EHC plan issued 2025-07-14; ASD rank 1, SLCN rank 2.
    /// 6. Finn: never on the SEN register.
    /// 7. Gus: joins on 2026-02-01.
    static func oakfield() throws -> (school: Store, pupils: [Int: RecordID]) {
        // The stores are in memory; the folder holds the bundles exchanged while setting them up.
        try withTemporaryDirectory { folder in try oakfield(folder: folder) }
    }

    static func oakfield(folder: URL) throws -> (school: Store, pupils: [Int: RecordID]) {
        let area = try TestArea(folder: folder)
        let school = try area.add("Oakfield", .maintainedSchool, urn: "100001")
        let hillview = try area.add("Hillview", .maintainedSchool, urn: "100002")
        try area.send("LA", "Oakfield")  // the directory, so Oakfield can move a pupil to Hillview
        var pupils: [Int: RecordID] = [:]
        for (n, name) in ["Ada", "Ben", "Cara", "Dev", "Eve", "Finn", "Gus"].enumerated() {
            pupils[n + 1] = try school.addPupil(
                NewPupil(
                    upn: upn(n + 1), forename: name, surname: "Example", dateOfBirth: "2016-04-01",
                    entryDate: n + 1 == 7 ? "2026-02-01" : "2024-09-01"), author: "SENCO")
        }
        func episode(_ n: Int, _ provision: String, _ start: String, end: String? = nil) throws {
            var fields: [SENEpisode.Field: String] = [.provision: provision, .schoolID: "here", .startDate: start]
            fields[.endDate] = end
            try school.addRecord(SENEpisode.self, pupil: upn(n), fields, author: "SENCO")
        }
        func need(_ n: Int, _ code: String, _ rank: Int, _ start: String, end: String? = nil) throws {
            var fields: [SENNeedRecord.Field: String] = [.need: code, .rank: String(rank), .startDate: start]
            fields[.endDate] = end
            try school.addRecord(SENNeedRecord.self, pupil: upn(n), fields, author: "SENCO")
        }
        try episode(1, "K", "2025-09-01")
        try need(1, "SLCN", 1, "2025-09-01")
        try need(1, "SEMH", 2, "2025-09-01")
        try need(1, "ASD", 3, "2025-09-01")
        try episode(2, "K", "2024-09-01", end: "2025-12-01")
        try need(2, "SPLD", 1, "2024-09-01", end: "2025-12-01")
        try episode(2, "K", "2026-02-01")
        try episode(3, "K", "2024-09-01")
        try need(3, "HI", 1, "2024-09-01")
        try episode(4, "K", "2025-10-01")
        try need(4, "NSA", 1, "2025-10-01")
        try need(5, "ASD", 1, "2025-07-14")
        try need(5, "SLCN", 2, "2025-07-14")

        // The LA assesses Eve and issues her plan; the plan reaches Oakfield.
        try area.send("Oakfield", "LA")
        let la = area.la
        let assessment = try la.addRecord(
            EHCAssessment.self, pupil: upn(5), [.requestReceivedOn: "2025-03-03", .requestSource: "school"],
            author: "LA")
        try la.updateRecord(
            EHCAssessment.self, assessment.description,
            [.decision: "Y", .decidedOn: "2025-04-07", .draftServedOn: "2025-06-23"], author: "LA")
        try la.issueEHCPlan(assessment: assessment.description, on: "2025-07-14", caseOfficer: nil, author: "LA")
        try area.send("LA", "Oakfield")

        // Cara moves last, so Oakfield still holds her records (it forgets them on its next exchange).
        try school.transferPupil(upn(3), to: hillview.identity.id, on: "2025-12-19", author: "SENCO")
        return (school, pupils)
    }

    static func sortedByUPN(_ rows: [[String]]) -> [[String]] { rows.sorted { $0[0] < $1[0] } }

    @Test func theSpringCensusCarriesProvisionAndTheTwoHighestRankedNeeds() throws {
        let (school, _) = try Self.oakfield()
        let census = try school.censusExport(on: CensusTerm.spring.day(in: 2026), term: .spring)
        #expect(census.censusDay == CalendarDate("2026-01-15"))
        #expect(census.problems.isEmpty, "\(census.problems)")
        // On 15 January 2026: Ada K with SLCN and SEMH (ASD, rank 3, is cut); Ben's first episode
        // ended on 1 December and the next starts in February, so N; Cara left on 19 December; Dev
        // K with NSA; Eve E from her plan (no episode here), ASD and SLCN; Finn N; Gus not yet on roll.
        #expect(
            census.csvRows
                == Self.sortedByUPN([
                    [Self.upn(1), "K", "SLCN", "SEMH"],
                    [Self.upn(2), "N", "", ""],
                    [Self.upn(4), "K", "NSA", ""],
                    [Self.upn(5), "E", "ASD", "SLCN"],
                    [Self.upn(6), "N", "", ""],
                ]))
        let text = try CSVTable.text(header: CensusExport.header, rows: census.csvRows)
        #expect(text.hasPrefix("UPN,SENprovision,SENtype1,SENtype2\n"))
        #expect(text.split(separator: "\n").count == 6)
    }

    @Test func theAutumnCensusCarriesProvisionOnly() throws {
        let (school, _) = try Self.oakfield()
        let census = try school.censusExport(on: CensusTerm.autumn.day(in: 2025), term: .autumn)
        #expect(census.problems.isEmpty, "\(census.problems)")
        // On 2 October 2025: Ada K; Ben K (his first episode); Cara K (still on roll); Dev K from
        // 1 October; Eve E (plan issued 14 July); Finn N; Gus not yet on roll. No SEN types.
        #expect(
            census.csvRows
                == Self.sortedByUPN([
                    [Self.upn(1), "K", "", ""],
                    [Self.upn(2), "K", "", ""],
                    [Self.upn(3), "K", "", ""],
                    [Self.upn(4), "K", "", ""],
                    [Self.upn(5), "E", "", ""],
                    [Self.upn(6), "N", "", ""],
                ]))
    }

    @Test func aRowThatBreaksARuleRefusesTheExportAndNamesThePupilByIDOnly() throws {
        let (school, pupils) = try Self.oakfield()
        // 2 February 2026 is in the spring term: Ben's new K episode (from 1 February) has no primary
        // need, so his row cannot be returned; Gus (joined 1 February) is N.
        let census = try school.censusExport(on: CalendarDate("2026-02-02")!)
        #expect(census.term == .spring)
        #expect(census.problems.map(\.pupil) == [pupils[2]!])
        let problem = try #require(census.problems.first)
        #expect(problem.message.contains("primary (rank 1) need"))
        #expect(problem.description.hasPrefix("pupil \(pupils[2]!): "))
        #expect(!problem.description.contains(Self.upn(2)) && !problem.description.contains("Ben"))
        #expect(!census.rows.contains { $0.pupil == pupils[2]! })
        #expect(census.rows.contains { $0.upn == Self.upn(7) && $0.provision == "N" })
    }

    @Test func onlyASchoolReturnsTheCensus() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        #expect(throws: StoreError.self) { try area.la.censusExport() }
    }

    // MARK: Rules, on hand-made pupils' files

    static let school = SiteIdentity(id: fixedID(1), name: "Oakfield", kind: .maintainedSchool, urn: "100001")

    static func record(_ kind: KindSpec, _ pupil: RecordID, _ values: [String: String], id: RecordID = .v7())
        -> KindRecord
    {
        KindRecord(
            kind: kind.name, id: id, pupilID: pupil,
            values: KindValues(values.mapValues { Int64($0).map(Value.integer) ?? .text($0) }), isDeleted: false)
    }

    /// A pupil on Oakfield's roll since `entry` with `records`.
    static func file(_ n: Int, entry: String = "2024-09-01", _ records: [(KindSpec, [String: String])]) -> PupilFile {
        let pupil = RecordID.v7()
        let own = [
            record(Pupil.spec, pupil, ["upn": upn(n), "forename": "Ada", "surname": "Example"], id: pupil),
            record(Enrolment.spec, pupil, ["school_id": school.id.description, "entry_date": entry]),
        ]
        let all = own + records.map { record($0.0, pupil, $0.1) }
        return PupilFile(
            pupil: pupil, dateOfBirth: nil, currentSchool: "Oakfield", records: Dictionary(grouping: all, by: \.kind))
    }

    static func episode(_ provision: String, _ start: String = "2025-09-01") -> (KindSpec, [String: String]) {
        (SENEpisode.spec, ["provision": provision, "school_id": school.id.description, "start_date": start])
    }

    static func need(_ code: String, _ rank: Int, _ start: String = "2025-09-01") -> (KindSpec, [String: String]) {
        (SENNeedRecord.spec, ["need": code, "rank": String(rank), "start_date": start])
    }

    static func plan(_ issued: String) -> (KindSpec, [String: String]) { (EHCPlan.spec, ["issued_on": issued]) }

    /// Each file breaks one rule; `fragment` is in its problem's message.
    static let refusals: [(String, [(KindSpec, [String: String])], String)] = [
        ("NSA with an EHC plan", [episode("E"), need("NSA", 1)], "only valid for a pupil on SEN support (K)"),
        ("NSA with another need", [episode("K"), need("NSA", 1), need("SEMH", 2)], "alongside another need"),
        ("two primary needs", [episode("K"), need("SLCN", 1), need("SEMH", 1)], "share a rank"),
        ("no primary need", [episode("E"), need("SLCN", 2)], "primary (rank 1) need"),
        ("episodes that disagree", [episode("K"), episode("E"), need("SLCN", 1)], "disagree"),
        ("a plan in force, provision K", [episode("K"), need("SLCN", 1), plan("2025-07-14")], "is in force"),
        ("an unknown code", [episode("K"), need("XYZ", 1)], "not a census SEN type"),
    ]

    @Test(arguments: refusals.indices) func theSpringCensusRefuses(_ index: Int) {
        let (name, records, fragment) = Self.refusals[index]
        let bad = Self.file(1, records)
        let good = Self.file(2, [Self.episode("K"), Self.need("SPLD", 1)])
        let census = CensusExport(
            school: Self.school, censusDay: CensusTerm.spring.day(in: 2026), files: [good, bad])
        #expect(census.problems.count == 1, "\(name): \(census.problems)")
        #expect(census.problems.first?.pupil == bad.pupil)
        #expect(census.problems.first?.message.contains(fragment) == true, "\(name): \(census.problems)")
        // The good row is still worked out; the refused one is not among the rows.
        #expect(census.csvRows == [[Self.upn(2), "K", "SPLD", ""]])
        for problem in census.problems {
            #expect(!problem.description.contains(Self.upn(1)) && !problem.description.contains("Ada"))
        }
    }

    @Test func dsCountsOnlyFromJanuary2025() {
        let file = Self.file(
            1, entry: "2023-09-01", [Self.episode("E", "2023-09-01"), Self.need("DS", 1, "2023-09-01")])
        let spring2024 = CensusExport(school: Self.school, censusDay: CensusTerm.spring.day(in: 2024), files: [file])
        #expect(spring2024.problems.first?.message.contains("only from January 2025") == true)
        let spring2025 = CensusExport(school: Self.school, censusDay: CensusTerm.spring.day(in: 2025), files: [file])
        #expect(spring2025.problems.isEmpty && spring2025.csvRows == [[Self.upn(1), "E", "DS", ""]])
    }

    @Test func needsAreNotCheckedWhenTheCensusDoesNotCollectThem() {
        // NSA with E breaks a spring rule; the autumn census returns the provision alone.
        let file = Self.file(1, [Self.episode("E"), Self.need("NSA", 1)])
        let autumn = CensusExport(school: Self.school, censusDay: CensusTerm.autumn.day(in: 2025), files: [file])
        #expect(autumn.problems.isEmpty && autumn.csvRows == [[Self.upn(1), "E", "", ""]])
        // An EHC plan in force disagrees with K in every census.
        let planned = Self.file(2, [Self.episode("K"), Self.plan("2025-07-14")])
        let refused = CensusExport(school: Self.school, censusDay: CensusTerm.autumn.day(in: 2025), files: [planned])
        #expect(refused.problems.count == 1)
    }

    @Test func everyColumnIsDocumented() throws {
        let document = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Schemas/exports/census.md"), encoding: .utf8)
        let missing = CensusExport.header.filter { !document.contains("| `\($0)` |") }
        #expect(missing.isEmpty, "Schemas/exports/census.md does not document: \(missing)")
        #expect(CensusExport.header == ["UPN", "SENprovision", "SENtype1", "SENtype2"])
    }
}
