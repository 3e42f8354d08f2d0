import Foundation
import Testing

@testable import SENSync

/// Duties derived from records: pure, on fixed dates.
struct ObligationTests {
    let pupil = RecordID.v7()

    func record(_ kind: KindSpec, _ values: [String: String], id: RecordID = .v7()) -> KindRecord {
        KindRecord(
            kind: kind.name, id: id, pupilID: pupil,
            values: KindValues(values.mapValues { Int64($0).map(Value.integer) ?? .text($0) }), isDeleted: false)
    }

    func obligations(_ records: [KindRecord], dob: String? = "2015-01-01") -> [Obligation] {
        ObligationRules.obligations(
            of: PupilFile(
                pupil: pupil, dateOfBirth: dob.flatMap(CalendarDate.init), currentSchool: "Oakfield",
                records: Dictionary(grouping: records, by: \.kind)),
            localAuthority: "Northshire")
    }

    @Test func openPlansConcernsActionsReferralsAndComplaintsAreDue() {
        let due = obligations([
            record(
                SupportPlan.spec,
                [
                    "title": "P", "status": "active", "review_date": "2026-03-01", "responsible_org": "Oakfield",
                    "responsible_person": "J Smith",
                ]),
            record(SupportPlan.spec, ["title": "Old", "status": "closed", "review_date": "2025-03-01"]),
            record(Concern.spec, ["raised_on": "2026-01-05", "status": "monitoring", "review_date": "2026-02-02"]),
            record(Concern.spec, ["raised_on": "2026-01-05", "status": "closed", "review_date": "2026-02-02"]),
            record(ConcernAction.spec, ["action": "Call", "owner": "Teacher", "due_on": "2026-01-12"]),
            record(
                ConcernAction.spec,
                ["action": "Done", "owner": "Teacher", "due_on": "2026-01-12", "done_on": "2026-01-10"]),
            record(Referral.spec, ["agency": "camhs", "referred_on": "2026-01-05"]),
            record(Referral.spec, ["agency": "camhs", "referred_on": "2026-01-05", "accepted_on": "2026-01-06"]),
            record(
                Escalation.spec,
                [
                    "stage": "la-complaint", "opened_on": "2026-01-05", "response_due_on": "2026-02-02",
                    "responding_org": "Northshire",
                ]),
        ])
        #expect(
            due.map(\.kind) == [
                "concern-action", "concern-review", "escalation-response", "referral-response", "plan-review",
            ])
        #expect(due.map(\.dueOn.description) == ["2026-01-12", "2026-02-02", "2026-02-02", "2026-02-16", "2026-03-01"])
        #expect(due.last?.responsibleRole == "J Smith" && due.last?.responsibleOrg == "Oakfield")
        #expect(due.first?.responsibleOrg == "Oakfield")  // the pupil's school when the action names none
        #expect(due.first { $0.kind == "referral-response" }?.responsibleOrg.contains("mental health") == true)
    }

    /// A file "as of" a day is as it stood then: a decision made the day after its deadline was
    /// not made yet on the deadline (it read as made, and a report as of that day counted it
    /// late).
    @Test func aFileAsOfADayLeavesOutWhatHappenedLater() throws {
        let decided = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2025-01-06", "request_source": "parent", "decision": "Y",
                "decided_on": "2025-02-18",
            ])
        let file = PupilFile(
            pupil: pupil, dateOfBirth: CalendarDate("2015-01-01"), currentSchool: "Oakfield",
            records: Dictionary(grouping: [decided], by: \.kind))
        let day = try #require(CalendarDate("2025-02-17"))
        let then = file.asOf(day)
        #expect(then.of(EHCAssessment.self).first?.values.text(EHCAssessment.Field.decision) == nil)
        #expect(
            ObligationRules.obligations(of: then, localAuthority: "Northshire").map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-decision 2025-02-17"
            ])
        let steps = EHCTimeline.steps(of: then.of(EHCAssessment.self)[0], exceptions: [], advice: [], asOf: day)
        let decision = try #require(steps.first { $0.step == "decision" })
        #expect(decision.doneOn == nil && decision.onTime == nil)
        // As of today the decision is made, late.
        let now = EHCTimeline.steps(
            of: decided, exceptions: [], advice: [], asOf: try #require(CalendarDate("2025-03-01")))
        #expect(now.first { $0.step == "decision" }?.onTime == false)
    }

    @Test func anAssessmentsDeadlinesFollowItsSteps() throws {
        let id = RecordID.v7()
        let requested = record(
            EHCAssessment.spec, ["request_received_on": "2025-01-06", "request_source": "parent"], id: id)
        #expect(obligations([requested]).map { "\($0.kind) \($0.dueOn)" } == ["ehc-decision 2025-02-17"])
        let assessing = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2025-01-06", "request_source": "parent", "decision": "Y",
                "decided_on": "2025-02-10",
            ], id: id)
        let advice = record(
            EHCAdvice.spec,
            ["assessment_id": id.description, "agency": "educational-psychology", "requested_on": "2025-02-12"])
        let exception = record(
            EHCException.spec,
            [
                "assessment_id": id.description, "step": "final-plan", "reason": "away-from-area",
                "from_date": "2025-03-01",
            ])
        let due = obligations([assessing, advice, exception])
        #expect(
            due.map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-advice 2025-03-26", "ehc-no-plan 2025-04-28", "ehc-final-plan 2025-05-26",
            ])
        #expect(due.first { $0.kind == "ehc-final-plan" }?.exceptionApplies == true)
        #expect(due.first { $0.kind == "ehc-advice" }?.exceptionApplies == false)
        #expect(due.first { $0.kind == "ehc-advice" }?.responsibleOrg == "Educational psychology service")
        let drafted = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2025-01-06", "request_source": "parent", "decision": "Y",
                "decided_on": "2025-02-10", "draft_served_on": "2025-04-14",
            ],
            id: id)
        #expect(
            obligations([drafted]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-draft-comments 2025-04-28", "ehc-final-plan 2025-05-26",
            ])
        // The family's 15 days are a period, not the family's duty: never overdue.
        let comments = try #require(obligations([drafted]).first { $0.kind == "ehc-draft-comments" })
        #expect(!comments.isOverdue(asOf: try #require(CalendarDate("2025-04-29"))))
        let reassessment = record(
            EHCAssessment.spec,
            ["request_received_on": "2025-01-06", "request_source": "school", "is_reassessment": "1"], id: id)
        #expect(
            obligations([reassessment]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-final-plan 2025-04-14", "ehc-no-plan 2025-04-28",
            ])
        let refused = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2025-01-06", "request_source": "parent", "decision": "N",
                "decided_on": "2025-02-10",
            ], id: id)
        #expect(obligations([refused]).isEmpty)
    }

    @Test func plansAreReviewedAnnuallyOrEverySixMonthsUnderFive() {
        let plan = RecordID.v7()
        let issued = record(EHCPlan.spec, ["issued_on": "2025-03-03"], id: plan)
        #expect(obligations([issued]).map { "\($0.kind) \($0.dueOn)" } == ["ehc-annual-review 2026-03-03"])
        #expect(
            obligations([issued], dob: "2021-06-01").map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-annual-review 2025-09-03"
            ])
        let review = record(
            EHCReview.spec,
            ["plan_id": plan.description, "meeting_on": "2026-02-23", "outcome": "A", "decided_on": "2026-03-09"])
        #expect(
            obligations([issued, review]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-amended-plan 2026-05-18", "ehc-annual-review 2027-02-23",
            ])
        let undecided = record(EHCReview.spec, ["plan_id": plan.description, "meeting_on": "2026-02-23"])
        #expect(
            obligations([issued, undecided]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-review-decision 2026-03-23", "ehc-annual-review 2027-02-23",
            ])
        let transfer = record(EHCPlan.spec, ["issued_on": "2025-03-03", "phase_transfer_year": "2026"], id: plan)
        #expect(
            obligations([transfer]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-phase-transfer 2026-02-15", "ehc-annual-review 2026-03-03",
            ])
        let reviewedInTime = record(
            EHCReview.spec,
            ["plan_id": plan.description, "meeting_on": "2026-01-12", "outcome": "M", "decided_on": "2026-02-02"])
        #expect(obligations([transfer, reviewedInTime]).map(\.kind) == ["ehc-annual-review"])
        // A decision to amend discharges it only with the amended plan issued by 15 February, and
        // that plan is due by then (not 12 weeks after the meeting).
        var amending = record(
            EHCReview.spec,
            ["plan_id": plan.description, "meeting_on": "2026-01-12", "outcome": "A", "decided_on": "2026-02-02"])
        #expect(
            obligations([transfer, amending]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-amended-plan 2026-02-15", "ehc-phase-transfer 2026-02-15", "ehc-annual-review 2027-01-12",
            ])
        amending.values[EHCReview.Field.amendedIssuedOn.rawValue] = .text("2026-02-13")
        #expect(obligations([transfer, amending]).map(\.kind) == ["ehc-annual-review"])
        amending.values[EHCReview.Field.amendedIssuedOn.rawValue] = .text("2026-03-02")
        #expect(obligations([transfer, amending]).map(\.kind) == ["ehc-phase-transfer", "ehc-annual-review"])
        // A review decided before the school year of the move began (here in August 2025, for a
        // move in September 2026) prepares nothing for it: the duty stays (any review decided in
        // the 12 months before 15 February discharged it).
        let reviewedTooEarly = record(
            EHCReview.spec,
            ["plan_id": plan.description, "meeting_on": "2025-08-18", "outcome": "M", "decided_on": "2025-08-28"])
        #expect(
            obligations([transfer, reviewedTooEarly]).map { "\($0.kind) \($0.dueOn)" } == [
                "ehc-phase-transfer 2026-02-15", "ehc-annual-review 2026-08-18",
            ])
        let ceased = record(EHCPlan.spec, ["issued_on": "2025-03-03", "ceased_on": "2025-09-01"], id: plan)
        #expect(obligations([ceased]).isEmpty)
    }

    /// A pupil enrolled at a school the LA has since removed from the directory (a transfer made
    /// before the site making it knew of the conversion) is on no roll any site holds: the LA is
    /// asked to move them (nothing said so).
    @Test func aPupilOnTheRollOfARemovedSchoolIsTheLAsToMove() {
        let old = SiteID.v7()
        let enrolment = record(
            Enrolment.spec, ["school_id": old.description, "entry_date": "2026-03-02"])
        func duties(removed: Set<String>) -> [String] {
            ObligationRules.obligations(
                of: PupilFile(
                    pupil: pupil, dateOfBirth: nil, currentSchool: "Oakfield Primary",
                    records: [Enrolment.name: [enrolment]], removedSchools: removed),
                localAuthority: "Northshire"
            ).map { "\($0.kind) \($0.dueOn) \($0.responsibleOrg)" }
        }
        #expect(duties(removed: []).isEmpty)
        #expect(duties(removed: [old.description]) == ["removed-school-roll 2026-03-02 Northshire"])
    }

    /// A support plan written at a school the pupil has left is reviewed by the school they are
    /// at now (the LA's, for a pupil on no roll): the duty stayed with the old school and its
    /// SENCO, whom the area report then blamed for a pupil it no longer held.
    @Test func aPlanFromASchoolThePupilLeftIsTheirNewSchoolsToReview() {
        let plan = record(
            SupportPlan.spec,
            [
                "title": "Literacy", "status": "active", "review_date": "2026-03-01", "responsible_org": "Oakfield",
                "responsible_person": "J Smith (SENCO)",
            ])
        func duty(current: String?, left: Set<String>) -> Obligation? {
            ObligationRules.obligations(
                of: PupilFile(
                    pupil: pupil, dateOfBirth: nil, currentSchool: current, records: [SupportPlan.name: [plan]],
                    schoolsLeft: left),
                localAuthority: "Northshire"
            ).first
        }
        let stayed = duty(current: "Oakfield", left: [])
        #expect(stayed?.responsibleOrg == "Oakfield" && stayed?.responsibleRole == "J Smith (SENCO)")
        let moved = duty(current: "Elm", left: ["Oakfield"])
        #expect(moved?.responsibleOrg == "Elm" && moved?.responsibleRole == nil)
        let gone = duty(current: nil, left: ["Oakfield"])
        #expect(gone?.responsibleOrg == "Northshire")
        // An organisation other than a school left (a service the school named) keeps the duty.
        #expect(duty(current: "Elm", left: ["Birch"])?.responsibleOrg == "Oakfield")
    }

    @Test func theTimelineSaysWhatWasOnTimeWithAndWithoutExceptions() {
        let id = RecordID.v7()
        let assessment = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2025-01-06", "request_source": "parent", "decision": "Y",
                "decided_on": "2025-02-20", "final_issued_on": "2025-05-20",
            ],
            id: id)
        let exception = record(
            EHCException.spec,
            [
                "assessment_id": id.description, "step": "decision", "reason": "personal-circumstances",
                "from_date": "2025-01-20",
            ])
        let steps = EHCTimeline.steps(
            of: assessment, exceptions: [exception], advice: [], asOf: CalendarDate("2025-06-01")!)
        #expect(steps.map(\.step) == ["decision", "final-plan"])
        #expect(steps[0].onTime == false && steps[0].exceptionApplies)
        #expect(steps[1].onTime == true && !steps[1].exceptionApplies)
        // The family's comment period is over once the final plan is issued (it was shown open
        // for ever); before that it is open.
        let drafted = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2025-01-06", "request_source": "parent", "decision": "Y",
                "decided_on": "2025-02-20", "draft_served_on": "2025-04-14", "final_issued_on": "2025-05-20",
            ],
            id: id)
        let comments = EHCTimeline.steps(of: drafted, exceptions: [], advice: [], asOf: CalendarDate("2025-06-01")!)
            .first { $0.step == "draft-comments" }
        #expect(
            comments?.doneOn == CalendarDate("2025-05-20") && comments?.onTime == nil, "\(String(describing: comments))"
        )
        var pending = drafted
        pending.values[EHCAssessment.Field.finalIssuedOn.rawValue] = nil
        #expect(
            EHCTimeline.steps(of: pending, exceptions: [], advice: [], asOf: CalendarDate("2025-04-20")!)
                .first { $0.step == "draft-comments" }?.doneOn == nil)
        let open = record(
            EHCAssessment.spec, ["request_received_on": "2025-01-06", "request_source": "parent"], id: id)
        #expect(
            EHCTimeline.steps(of: open, exceptions: [], advice: [], asOf: CalendarDate("2025-02-17")!)[0].onTime == nil)
        #expect(
            EHCTimeline.steps(of: open, exceptions: [], advice: [], asOf: CalendarDate("2025-02-18")!)[0].onTime
                == false)
    }

    /// A referral whose child has been seen is answered, acceptance recorded or not (it stayed
    /// "Answer to the referral … OVERDUE" on the due-list for ever).
    @Test func aReferralSeenIsAnswered() {
        let referral = record(
            Referral.spec,
            [
                "agency": "speech-language-therapy", "reason": "r", "referred_on": "2025-03-03",
                "referred_by": "SENCO",
            ])
        #expect(obligations([referral]).map(\.kind) == ["referral-response"])
        var seen = referral
        seen.values[Referral.Field.firstSeenOn.rawValue] = .text("2025-04-07")
        #expect(obligations([seen]).isEmpty)
    }

    /// A request withdrawn before a step was done ends the step: not late unless its deadline had
    /// passed before the withdrawal (a request withdrawn in its third week showed its decision and
    /// final plan OVERDUE, and counted both as late). A historical request (decision H, made
    /// before these records were kept) is shown, never measured.
    @Test func aWithdrawnOrHistoricalRequestMissesNoDeadline() {
        let withdrawn = record(
            EHCAssessment.spec,
            ["request_received_on": "2025-03-03", "request_source": "parent", "withdrawn_on": "2025-03-20"])
        let steps = EHCTimeline.steps(of: withdrawn, exceptions: [], advice: [], asOf: CalendarDate("2025-09-01")!)
        #expect(steps.map(\.step) == ["decision", "final-plan"])
        #expect(steps.allSatisfy { $0.onTime == nil && $0.endedOn == CalendarDate("2025-03-20") }, "\(steps)")
        // Withdrawn after the decision was due (14 April) and not made: that one was missed.
        var late = withdrawn
        late.values[EHCAssessment.Field.withdrawnOn.rawValue] = .text("2025-05-01")
        let lateSteps = EHCTimeline.steps(of: late, exceptions: [], advice: [], asOf: CalendarDate("2025-09-01")!)
        #expect(lateSteps.map { $0.onTime } == [false, nil], "\(lateSteps)")
        let historic = record(
            EHCAssessment.spec,
            [
                "request_received_on": "2023-01-09", "request_source": "school", "decision": "H",
                "final_issued_on": "2023-06-01",
            ])
        let old = EHCTimeline.steps(of: historic, exceptions: [], advice: [], asOf: CalendarDate("2025-09-01")!)
        #expect(!old.isEmpty && old.allSatisfy { $0.isHistoric && $0.onTime == nil }, "\(old)")
    }
}

/// 20-week timeliness with and without exceptions, across an LA's assessments.
struct EHCTimelinessTests {
    @Test func finalPlansOnTimeLateAndExcused() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let la = area.la
        var assessments: [RecordID] = []
        for n in 0..<4 {
            let pupil = try la.addPupil(
                NewPupil(upn: syntheticUPN(7200 + n), forename: "P\(n)", surname: "T", dateOfBirth: "2015-01-01"),
                author: "LA")
            let a = try la.addRecord(
                EHCAssessment.self, pupil: pupil.description,
                [.requestReceivedOn: "2025-01-06", .requestSource: "parent", .decision: "Y", .decidedOn: "2025-02-10"],
                author: "LA")
            assessments.append(a)
        }
        // Due 2025-05-26: one on time, one late with an exception, one late, one still open (late by now).
        try la.issueEHCPlan(assessment: assessments[0].description, on: "2025-05-20", caseOfficer: nil, author: "LA")
        try la.issueEHCPlan(assessment: assessments[1].description, on: "2025-06-20", caseOfficer: nil, author: "LA")
        try la.addRecord(
            EHCException.self, pupil: nil,
            [
                .assessmentID: assessments[1].description, .step: "final-plan", .reason: "away-from-area",
                .fromDate: "2025-03-01",
            ],
            author: "LA")
        try la.issueEHCPlan(assessment: assessments[2].description, on: "2025-07-01", caseOfficer: nil, author: "LA")
        let report = try la.ehcTimeliness(
            from: CalendarDate("2025-01-01")!, to: CalendarDate("2025-12-31")!, asOf: CalendarDate("2025-08-01"))
        let final = try #require(report.steps.first { $0.step == "final-plan" })
        #expect(final.due == 4 && final.onTime == 1 && final.lateWithException == 1 && final.late == 2)
        #expect(final.percentIncludingExceptions == 25)
        #expect(abs((final.percentExcludingExceptions ?? 0) - 100.0 / 3) < 0.001)
        let decision = try #require(report.steps.first { $0.step == "decision" })
        #expect(decision.due == 4 && decision.onTime == 4)
    }

    /// Advice cannot be asked for before the request for an assessment arrived (it was taken, and
    /// shown as due before the request).
    @Test func adviceIsNotAskedForBeforeTheRequest() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let la = area.la
        let pupil = try la.addPupil(
            NewPupil(upn: syntheticUPN(7310), forename: "St", surname: "Eps", dateOfBirth: "2015-01-01"), author: "LA")
        let a = try la.addRecord(
            EHCAssessment.self, pupil: pupil.description, [.requestReceivedOn: "2025-09-01", .requestSource: "parent"],
            author: "LA")
        let early = #expect(throws: StoreError.self) {
            try la.addRecord(
                EHCAdvice.self, pupil: nil,
                [.assessmentID: a.description, .agency: "camhs", .requestedOn: "2025-08-15"],
                author: "LA")
        }
        #expect(early?.message.contains("before the request") == true, "\(early?.message ?? "")")
        // In order, each is taken.
        try la.addRecord(
            EHCAdvice.self, pupil: nil, [.assessmentID: a.description, .agency: "camhs", .requestedOn: "2025-09-20"],
            author: "LA")
        try la.updateRecord(EHCAssessment.self, a.description, [.caseOfficer: "S Khan"], author: "LA")
        try la.updateRecord(
            EHCAssessment.self, a.description,
            [.decision: "Y", .decidedOn: "2025-10-01", .draftServedOn: "2025-11-03"],
            author: "LA")
        try la.updateRecord(EHCAssessment.self, a.description, [.noPlanOn: "2025-11-20"], author: "LA")
        try la.addRecord(
            EHCAssessment.self, pupil: pupil.description, [.requestReceivedOn: "2025-12-01", .requestSource: "parent"],
            author: "LA")
    }

    /// An exception excuses a step only if it falls while that step's clock ran (from the
    /// request to the day the step was done): one dated after the decision was made marked the
    /// decision "exception recorded", and any exception, whatever its dates, moved a late plan to
    /// "late with exception". Away from the area or a closure must last 4 weeks or more: 19 days
    /// was taken (regs 5(4), 10(4), 13(3)).
    /// A pupil with an EHC plan in force is E wherever pupils are listed, as the census and the
    /// area report count them: at the LA, which records the plan and no school's provision, the
    /// pupil read N.
    @Test func aPupilWithAPlanInForceIsListedAsE() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let la = area.la
        let pupil = try la.addPupil(
            NewPupil(upn: syntheticUPN(7301), forename: "Ex", surname: "T", dateOfBirth: "2015-01-01"), author: "LA")
        #expect(try la.pupil(pupil.description).senStatus != "E")
        let a = try la.addRecord(
            EHCAssessment.self, pupil: pupil.description,
            [.requestReceivedOn: "2025-01-06", .requestSource: "parent", .decision: "Y", .decidedOn: "2025-02-10"],
            author: "LA")
        try la.issueEHCPlan(assessment: a.description, on: "2025-05-20", caseOfficer: nil, author: "LA")
        #expect(try la.pupil(pupil.description).senStatus == "E")
        #expect(try la.pupils().first { $0.id == pupil }?.senStatus == "E")
    }

    @Test func anExceptionCountsOnlyWhileTheStepsClockRanAndAnAbsenceLastsFourWeeks() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let la = area.la
        let pupil = try la.addPupil(
            NewPupil(upn: syntheticUPN(7300), forename: "Ex", surname: "T", dateOfBirth: "2015-01-01"), author: "LA")
        let a = try la.addRecord(
            EHCAssessment.self, pupil: pupil.description,
            [.requestReceivedOn: "2025-01-06", .requestSource: "parent", .decision: "Y", .decidedOn: "2025-02-10"],
            author: "LA")
        func except(_ step: String, _ reason: String, _ from: String, _ to: String?) throws {
            var fields: [EHCException.Field: String] = [
                .assessmentID: a.description, .step: step, .reason: reason, .fromDate: from,
            ]
            fields[.toDate] = to
            try la.addRecord(EHCException.self, pupil: nil, fields, author: "LA")
        }
        let short = #expect(throws: StoreError.self) {
            try except("final-plan", "away-from-area", "2025-05-01", "2025-05-19")
        }
        #expect(short?.message.contains("4 weeks") == true, "\(short?.message ?? "")")
        #expect(throws: StoreError.self) { try except("final-plan", "school-closure", "2025-05-01", "2025-05-10") }
        // After the plan was issued (2025-06-20), and after the decision was made.
        try except("final-plan", "away-from-area", "2025-07-01", "2025-08-15")
        try except("decision", "personal-circumstances", "2025-08-01", "2025-08-02")
        try la.issueEHCPlan(assessment: a.description, on: "2025-06-20", caseOfficer: nil, author: "LA")
        var report = try la.ehcTimeliness(
            from: CalendarDate("2025-01-01")!, to: CalendarDate("2025-12-31")!, asOf: CalendarDate("2025-09-01"))
        var final = try #require(report.steps.first { $0.step == "final-plan" })
        #expect(final.late == 1 && final.lateWithException == 0)
        let steps = try #require(try la.ehcTimelines(of: pupil.description, asOf: CalendarDate("2025-09-01")).first)
            .steps
        #expect(steps.first { $0.step == "decision" }?.exceptionApplies == false)
        #expect(steps.first { $0.step == "final-plan" }?.exceptionApplies == false)
        // Away for five weeks once the plan was already late (due 2025-05-26, issued 2025-06-20):
        // it made nothing late (it counted, and SEN2's Week20 read 1), nor one before the request.
        try except("final-plan", "away-from-area", "2025-06-01", "2025-07-10")
        try except("final-plan", "away-from-area", "2024-11-01", "2025-01-03")
        report = try la.ehcTimeliness(
            from: CalendarDate("2025-01-01")!, to: CalendarDate("2025-12-31")!, asOf: CalendarDate("2025-09-01"))
        final = try #require(report.steps.first { $0.step == "final-plan" })
        #expect(final.late == 1 && final.lateWithException == 0)
        let sen2 = try la.sen2Export(referenceDate: SEN2Export.referenceDate(year: 2026))
        let week20 = sen2.rows.first { $0.module == .assessment }?.items["Week20"]
        #expect(week20 == "0", "\(sen2.rows)")
        // Away for five weeks while the plan was being written: excused.
        try except("final-plan", "away-from-area", "2025-04-01", "2025-05-05")
        report = try la.ehcTimeliness(
            from: CalendarDate("2025-01-01")!, to: CalendarDate("2025-12-31")!, asOf: CalendarDate("2025-09-01"))
        final = try #require(report.steps.first { $0.step == "final-plan" })
        #expect(final.late == 0 && final.lateWithException == 1)
    }
}
