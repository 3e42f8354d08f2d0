import Foundation
import Testing

@testable import SENSync

/// `sensync import`: a school's MIS export in, all or nothing, matched again on re-import.
@Suite struct ImportTests {
    /// Two pupils and their SEN records, as JSON Lines (line numbers matter to the tests below).
    static let jsonLines = """
        {"format": "sensync-import", "version": 1}
        {"kind": "pupil", "id": "P1", "upn": "\(syntheticUPN(1))", "forename": "Ada", "surname": "Pupil", "dateOfBirth": "2016-03-01", "yearGroup": 4, "entryDate": "2021-09-01"}
        {"kind": "sen_episode", "id": "E1", "upn": "\(syntheticUPN(1))", "provision": "K", "startDate": "2024-09-10"}
        {"kind": "sen_need", "id": "N1", "upn": "\(syntheticUPN(1))", "need": "SLCN", "rank": 1, "startDate": "2024-09-10"}
        {"kind": "sen_need", "id": "N2", "upn": "\(syntheticUPN(1))", "need": "SEMH", "rank": 2, "startDate": "2024-09-10"}
        {"kind": "support_plan", "id": "SP1", "upn": "\(syntheticUPN(1))", "title": "Speech and language", "startDate": "2024-09-20", "reviewDate": "2025-12-01"}
        {"kind": "provision_item", "id": "PI1", "upn": "\(syntheticUPN(1))", "planId": "SP1", "description": "Small-group talk sessions", "responsibleOrg": "Oakfield", "responsiblePerson": "SENCO", "sessionsPerWeek": 2, "cost": "120.50"}

        {"kind": "pupil", "id": "P2", "upn": "\(syntheticUPN(2))", "forename": "Ben", "surname": "Pupil", "dateOfBirth": "2015-11-20", "entryDate": "2020-09-01"}
        {"kind": "concern", "id": "C1", "upn": "\(syntheticUPN(2))", "raisedOn": "2025-10-01", "raisedByRole": "class-teacher", "areas": "cognition-learning", "observations": "Finds multi-step instructions hard.", "reviewDate": "2025-12-15"}
        {"kind": "referral", "id": "R1", "upn": "\(syntheticUPN(2))", "agency": "educational-psychology", "reason": "Assessment of learning needs.", "referredOn": "2025-10-20", "referredBy": "SENCO"}
        """

    func school(_ folder: URL) throws -> Store {
        let area = try TestArea(folder: folder)
        return try area.add("Oakfield", .maintainedSchool)
    }

    func write(_ text: String, _ name: String, in folder: URL) throws -> ImportFile {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return ImportFile(path: url.path)
    }

    /// Imports `lines` (as the JSON Lines file `name`) into `store`.
    func importing(_ lines: [String], as name: String, into store: Store, in folder: URL) throws -> ImportSummary {
        try store.importRecords(
            [try write(lines.joined(separator: "\n"), name, in: folder)], options: ImportOptions(author: "MIS import"))
    }

    /// The refusal of importing `lines` (as the JSON Lines file `name`) into `store`.
    func refusal(_ lines: [String], as name: String, into store: Store, in folder: URL) throws -> ImportError {
        try #require(throws: ImportError.self) { try importing(lines, as: name, into: store, in: folder) }
    }

    @Test func importsPupilsAndTheirRecordsAsOneChangePerPupil() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let file = try write(Self.jsonLines, "export.jsonl", in: folder)
            let summary = try store.importRecords([file], options: ImportOptions(author: "MIS import"))
            #expect(summary.rows == 9)
            #expect(
                summary.created == [
                    "pupil": 2, "sen_episode": 1, "sen_need": 2, "support_plan": 1, "provision_item": 1,
                    "concern": 1, "referral": 1,
                ])
            #expect(summary.updatedCount == 0 && summary.unchanged == 0)
            #expect(summary.changes == 2)

            let ada = try store.pupil(syntheticUPN(1))
            #expect(ada.forename == "Ada" && ada.dateOfBirth == "2016-03-01" && ada.yearGroup == 4)
            // Her SEN status and ranked needs follow her census episode and needs, as `pupil update
            // --sen-status --needs` keeps them the other way (`pupil show`, `pupil list --sen-status`).
            #expect(ada.senStatus == "K" && ada.senNeeds == ["SLCN", "SEMH"], "\(ada)")
            #expect(try store.pupil(syntheticUPN(2)).senStatus == "N")
            let enrolments = try store.enrolments(of: syntheticUPN(1))
            #expect(enrolments.map(\.entryDate) == ["2021-09-01"])
            let needs = try store.records(SENNeedRecord.spec, of: syntheticUPN(1))
            #expect(needs.map { $0.values.text(SENNeedRecord.Field.need) } == ["SLCN", "SEMH"])
            #expect(needs.map { $0.values.integer(SENNeedRecord.Field.rank) } == [1, 2])
            let plan = try #require(try store.records(SupportPlan.spec, of: syntheticUPN(1)).first)
            let provision = try #require(try store.records(ProvisionItem.spec, of: syntheticUPN(1)).first)
            #expect(provision.values.text(ProvisionItem.Field.planID) == plan.id.description)
            #expect(provision.values.integer(ProvisionItem.Field.sessionsPerWeek) == 2)
            #expect(provision.values.integer(ProvisionItem.Field.costPence) == 12_050)  // `cost` in pounds
            #expect(plan.values.text(SupportPlan.Field.status) == "active")  // the declared default
            let referral = try #require(try store.records(Referral.spec, of: syntheticUPN(2)).first)
            #expect(referral.values.text(Referral.Field.agency) == "educational-psychology")
        }
    }

    /// A symbolic link to nothing, or to itself, cannot be read, as a missing file cannot (a CSV
    /// one was read as a file with no heading row); one to a file is read as the file.
    @Test func aLinkToNothingCannotBeReadAndALinkToAFileIsTheFile() throws {
        try withTemporaryDirectory { dir in
            let store = try school(dir)
            let files = FileManager.default
            try files.createSymbolicLink(
                atPath: dir.appendingPathComponent("pupils.csv").path, withDestinationPath: "nothere.csv")
            try files.createSymbolicLink(
                atPath: dir.appendingPathComponent("a.jsonl").path, withDestinationPath: "b.jsonl")
            try files.createSymbolicLink(
                atPath: dir.appendingPathComponent("b.jsonl").path, withDestinationPath: "a.jsonl")
            for name in ["pupils.csv", "a.jsonl"] {
                let error = try #require(throws: ImportError.self) {
                    try store.importRecords(
                        [ImportFile(path: dir.appendingPathComponent(name).path)], options: ImportOptions(author: "MIS")
                    )
                }
                #expect(error.code == .unreadable, "\(name): \(error.message)")
            }
            _ = try write("UPN,Forename,Surname,DOB\n\(syntheticUPN(3)),Ada,Example,2016-04-01\n", "real.csv", in: dir)
            try files.createSymbolicLink(
                atPath: dir.appendingPathComponent("linked.csv").path, withDestinationPath: "real.csv")
            let summary = try store.importRecords(
                [ImportFile(path: dir.appendingPathComponent("linked.csv").path, kind: Pupil.spec)],
                options: ImportOptions(author: "MIS"))
            #expect(summary.created[Pupil.name] == 1)
        }
    }

    @Test func importingTheSameFileAgainChangesNothing() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let file = try write(Self.jsonLines, "export.jsonl", in: folder)
            _ = try store.importRecords([file], options: ImportOptions(author: "MIS import"))
            let before = try store.digest()
            let again = try store.importRecords([file], options: ImportOptions(author: "MIS import"))
            #expect(again.createdCount == 0 && again.updatedCount == 0 && again.changes == 0)
            #expect(again.unchanged == 9)
            #expect(try store.digest() == before)
        }
    }

    @Test func aChangedValueUpdatesTheRecordItWasImportedAs() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            _ = try store.importRecords(
                [try write(Self.jsonLines, "export.jsonl", in: folder)], options: ImportOptions(author: "MIS"))
            let later = Self.jsonLines.replacingOccurrences(
                of: #""provision": "K", "startDate": "2024-09-10"}"#,
                with: #""provision": "K", "startDate": "2024-09-10", "endDate": "2025-07-18"}"#)
            #expect(later != Self.jsonLines)
            let summary = try store.importRecords(
                [try write(later, "later.jsonl", in: folder)], options: ImportOptions(author: "MIS"))
            #expect(summary.updated == ["sen_episode": 1] && summary.createdCount == 0)
            #expect(summary.changes == 1)
            let episodes = try store.records(SENEpisode.spec, of: syntheticUPN(1))
            #expect(episodes.count == 1)
            #expect(episodes.first?.values.text(SENEpisode.Field.endDate) == "2025-07-18")
        }
    }

    @Test func aFileWithBadRowsChangesNothingAndSaysWhereAndWhy() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let before = try store.digest()
            var lines = Self.jsonLines.components(separatedBy: "\n")
            // Line 4: a need that is not a census code; line 6: a plan without its review date.
            lines[3] = lines[3].replacingOccurrences(of: "\"SLCN\"", with: "\"Ada's need\"")
            lines[5] = lines[5].replacingOccurrences(of: #", "reviewDate": "2025-12-01""#, with: "")
            // Line 9: a date that does not exist, and no surname (reported too, so that one attempt
            // lists both); line 5: a need with neither a valid start date nor its type.
            lines[8] = lines[8].replacingOccurrences(of: "2015-11-20", with: "2015-02-30")
                .replacingOccurrences(of: #""surname": "Pupil", "#, with: "")
            lines[4] = lines[4].replacingOccurrences(of: #""need": "SEMH", "#, with: "")
                .replacingOccurrences(of: "2024-09-10", with: "2024-09-31")
            let file = try write(lines.joined(separator: "\n"), "bad.jsonl", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([file], options: ImportOptions(author: "MIS import"))
            }
            #expect(error.code == .rejected)
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-")" } == [
                    "4 need", "5 startDate", "5 SENtype", "6 Review date", "9 dateOfBirth", "9 Surname",
                ])
            #expect(error.problems[0].reason.hasPrefix("That is not a valid need."))
            #expect(error.problems[2].reason == "A new need needs SENtype.")
            #expect(error.problems[3].reason == "A new plan needs Review date.")
            #expect(error.problems[4].reason.hasPrefix("The date of birth is not a valid date."))
            #expect(error.problems[5].reason == "A new pupil needs Surname.")
            #expect(error.problemCount == 6)
            // Where, never what: no name, UPN or typed value in any message.
            for text in error.problems.map(\.description) + [error.description] {
                for personal in ["Ada", "Ben", syntheticUPN(1), syntheticUPN(2), "2015-02-30"] {
                    #expect(!text.contains(personal), "\(text)")
                }
            }
            #expect(try store.digest() == before)
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A row whose UPN is not one is checked on: its other bad values are listed too (it stopped at
    /// the UPN, so each fix showed the next problem).
    @Test func aRowWithABadUPNHasItsOtherValuesCheckedToo() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let before = try store.digest()
            var lines = Self.jsonLines.components(separatedBy: "\n")
            let upn = syntheticUPN(1)
            let wrong = String(upn.first == "A" ? "B" : "A") + upn.dropFirst()
            lines[1] = lines[1].replacingOccurrences(of: upn, with: wrong)
                .replacingOccurrences(of: "2016-03-01", with: "2016-02-30")
                .replacingOccurrences(of: #""yearGroup": 4"#, with: #""yearGroup": 99"#)
                .replacingOccurrences(of: "2021-09-01", with: "2021-13-01")
            let error = try refusal(Array(lines[0...1]), as: "bad-upn.jsonl", into: store, in: folder)
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-")" } == [
                    "2 UPN", "2 dateOfBirth", "2 yearGroup", "2 entryDate",
                ], "\(error.problems)")
            #expect(try store.digest() == before)
        }
    }

    /// An entry date is at most a year ahead, as a transfer's is (2099 for 2029 kept a pupil off
    /// every roll's counts for decades), whether imported or added.
    @Test func anEntryDateMoreThanAYearAheadIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            var lines = Self.jsonLines.components(separatedBy: "\n")
            lines[1] = lines[1].replacingOccurrences(of: "2021-09-01", with: "2099-09-01")
            let error = try refusal(Array(lines[0...1]), as: "ahead.jsonl", into: store, in: folder)
            #expect(error.problems.map { "\($0.line) \($0.column ?? "-")" } == ["2 entryDate"], "\(error.problems)")
            #expect(error.problems.first?.reason.hasPrefix("The entry date is at most a year ahead.") == true)
            var pupil = NewPupil(upn: syntheticUPN(3), forename: "Cy", surname: "Example", dateOfBirth: "2016-01-01")
            pupil.entryDate = "2099-09-01"
            let refused = #expect(throws: StoreError.self) { try store.addPupil(pupil, author: "SENCO") }
            #expect(refused?.code == .invalidInput)
            #expect(try store.pupils().isEmpty)
        }
    }

    /// The refusal's summary counts the rows that have a problem among all the rows read, a line
    /// that is no row at all (not JSON) among them: "2 problem(s) in 1 row(s)" read as one bad row
    /// when two rows had one.
    @Test func theRefusalCountsTheRowsWithProblemsAmongTheRowsRead() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            var lines = Self.jsonLines.components(separatedBy: "\n")
            // Line 2: two bad cells in one row; line 4: a bad need; line 7: not JSON.
            lines[1] = lines[1].replacingOccurrences(of: "2016-03-01", with: "2016-02-30")
                .replacingOccurrences(of: #""yearGroup": 4"#, with: #""yearGroup": 40"#)
            lines[3] = lines[3].replacingOccurrences(of: "\"SLCN\"", with: "\"Ada's need\"")
            lines[6] = String(lines[6].dropLast())
            let error = try refusal(lines, as: "bad.jsonl", into: store, in: folder)
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-")" } == [
                    "2 dateOfBirth", "2 yearGroup", "4 need", "7 -",
                ])
            #expect(error.problemCount == 4)
            #expect(error.message == "Nothing was imported: 4 problem(s) in 3 of the 9 row(s) read.")
        }
    }

    /// A source's id names one record for good: given again for another pupil, in the same first
    /// import (found through the first import's Bloom filter of ids) or in a later one, it is a
    /// problem on that row, and nothing is imported.
    @Test func aSourceIDGivenForASecondPupilIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let lines = Self.jsonLines.components(separatedBy: "\n")
            // One first import: Ben's pupil row reuses Ada's "P1", Ben's concern reuses Ada's "E1".
            var reused = lines
            reused[8] = reused[8].replacingOccurrences(of: #""id": "P2""#, with: #""id": "P1""#)
            reused[9] = reused[9].replacingOccurrences(of: #""id": "C1""#, with: #""id": "E1""#)
            let first = try school(folder)
            let once = try refusal(reused, as: "reused.jsonl", into: first, in: folder)
            #expect(once.problems.map(\.line) == [9], "\(once.problems)")
            #expect(once.problems.first?.reason.contains("for a pupil with another UPN") == true)
            #expect(try first.pupils().isEmpty)
            // A concern and an episode are different kinds: "E1" names one of each, no problem.
            var kinds = lines
            kinds[9] = kinds[9].replacingOccurrences(of: #""id": "C1""#, with: #""id": "E1""#)
            #expect(try importing(kinds, as: "kinds.jsonl", into: first, in: folder).createdCount == 9)
            // A later import: Ada's need "N1" given for Ben.
            let before = try first.digest()
            let later = [lines[0], lines[8], lines[3].replacingOccurrences(of: syntheticUPN(1), with: syntheticUPN(2))]
            let again = try refusal(later, as: "later.jsonl", into: first, in: folder)
            #expect(again.problems.map { "\($0.line) \($0.column ?? "-")" } == ["3 ID"], "\(again.problems)")
            #expect(again.problems.first?.reason.contains("for another pupil") == true)
            #expect(try first.digest() == before)
        }
    }

    /// Two rows of one import with the same ID (or a pupil's UPN twice) and other values: the
    /// second silently replaced the first, which was lost. Now a problem on the second row, and
    /// nothing imported; the same row twice is only counted unchanged.
    @Test func aSecondRowWithTheSameIDAndOtherValuesIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let lines = Self.jsonLines.components(separatedBy: "\n")
            let store = try school(folder)
            // Ben's referral again, for another agency (in his rows, and after Ada's).
            let other = lines[10].replacingOccurrences(of: "educational-psychology", with: "camhs")
            for (extra, at) in [
                (other, 11), (lines[5].replacingOccurrences(of: "Speech and language", with: "Talk"), 11),
            ] {
                var twice = lines
                twice.insert(extra, at: at)
                let refused = try refusal(twice, as: "twice.jsonl", into: store, in: folder)
                #expect(refused.problems.map { "\($0.line) \($0.column ?? "-")" } == ["12 ID"], "\(refused.problems)")
                #expect(refused.problems.first?.reason.contains("same ID") == true, "\(refused.problems)")
                #expect(try store.pupils().isEmpty)
            }
            // A pupil's row twice with another forename.
            var pupilTwice = lines
            pupilTwice.insert(lines[1].replacingOccurrences(of: "Ada", with: "Ava"), at: 2)
            let refused = try refusal(pupilTwice, as: "pupil.jsonl", into: store, in: folder)
            #expect(refused.problems.map(\.line) == [3], "\(refused.problems)")
            #expect(try store.pupils().isEmpty)
            // The same rows twice: imported once.
            var same = lines
            same.insert(lines[10], at: 11)
            same.insert(lines[1], at: 2)
            let summary = try importing(same, as: "same.jsonl", into: store, in: folder)
            #expect(summary.unchanged == 2 && summary.createdCount == 9, "\(summary)")
        }
    }

    /// A rule's message names the fields, never a value from the file (it gave both dates).
    @Test func aProblemNamesTheRuleWithoutTheFilesValues() throws {
        try withTemporaryDirectory { folder in
            var lines = Self.jsonLines.components(separatedBy: "\n")
            lines[3] = lines[3].replacingOccurrences(
                of: #""startDate": "2024-09-10"}"#, with: #""startDate": "2024-09-10", "endDate": "2024-01-02"}"#)
            let refused = try refusal(lines, as: "dates.jsonl", into: try school(folder), in: folder)
            let reason = try #require(refused.problems.first?.reason)
            #expect(reason.contains("is before the start date"), "\(reason)")
            #expect(!reason.contains("2024-09-10") && !reason.contains("2024-01-02"), "\(reason)")
            // A file has columns, not a command's options: no "Check --year-group." (it said so).
            lines = Self.jsonLines.components(separatedBy: "\n")
            lines[1] = lines[1].replacingOccurrences(of: #""yearGroup": 4"#, with: #""yearGroup": 99"#)
            let year = try refusal(lines, as: "year.jsonl", into: try school(folder), in: folder)
            #expect(year.problems.map(\.column) == ["yearGroup"])
            #expect(year.problems.allSatisfy { !$0.reason.contains("--") }, "\(year.problems)")
        }
    }

    /// A pupil's rows are one change, and the rules across a pupil's records see every record it
    /// makes: two current needs sharing a rank, or a second open episode at the school, are
    /// problems of the later row (in whichever file it is: it was the pupil's first line, in the
    /// pupils file, with no column), and nothing is imported.
    @Test func rulesAcrossAPupilsRecordsSeeTheOtherRowsOfTheImport() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let before = try store.digest()
            var lines = Self.jsonLines.components(separatedBy: "\n")
            lines[4] = lines[4].replacingOccurrences(of: #""rank": 2"#, with: #""rank": 1"#)
            let ranks = try refusal(lines, as: "ranks.jsonl", into: store, in: folder)
            #expect(ranks.problems.map(\.line) == [5], "\(ranks.problems)")
            #expect(ranks.problems.first?.reason.hasPrefix("Two current needs share a rank.") == true)
            #expect(ranks.message.contains("in 1 of the"), "\(ranks.message)")
            lines = Self.jsonLines.components(separatedBy: "\n")
            lines.insert(lines[2].replacingOccurrences(of: #""id": "E1""#, with: #""id": "E2""#), at: 3)
            let episodes = try refusal(lines, as: "episodes.jsonl", into: store, in: folder)
            #expect(episodes.problems.map(\.line) == [4], "\(episodes.problems)")
            #expect(episodes.problems.first?.reason.contains("already has an open SEN provision episode") == true)
            // A pupil's rows in several CSV files: the row in its own file.
            let upn = syntheticUPN(26)
            let files = [
                try write("UPN,Forename,Surname,DOB\n\(upn),Testa,Synth,2016-04-01\n", "pupils.csv", in: folder),
                try write(
                    "ID,UPN,SENprovision,StartDate\nE1,\(upn),K,2025-09-10\nE2,\(upn),E,2025-09-11\n",
                    "sen_episodes.csv", in: folder),
            ]
            let csv = try #require(throws: ImportError.self) {
                try store.importRecords(files, options: ImportOptions(author: "MIS import"))
            }
            #expect(csv.problems.map { "\($0.file) \($0.line)" } == ["sen_episodes.csv 3"], "\(csv.problems)")
            // Every rule the pupil's rows break, each once, at its row (only the first was listed,
            // so each attempt showed the next): a second open episode, and two needs of one rank.
            let needs = try write(
                "ID,UPN,SENtype,SENtypeRank,NeedStartDate\nN1,\(upn),SLCN,1,2025-09-10\nN2,\(upn),ASD,1,2025-09-10\n",
                "sen_needs.csv", in: folder)
            let all = try #require(throws: ImportError.self) {
                try store.importRecords(files + [needs], options: ImportOptions(author: "MIS import"))
            }
            #expect(
                all.problems.map { "\($0.file) \($0.line)" } == ["sen_episodes.csv 3", "sen_needs.csv 3"],
                "\(all.problems.map { "\($0)" })")
            #expect(all.message.contains("in 2 of the"), "\(all.message)")
            #expect(try store.digest() == before)
        }
    }

    @Test func aDryRunSaysWhatWouldChangeAndKeepsNothing() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let before = try store.digest()
            let summary = try store.importRecords(
                [try write(Self.jsonLines, "export.jsonl", in: folder)],
                options: ImportOptions(author: "MIS", dryRun: true))
            #expect(summary.dryRun && summary.createdCount == 9 && summary.changes == 2)
            #expect(try store.digest() == before)
        }
    }

    @Test func csvFilesImportTheSameRecordsAsJSONLines() throws {
        try withTemporaryDirectory { folder in
            let fromJSON = try school(folder.appendingPathComponent("a"))
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent("b"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent("a"), withIntermediateDirectories: true)
            let fromCSV = try school(folder.appendingPathComponent("b"))
            _ = try fromJSON.importRecords(
                [try write(Self.jsonLines, "export.jsonl", in: folder)], options: ImportOptions(author: "MIS"))
            let u1 = syntheticUPN(1)
            let u2 = syntheticUPN(2)
            let files = [
                try write(
                    """
                    \u{FEFF}ID,UPN,Forename,Surname,DOB,NCyearActual,EntryDate
                    P1,\(u1),Ada,Pupil,2016-03-01,4,2021-09-01
                    P2,\(u2),Ben,Pupil,2015-11-20,,2020-09-01
                    """, "pupils.csv", in: folder),
                try write(
                    """
                    ID,UPN,SENprovision,StartDate,End date
                    E1,\(u1),K,2024-09-10,
                    """, "sen_episodes.csv", in: folder),
                try write(
                    """
                    ID,UPN,SENtype,SENtypeRank,Start date
                    N1,\(u1),SLCN,1,2024-09-10
                    N2,\(u1),SEMH,2,2024-09-10
                    """, "sen_needs.csv", in: folder),
                try write(
                    """
                    ID,UPN,Title,Start date,Review date
                    SP1,\(u1),Speech and language,2024-09-20,2025-12-01
                    """, "support_plans.csv", in: folder),
                try write(
                    """
                    ID,UPN,Plan ID,Provision,Responsible organisation,Responsible person,Sessions per week,Cost
                    PI1,\(u1),SP1,Small-group talk sessions,Oakfield,SENCO,2,120.50
                    """, "provision_items.csv", in: folder),
                try write(
                    """
                    ID,UPN,Raised on,Raised by (role),Areas of need,Observations,Review date
                    C1,\(u2),2025-10-01,class-teacher,cognition-learning,"Finds multi-step
                    instructions hard.",2025-12-15
                    """.replacingOccurrences(of: "multi-step\n", with: "multi-step "), "concerns.csv", in: folder),
                try write(
                    """
                    ID,UPN,Agency,Reason,Referred on,Referred by
                    R1,\(u2),educational-psychology,Assessment of learning needs.,2025-10-20,SENCO
                    """, "referrals.csv", in: folder),
            ]
            // Given last file first: the pupils' rows are still taken first, and the plan before
            // the provision that names it.
            let summary = try fromCSV.importRecords(files.reversed(), options: ImportOptions(author: "MIS"))
            #expect(summary.createdCount == 9 && summary.rows == 9)
            #expect(summary.changes == 2)  // one per pupil, though six files hold their rows
            for kind in ImportFormat.kinds where kind.name != Pupil.name {
                for upn in [u1, u2] {
                    // The same values, whatever the ids (a provision's plan id is the plan's own).
                    func values(_ store: Store) throws -> [[String: String]] {
                        try store.records(kind, of: upn).map { record in
                            record.values.values.filter { !$0.key.hasSuffix("_id") }.mapValues { "\($0)" }
                        }
                    }
                    #expect(try values(fromJSON) == values(fromCSV), "\(kind.name)")
                }
            }
            // A second import of the CSV files changes nothing either.
            let before = try fromCSV.digest()
            #expect(try fromCSV.importRecords(files, options: ImportOptions(author: "MIS")).changes == 0)
            #expect(try fromCSV.digest() == before)
        }
    }

    @Test func severalFilesAreGatheredByPupilWhateverTheirOrder() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let (u1, u2) = (syntheticUPN(1), syntheticUPN(2))
            // The needs file first: each pupil's own row is still taken before their other rows
            // (and a plan before the provision naming it: `csvFilesImportTheSameRecordsAsJSONLines`).
            let needs = try write(
                """
                ID,UPN,SENtype,SENtypeRank,Start date
                N2,\(u2),SLCN,1,2024-09-10
                N1,\(u1),SEMH,1,2024-09-10
                """, "sen_needs.csv", in: folder)
            let pupils = try write(
                """
                ID,UPN,Forename,Surname,DOB
                P1,\(u1),Ada,Pupil,2016-03-01
                P2,\(u2),Ben,Pupil,2015-11-20
                """, "pupils.csv", in: folder)
            let summary = try store.importRecords([needs, pupils], options: ImportOptions(author: "MIS"))
            #expect(summary.changes == 2 && summary.created == ["pupil": 2, "sen_need": 2])
            #expect(
                try store.records(SENNeedRecord.spec, of: u2).map { $0.values.text(SENNeedRecord.Field.need) } == [
                    "SLCN"
                ])

            // Problems in several files are listed in the files' order, then by line, not in the
            // order of the pupils they are checked in (by UPN: `early` is checked first).
            let (early, late) = (min(syntheticUPN(3), syntheticUPN(4)), max(syntheticUPN(3), syntheticUPN(4)))
            let badPupils = try write(
                """
                ID,UPN,Forename,Surname,DOB
                P3,\(early),Cara,Pupil,2016-03-01
                P4,\(late),Dev,Pupil,2015-02-30
                """, "pupils.csv", in: folder)
            let badNeeds = try write(
                """
                ID,UPN,SENtype,SENtypeRank,Start date
                N3,\(early),Sight,1,2024-09-10
                N4,\(late),SLCN,1,2024-09-10
                """, "sen_needs.csv", in: folder)
            let before = try store.digest()
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([badPupils, badNeeds], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.file) \($0.line) \($0.column ?? "-")" } == [
                    "pupils.csv 3 DOB", "sen_needs.csv 2 SENtype",
                ])
            #expect(try store.digest() == before)
        }
    }

    /// An amount kept in pence is given in pounds, as `cost` (the `Cost` column): `costPence`
    /// would read as pence and be kept as pounds, a hundred times too much, so it is no column.
    @Test func aCostIsGivenInPoundsAndNotByItsNameInPence() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let file = try write(
                """
                {"kind": "pupil", "id": "P1", "upn": "\(syntheticUPN(1))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-04-01"}
                {"kind": "support_plan", "id": "SP1", "upn": "\(syntheticUPN(1))", "title": "Talk", "startDate": "2024-09-01", "reviewDate": "2024-12-01", "responsibleOrg": "Oakfield", "responsiblePerson": "SENCO"}
                {"kind": "provision_item", "id": "PI1", "upn": "\(syntheticUPN(1))", "planId": "SP1", "description": "Talk group", "responsibleOrg": "Oakfield", "responsiblePerson": "SENCO", "costPence": 45000}
                """, "pupils.jsonl", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([file], options: ImportOptions(author: "MIS"))
            }
            #expect(error.problems.map { "\($0.line) \($0.column ?? "-")" } == ["3 costPence"])
        }
    }

    @Test func rowsForAnUnknownPupilOrColumnAreProblems() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let file = try write(
                """
                ID,UPN,SENtype,SENtypeRank,Start date,Favourite colour
                N1,\(syntheticUPN(7)),SLCN,1,2024-09-10,blue
                N2,\(syntheticUPN(8)),SLCN,1,2024-09-10,green
                """, "sen_needs.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([file], options: ImportOptions(author: "MIS"))
            }
            // The unknown heading once for the file, on the heading row (it said line 2), by its
            // position (its text could be a pupil's details); each row's missing pupil.
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-")" } == [
                    "1 6", "2 UPN", "3 UPN",
                ])
        }
    }

    /// A CSV file's heading row is checked as soon as it is read, rows or not: a file of headings
    /// only that named no column (or a file of 3,000 NUL bytes) was "0 rows", exit 0. A heading
    /// row without a UPN column is one problem, not one per row.
    @Test func aHeadingRowIsCheckedEvenWithoutRows() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let before = try store.digest()
            func problems(_ text: String) throws -> [String] {
                let file = try write(text, "pupils.csv", in: folder)
                let error = try #require(throws: ImportError.self) {
                    try store.importRecords([file], options: ImportOptions(author: "MIS"))
                }
                return error.problems.map { "\($0.line) \($0.column ?? "-")" }
            }
            #expect(try problems("Foo,Bar\n") == ["1 -", "1 1", "1 2"])
            #expect(try problems(String(repeating: "\0", count: 3000)) == ["1 -"])
            #expect(try problems("UPN,Forename,Favourite colour\n") == ["1 3"])
            var rows = "Forename,Surname,DOB\n"
            for _ in 1...5 { rows += "Ada,Example,2016-01-01\n" }
            #expect(try problems(rows) == ["1 -"])
            #expect(try store.digest() == before)
            // Headings only, every one a column: nothing to import, and no problem.
            let empty = try write("UPN,Forename,Surname,DOB\n", "pupils.csv", in: folder)
            #expect(try store.importRecords([empty], options: ImportOptions(author: "MIS")).rows == 0)
        }
    }

    /// An export without its heading row: its first line holds the first pupil's details. They
    /// were repeated in the problems as unknown headings ("column Wibbleton"); now the file is
    /// refused for what it is, naming nothing in it.
    @Test func aFileWithoutItsHeadingRowIsRefusedWithoutRepeatingIt() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let file = try write(
                "\(syntheticUPN(1)),Wibbleton,Plumtart,2016-01-01\n\(syntheticUPN(2)),Snorkel,Plumtart,2016-01-01\n",
                "pupils.csv", in: folder)
            let before = try store.digest()
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([file], options: ImportOptions(author: "MIS"))
            }
            let said = error.description + error.problems.map(\.description).joined()
            #expect(said.contains("heading row"), "\(said)")
            for personal in [syntheticUPN(1), "Wibbleton", "Plumtart", "2016-01-01"] {
                #expect(!said.contains(personal))
            }
            // A JSON key that reads as a value is not repeated either.
            let json = try write(
                #"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "Wibbleton Plumtart": "x"}"#, "p.jsonl", in: folder)
            let jsonError = try #require(throws: ImportError.self) {
                try store.importRecords([json], options: ImportOptions(author: "MIS"))
            }
            #expect(!jsonError.problems.map(\.description).joined().contains("Wibbleton"))
            #expect(try store.digest() == before)
        }
    }

    /// A byte that is not UTF-8 is named by its line: the CSV reader stops later, and the problem
    /// named a line past the end of the file.
    @Test func aByteThatIsNotUTF8IsNamedByItsLine() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            var bytes = Array("UPN,Forename,Surname,DOB\n".utf8)
            for n in 1...5 {
                bytes += Array("\(syntheticUPN(n)),Ada,Example,2016-01-0\(n)\n".utf8)
                if n == 2 { bytes.insert(0xFF, at: bytes.count - 3) }
            }
            let url = folder.appendingPathComponent("pupils.csv")
            try Data(bytes).write(to: url)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([ImportFile(path: url.path)], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.line) \($0.reason)" } == [
                    "3 This line is not UTF-8 text: save the file as CSV UTF-8 and import it again."
                ])
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A control character in a value (NUL, an escape) is a problem on its line and column: NUL
    /// cut the value short without a word, and an escape sequence was kept, replicated and shown
    /// raw on other sites' terminals.
    @Test func aControlCharacterInAValueIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let csv = try write(
                "UPN,Forename,Surname,DOB\n\(syntheticUPN(1)),A\u{0}B,Example,2016-01-01\n\(syntheticUPN(2)),Bo,Ex\u{1B}[2Jample,2016-01-01\n",
                "pupils.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([csv], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-")" } == ["2 Forename", "3 Surname"],
                "\(error.problems)")
            #expect(error.problems.allSatisfy { $0.reason.contains("cannot be recorded") })
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A CSV file named after no kind (and given no --kind) is one problem, not one per row, and
    /// a problem even with no rows (a file of headings only imported "0 rows" with exit 0).
    @Test func aCSVFileOfNoKnownKindIsOneProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            var text = "UPN,Forename,Surname,DOB\n"
            for n in 1...5 { text += "\(syntheticUPN(n)),Ada,Example,2016-01-01\n" }
            let people = try write(text, "people.csv", in: folder)
            let pupils = try write(text, "pupils.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([people, pupils], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.file) \($0.line) \($0.reason)" } == [
                    "people.csv 1 Which kind of record this file holds is not known: name the file after it (pupils.csv) or give --kind."
                ])
            let headingsOnly = try write("UPN,Forename,Surname,DOB\n", "people.csv", in: folder)
            let alone = try #require(throws: ImportError.self) {
                try store.importRecords([headingsOnly], options: ImportOptions(author: "MIS"))
            }
            #expect(alone.problems.count == 1)
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A JSON Lines line that is not a row says which of three things is wrong: it is not UTF-8,
    /// not JSON at all (cut short), or JSON of another shape. All three were "not a JSON object
    /// of texts, numbers, …", which sent a user with a truncated export looking at its values.
    @Test func aJSONLineThatIsNotARowSaysWhy() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            var bytes = Array(#"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "surname": "Ex"#.utf8)
            bytes += [0xFF, 0x22, 0x7D, 0x0A]
            bytes += Array("[1, 2]\n".utf8)
            bytes += Array(#"{"kind": "pupil", "upn": "\#(syntheticUPN(2))", "surname": "Exa"#.utf8)
            let url = folder.appendingPathComponent("cut.jsonl")
            try Data(bytes).write(to: url)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([ImportFile(path: url.path)], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.line) \($0.reason)" } == [
                    "1 This line is not UTF-8 text: save the file as UTF-8 and import it again.",
                    "2 This line is not a JSON object of texts, numbers, true/false and nulls (lists and objects cannot be imported).",
                    "3 This line is not valid JSON (it may be cut short); each line holds one whole JSON object.",
                ])
            #expect(try store.pupils().isEmpty)
        }
    }

    /// JSON the platform's decoder reads but RFC 8259 does not allow is refused, not taken: an
    /// object or list closed after a comma (a hand-edited line). A number too large for any
    /// field is valid JSON: the line says so, not that it is "not valid JSON".
    @Test func aJSONLineMustBeStrictJSON() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let upn = syntheticUPN(1)
            let good =
                #"{"kind": "pupil", "upn": "\#(upn)", "forename": "Ada", "surname": "Ex", "dateOfBirth": "2016-01-01""#
            let text = [
                good + ", }",
                good + ",\t}   ",
                // A comma inside a text is the text's own.
                #"{"kind": "pupil", "upn": "\#(syntheticUPN(2))", "forename": "A,}", "surname": "Ex", "dateOfBirth": "2016-01-01"}"#,
                good.replacingOccurrences(of: "Ada", with: "Bea") + #", "yearGroup": 1e400}"#,
                good.replacingOccurrences(of: "Ada", with: "Cy") + #", "yearGroup": -2E+999}"#,
            ].joined(separator: "\n")
            let file = try write(text + "\n", "strict.jsonl", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([file], options: ImportOptions(author: "MIS"))
            }
            let notJSON = "This line is not valid JSON (it may be cut short); each line holds one whole JSON object."
            let tooLarge =
                "This line holds a number too large to be any field's value; give the number as the MIS shows it."
            #expect(
                error.problems.map { "\($0.line) \($0.reason)" } == [
                    "1 \(notJSON)", "2 \(notJSON)", "4 \(tooLarge)", "5 \(tooLarge)",
                ])
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A JSON Lines file saved as UTF-16 (Excel and PowerShell's default): the JSON decoder read
    /// its first line as UTF-16, and the problem said the line "gives a key more than once". Now
    /// the file is refused for what it is, once, and nothing changes.
    @Test func aUTF16JSONLinesFileIsRefusedAsNotUTF8() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let line =
                #"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "forename": "Ada", "surname": "Ex", "dateOfBirth": "2016-01-01"}"#
            for (name, encoding) in [("le.jsonl", String.Encoding.utf16LittleEndian), ("be.jsonl", .utf16BigEndian)] {
                let bom: [UInt8] = encoding == .utf16LittleEndian ? [0xFF, 0xFE] : [0xFE, 0xFF]
                let url = folder.appendingPathComponent(name)
                try (Data(bom) + (line + "\n" + line + "\n").data(using: encoding)!).write(to: url)
                let error = try #require(throws: ImportError.self) {
                    try store.importRecords([ImportFile(path: url.path)], options: ImportOptions(author: "MIS"))
                }
                #expect(
                    error.problems.map { "\($0.line) \($0.reason)" } == [
                        "1 The file is UTF-16 text, not UTF-8: save it as UTF-8 and import it again."
                    ])
            }
            // Without its byte-order mark, each line is refused as not UTF-8 (its bytes hold NULs).
            let url = folder.appendingPathComponent("bare.jsonl")
            try line.data(using: .utf16LittleEndian)!.write(to: url)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([ImportFile(path: url.path)], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map(\.reason) == [
                    "This line is not UTF-8 text: save the file as UTF-8 and import it again."
                ])
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A CSV file saved as UTF-16 without a byte-order mark: its headings matched with their NULs
    /// dropped, and each row was refused for its values ("UPN invalid"), then a row of one cell.
    /// Now the file is refused once for what it is, with a byte-order mark or without.
    @Test func aUTF16CSVFileIsRefusedOnce() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let text = "UPN,Forename,Surname,DOB\n\(syntheticUPN(1)),Ada,Ex,2016-01-01\n"
            for (bom, encoding) in [
                ([], String.Encoding.utf16LittleEndian), ([0xFF, 0xFE], .utf16LittleEndian),
                ([0xFE, 0xFF], .utf16BigEndian),
            ] as [([UInt8], String.Encoding)] {
                let url = folder.appendingPathComponent("pupils.csv")
                try (Data(bom) + text.data(using: encoding)!).write(to: url)
                let error = try #require(throws: ImportError.self) {
                    try store.importRecords([ImportFile(path: url.path)], options: ImportOptions(author: "MIS"))
                }
                #expect(error.problems.count == 1 && error.problems[0].line == 1, "\(error.problems)")
                #expect(
                    error.problems.first?.reason.hasPrefix("The file is not UTF-8 text") == true, "\(error.problems)")
            }
            #expect(try store.pupils().isEmpty)
        }
    }

    /// One field given twice (the same heading twice, or two of its spellings): the last value
    /// silently won (a pupil born 2017-07-07 from a file whose DOB said 2016-01-01).
    @Test func aFieldGivenTwiceIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let twice = try write(
                "UPN,Forename,Surname,DOB,Forename\n\(syntheticUPN(1)),Ada,Example,2016-01-01,Bea\n", "pupils.csv",
                in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([twice], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.line) \($0.reason)" } == [
                    "1 Columns 2 and 5 have the same heading; give each column once."
                ])
            let spellings = try write(
                "UPN,Forename,Surname,DOB,date_of_birth\n\(syntheticUPN(1)),Ada,Example,2016-01-01,2017-07-07\n",
                "pupils.csv", in: folder)
            let other = try #require(throws: ImportError.self) {
                try store.importRecords([spellings], options: ImportOptions(author: "MIS"))
            }
            #expect(other.problems.map { "\($0.line) \($0.column ?? "-")" } == ["1 DOB"], "\(other.problems)")
            // A JSON key twice (the decoder kept one of the values): a problem on its line.
            let json = try write(
                #"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-01-01", "forename": "Bea"}"#,
                "p.jsonl", in: folder)
            let key = try #require(throws: ImportError.self) {
                try store.importRecords([json], options: ImportOptions(author: "MIS"))
            }
            #expect(
                key.problems.map { "\($0.line) \($0.reason)" } == [
                    "1 This line gives a key more than once; give each field once."
                ])
            #expect(try store.pupils().isEmpty)
        }
    }
}
