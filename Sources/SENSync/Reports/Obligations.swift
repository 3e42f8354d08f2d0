import Foundation

/// A dated duty: what must happen, about which pupil, by when, and whose it is.
public struct Obligation: Sendable, Hashable {
    /// What kind of duty (`plan-review`, `ehc-final-plan`, …).
    public var kind: String
    public var pupil: RecordID
    /// The record the duty comes from.
    public var record: RecordID
    /// The duty in plain words.
    public var what: String
    public var dueOn: CalendarDate
    public var responsibleOrg: String
    public var responsibleRole: String?
    /// The rule that sets the date, where it is statutory.
    public var statute: String?
    /// An exception to the time limit is recorded for it (regs 5(4), 8(2), 10(4), 13(3), 27(3)).
    public var exceptionApplies: Bool

    /// A period that ends on ``dueOn`` (the family's 15 days to comment on a draft plan), not a
    /// duty anyone meets or misses: never overdue, and nothing to do once it has ended.
    public var isPeriod: Bool { kind == "ehc-draft-comments" }

    public func isOverdue(asOf today: CalendarDate) -> Bool { !isPeriod && dueOn < today }
}

/// Everything about one pupil that duties are derived from.
public struct PupilFile: Sendable {
    public var pupil: RecordID
    public var dateOfBirth: CalendarDate?
    /// The school the pupil is on roll at now, by name.
    public var currentSchool: String?
    /// Records by kind name.
    public var records: [String: [KindRecord]]
    /// The kinds read into ``records`` when only some were (`nil`: every kind). Reading a kind
    /// that was not loaded is a programming error, caught in debug builds.
    public var loadedKinds: Set<String>?
    /// Schools the pupil was on roll at and has left, by name: what such a school was
    /// responsible for is now their current school's (or, on no roll, the LA's).
    public var schoolsLeft: Set<String>
    /// Sites the LA removed from the area directory (a school that converted or rejoined under a
    /// new id), by id: a pupil still on one's roll is on no roll any site holds.
    public var removedSchools: Set<String>

    public init(
        pupil: RecordID, dateOfBirth: CalendarDate?, currentSchool: String?, records: [String: [KindRecord]],
        loadedKinds: Set<String>? = nil, schoolsLeft: Set<String> = [], removedSchools: Set<String> = []
    ) {
        self.removedSchools = removedSchools
        self.pupil = pupil
        self.dateOfBirth = dateOfBirth
        self.currentSchool = currentSchool
        self.records = records
        self.loadedKinds = loadedKinds
        self.schoolsLeft = schoolsLeft
    }

    /// Whether any live record read into the file has a date on or before `day`.
    public func hasRecordDated(onOrBefore day: CalendarDate) -> Bool {
        records.values.joined().contains { record in
            !record.isDeleted
                && (record.spec?.fields ?? []).contains { field in
                    field.rule == .date && (record.values.date(field.name).map { $0 <= day } ?? false)
                }
        }
    }

    /// The file as it stood at the end of `day`: each record as ``KindRecord/asOf(_:)`` gives it
    /// (enrolments are read for the day by the caller, and the pupil's own record is kept).
    public func asOf(_ day: CalendarDate) -> PupilFile {
        var file = self
        for (kind, records) in records where kind != Pupil.name && kind != Enrolment.name {
            file.records[kind] = records.map { $0.asOf(day) }
        }
        return file
    }

    /// The live (not deleted) records of `kind`.
    public func live(_ kind: String) -> [KindRecord] {
        assert(loadedKinds?.contains(kind) ?? true, "\(kind) records were not loaded into this pupil file")
        return (records[kind] ?? []).filter { !$0.isDeleted }
    }

    func of<K: RecordKind>(_ kind: K.Type) -> [KindRecord] { live(K.name) }
}

extension KindRecord {
    /// The record as it stood at the end of `day`: without the dates of what happened later (a
    /// decision made the day after was not made yet), nor what was set with them (the decision).
    /// A report or due-list "as of" a day counted steps done after it: a decision made the day
    /// after its deadline read as late on the deadline itself. The record itself is kept, whatever
    /// its own date: a duty is listed from the day asked for, however far ahead.
    public func asOf(_ day: CalendarDate) -> KindRecord {
        guard let spec else { return self }
        var copy = self
        for field in spec.fields where field.rule == .date && field.isPastDate && !field.isRequired {
            if let date = values.date(field.name), date > day { copy.values[field.name] = nil }
        }
        // What was set with a date that had not come (a decision made later) was not set either.
        for (field, date) in spec.datedBy where values[date] != nil && copy.values[date] == nil {
            copy.values[field] = nil
        }
        return copy
    }
}

/// Derives every open duty from a pupil's records: pure, no store, no clock.
public enum ObligationRules {
    /// The kinds of record duties are derived from (a pupil file with only these is enough).
    public static let kindsRead: Set<String> = [
        Concern.name, ConcernAction.name, EHCAdvice.name, EHCAssessment.name, EHCException.name, EHCPlan.name,
        EHCReview.name, Enrolment.name, Escalation.name, Referral.name, SupportPlan.name,
    ]

    /// How long SENSync waits for an agency to answer a referral before listing a follow-up. Not
    /// statutory: services set their own response times.
    public static let referralFollowUpDays = 42

    public static func obligations(of file: PupilFile, localAuthority: String) -> [Obligation] {
        var out: [Obligation] = []
        let school = file.currentSchool ?? "The pupil's school"
        func add(
            _ kind: String, _ record: KindRecord, _ what: String, _ due: CalendarDate?, org: String,
            role: String? = nil,
            statute: String? = nil, exception: Bool = false
        ) {
            guard let due else { return }
            out.append(
                Obligation(
                    kind: kind, pupil: file.pupil, record: record.id, what: what, dueOn: due, responsibleOrg: org,
                    responsibleRole: role, statute: statute, exceptionApplies: exception))
        }
        let agencies = CodeLists.named("referral-agency")

        // On two schools' rolls with no end to either: transfers made at the same time by two
        // sites (the LA and the old school, say) each enrol the pupil somewhere, and both stand.
        // Nobody would notice (each school counts them in its census): the LA is asked to end
        // the wrong one.
        let open = file.of(Enrolment.self).filter { $0.values[Enrolment.Field.leavingDate] == nil }
        if Set(open.compactMap { $0.values.text(Enrolment.Field.schoolID) }).count > 1,
            let newest = open.max(by: {
                ($0.values.text(Enrolment.Field.entryDate) ?? "", $0.id) < (
                    $1.values.text(Enrolment.Field.entryDate) ?? "", $1.id
                )
            })
        {
            add(
                "two-rolls", newest,
                "On two schools' rolls at once (moved by two sites at the same time?): end the wrong one with `sensync pupil leave PUPIL --school SCHOOL`",
                newest.values.date(Enrolment.Field.entryDate), org: localAuthority)
        }
        // On the roll of a school the LA removed from the directory (enrolled there by a transfer
        // made before the site making it knew of the conversion or rejoin): no site holds the
        // pupil, and nothing said so.
        for enrolment in open where file.removedSchools.contains(enrolment.values.text(Enrolment.Field.schoolID) ?? "")
        {
            add(
                "removed-school-roll", enrolment,
                "On the roll of a school no longer in the area directory (it converted or rejoined): move them with `sensync pupil transfer PUPIL --to SCHOOL`",
                enrolment.values.date(Enrolment.Field.entryDate), org: localAuthority)
        }
        for plan in file.of(SupportPlan.self) where plan.values.text(SupportPlan.Field.status) != "closed" {
            // A plan a school the pupil has left was responsible for is their school's now (the
            // LA's while they are on no roll), not that school's or its SENCO's.
            let org = plan.values.text(SupportPlan.Field.responsibleOrg)
            let handedOn = org.map { file.schoolsLeft.contains($0) && $0 != file.currentSchool } ?? false
            add(
                "plan-review", plan, "Review the support plan \"\(plan.values.text(SupportPlan.Field.title) ?? "")\"",
                plan.values.date(SupportPlan.Field.reviewDate),
                org: handedOn ? file.currentSchool ?? localAuthority : org ?? school,
                role: handedOn ? nil : plan.values.text(SupportPlan.Field.responsiblePerson))
        }
        for concern in file.of(Concern.self) {
            let status = concern.values.text(Concern.Field.status)
            guard status == "open" || status == "monitoring" else { continue }
            add(
                "concern-review", concern,
                "Review the concern raised on \(concern.values.text(Concern.Field.raisedOn) ?? "?")",
                concern.values.date(Concern.Field.reviewDate), org: school, role: "SENCO")
        }
        for action in file.of(ConcernAction.self) where action.values[ConcernAction.Field.doneOn] == nil {
            add(
                "concern-action", action, action.values.text(ConcernAction.Field.action) ?? "Action",
                action.values.date(ConcernAction.Field.dueOn),
                org: action.values.text(ConcernAction.Field.ownerOrg) ?? school,
                role: action.values.text(ConcernAction.Field.owner))
        }
        for referral in file.of(Referral.self) {
            let v = referral.values
            // Seeing the child answers the referral, whether or not its acceptance was recorded.
            guard v[Referral.Field.acceptedOn] == nil, v[Referral.Field.declinedOn] == nil,
                v[Referral.Field.closedOn] == nil, v[Referral.Field.firstSeenOn] == nil
            else { continue }
            let agency = agencies?.label(of: v.text(Referral.Field.agency) ?? "") ?? "The agency"
            add(
                "referral-response", referral, "Answer to the referral to \(agency.lowercased()) (follow up if none)",
                v.date(Referral.Field.referredOn)?.adding(days: referralFollowUpDays), org: agency)
        }
        for escalation in file.of(Escalation.self) where escalation.values[Escalation.Field.closedOn] == nil {
            let stage = CodeLists.named("escalation-stage")?.label(
                of: escalation.values.text(Escalation.Field.stage) ?? "")
            add(
                "escalation-response", escalation, "Respond to the family: \(stage ?? "complaint")",
                escalation.values.date(Escalation.Field.responseDueOn),
                org: escalation.values.text(Escalation.Field.respondingOrg) ?? localAuthority)
        }
        out += ehcObligations(of: file, localAuthority: localAuthority)
        // Ids compare as their text does (lower-case hex), without making the text.
        return out.sorted { ($0.dueOn, $0.kind, $0.record) < ($1.dueOn, $1.kind, $1.record) }
    }

    private static func ehcObligations(of file: PupilFile, localAuthority la: String) -> [Obligation] {
        var out: [Obligation] = []
        let exceptions = file.of(EHCException.self)
        func excepted(_ assessment: RecordID, _ step: String) -> Bool {
            exceptions.contains {
                $0.values.text(EHCException.Field.assessmentID) == assessment.description
                    && $0.values.text(EHCException.Field.step) == step
            }
        }
        func add(
            _ kind: String, _ record: KindRecord, _ what: String, _ due: CalendarDate, org: String = "",
            role: String? = nil, statute: String, exception: Bool = false
        ) {
            out.append(
                Obligation(
                    kind: kind, pupil: file.pupil, record: record.id, what: what, dueOn: due,
                    responsibleOrg: org.isEmpty ? la : org, responsibleRole: role, statute: statute,
                    exceptionApplies: exception))
        }
        for assessment in file.of(EHCAssessment.self) {
            let v = assessment.values
            guard let request = v.date(EHCAssessment.Field.requestReceivedOn), v[EHCAssessment.Field.withdrawnOn] == nil
            else { continue }
            let officer = v.text(EHCAssessment.Field.caseOfficer)
            let reassessment = v.integer(EHCAssessment.Field.isReassessment) == 1
            let finished = v[EHCAssessment.Field.finalIssuedOn] != nil || v[EHCAssessment.Field.noPlanOn] != nil
            if !reassessment && v[EHCAssessment.Field.decidedOn] == nil {
                add(
                    "ehc-decision", assessment, "Decide whether to carry out an EHC needs assessment",
                    StatutoryClock.decisionToAssessDue(requestReceived: request), role: officer,
                    statute: "SEND Regulations 2014 reg 5(1)", exception: excepted(assessment.id, "decision"))
            }
            let decision = v.text(EHCAssessment.Field.decision)
            let assessing = reassessment || decision == "Y"
            if assessing && !finished {
                if v[EHCAssessment.Field.draftServedOn] == nil {
                    add(
                        "ehc-no-plan", assessment, "Decide whether to issue an EHC plan (notify by then if not)",
                        StatutoryClock.noPlanDecisionDue(requestReceived: request), role: officer,
                        statute: "SEND Regulations 2014 reg 10(1)", exception: excepted(assessment.id, "no-plan"))
                }
                if let served = v.date(EHCAssessment.Field.draftServedOn) {
                    add(
                        "ehc-draft-comments", assessment, "Family's 15 days to comment on the draft plan end",
                        StatutoryClock.draftCommentsClose(draftServedOn: served), org: "The family",
                        statute: "SEND Regulations 2014 reg 13(1)")
                }
                add(
                    "ehc-final-plan", assessment, "Issue the final EHC plan",
                    StatutoryClock.finalPlanDue(requestReceived: request, reassessment: reassessment), role: officer,
                    statute: reassessment ? "SEND Regulations 2014 reg 27(2)" : "SEND Regulations 2014 reg 13(2)",
                    exception: excepted(assessment.id, "final-plan"))
            }
            for advice in file.of(EHCAdvice.self)
            where advice.values.text(EHCAdvice.Field.assessmentID) == assessment.id.description
                && advice.values[EHCAdvice.Field.receivedOn] == nil && !finished
            {
                guard let requested = advice.values.date(EHCAdvice.Field.requestedOn) else { continue }
                let agency = CodeLists.named("referral-agency")?.label(
                    of: advice.values.text(EHCAdvice.Field.agency) ?? "")
                add(
                    "ehc-advice", advice, "Give advice for the EHC needs assessment",
                    StatutoryClock.adviceDue(requested: requested), org: agency ?? "The agency",
                    statute: "SEND Regulations 2014 reg 8", exception: excepted(assessment.id, "advice"))
            }
        }
        let reviews = file.of(EHCReview.self)
        for plan in file.of(EHCPlan.self) where plan.values[EHCPlan.Field.ceasedOn] == nil {
            guard let issued = plan.values.date(EHCPlan.Field.issuedOn) else { continue }
            let officer = plan.values.text(EHCPlan.Field.caseOfficer)
            let mine = reviews.filter { $0.values.text(EHCReview.Field.planID) == plan.id.description }
            let lastMeeting = mine.compactMap { $0.values.date(EHCReview.Field.meetingOn) }.max()
            let from = max(issued, lastMeeting ?? issued)
            let underFive = file.dateOfBirth.map { from < StatutoryClock.adding(months: 60, to: $0) } ?? false
            add(
                "ehc-annual-review", plan, "Hold the annual review of the EHC plan",
                StatutoryClock.annualReviewDue(issuedOrLastReviewed: from, dateOfBirth: file.dateOfBirth),
                role: officer,
                statute: underFive ? "SEND Code of Practice 9.178 (under five)" : "Children and Families Act 2014 s44")
            // A phase transfer's review and amendment are due by 15 February (31 March into
            // post-16) of the year of the move, counted from the school year it falls in.
            let phase = StatutoryClock.phaseTransfer(of: plan.values)
            for review in mine {
                guard let meeting = review.values.date(EHCReview.Field.meetingOn) else { continue }
                if review.values[EHCReview.Field.decidedOn] == nil {
                    add(
                        "ehc-review-decision", review, "Decide to maintain, amend or cease the plan after the review",
                        StatutoryClock.reviewDecisionDue(meeting: meeting), role: officer,
                        statute: "SEND Regulations 2014 reg 20(10)")
                }
                if review.values.text(EHCReview.Field.outcome) == "A",
                    review.values[EHCReview.Field.amendedIssuedOn] == nil
                {
                    // By the phase transfer's deadline when that comes first.
                    let due = StatutoryClock.amendedPlanDue(meeting: meeting, plan: plan.values)
                    add(
                        "ehc-amended-plan", review, "Issue the amended EHC plan", due, role: officer,
                        statute: "SEND Regulations 2014 reg 22; R (L) v Devon CC [2022] EWHC 493 (Admin)")
                }
            }
            if let phase {
                let (due, schoolYearStart) = (phase.due, phase.schoolYearStart)
                // Discharged by a review in the school year the deadline falls in (from 1 September
                // before it) that ended with the plan amended by the deadline, or kept as it is: one
                // decided 11 months earlier, in the school year before, prepared nothing for the
                // move, and a decision to amend with no amended plan issued amended nothing.
                let done = mine.contains { review in
                    guard let decided = review.values.date(EHCReview.Field.decidedOn),
                        decided >= schoolYearStart && decided <= due
                    else { return false }
                    guard review.values.text(EHCReview.Field.outcome) == "A" else { return true }
                    return review.values.date(EHCReview.Field.amendedIssuedOn).map { $0 <= due } ?? false
                }
                if !done {
                    add(
                        "ehc-phase-transfer", plan, "Review and amend the plan for the phase transfer", due,
                        role: officer,
                        statute: "SEND Regulations 2014 reg 18")
                }
            }
        }
        return out
    }
}
