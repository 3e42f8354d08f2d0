import Foundation
import GRDB
import Testing

@testable import SENSync

/// Each kind is one declaration: everything else is derived from it and checked here.
struct RecordKindTests {
    @Test func everyKindIsDeclaredOnceWithUniqueNumbersNamesAndFields() {
        let kinds = RecordSchema.kinds
        #expect(Set(kinds.map(\.name)).count == kinds.count)
        #expect(Set(kinds.map(\.number)).count == kinds.count)
        #expect(kinds.map(\.number) == kinds.map(\.number).sorted())
        for kind in kinds {
            let names = kind.fields.map(\.name)
            #expect(Set(names).count == names.count, "\(kind.name)")
            #expect(!names.contains(RecordState.deletedField) && !names.contains("id") && !names.contains("pupil_id"))
            #expect(names.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber } }, "\(kind.name)")
            if let parent = kind.parent { #expect(kind.field(parent) != nil, "\(kind.name)") }
            if let order = kind.orderedBy { #expect(kind.field(order)?.rule == .date, "\(kind.name)") }
        }
    }

    /// A record another refers to reads by its title or its free text, else by its date: a field
    /// naming a person is no title (an EHC plan read as `EHC plan “R Patel”`).
    @Test func aReferencedRecordReadsByItsTitleNotByAPersonsName() {
        func record(_ kind: KindSpec, _ values: [String: String]) -> KindRecord {
            KindRecord(
                kind: kind.name, id: .v7(), pupilID: .v7(), values: KindValues(values.mapValues(Value.text)),
                isDeleted: false)
        }
        #expect(
            RecordPresenter.label(of: record(EHCPlan.spec, ["issued_on": "2026-03-02", "case_officer": "R Patel"]))
                == "EHC plan of 2026-03-02")
        #expect(
            RecordPresenter.label(of: record(SupportPlan.spec, ["title": "Reading", "responsible_person": "J Smith"]))
                == "plan \u{201C}Reading\u{201D}")
        #expect(
            RecordPresenter.label(of: record(Concern.spec, ["raised_by": "A Teacher", "observations": "Reverses b/d"]))
                == "concern \u{201C}Reverses b/d\u{201D}")
        // No kind is titled by a field that names a person.
        for kind in RecordSchema.kinds {
            guard let title = kind.titledBy.flatMap(kind.field) else { continue }
            #expect(!title.label.hasPrefix("Raised by") && !title.label.contains("officer"), "\(kind.name)")
        }
    }

    /// Two dates out of order are named as dates, whatever their labels say.
    @Test func datesOutOfOrderAreNamedAsDates() {
        let referral = KindValues(["referred_on": .text("2026-04-02"), "first_seen_on": .text("2026-04-01")])
        #expect(throws: RecordRuleViolation.self) { try Referral.check(referral) }
        do {
            try Referral.check(referral)
        } catch {
            #expect(error.message == "The \"first seen on\" date is before the \"referred on\" date.")
        }
        let enrolment = KindValues(["entry_date": .text("2026-04-02"), "leaving_date": .text("2026-04-01")])
        do {
            try enrolment.requireOrder(Enrolment.Field.entryDate, Enrolment.Field.leavingDate)
            Issue.record("A leaving date before the entry date was taken.")
        } catch {
            #expect(error.message == "The leaving date is before the entry date.")
        }
    }

    @Test func everyCodeListAndReferenceAFieldNamesExists() {
        for kind in RecordSchema.kinds {
            for field in kind.fields {
                switch field.rule {
                case .code(let list), .codes(let list):
                    #expect(CodeLists.named(list) != nil, "\(kind.name).\(field.name) names \(list)")
                case .reference(let table):
                    #expect(RecordSchema.kind(table) != nil, "\(kind.name).\(field.name) refers to \(table)")
                default: break
                }
                if let value = field.defaultValue, case .code(let list) = field.rule {
                    #expect(CodeLists.named(list)?.code(matching: value) != nil, "\(kind.name).\(field.name)")
                }
            }
        }
    }

    /// Every file in `Schemas/codes/` loads, names its source, and has unique codes.
    @Test func codeListsAreVersionedDataWithSources() throws {
        let folder = repositoryRoot.appendingPathComponent("Schemas/codes")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
        #expect(files.count == CodeLists.all.count)
        for file in files {
            let list = try #require(CodeLists.named(String(file.dropLast(5))), "\(file) did not load")
            #expect(!list.source.isEmpty && !list.version.isEmpty)
            #expect(Set(list.codes.map(\.code)).count == list.codes.count, "\(file)")
        }
    }

    /// The DfE lists, pinned (sen-domain.md §7 items 9–12 and §10).
    @Test func censusAndSEN2ListsKeepTheirDifferences() throws {
        let census = try #require(CodeLists.named("census-sen-type")).codes.map(\.code)
        let sen2 = try #require(CodeLists.named("sen2-sen-type")).codes.map(\.code)
        #expect(
            Set(census) == [
                "SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "NSA", "DS",
            ])
        #expect(Set(sen2) == Set(census).subtracting(["NSA"]))
        #expect(try #require(CodeLists.named("census-sen-provision")).codes.map(\.code).sorted() == ["E", "K", "N"])
        #expect(try #require(CodeLists.named("ehc-review-outcome")).codes.map(\.code).sorted() == ["A", "C", "M"])
        #expect(try #require(CodeLists.named("ehc-section")).codes.count == 12)
        let historic = try #require(CodeLists.named("ctf-historic-sen-provision"))
        #expect(historic.codes.map { "\($0.code)>\($0.maps ?? "")" }.sorted() == ["A>K", "P>K", "S>E"])
    }

    @Test func theTableAndItsMigrationSQLFollowFromTheDeclaration() throws {
        let referral = Referral.spec
        #expect(
            referral.table.fields.map(\.name) == Referral.Field.allCases.map(\.rawValue) + [RecordState.deletedField])
        #expect(referral.table.fields.first { $0.name == "agency" }?.number == 1)
        #expect(
            referral.createTableSQL.hasPrefix(
                "CREATE TABLE referral (\n  pupil_id TEXT NOT NULL,\n  id TEXT NOT NULL,\n  agency TEXT,"))
        #expect(referral.createTableSQL.hasSuffix(") WITHOUT ROWID;\nCREATE INDEX referral_by_id ON referral(id);"))
        #expect(
            ProvisionItem.spec.addColumnsSQL(after: [
                "plan_id", "description", "provider", "frequency", "responsible_org", "responsible_person",
                "cost_pence", "sessions_per_week", "minutes_per_session", "weeks_per_year", "group_size", "staff_role",
            ]) == ["ALTER TABLE provision_item ADD COLUMN outcome_id TEXT;"])
        // The printed table is the table the migrations made.
        let queue = try DatabaseQueue()
        try StoreSchema.migrator.migrate(queue)
        for kind in RecordSchema.kinds {
            let columns = try queue.read { db in try db.columns(in: kind.name).map(\.name) }
            #expect(
                Set(columns) == Set(["pupil_id", "id", "crdt_clock"] + kind.table.fields.map(\.name)), "\(kind.name)")
        }
    }

    @Test func fieldNamesBecomeOptionsAndJSONKeys() {
        let field = Referral.Field.firstSeenOn.definition
        #expect(field.option == "--first-seen-on")
        #expect(field.jsonKey == "firstSeenOn")
        #expect(Pupil.Field.upn.definition.interchange.ctf == "UPN")
        #expect(SENNeedRecord.Field.need.definition.interchange.sen2 == "SENtype")
    }

    // MARK: Rules across fields, passing and failing

    func values(_ pairs: [String: Value]) -> KindValues { KindValues(pairs) }

    @Test func referralDatesMustFollowTheReferral() throws {
        try Referral.check(values(["referred_on": .text("2026-01-12"), "accepted_on": .text("2026-01-20")]))
        #expect(throws: RecordRuleViolation.self) {
            try Referral.check(values(["referred_on": .text("2026-01-12"), "accepted_on": .text("2026-01-11")]))
        }
        #expect(throws: RecordRuleViolation.self) {
            try Referral.check(
                values([
                    "referred_on": .text("2026-01-12"), "accepted_on": .text("2026-01-20"),
                    "declined_on": .text("2026-01-21"),
                ]))
        }
    }

    @Test func aReviewCannotPrecedeItsPlanAndTheNextReviewCannotPrecedeTheReview() throws {
        try PlanReview.check(values(["held_on": .text("2026-02-13"), "next_review_date": .text("2026-05-15")]))
        #expect(throws: RecordRuleViolation.self) {
            try PlanReview.check(values(["held_on": .text("2026-02-13"), "next_review_date": .text("2026-02-12")]))
        }
        try SupportPlan.check(values(["start_date": .text("2026-01-05"), "review_date": .text("2026-02-13")]))
        #expect(throws: RecordRuleViolation.self) {
            try SupportPlan.check(values(["start_date": .text("2026-01-05"), "review_date": .text("2026-01-04")]))
        }
    }

    @Test func theFinalPlanCannotBeIssuedInsideTheFamilysFifteenDays() throws {
        let base: [String: Value] = [
            "request_received_on": .text("2025-01-06"), "decision": .text("Y"), "decided_on": .text("2025-02-10"),
            "draft_served_on": .text("2025-04-14"),
        ]
        try EHCAssessment.check(values(base.merging(["final_issued_on": .text("2025-04-29")]) { $1 }))
        #expect(throws: RecordRuleViolation.self) {
            try EHCAssessment.check(values(base.merging(["final_issued_on": .text("2025-04-28")]) { $1 }))
        }
        #expect(throws: RecordRuleViolation.self) {
            try EHCAssessment.check(values(base.merging(["decision": .text("N")]) { $1 }))
        }
    }

    /// Each step of an assessment is on or after the request, whether or not the steps between
    /// are recorded (a draft served before the request was accepted when no decision was).
    @Test func noStepOfAnAssessmentPrecedesItsRequest() throws {
        let request: [String: Value] = ["request_received_on": .text("2026-06-05")]
        for field in ["draft_served_on", "no_plan_on", "decided_on", "final_issued_on"] {
            #expect(throws: RecordRuleViolation.self, "\(field)") {
                try EHCAssessment.check(values(request.merging([field: .text("2026-04-13")]) { $1 }))
            }
        }
        try EHCAssessment.check(values(request.merging(["draft_served_on": .text("2026-08-13")]) { $1 }))
    }

    @Test func exceptionsFollowTheRegulations() throws {
        try EHCException.check(
            values(["step": .text("final-plan"), "reason": .text("school-closure"), "from_date": .text("2025-07-20")]))
        try EHCException.check(
            values(["step": .text("advice"), "reason": .text("missed-appointment"), "from_date": .text("2025-03-01")]))
        #expect(throws: RecordRuleViolation.self) {
            try EHCException.check(
                values([
                    "step": .text("final-plan"), "reason": .text("missed-appointment"),
                    "from_date": .text("2025-03-01"),
                ]))
        }
        #expect(throws: RecordRuleViolation.self) {
            try EHCException.check(
                values(["step": .text("advice"), "reason": .text("school-closure"), "from_date": .text("2025-03-01")]))
        }
    }

    @Test func anAmendedPlanFollowsOnlyADecisionToAmend() throws {
        try EHCReview.check(
            values([
                "meeting_on": .text("2026-03-02"), "outcome": .text("A"), "decided_on": .text("2026-03-20"),
                "amended_issued_on": .text("2026-05-01"),
            ]))
        #expect(throws: RecordRuleViolation.self) {
            try EHCReview.check(
                values([
                    "meeting_on": .text("2026-03-02"), "outcome": .text("M"), "decided_on": .text("2026-03-20"),
                    "amended_issued_on": .text("2026-05-01"),
                ]))
        }
        #expect(throws: RecordRuleViolation.self) {
            try EHCReview.check(values(["meeting_on": .text("2026-03-02"), "outcome": .text("M")]))
        }
    }

    @Test func downSyndromeIsACensusNeedOnlyFromJanuary2025() throws {
        try SENNeedRecord.check(values(["need": .text("DS"), "rank": .integer(1), "start_date": .text("2025-01-16")]))
        #expect(throws: RecordRuleViolation.self) {
            try SENNeedRecord.check(
                values(["need": .text("DS"), "rank": .integer(1), "start_date": .text("2024-10-03")]))
        }
    }
}

/// The census rules for provision and needs (sen-domain.md §2.1, §10).
struct CensusRulesTests {
    func need(_ code: String, _ rank: Int64) -> KindValues {
        KindValues(["need": .text(code), "rank": .integer(rank), "start_date": .text("2025-09-01")])
    }

    @Test func nsaOnlyWithSENSupportAndNeverWithAnotherNeed() {
        #expect(CensusRules.needProblem(needs: [need("NSA", 1)], openProvision: ["K"]) == nil)
        #expect(CensusRules.needProblem(needs: [need("NSA", 1)], openProvision: ["E"]) != nil)
        #expect(CensusRules.needProblem(needs: [need("NSA", 1)], openProvision: []) != nil)
        #expect(CensusRules.needProblem(needs: [need("NSA", 1), need("SLCN", 2)], openProvision: ["K"]) != nil)
    }

    @Test func ranksAndNeedsAreNotShared() {
        #expect(CensusRules.needProblem(needs: [need("SEMH", 1), need("SLCN", 2)], openProvision: ["K"]) == nil)
        #expect(CensusRules.needProblem(needs: [need("SEMH", 1), need("SLCN", 1)], openProvision: ["K"]) != nil)
        #expect(CensusRules.needProblem(needs: [need("SEMH", 1), need("SEMH", 2)], openProvision: ["K"]) != nil)
    }

    @Test func eOrKNeedsAPrimaryNeed() {
        #expect(CensusRules.problems(openProvision: ["K"], needs: [need("SEMH", 1)]).isEmpty)
        #expect(CensusRules.problems(openProvision: ["E"], needs: [need("SEMH", 2)]).count == 1)
        #expect(CensusRules.problems(openProvision: ["K"], needs: []).count == 1)
        #expect(CensusRules.problems(openProvision: ["N"], needs: []).isEmpty)
        #expect(CensusRules.problems(openProvision: ["K", "E"], needs: [need("ASD", 1)]).count == 1)
    }
}
