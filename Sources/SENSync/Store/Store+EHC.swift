import Foundation
import GRDB

extension Store {
    /// Issues the final EHC plan of an assessment: records the issue date on the assessment and
    /// creates the plan, in one change.
    @discardableResult
    public func issueEHCPlan(assessment reference: String, on date: String, caseOfficer: String?, author: String) throws
        -> RecordID
    {
        try writing {
            let kind = EHCAssessment.spec
            guard identity.kind == .la else {
                throw StoreError(
                    .invalidInput, "Only the local authority issues EHC plans.", hint: "Ask the LA's SEN team.")
            }
            let (key, issued, officer) = try reading { db -> (RecordKey, Value, Value) in
                let found = try Self.recordID(for: reference, table: kind.name, noun: kind.noun, in: db)
                let issued = try parse(
                    date, for: kind.field(EHCAssessment.Field.finalIssuedOn.rawValue)!, kind: kind, pupil: nil, in: db)
                // The plan keeps the assessment's case officer unless another is named.
                let current = try Self.records(kind, pupil: found.scope, in: db).first { $0.id == found.id }
                let officer =
                    try caseOfficer.map {
                        try parse(
                            $0, for: kind.field(EHCAssessment.Field.caseOfficer.rawValue)!, kind: kind, pupil: nil,
                            in: db)
                    } ?? current?.values[EHCAssessment.Field.caseOfficer] ?? .null
                return (RecordKey(table: kind.name, scope: found.scope, id: found.id), issued, officer)
            }
            let existing = try records(EHCPlan.self, of: key.scope.description)
            if existing.contains(where: { $0.text(.assessmentID) == key.id.description }) {
                throw StoreError(
                    .invalidInput, "A plan has already been issued from this assessment.",
                    hint: "Change it with `sensync ehc-plan update`.")
            }
            let plan = RecordID.v7(milliseconds: now())
            var planWrites = [
                FieldWrite(EHCPlan.Field.assessmentID.rawValue, .text(key.id.description)),
                FieldWrite(EHCPlan.Field.issuedOn.rawValue, issued),
            ]
            if !officer.isNull { planWrites.append(FieldWrite(EHCPlan.Field.caseOfficer.rawValue, officer)) }
            try writeChecked(
                kind, key: key, writes: [EHCAssessment.Field.finalIssuedOn.rawValue: issued], isNew: false,
                author: author,
                extraOps: [RecordOp(table: EHCPlan.name, id: plan, writes: planWrites)])
            return plan
        }
    }
}

/// One step of an EHC needs assessment against its statutory deadline.
public struct EHCStep: Sendable, Hashable {
    public var step: String
    public var what: String
    public var dueOn: CalendarDate
    public var doneOn: CalendarDate?
    /// Done by the deadline (nil while still open and not yet late).
    public var onTime: Bool?
    public var exceptionApplies: Bool
    public var statute: String
    /// For a step never done: the day it stopped being due (advice not received when the
    /// assessment ended with a plan or a decision not to issue one). Nothing is left to do.
    public var endedOn: CalendarDate? = nil
    /// A step of a historical request (decision H: made before these records were kept): shown,
    /// never measured against its deadline.
    public var isHistoric = false

    /// A period that runs to ``dueOn`` rather than a deadline the LA meets or misses: the family's
    /// time to comment on the draft plan.
    public var isPeriod: Bool { step == "draft-comments" }
}

/// An assessment's statutory timeline: every deadline with when it was met, for `pupil show`,
/// `ehc show` and timeliness reports (with and without exceptions).
public enum EHCTimeline {
    public static func steps(
        of assessment: KindRecord, exceptions: [KindRecord], advice: [KindRecord], asOf today: CalendarDate
    ) -> [EHCStep] {
        let v = assessment.values
        guard let request = v.date(EHCAssessment.Field.requestReceivedOn) else { return [] }
        let reassessment = v.integer(EHCAssessment.Field.isReassessment) == 1
        let historic = v.text(EHCAssessment.Field.decision) == "H"
        // A request withdrawn (or ceased) before a step was done ends that step: not late unless
        // its deadline had passed before the withdrawal.
        let withdrawn = v.date(EHCAssessment.Field.withdrawnOn).flatMap { $0 <= today ? $0 : nil }
        // An exception excuses a step only if it fell while the step's clock ran: from the day it
        // started (the request, or the advice request) to the day it was done (or today), and no
        // later than its deadline (one that began once the step was already late made nothing
        // late). One dated after the decision was made marked the decision "exception recorded".
        func excepted(_ step: String, from start: CalendarDate, to end: CalendarDate) -> Bool {
            exceptions.contains {
                guard $0.values.text(EHCException.Field.assessmentID) == assessment.id.description,
                    $0.values.text(EHCException.Field.step) == step, !$0.isDeleted,
                    let from = $0.values.date(EHCException.Field.fromDate)
                else { return false }
                return from <= end && ($0.values.date(EHCException.Field.toDate) ?? from) >= start
            }
        }
        func step(
            _ code: String, _ what: String, _ due: CalendarDate, _ done: CalendarDate?, _ statute: String,
            startedOn start: CalendarDate = request
        )
            -> EHCStep
        {
            let clockEnd = max(start, min(done ?? today, today, due))
            if historic {
                return EHCStep(
                    step: code, what: what, dueOn: due, doneOn: done, onTime: nil, exceptionApplies: false,
                    statute: statute, isHistoric: true)
            }
            if done == nil, let withdrawn {
                return EHCStep(
                    step: code, what: what, dueOn: due, doneOn: nil, onTime: due < withdrawn ? false : nil,
                    exceptionApplies: excepted(code, from: start, to: min(clockEnd, withdrawn)), statute: statute,
                    endedOn: withdrawn)
            }
            let onTime: Bool? = done.map { $0 <= due } ?? (today > due ? false : nil)
            return EHCStep(
                step: code, what: what, dueOn: due, doneOn: done, onTime: onTime,
                exceptionApplies: excepted(code, from: start, to: clockEnd), statute: statute)
        }
        var steps: [EHCStep] = []
        if !reassessment {
            steps.append(
                step(
                    "decision", "Decision whether to assess",
                    StatutoryClock.decisionToAssessDue(requestReceived: request),
                    v.date(EHCAssessment.Field.decidedOn), "reg 5(1)"))
        }
        for a in advice where a.values.text(EHCAdvice.Field.assessmentID) == assessment.id.description && !a.isDeleted {
            guard let requested = a.values.date(EHCAdvice.Field.requestedOn) else { continue }
            let agency =
                CodeLists.named("referral-agency")?.label(of: a.values.text(EHCAdvice.Field.agency) ?? "") ?? "Agency"
            var advice = step(
                "advice", "Advice from \(agency.lowercased())", StatutoryClock.adviceDue(requested: requested),
                a.values.date(EHCAdvice.Field.receivedOn), "reg 8", startedOn: requested)
            if advice.doneOn == nil {
                advice.endedOn =
                    v.date(EHCAssessment.Field.finalIssuedOn) ?? v.date(EHCAssessment.Field.noPlanOn) ?? advice.endedOn
            }
            steps.append(advice)
        }
        if let noPlan = v.date(EHCAssessment.Field.noPlanOn) {
            steps.append(
                step(
                    "no-plan", "Decision not to issue a plan",
                    StatutoryClock.noPlanDecisionDue(requestReceived: request),
                    noPlan, "reg 10(1)"))
        }
        if let served = v.date(EHCAssessment.Field.draftServedOn) {
            steps.append(
                EHCStep(
                    step: "draft-comments", what: "Family's 15 days to comment on the draft",
                    // Over once the final plan is issued (or a plan is refused after all): the
                    // family's period, not a deadline the LA meets or misses.
                    dueOn: StatutoryClock.draftCommentsClose(draftServedOn: served),
                    doneOn: v.date(EHCAssessment.Field.finalIssuedOn) ?? v.date(EHCAssessment.Field.noPlanOn),
                    onTime: nil,
                    exceptionApplies: false, statute: "reg 13(1)"))
        }
        if v.text(EHCAssessment.Field.decision) != "N" && v[EHCAssessment.Field.noPlanOn] == nil {
            steps.append(
                step(
                    "final-plan", "Final EHC plan issued",
                    StatutoryClock.finalPlanDue(requestReceived: request, reassessment: reassessment),
                    v.date(EHCAssessment.Field.finalIssuedOn), reassessment ? "reg 27(2)" : "reg 13(2)"))
        }
        return steps
    }
}

extension Store {
    /// A pupil's EHC needs assessments, each with its statutory timeline as of today in England.
    public func ehcTimelines(of pupil: String, asOf: CalendarDate? = nil) throws -> [(
        assessment: KindRecord, steps: [EHCStep]
    )] {
        // As they stood that day, when one is given (a step done later was not done yet).
        let day = asOf ?? today
        let read = { (kind: KindSpec) in
            try self.records(kind, of: pupil).map { asOf == nil ? $0 : $0.asOf(day) }
        }
        let assessments = try read(EHCAssessment.spec)
        let exceptions = try read(EHCException.spec)
        let advice = try read(EHCAdvice.spec)
        return assessments.map {
            ($0, EHCTimeline.steps(of: $0, exceptions: exceptions, advice: advice, asOf: asOf ?? today))
        }
    }
}

/// How many of the area's EHC deadlines were met, with and without the cases where an exception
/// applied (as LAs publish 20-week timeliness).
public struct EHCTimeliness: Sendable, Hashable {
    public struct Step: Sendable, Hashable {
        public var step: String
        /// Steps done (or overdue and still open) in the period.
        public var due = 0
        public var onTime = 0
        /// Late, but an exception to the time limit is recorded.
        public var lateWithException = 0
        public var late = 0
        /// Done on time, as a share of all due.
        public var percentIncludingExceptions: Double? { due == 0 ? nil : 100 * Double(onTime) / Double(due) }
        /// Done on time, leaving out the cases an exception excused.
        public var percentExcludingExceptions: Double? {
            let counted = due - lateWithException
            return counted == 0 ? nil : 100 * Double(onTime) / Double(counted)
        }
    }

    public var steps: [Step]
}

extension Store {
    /// Timeliness of every assessment this store holds whose deadlines fall in `from...to`:
    /// per step, how many were met, missed with an exception recorded, and missed.
    public func ehcTimeliness(from: CalendarDate, to: CalendarDate, asOf: CalendarDate? = nil) throws -> EHCTimeliness {
        let today = asOf ?? self.today
        let (assessments, exceptions, advice) = try reading { db in
            // As they stood that day (a step done later was not done yet).
            let read = { (kind: KindSpec) in
                try Self.records(kind, pupil: nil, in: db).map { asOf == nil ? $0 : $0.asOf(today) }
            }
            return (try read(EHCAssessment.spec), try read(EHCException.spec), try read(EHCAdvice.spec))
        }
        var steps: [String: EHCTimeliness.Step] = [:]
        let order = ["decision", "advice", "no-plan", "final-plan"]
        for assessment in assessments {
            for step in EHCTimeline.steps(of: assessment, exceptions: exceptions, advice: advice, asOf: today)
            where step.dueOn >= from && step.dueOn <= to && order.contains(step.step) {
                guard let onTime = step.onTime else { continue }  // still open, not yet late
                var row = steps[step.step] ?? EHCTimeliness.Step(step: step.step)
                row.due += 1
                if onTime {
                    row.onTime += 1
                } else if step.exceptionApplies {
                    row.lateWithException += 1
                } else {
                    row.late += 1
                }
                steps[step.step] = row
            }
        }
        return EHCTimeliness(steps: order.compactMap { steps[$0] })
    }
}
