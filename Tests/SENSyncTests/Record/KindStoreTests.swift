import Foundation
import GRDB
import Testing

@testable import SENSync

/// Records of every kind through the store: generic writes from the declarations, the rules they
/// keep, UPNs, SEN provision episodes and needs, and replication.
struct KindStoreTests {
    static let upn = syntheticUPN(7001)

    func school() throws -> (TestArea, Store, RecordID) {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let store = try area.add("Oakfield", .maintainedSchool)
        let pupil = try store.addPupil(
            NewPupil(upn: Self.upn, forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"), author: "SENCO")
        return (area, store, pupil)
    }

    @Test func everyWritableKindCanBeRecordedUpdatedAndRead() throws {
        let (_, store, pupil) = try school()
        let referral = try store.addRecord(
            Referral.self, pupil: Self.upn,
            [
                .agency: "Speech and language therapy", .referredOn: "2025-12-01", .referredBy: "SENCO",
                .reason: "Speech",
            ],
            author: "SENCO")
        try store.updateRecord(Referral.self, referral.description, [.acceptedOn: "2025-12-16"], author: "SENCO")
        let read = try #require(try store.records(Referral.self, of: Self.upn).first)
        #expect(read.id == referral && read.pupilID == pupil)
        #expect(read.text(.agency) == "speech-language-therapy")  // a label is accepted and stored as its code
        #expect(read.date(.acceptedOn) == CalendarDate("2025-12-16"))
        // Clearing a field that is not required.
        try store.updateRecord(Referral.self, referral.description, [.acceptedOn: ""], author: "SENCO")
        #expect(try store.records(Referral.self, of: Self.upn).first?[.acceptedOn] == nil)
        // Children take their pupil from their parent.
        let concern = try store.addRecord(
            Concern.self, pupil: Self.upn,
            [.raisedOn: "2026-01-05", .raisedByRole: "senco", .areas: "semh,semh,general", .observations: "Withdrawn"],
            author: "SENCO")
        #expect(try store.records(Concern.self, of: Self.upn).first?.text(.areas) == "semh,general")
        #expect(try store.records(Concern.self, of: Self.upn).first?.text(.status) == "open")  // the declared default
        try store.addRecord(
            ConcernAction.self, pupil: nil,
            [.concernID: concern.description, .action: "Call home", .owner: "Teacher", .dueOn: "2026-01-09"],
            author: "SENCO")
        #expect(try store.records(ConcernAction.self, of: Self.upn).count == 1)
    }

    @Test func writesTheDeclarationDoesNotAllowAreRefusedWithAReason() throws {
        let (_, store, _) = try school()
        func refused(_ fields: [String: String], kind: KindSpec = Referral.spec, _ fragment: String) {
            do {
                try store.addRecord(kind, pupil: Self.upn, fields: fields, author: "SENCO")
                Issue.record("accepted \(fields)")
            } catch let error as StoreError {
                #expect(error.code == .invalidInput)
                #expect("\(error.message) \(error.hint ?? "")".contains(fragment), "\(error)")
            } catch { Issue.record("\(error)") }
        }
        let base = ["agency": "camhs", "referred_on": "2026-01-05", "referred_by": "SENCO", "reason": "r"]
        refused(base.merging(["agnecy": "x"]) { $1 }, "no field 'agnecy'")  // a typo is not an invisible field
        refused(base.merging(["agency": "dentist"]) { $1 }, "educational-psychology")  // the valid codes are listed
        refused(base.filter { $0.key != "reason" }, "--reason")
        refused(base.merging(["accepted_on": "2026-01-04"]) { $1 }, "--accepted-on")
        refused(base.merging(["referred_on": "5/1/2026"]) { $1 }, "YYYY-MM-DD")
        // Read as a sentence (it said "The referred on is not a valid date").
        refused(base.merging(["referred_on": "2026-13-01"]) { $1 }, "The date referred is not a valid date.")
        refused(
            ["text": "x", "recorded_by": "someone"], kind: Note.spec, "set by SENSync")
        refused(
            ["request_received_on": "2026-01-05", "request_source": "parent"], kind: EHCAssessment.spec,
            "Only the local authority")
        // Dates that contradict each other (found by a newcomer; each was written).
        let earlier = base.merging(["referred_on": "2025-11-05"]) { $1 }
        let seen = earlier.merging(["accepted_on": "2025-11-20", "first_seen_on": "2025-12-01"]) { $1 }
        refused(seen.merging(["closed_on": "2025-11-25"]) { $1 }, "--closed-on")
        refused(earlier.merging(["declined_on": "2025-11-20", "closed_on": "2025-11-10"]) { $1 }, "--closed-on")
        // A day that has not come yet, for something that happened (today is 2026-01-05).
        refused(base.merging(["accepted_on": "2026-01-06"]) { $1 }, "The date accepted is in the future")
        refused(
            ["title": "Reading", "start_date": "2026-01-05", "review_date": "2026-03-01", "closed_on": "2026-02-01"],
            kind: SupportPlan.spec, "--status")
        let concern = try store.addRecord(
            Concern.self, pupil: Self.upn,
            [.raisedOn: "2026-01-05", .raisedByRole: "senco", .areas: "semh", .observations: "Withdrawn"],
            author: "SENCO")
        for field in ["due_on", "done_on"] {
            var fields = [
                "concern_id": concern.description, "action": "Talk", "owner": "SENCO", "due_on": "2026-01-10",
            ]
            fields[field] = "2026-01-01"
            refused(fields, kind: ConcernAction.spec, "before the concern was raised")
        }
    }

    /// A pupil's dates: born before they join a school, and not in the future when changed.
    @Test func aPupilsDatesAgreeWithEachOther() throws {
        let (_, store, pupil) = try school()
        #expect(throws: StoreError.self) {
            try store.addPupil(
                NewPupil(
                    upn: syntheticUPN(7002), forename: "Bo", surname: "Example", dateOfBirth: "2016-06-01",
                    entryDate: "2015-09-01"), author: "SENCO")
        }
        let future = store.localToday.adding(days: 400).description
        let error = #expect(throws: StoreError.self) {
            try store.updatePupil(pupil.description, PupilUpdate(dateOfBirth: future), author: "SENCO")
        }
        #expect(error?.message.contains("future") == true)
        #expect(!(error?.message.contains(future) ?? true), "no date of birth in a message")
    }

    @Test func upnsAreUniqueOnUpdateAndTheReplacedOneIsKept() throws {
        let (_, store, pupil) = try school()
        let other = try store.addPupil(
            NewPupil(upn: syntheticUPN(7002), forename: "Ben", surname: "Other", dateOfBirth: "2016-05-01"),
            author: "SENCO")
        #expect(throws: StoreError.self) {
            try store.updatePupil(pupil.description, PupilUpdate(upn: syntheticUPN(7002)), author: "SENCO")
        }
        #expect(try store.pupil(pupil.description).upn == Self.upn)
        try store.updatePupil(pupil.description, PupilUpdate(upn: syntheticUPN(7003)), author: "SENCO")
        #expect(try store.pupil(pupil.description).upn == syntheticUPN(7003))
        #expect(try store.pupil(pupil.description).formerUPNs == [Self.upn])
        // Changing back drops it from the former UPNs and keeps the other.
        try store.updatePupil(pupil.description, PupilUpdate(upn: Self.upn), author: "SENCO")
        #expect(try store.pupil(pupil.description).formerUPNs == [syntheticUPN(7003)])
        #expect(try store.duplicatePupils().isEmpty)
        _ = other
    }

    /// DfE rule 1530: characters 2-4 are a recognised LA number (sen-domain.md §7 items 3, 5).
    @Test(arguments: ["R900400001001", "A950000178301", "H243278544154"])
    func aUPNFromAnUnknownLAIsRefused(_ upn: String) throws {
        let (_, store, _) = try school()
        #expect(try UPN(upn).laProblem == .unknownLA)
        do {
            try store.addPupil(
                NewPupil(upn: upn, forename: "A", surname: "B", dateOfBirth: "2016-01-01"), author: "SENCO")
            Issue.record("accepted \(upn)")
        } catch let error as StoreError {
            #expect(error.message.contains("characters 2-4 not a recognised LA code"))
            #expect(!error.message.contains(upn))
        }
    }

    @Test(arguments: ["H801200001001", "N94100002415Z", "N83840012307K", "B942000000001"])
    func listedLANumbersPass(_ upn: String) throws {
        let body = String(upn.dropFirst())
        let valid = String(UPN.checkLetter(for: body)!) + body
        #expect(try UPN(valid).laProblem == nil)
    }

    @Test func duplicatePupilsAreFoundAfterAMerge() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let a = try area.add("A", .maintainedSchool)
        let b = try area.add("B", .maintainedSchool)
        for store in [a, b] {
            try store.addPupil(
                NewPupil(upn: syntheticUPN(7010), forename: "Same", surname: "Child", dateOfBirth: "2016-01-01"),
                author: "SENCO")
        }
        try area.send("A", "LA")
        try area.send("B", "LA")
        let groups = try area.la.duplicatePupils()
        #expect(groups.count == 1 && groups[0].upn == syntheticUPN(7010) && groups[0].pupils.count == 2)
    }

    @Test func theCensusStatusKeepsEpisodesAndNeedsInStep() throws {
        let (_, store, pupil) = try school()
        try store.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SLCN,SEMH"), author: "SENCO")
        var episodes = try store.records(SENEpisode.self, of: Self.upn)
        #expect(episodes.map { $0.text(.provision) } == ["K"])
        #expect(episodes.first?.text(.schoolID) == store.identity.id.description)
        var needs = try store.records(SENNeedRecord.self, of: Self.upn).filter { $0[.endDate] == nil }
        #expect(Set(needs.map { "\($0.text(.need)!)\($0.integer(.rank)!)" }) == ["SLCN1", "SEMH2"])
        // E replaces K; SEMH becomes the primary need.
        try store.updatePupil(pupil.description, PupilUpdate(senStatus: "E", senNeeds: "SEMH"), author: "SENCO")
        episodes = try store.records(SENEpisode.self, of: Self.upn)
        #expect(episodes.count == 2)
        #expect(episodes.filter { $0[.endDate] == nil }.map { $0.text(.provision) } == ["E"])
        needs = try store.records(SENNeedRecord.self, of: Self.upn).filter { $0[.endDate] == nil }
        #expect(needs.map { "\($0.text(.need)!)\($0.integer(.rank)!)" } == ["SEMH1"])
        // N ends everything; nothing is deleted, so the history stays.
        try store.updatePupil(pupil.description, PupilUpdate(senStatus: "N"), author: "SENCO")
        #expect(try store.records(SENEpisode.self, of: Self.upn).allSatisfy { $0[.endDate] != nil })
        #expect(try store.records(SENNeedRecord.self, of: Self.upn).count == 3)
        // NSA only with K, and alone.
        try store.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "NSA"), author: "SENCO")
        #expect(throws: StoreError.self) {
            try store.addRecord(
                SENNeedRecord.self, pupil: Self.upn, [.need: "ASD", .rank: "2", .startDate: "2026-01-05"],
                author: "SENCO")
        }
        // A second open episode at the same school is refused.
        #expect(throws: StoreError.self) {
            try store.addRecord(
                SENEpisode.self, pupil: Self.upn, [.provision: "E", .schoolID: "here", .startDate: "2026-01-05"],
                author: "SENCO")
        }
    }

    /// Needs recorded at two sites at once (the school and the LA) add up everywhere, with no
    /// conflict: the census status and needs are read from the episodes and needs, never stored
    /// beside them. Stored, each site's summary held only its own need, and the merge opened a
    /// conflict on the pupil's needs between two incomplete lists.
    @Test func needsRecordedAtTwoSitesAtOnceAddUpWithoutAConflict() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let store = try area.add("Oakfield", .maintainedSchool)
            let pupil = try store.addPupil(
                NewPupil(upn: Self.upn, forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"), author: "SENCO"
            )
            try store.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
            try area.send("Oakfield", "LA")
            let start = store.localToday.description
            try store.addRecord(
                SENNeedRecord.self, pupil: Self.upn, [.need: "SLCN", .rank: "2", .startDate: start], author: "SENCO")
            try area.la.addRecord(
                SENNeedRecord.self, pupil: Self.upn, [.need: "ASD", .rank: "3", .startDate: start], author: "LA officer"
            )
            try area.send("Oakfield", "LA")
            try area.send("LA", "Oakfield")
            for site in [store, area.la] {
                #expect(try site.conflicts().isEmpty)
                let read = try site.pupil(pupil.description)
                #expect(read.senStatus == "K")
                #expect(read.senNeeds == ["SPLD", "SLCN", "ASD"])
                #expect(try site.pupils().first { $0.id == pupil }?.senNeeds == ["SPLD", "SLCN", "ASD"])
            }
        }
    }

    /// A pupil's status follows them to a new school until it records its own: SEN support from
    /// the school they left shows there, and the new school's own status (N included) then wins.
    /// Read from every open episode, the old school's K outlived the new school's N.
    @Test func aNewSchoolsOwnStatusWinsOverTheOneCarriedFromTheOldSchool() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let old = try area.add("Oakfield", .maintainedSchool)
            let new = try area.add("Elm", .maintainedSchool)
            try area.send("LA", "Elm")
            let pupil = try old.addPupil(
                NewPupil(upn: Self.upn, forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try old.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
            try area.send("Oakfield", "LA")
            try area.la.transferPupil(
                pupil.description, to: new.identity.id, on: old.localToday.description, author: "LA officer")
            try area.send("LA", "Elm")
            #expect(try new.pupil(pupil.description).senStatus == "K")
            try new.updatePupil(pupil.description, PupilUpdate(senStatus: "N"), author: "SENCO Elm")
            #expect(try new.pupil(pupil.description).senStatus == "N")
            try area.send("Elm", "LA")
            #expect(try area.la.pupil(pupil.description).senStatus == "N")
            try new.updatePupil(pupil.description, PupilUpdate(senStatus: "E", senNeeds: "ASD"), author: "SENCO Elm")
            #expect(try new.pupil(pupil.description).senStatus == "E")
            #expect(try new.pupil(pupil.description).senNeeds == ["ASD"])
        }
    }

    /// SEN provision is recorded at a school: at the LA, a pupil on no school's roll cannot be
    /// given a status (it used to be written on the pupil record only, where nothing reads it now).
    @Test func aStatusForAPupilOnNoRollIsRefused() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let pupil = try area.la.addPupil(
            NewPupil(upn: Self.upn, forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"), author: "LA")
        let error = #expect(throws: StoreError.self) {
            try area.la.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "LA")
        }
        #expect(error?.message.contains("on no school's roll") == true)
        #expect(try area.la.pupil(pupil.description).senStatus == "N")
    }

    /// The other way: the pupil's census status and ranked needs (`pupil show`, `pupil list`)
    /// follow episodes and needs written, updated or deleted as records. A deleted need stayed in
    /// the pupil's needs, and a need or episode added as a record never reached them.
    @Test func episodesAndNeedsWrittenAsRecordsKeepTheCensusStatusInStep() throws {
        let (_, store, pupil) = try school()
        func summary() throws -> String {
            let read = try store.pupil(pupil.description)
            return "\(read.senStatus ?? "-") \(read.senNeeds.joined(separator: ","))"
        }
        let start = store.localToday.adding(days: -30).description
        try store.addRecord(
            SENEpisode.self, pupil: Self.upn, [.provision: "K", .schoolID: "here", .startDate: start], author: "SENCO")
        let spld = try store.addRecord(
            SENNeedRecord.self, pupil: Self.upn, [.need: "SPLD", .rank: "1", .startDate: start], author: "SENCO")
        let slcn = try store.addRecord(
            SENNeedRecord.self, pupil: Self.upn, [.need: "SLCN", .rank: "2", .startDate: start], author: "SENCO")
        #expect(try summary() == "K SPLD,SLCN")
        try store.deleteRecord(slcn.description, author: "SENCO")
        #expect(try summary() == "K SPLD")
        try store.updateRecord(SENNeedRecord.self, spld.description, [.need: "ASD"], author: "SENCO")
        #expect(try summary() == "K ASD")
        // Ended today, the need no longer counts; a need starting later does not count yet.
        try store.updateRecord(
            SENNeedRecord.self, spld.description, [.endDate: store.localToday.description], author: "SENCO")
        #expect(try summary() == "K ")
        try store.addRecord(
            SENNeedRecord.self, pupil: Self.upn,
            [.need: "HI", .rank: "1", .startDate: store.localToday.adding(days: 5).description], author: "SENCO")
        #expect(try summary() == "K ")
        // With another write to the pupil in the same change: one write of the pupil.
        try store.write(
            author: "SENCO", scope: pupil,
            ops: [
                RecordOp(
                    table: Pupil.name, id: pupil, writes: [FieldWrite(Pupil.Field.forename.rawValue, .text("Ava"))]),
                RecordOp(
                    table: SENNeedRecord.name, id: .v7(),
                    writes: [
                        FieldWrite(SENNeedRecord.Field.need.rawValue, .text("VI")),
                        FieldWrite(SENNeedRecord.Field.rank.rawValue, .integer(2)),
                        FieldWrite(SENNeedRecord.Field.startDate.rawValue, .text(store.localToday.description)),
                    ]),
            ])
        #expect(try summary() == "K VI")
        #expect(try store.pupil(pupil.description).forename == "Ava")
    }

    @Test func recordsOfNewKindsReplicateToTheLAAndBack() throws {
        let (area, store, _) = try school()
        try store.addRecord(
            Escalation.self, pupil: Self.upn,
            [
                .stage: "school-complaint", .openedOn: "2026-01-05", .raisedBy: "Parent", .summary: "No support",
                .respondingOrg: "Oakfield", .responseDueOn: "2026-01-19",
            ],
            author: "SENCO")
        try area.send("Oakfield", "LA")
        #expect(try area.la.records(Escalation.self, of: Self.upn).count == 1)
        let assessment = try area.la.addRecord(
            EHCAssessment.self, pupil: Self.upn, [.requestReceivedOn: "2026-01-05", .requestSource: "parent"],
            author: "LA")
        try area.send("LA", "Oakfield")
        #expect(try store.records(EHCAssessment.self, of: Self.upn).map(\.id) == [assessment])
        #expect(try store.digest() == area.la.digest())
        let due = try store.due(asOf: CalendarDate("2026-01-10"))
        #expect(due.map(\.obligation.kind) == ["escalation-response", "ehc-decision"])
        #expect(due.last?.obligation.responsibleOrg == "LA")
    }

    /// A store that kept a newer site's records by number (`#9`, `#n` fields) adopts them when a
    /// migration teaches it the kind: they move into the kind's table under their names.
    @Test func recordsKeptByNumberAreAdoptedWhenTheirKindBecomesKnown() throws {
        let (_, store, pupil) = try school()
        let id = RecordID.v7()
        let planID = RecordID.v7()
        let dot = Dot(site: store.identity.id, seq: 99)
        let hlc = HLC(milliseconds: baseMilliseconds, counter: 0)
        try store.writer.write { db in
            var tx = try StoreTransaction(db)
            // As an older build stored them: an unknown table, and an unknown field of a known one.
            try tx.saveRecord(
                RecordState(fields: [
                    "#1": FieldState(heads: [Head(dot: dot, hlc: hlc, value: .text("2026-01-05"))]),
                    "#2": FieldState(heads: [Head(dot: dot, hlc: hlc, value: .text("senco"))]),
                ]), for: RecordKey(table: "#9", scope: pupil, id: id), changedFields: [])
            let plan = RecordKey(table: "support_plan", scope: pupil, id: planID)
            try tx.saveRecord(
                RecordState(fields: [
                    "title": FieldState(heads: [Head(dot: dot, hlc: hlc, value: .text("Plan"))]),
                    "#7": FieldState(heads: [Head(dot: dot, hlc: hlc, value: .text("ehc-plan"))]),
                ]), for: plan, changedFields: [])
            try Store.adoptNewlyKnownFields(in: db)
        }
        let concern = try #require(try store.records(Concern.self, of: Self.upn).first)
        #expect(concern.id == id && concern.text(.raisedOn) == "2026-01-05" && concern.text(.raisedByRole) == "senco")
        #expect(try store.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM generic_record") } == 0)
        let plan = try #require(try store.records(SupportPlan.self, of: Self.upn).first)
        #expect(plan.text(.planType) == "ehc-plan")
        #expect(try store.findRecord(planID.description).state.fields["#7"] == nil)
    }
}

/// Census SEN status written before episodes existed becomes dated episodes and needs.
struct SENHistoryMigrationTests {
    @Test func pastStatusesAndNeedsBecomeEpisodesWithoutLosingHistory() throws {
        let clock = TestClock()
        let area = try TestArea(folder: FileManager.default.temporaryDirectory, clock: clock)
        let store = try area.add("Oakfield", .maintainedSchool)
        let pupil = try store.addPupil(
            NewPupil(upn: syntheticUPN(7100), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
            author: "SENCO")
        // As an older build wrote them: the census fields alone, on three days.
        func census(_ status: String, _ needs: String?) throws {
            try store.write(
                author: "SENCO", scope: pupil,
                ops: [
                    RecordOp(
                        table: "pupil", id: pupil,
                        writes: [
                            FieldWrite("sen_status", .text(status)),
                            FieldWrite("sen_needs", needs.map(Value.text) ?? .null),
                        ])
                ])
        }
        try census("K", "SLCN")  // 2026-01-05
        clock.advance(seconds: 30 * 86_400)
        try census("K", "SLCN,SEMH")  // 2026-02-04
        clock.advance(seconds: 30 * 86_400)
        try census("E", "SEMH,SLCN")  // 2026-03-06
        #expect(try store.migrateSENHistory(author: "SENCO", dryRun: true) == 1)
        #expect(try store.records(SENEpisode.self, of: pupil.description).isEmpty)
        #expect(try store.migrateSENHistory(author: "SENCO") == 1)
        let episodes = try store.records(SENEpisode.self, of: pupil.description)
        #expect(
            episodes.map { "\($0.text(.provision)!) \($0.text(.startDate)!)–\($0.text(.endDate) ?? "")" } == [
                "K 2026-01-05–2026-03-06", "E 2026-03-06–",
            ])
        let needs = try store.records(SENNeedRecord.self, of: pupil.description)
        #expect(
            Set(
                needs.map {
                    "\($0.text(.need)!)#\($0.integer(.rank)!) \($0.text(.startDate)!)–\($0.text(.endDate) ?? "")"
                }) == [
                    "SLCN#1 2026-01-05–2026-03-06", "SEMH#2 2026-02-04–2026-03-06", "SEMH#1 2026-03-06–",
                    "SLCN#2 2026-03-06–",
                ])
        // Once is enough: the pupil now has records.
        #expect(try store.migrateSENHistory(author: "SENCO") == 0)
    }
}
