import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct EHC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ehc",
            abstract: "The LA's EHC needs assessments and plans, against their statutory deadlines.",
            discussion: HelpText.fitted(
                """
                The steps of an assessment, each recorded with its date: request, decide (6 weeks, reg 5), advice \
                (6 weeks, reg 8), draft (the family has 15 days beginning with the day it is served, reg 13(1)), issue \
                (20 weeks from the request, reg 13(2); 14 after a re-assessment, reg 27) or no-plan (16 weeks, \
                reg 10), and exceptions (regs 5(4), 8(2), 10(4), 13(3), 27(3)). Plans are reviewed every 12 months \
                (6 under five); record each review with `ehc review`. Every date shows in `sensync due` and in \
                `sensync pupil show`. LA stores only.
                """),
            subcommands: [
                Request.self, Decide.self, Advice.self, Draft.self, Issue.self, NoPlan.self, Exception.self,
                Section.self, Review.self, Show.self, Timeliness.self,
            ])
    }
}

/// Adds or updates a record through the generic path and prints what happened.
private func record(
    _ kind: KindSpec, add pupil: String?, update reference: String?, fields: [String: String?],
    once: Bool = false, store: StoreOptions, author: AuthorOptions, output: OutputOptions, done: String
) throws {
    let given = fields.compactMapValues { $0 }
    // A step of the statutory process is recorded once it has happened: a meeting or decision
    // dated after today would move the deadlines that follow it (an annual review "held" next
    // year put the next one off by a year). An exception's period may run on.
    if kind.name != EHCException.spec.name {
        let today = CalendarDate.today()
        for field in kind.fields where field.rule == .date {
            guard let text = given[field.name], let day = CalendarDate(text.trimmingCharacters(in: .whitespaces)),
                day > today
            else { continue }
            throw CommandFailure(
                code: .invalidInput,
                message: "\(field.label) \(day) is after today: a step is recorded once it has happened.",
                hint: "Check the date; `sensync due` shows what is coming.")
        }
    }
    let opened = try store.open()
    let id: String
    if let reference {
        id = try opened.record(reference, kind: kind).id.description
        if once { try opened.requireStepNotRecorded(id, kind: kind, fields: given) }
        try opened.updateRecord(id, kind: kind, fields: given, author: try author.name)
    } else {
        id = try opened.addRecord(kind, pupil: pupil, fields: given, author: try author.name).description
    }
    let saved = try opened.record(id, kind: kind)
    if output.json {
        try Terminal.printJSON([kind.name: saved])
    } else {
        Terminal.print("\(done) (\(kind.noun) \(saved.id)).")
    }
}

extension SENSyncCommand.EHC {
    struct Request: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "request",
            abstract: "Record a request for an EHC needs assessment (starts the 20-week clock).",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync ehc request --store northshire-la.sensync --author "EHC team" \\
                    --pupil H801200001001 \\
                    --received 2026-01-05 --source school --case-officer "R Patel"
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "UPN or record id.") var pupil: String
        @Option(
            name: [.long, .customLong("request-received-on")], help: "The day the LA received the request, YYYY-MM-DD.")
        var received: String
        @Option(help: "parent, young-person, school, health, social-care or other.") var source: String
        @Flag(help: "A re-assessment of a pupil with a plan (14 weeks, reg 27).") var reassessment = false
        @Option(name: .customLong("case-officer"), help: "Who at the LA leads the case.") var caseOfficer: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCAssessment.spec, add: pupil, update: nil,
                fields: [
                    "request_received_on": received, "request_source": source,
                    "is_reassessment": reassessment ? "yes" : nil, "case_officer": caseOfficer,
                ], store: storeOptions, author: authorOptions, output: output, done: "Recorded the request")
        }
    }

    struct Decide: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "decide",
            abstract: "Record the decision whether to assess (due 6 weeks from the request).",
            discussion: HelpText.fitted(
                """
                DECISION is assess or not-assess (or a SEN2 RequestOutcome code: Y, N, W withdrawn before the \
                decision, H historical: a request made before these records were kept).

                Example:
                  sensync ehc decide 0193a1b2 --store northshire-la.sensync --author \\
                    "EHC team" --decision assess --on 2026-02-10
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Assessment id (or its first 8+ characters).") var assessment: String
        @Option(help: "assess or not-assess (or a SEN2 RequestOutcome code).") var decision: String
        @Option(name: [.long, .customLong("decided-on")], help: "The day of the decision, YYYY-MM-DD.") var on: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let code: String
            switch decision.lowercased() {
            case "assess", "yes": code = "Y"
            case "not-assess", "no": code = "N"
            default:
                // The option's own words first: the code list alone offers only the SEN2 codes.
                guard let known = CodeLists.named("ehc-decision")?.code(matching: decision) else {
                    throw CommandFailure(
                        code: .invalidInput, message: "That is not a decision whether to assess.",
                        hint:
                            "Give --decision assess or not-assess (or a SEN2 RequestOutcome code: \(CodeLists.named("ehc-decision")?.codes.map(\.code).joined(separator: ", ") ?? "Y, N"))."
                    )
                }
                code = known.code
            }
            try record(
                EHCAssessment.spec, add: nil, update: assessment, fields: ["decision": code, "decided_on": on],
                once: true, store: storeOptions, author: authorOptions, output: output, done: "Recorded the decision")
        }
    }

    struct Advice: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "advice",
            abstract: "Record advice asked of an agency (due in 6 weeks), or its arrival.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync ehc advice 0193a1b2 --store northshire-la.sensync --author \\
                    "EHC team" \\
                    --agency educational-psychology --requested-on 2026-02-12
                  sensync ehc-advice update 0193a1c4 --store northshire-la.sensync \\
                    --author "EHC team" --received-on 2026-03-20
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Assessment id (or its first 8+ characters).") var assessment: String
        @Option(help: "The agency asked, e.g. educational-psychology, health, social-care.") var agency: String
        @Option(name: .customLong("requested-on"), help: "The day the advice was asked for, YYYY-MM-DD.")
        var requestedOn: String
        @Option(name: .customLong("received-on"), help: "The day it arrived, YYYY-MM-DD (later: ehc-advice update).")
        var receivedOn: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCAdvice.spec, add: nil, update: nil,
                fields: [
                    "assessment_id": assessment, "agency": agency, "requested_on": requestedOn,
                    "received_on": receivedOn,
                ], store: storeOptions, author: authorOptions, output: output, done: "Recorded the advice request")
        }
    }

    struct Draft: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "draft",
            abstract: "Record the day the draft plan was served (the family then has 15 days).",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync ehc draft 0193a1b2 --store northshire-la.sensync --author \\
                    "EHC team" --served-on 2026-04-13
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Assessment id (or its first 8+ characters).") var assessment: String
        @Option(
            name: [.customLong("served-on"), .customLong("draft-served-on")],
            help: "The day the draft plan was sent to the family, YYYY-MM-DD.")
        var servedOn: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCAssessment.spec, add: nil, update: assessment, fields: ["draft_served_on": servedOn],
                once: true, store: storeOptions, author: authorOptions, output: output, done: "Recorded the draft plan")
        }
    }

    struct Issue: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "issue",
            abstract: "Issue the final EHC plan (due 20 weeks from the request).",
            discussion: HelpText.fitted(
                """
                Creates the plan, whose annual review then falls due within 12 months.

                Example:
                  sensync ehc issue 0193a1b2 --store northshire-la.sensync --author \\
                    "EHC team" --on 2026-05-18
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Assessment id (or its first 8+ characters).") var assessment: String
        @Option(
            name: [.long, .customLong("final-issued-on")], help: "The day the final plan was issued, YYYY-MM-DD.")
        var on: String
        @Option(name: .customLong("case-officer"), help: "Who at the LA leads the plan.") var caseOfficer: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let plan = try store.issueEHCPlan(
                assessment: assessment, on: on, caseOfficer: caseOfficer, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON([EHCPlan.name: try store.record(plan.description, kind: EHCPlan.spec)])
            } else {
                Terminal.print("Issued EHC plan \(plan).")
            }
        }
    }

    struct NoPlan: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "no-plan",
            abstract: "Record a decision not to issue a plan after assessing (due 16 weeks from the request).",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync ehc no-plan 0193a1b2 --store northshire-la.sensync --author \\
                    "EHC team" --on 2026-04-20
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Assessment id (or its first 8+ characters).") var assessment: String
        @Option(
            name: [.long, .customLong("no-plan-on")], help: "The day the LA decided not to issue a plan, YYYY-MM-DD.")
        var on: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCAssessment.spec, add: nil, update: assessment, fields: ["no_plan_on": on], once: true,
                store: storeOptions,
                author: authorOptions, output: output, done: "Recorded the decision not to issue a plan")
        }
    }

    struct Exception: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "exception",
            abstract: "Record an exception to a time limit, with its dates.",
            discussion: HelpText.fitted(
                """
                STEP is decision, advice, no-plan or final-plan. REASON is school-closure, early-years-closure, \
                personal-circumstances, away-from-area or (advice only) missed-appointment.

                Example:
                  sensync ehc exception 0193a1b2 --store northshire-la.sensync --author \\
                    "EHC team" \\
                    --step final-plan --reason away-from-area --from 2026-03-02 --to \\
                    2026-04-10
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Assessment id (or its first 8+ characters).") var assessment: String
        @Option(help: "decision, advice, no-plan or final-plan.") var step: String
        @Option(help: "Why the time limit does not apply (see above).") var reason: String
        @Option(name: [.long, .customLong("from-date")], help: "The first day the exception applies, YYYY-MM-DD.")
        var from: String
        @Option(name: [.long, .customLong("to-date")], help: "The last day it applies, YYYY-MM-DD.") var to: String?
        @Option(help: "More about the exception (no names).") var detail: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCException.spec, add: nil, update: nil,
                fields: [
                    "assessment_id": assessment, "step": step, "reason": reason, "from_date": from, "to_date": to,
                    "detail": detail,
                ], store: storeOptions, author: authorOptions, output: output, done: "Recorded the exception")
        }
    }

    struct Section: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "section",
            abstract: "Write a section (A to K) of an EHC plan, naming the agency that owns it.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync ehc section 0193a1d0 --store northshire-la.sensync --author \\
                    "EHC team" --section F \\
                    --owner-agency "Northshire SEN team" --content \\
                    "Speech and language therapy, 3 x 30 minutes a week"
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "EHC plan id (or its first 8+ characters).") var plan: String
        @Option(help: "The plan's section letter, A to K.") var section: String
        @Option(name: .customLong("owner-agency"), help: "The agency responsible for the section.") var ownerAgency:
            String
        @Option(help: "What the section says (no names).") var content: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCSection.spec, add: nil, update: nil,
                fields: ["plan_id": plan, "section": section, "owner_agency": ownerAgency, "content": content],
                store: storeOptions, author: authorOptions, output: output, done: "Recorded the section")
        }
    }

    struct Review: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "review",
            abstract: "Record an annual review meeting, and the LA's decision (within 4 weeks).",
            discussion: HelpText.fitted(
                """
                OUTCOME is the SEN2 review outcome: M (maintain), A (amend) or C (cease). An amended plan is due \
                12 weeks after the meeting, or by the plan's phase transfer deadline (15 February, or 31 March into \
                post-16) when the meeting is in that school year and it comes first; record it with \
                `sensync ehc-review update ID --amended-issued-on DATE`.

                Example:
                  sensync ehc review 0193a1d0 --store northshire-la.sensync --author \\
                    "EHC team" --meeting-on 2026-11-16 \\
                    --outcome M --decided-on 2026-11-27
                """))
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "EHC plan id (or its first 8+ characters).") var plan: String
        @Option(name: .customLong("meeting-on"), help: "The day of the review meeting, YYYY-MM-DD.") var meetingOn:
            String
        @Option(help: "M (maintain), A (amend) or C (cease).") var outcome: String?
        @Option(name: .customLong("decided-on"), help: "The day the LA decided, YYYY-MM-DD (within 4 weeks).")
        var decidedOn: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            try record(
                EHCReview.spec, add: nil, update: nil,
                fields: ["plan_id": plan, "meeting_on": meetingOn, "outcome": outcome, "decided_on": decidedOn],
                store: storeOptions, author: authorOptions, output: output, done: "Recorded the review")
        }
    }

    struct Show: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a pupil's EHC needs assessments against their deadlines.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync ehc show H801200001001 --store northshire-la.sensync
                """))
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "UPN or record id of the pupil.") var pupil: String
        @OptionGroup var output: OutputOptions

        struct StepJSON: Encodable {
            var step: String
            var what: String
            var dueOn: String
            var doneOn: String?
            var onTime: Bool?
            var exceptionApplies: Bool
            var statute: String
            var endedOn: String?
        }

        /// A plan the assessment led to, with its annual reviews and the next one due.
        struct PlanJSON: Encodable {
            var plan: KindRecord
            var reviews: [KindRecord]
            var nextReviewDue: String?
        }

        struct AssessmentJSON: Encodable {
            var assessmentId: String
            var requestReceivedOn: String?
            var steps: [StepJSON]
            var plans: [PlanJSON]
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let timelines = try store.ehcTimelines(of: pupil)
            let plans = try store.records(EHCPlan.spec, of: pupil)
            let reviews = try store.records(EHCReview.spec, of: pupil)
            let nextReviews = try store.obligations(of: pupil).filter { $0.kind == "ehc-annual-review" }
            if output.json {
                let assessments = timelines.map { t in
                    AssessmentJSON(
                        assessmentId: t.assessment.id.description,
                        requestReceivedOn: t.assessment.values.text(EHCAssessment.Field.requestReceivedOn),
                        steps: t.steps.map {
                            StepJSON(
                                step: $0.step, what: $0.what, dueOn: $0.dueOn.description,
                                doneOn: $0.doneOn?.description, onTime: $0.onTime,
                                exceptionApplies: $0.exceptionApplies, statute: $0.statute,
                                endedOn: $0.endedOn?.description)
                        },
                        plans: plans.filter {
                            $0.values.text(EHCPlan.Field.assessmentID) == t.assessment.id.description
                        }.map { plan in
                            PlanJSON(
                                plan: plan,
                                reviews: reviews.filter {
                                    $0.values.text(EHCReview.Field.planID) == plan.id.description
                                },
                                nextReviewDue: nextReviews.first { $0.record == plan.id }?.dueOn.description)
                        })
                }
                try Terminal.printJSON(["assessments": assessments])
                return
            }
            if timelines.isEmpty { Terminal.print("No EHC needs assessment is recorded for this pupil.") }
            for t in timelines {
                Terminal.print(
                    "EHC needs assessment \(t.assessment.id): request received \(t.assessment.values.text(EHCAssessment.Field.requestReceivedOn) ?? "?")"
                )
                for line in timelineLines(t.steps, today: store.localToday) { Terminal.print("  " + line) }
                // The plan it led to, with its annual reviews and the next one due.
                for plan in plans where plan.values.text(EHCPlan.Field.assessmentID) == t.assessment.id.description {
                    let ceased = plan.values.text(EHCPlan.Field.ceasedOn).map { "; ceased \($0)" } ?? ""
                    Terminal.print(
                        "  EHC plan \(plan.id): issued \(plan.values.text(EHCPlan.Field.issuedOn) ?? "?")\(ceased)")
                    for review in reviews where review.values.text(EHCReview.Field.planID) == plan.id.description {
                        let outcome =
                            review.values.text(EHCReview.Field.outcome).map {
                                "; " + (CodeLists.named("ehc-review-outcome")?.label(of: $0) ?? $0).lowercased()
                            } ?? ""
                        let decided = review.values.text(EHCReview.Field.decidedOn).map { " (decided \($0))" } ?? ""
                        Terminal.print(
                            "    Annual review: meeting \(review.values.text(EHCReview.Field.meetingOn) ?? "?")\(outcome)\(decided)"
                        )
                        // Its two deadlines: the decision (4 weeks), and an amended plan (12 weeks).
                        for line in reviewDeadlines(review, of: plan, today: store.localToday) {
                            Terminal.print("      " + line)
                        }
                    }
                    for next in nextReviews where next.record == plan.id {
                        Terminal.print(
                            "    Next annual review due \(next.dueOn)\(next.isOverdue(asOf: store.localToday) ? " — OVERDUE" : "")"
                        )
                    }
                }
            }
        }
    }
}

extension SENSyncCommand.EHC {
    struct Timeliness: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "timeliness",
            abstract: "How many statutory deadlines were met, with and without exceptions.",
            discussion: HelpText.fitted(
                """
                For every assessment in this store whose deadline falls between --from and --to: per step (decision                 whether to assess, advice, decision not to issue, final plan), how many were met, missed with an                 exception recorded, and missed; and the share met including and excluding the excepted cases.

                Example:
                  sensync ehc timeliness --store northshire-la.sensync --from 2025-01-01 \\
                    --to 2025-12-31
                """))
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "First deadline date counted, YYYY-MM-DD.") var from: String
        @Option(help: "Last deadline date counted, YYYY-MM-DD.") var to: String
        @OptionGroup var output: OutputOptions

        struct StepJSON: Encodable {
            var step: String
            var due: Int
            var onTime: Int
            var lateWithException: Int
            var late: Int
            var percentIncludingExceptions: Double?
            var percentExcludingExceptions: Double?
        }

        func run() throws {
            guard let start = CalendarDate(from), let end = CalendarDate(to), start <= end else {
                throw CommandFailure(
                    code: .invalidInput, message: "--from and --to must be dates, --from first.",
                    hint: "Use YYYY-MM-DD.")
            }
            let store = try storeOptions.openForReading()
            let report = try store.ehcTimeliness(from: start, to: end)
            if output.json {
                try Terminal.printJSON([
                    "steps": report.steps.map {
                        StepJSON(
                            step: $0.step, due: $0.due, onTime: $0.onTime, lateWithException: $0.lateWithException,
                            late: $0.late, percentIncludingExceptions: $0.percentIncludingExceptions,
                            percentExcludingExceptions: $0.percentExcludingExceptions)
                    }
                ])
                return
            }
            func percent(_ p: Double?) -> String { p.map { String(format: "%.0f%%", $0) } ?? "-" }
            Terminal.table(
                ["STEP", "DUE", "ON TIME", "LATE (EXCEPTION)", "LATE", "MET", "MET EXCL. EXCEPTIONS"],
                report.steps.map {
                    [
                        $0.step, String($0.due), String($0.onTime), String($0.lateWithException), String($0.late),
                        percent($0.percentIncludingExceptions), percent($0.percentExcludingExceptions),
                    ]
                })
            if report.steps.isEmpty { Terminal.print("No deadline fell in that period.") }
        }
    }
}

/// The lines of an assessment's timeline, for people.
/// A review's deadlines as `ehc show` lists them: the LA's decision within 4 weeks of the
/// meeting, and an amended plan within 12 (by the plan's phase transfer deadline when that comes
/// first; a late decision was shown nowhere).
func reviewDeadlines(_ review: KindRecord, of plan: KindRecord, today: CalendarDate) -> [String] {
    let v = review.values
    guard let meeting = v.date(EHCReview.Field.meetingOn) else { return [] }
    func state(due: CalendarDate, done: CalendarDate?) -> String {
        if let done { return "done \(done), " + (done <= due ? "on time" : "late") }
        return today > due ? "OVERDUE" : "open"
    }
    let decisionDue = StatutoryClock.reviewDecisionDue(meeting: meeting)
    var lines = [
        "Decision after the review: due \(decisionDue) — \(state(due: decisionDue, done: v.date(EHCReview.Field.decidedOn)))"
    ]
    if v.text(EHCReview.Field.outcome) == "A" {
        let amendedDue = StatutoryClock.amendedPlanDue(meeting: meeting, plan: plan.values)
        lines.append(
            "Amended plan issued: due \(amendedDue) — \(state(due: amendedDue, done: v.date(EHCReview.Field.amendedIssuedOn)))"
        )
    }
    return lines
}

func timelineLines(_ steps: [EHCStep], today: CalendarDate) -> [String] {
    steps.map { s in
        let state: String
        switch (s.doneOn, s.onTime) {
        case _ where s.isHistoric: state = "historical request, not measured" + (s.doneOn.map { "; done \($0)" } ?? "")
        // A period, not a deadline (the family's time to comment on the draft): open until its
        // last day, then closed, whenever the plan was issued (it read "open" long after).
        case _ where s.isPeriod: state = today > s.dueOn ? "closed \(s.dueOn)" : "open until \(s.dueOn)"
        case (nil, nil) where s.endedOn != nil: state = "no longer due: the request ended \(s.endedOn!)"
        case (let done?, true): state = "done \(done), on time"
        case (let done?, false): state = "done \(done), late"
        case (let done?, nil): state = "done \(done)"
        case (nil, false) where s.endedOn != nil: state = "not done; the assessment ended \(s.endedOn!)"
        case (nil, false): state = "OVERDUE"
        default: state = "open"
        }
        return "\(s.what): due \(s.dueOn) (\(s.statute)) — \(state)\(s.exceptionApplies ? "; exception recorded" : "")"
    }
}

/// Wraps any encodable value.
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
