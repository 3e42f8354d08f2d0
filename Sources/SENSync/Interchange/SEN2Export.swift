import Foundation

/// The LA's SEN2 person-level return as values: the items of the DfE's SEN2 modules that SENSync
/// holds, one row per module record, in the order the return nests them (sen-domain.md §2.2).
///
/// The return has a reference date (the January census day) and counts the work of the calendar
/// year before it: every request for an EHC needs assessment received, decided, assessed or ended
/// in that year or still open during it, and the request behind every plan in force on the
/// reference date. Everything is as it stood on the reference date: a date after it has not
/// happened yet.
///
/// Modules, using the SEN2 XML element names:
/// - `Person`: the child or young person (UPN, names, date of birth).
/// - `Requests`: one per request (an ``EHCAssessment`` record): received date, outcome, its date.
/// - `Assessment`: for a request the LA agreed to assess (outcome Y) or a historical one (H): the
///   decision whether to issue a plan, its date, and whether 20-week exceptions apply.
/// - `NamedPlan`: the plan issued (start and cease dates).
/// - `ActivePlans`: a plan in force on the reference date, with the year's annual review;
///   under it `PlacementDetail` (the schools the pupil is on roll at, ranks 1 and 2) and `SENneed`
///   (the pupil's needs ranked 1 and 2, in the SEN2 codes).
///
/// Records that cannot be reported truthfully (a plan with no request, NSA as an active plan's
/// need, a school with no URN) are listed in ``problems`` and the export is refused. Columns,
/// sources, rules and what SEN2 asks for that SENSync does not hold are in
/// `Schemas/exports/sen2.md`.
public struct SEN2Export: Sendable {
    /// A SEN2 module, by its XML element name.
    public enum Module: String, Sendable, CaseIterable {
        case person = "Person"
        case requests = "Requests"
        case assessment = "Assessment"
        case namedPlan = "NamedPlan"
        case activePlans = "ActivePlans"
        case placementDetail = "PlacementDetail"
        case senNeed = "SENneed"
    }

    /// One module record.
    public struct Row: Sendable, Hashable {
        public var module: Module
        /// The person (pupil record id): the return's Person ID.
        public var person: RecordID
        /// The request (EHC needs assessment record id) the record sits under, below `Person`.
        public var request: RecordID?
        /// Item values by column name (``SEN2Export/header``); an item not set is empty.
        public var items: [String: String]
    }

    /// Columns no single field declares: the module and the ids that tie rows together, and items
    /// SENSync derives from several fields.
    public enum Derived {
        public static let module = "Module"
        public static let personID = "PersonID"
        public static let requestsID = "RequestsID"
        public static let assessmentOutcome = "AssessmentOutcome"
        public static let assessmentOutcomeDate = "AssessmentOutcomeDate"
        public static let week20 = "Week20"
        public static let placementRank = "PlacementRank"
    }

    /// The CSV header: `Module`, the ids, then each item by its SEN2 name (the declarations'
    /// `sen2:` names, or ``Derived`` for derived items).
    public static let header: [String] = [
        Derived.module, Derived.personID, Derived.requestsID,
        Pupil.Field.upn.sen2Name, Pupil.Field.surname.sen2Name, Pupil.Field.forename.sen2Name,
        Pupil.Field.dateOfBirth.sen2Name,
        EHCAssessment.Field.requestReceivedOn.sen2Name, EHCAssessment.Field.decision.sen2Name,
        EHCAssessment.Field.decidedOn.sen2Name,
        Derived.assessmentOutcome, Derived.assessmentOutcomeDate, Derived.week20,
        EHCPlan.Field.issuedOn.sen2Name, EHCPlan.Field.ceasedOn.sen2Name,
        EHCReview.Field.meetingOn.sen2Name, EHCReview.Field.outcome.sen2Name,
        Enrolment.Field.schoolID.sen2Name, Derived.placementRank, Enrolment.Field.entryDate.sen2Name,
        Enrolment.Field.leavingDate.sen2Name,
        SENNeedRecord.Field.need.sen2Name, SENNeedRecord.Field.rank.sen2Name,
    ]

    /// SEN2 ranks placements and needs 1 and 2 only.
    public static let ranks = 1...2

    /// The 20-week exceptions SEN2's `Week20` asks about: those to the final plan (reg 13(3)) and to
    /// the notice not to issue one (reg 10(4)).
    public static let week20Steps: Set<String> = ["final-plan", "no-plan"]

    /// The kinds of record the return reads from pupils' files.
    public static let kindsRead: Set<String> = [
        Pupil.name, Enrolment.name, SENNeedRecord.name, EHCAssessment.name, EHCException.name, EHCPlan.name,
        EHCReview.name,
    ]

    /// The LA making the return.
    public var la: SiteIdentity
    /// The collection year (`SEN2 2026`): the reference date's year.
    public var year: Int { referenceDate.year }
    public var referenceDate: CalendarDate
    /// The calendar year before the reference date, whose work the return counts.
    public var period: ClosedRange<CalendarDate> { Self.period(before: referenceDate) }
    /// Module records, person by person (by person id), each person's requests by received date.
    public var rows: [Row]
    /// Records that cannot be reported, by pupil; the export is refused while there are any.
    public var problems: [ExportProblem]

    /// The calendar year before `referenceDate`'s, as a range of days.
    static func period(before referenceDate: CalendarDate) -> ClosedRange<CalendarDate> {
        let year = referenceDate.year - 1
        return CalendarDate(year: year, month: 1, day: 1)...CalendarDate(year: year, month: 12, day: 31)
    }

    /// The reference date of the SEN2 collection of `year`: the January school census day (the
    /// third Thursday), which SEN2 collections have used; check the year's guide.
    public static func referenceDate(year: Int) -> CalendarDate { CensusTerm.spring.day(in: year) }

    /// Builds the return of `la` for `referenceDate` from pupils' files (with the kinds in
    /// ``kindsRead``). `sites` gives the schools pupils are on roll at (for their URNs).
    public init(la: SiteIdentity, referenceDate: CalendarDate, files: [PupilFile], sites: [SiteID: SiteIdentity]) {
        self.la = la
        self.referenceDate = referenceDate
        var rows: [Row] = []
        var problems: [ExportProblem] = []
        let context = Context(reference: referenceDate, sites: sites)
        for file in files.sorted(by: { $0.pupil < $1.pupil }) {
            var person = PersonReturn(file: file, context: context)
            person.build()
            rows += person.rows
            problems += person.problems
        }
        self.rows = rows
        self.problems = problems
    }

    /// The rows as CSV cells, in ``header`` order.
    public var csvRows: [[String]] {
        rows.map { row in
            Self.header.map { column in
                switch column {
                case Derived.module: row.module.rawValue
                case Derived.personID: row.person.description
                case Derived.requestsID: row.request?.description ?? ""
                default: row.items[column] ?? ""
                }
            }
        }
    }
}

extension SEN2Export {
    fileprivate struct Context {
        let reference: CalendarDate
        let period: ClosedRange<CalendarDate>
        let sites: [SiteID: SiteIdentity]
        let sen2Types = CodeLists.named("sen2-sen-type")
        let decisions = CodeLists.named("ehc-decision")
        let reviewOutcomes = CodeLists.named("ehc-review-outcome")

        init(reference: CalendarDate, sites: [SiteID: SiteIdentity]) {
            self.reference = reference
            period = SEN2Export.period(before: reference)
            self.sites = sites
        }

        /// The date, if it had come by the reference date.
        func known(_ date: CalendarDate?) -> CalendarDate? { date.flatMap { $0 <= reference ? $0 : nil } }
        func inPeriod(_ date: CalendarDate?) -> Bool { date.map { period.contains($0) } ?? false }
    }

    /// One person's part of the return.
    fileprivate struct PersonReturn {
        let file: PupilFile
        let context: Context
        var rows: [Row] = []
        var problems: [ExportProblem] = []

        init(file: PupilFile, context: Context) {
            self.file = file
            self.context = context
        }

        var pupil: RecordID { file.pupil }

        mutating func problem(_ message: String, hint: String? = nil) {
            problems.append(ExportProblem(pupil: pupil, message, hint: hint))
        }

        mutating func add(_ module: Module, request: RecordID? = nil, _ items: [String: String?]) {
            rows.append(Row(module: module, person: pupil, request: request, items: items.compactMapValues { $0 }))
        }

        mutating func build() {
            guard let person = file.live(Pupil.name).first else { return }
            let c = context
            let assessments = file.live(EHCAssessment.name).sorted {
                ($0.text(EHCAssessment.Field.requestReceivedOn), $0.id)
                    < ($1.text(EHCAssessment.Field.requestReceivedOn), $1.id)
            }
            let assessmentIDs = Set(assessments.map(\.id.description))

            // Plans by the assessment they were issued from; every plan SEN2 counts needs one.
            var plansOf: [String: [KindRecord]] = [:]
            var inForce: [RecordID] = []
            for plan in file.live(EHCPlan.name) {
                let isActive = plan.applies(on: c.reference, from: EHCPlan.Field.issuedOn, to: .ceasedOn)
                if isActive { inForce.append(plan.id) }
                if let assessment = plan.values.text(EHCPlan.Field.assessmentID), assessmentIDs.contains(assessment) {
                    plansOf[assessment, default: []].append(plan)
                } else if isActive || c.inPeriod(plan.values.date(EHCPlan.Field.issuedOn))
                    || c.inPeriod(plan.values.date(EHCPlan.Field.ceasedOn))
                {
                    problem(
                        "An EHC plan (\(plan.id)) "
                            + (isActive
                                ? "in force on \(c.reference)" : "issued or ceased in \(c.period.lowerBound.year)")
                            + " is not linked to the EHC needs assessment it was issued from; SEN2 reports every plan "
                            + "under its request.",
                        hint:
                            "Link it with `sensync ehc-plan update \(plan.id) --assessment-id ID`. For a plan made "
                            + "before these records were kept, or transferred from another LA, record its request "
                            + "first (`sensync ehc request`, then `sensync ehc decide ID --decision H --on DATE`).")
                }
            }
            if inForce.count > 1 {
                problem(
                    "\(inForce.count) EHC plans are in force on \(c.reference); SEN2 reports one plan in force per "
                        + "person.",
                    hint:
                        "Record the cease date of the plan that ended (`sensync ehc-plan update ID --ceased-on DATE`).")
            }

            let start = rows.count
            for assessment in assessments {
                request(assessment, plans: plansOf[assessment.id.description] ?? [], inForce: inForce)
            }
            // A person appears when at least one of their requests does.
            if rows.count > start {
                let v = person.values
                rows.insert(
                    Row(
                        module: .person, person: pupil, request: nil,
                        items: [
                            Pupil.Field.upn.sen2Name: v.text(Pupil.Field.upn),
                            Pupil.Field.surname.sen2Name: v.text(Pupil.Field.surname),
                            Pupil.Field.forename.sen2Name: v.text(Pupil.Field.forename),
                            Pupil.Field.dateOfBirth.sen2Name: v.text(Pupil.Field.dateOfBirth),
                        ].compactMapValues { $0 }), at: start)
            }
        }

        /// One request with the modules below it, if the return counts it.
        mutating func request(_ assessment: KindRecord, plans: [KindRecord], inForce: [RecordID]) {
            let c = context
            let v = assessment.values
            typealias F = EHCAssessment.Field
            guard let received = v.date(F.requestReceivedOn), received <= c.period.upperBound else { return }
            if plans.count > 1 {
                problem(
                    "\(plans.count) EHC plans name the same EHC needs assessment (\(assessment.id)); SEN2 reports one "
                        + "plan per request.",
                    hint: "Delete the one made in error (`sensync record delete ID`).")
                return
            }
            let plan = plans.first
            let planIssued = plan?.values.date(EHCPlan.Field.issuedOn)
            let planCeased = plan?.values.date(EHCPlan.Field.ceasedOn)
            let finalOn = v.date(F.finalIssuedOn)
            let decision = v.text(F.decision)
            let decidedOn = v.date(F.decidedOn)
            let isReassessment = v.integer(F.isReassessment) == 1
            let isInForce = plan.map { inForce.contains($0.id) } ?? false

            // Counted: received in the year, anything happening in it, still open at its start, or the
            // request behind a plan in force.
            let events = [decidedOn, v.date(F.noPlanOn), v.date(F.draftServedOn), finalOn, v.date(F.withdrawnOn)]
            let ends = [
                v.date(F.withdrawnOn), v.date(F.noPlanOn), finalOn ?? planIssued,
                ["N", "W", "H"].contains(decision) ? decidedOn : nil,
            ]
            let endedBefore = ends.contains { $0.map { $0 < c.period.lowerBound } ?? false }
            guard
                c.inPeriod(received) || (events + [planIssued, planCeased]).contains(where: c.inPeriod)
                    || (received < c.period.lowerBound && !endedBefore) || isInForce
            else { return }

            if let planIssued, let finalOn, planIssued != finalOn {
                problem(
                    "The EHC plan's issue date (\(planIssued)) and its assessment's final plan date (\(finalOn)) "
                        + "differ.",
                    hint:
                        "Correct one (`sensync ehc-plan update ID --issued-on DATE` or `sensync ehc-assessment update "
                        + "\(assessment.id) --final-issued-on DATE`).")
            }
            if plan == nil, let final = c.known(finalOn) {
                problem(
                    "The EHC needs assessment \(assessment.id) records a final plan issued on \(final), but no "
                        + "EHC plan was made from it.",
                    hint: "Issue the plan: `sensync ehc issue \(assessment.id) --on \(final)`.")
            }
            if let decision, c.decisions?.codes.contains(where: { $0.code == decision }) == false {
                problem(
                    "'\(decision)' is not a SEN2 request outcome.",
                    hint: "Use one of: \(c.decisions?.codeSummary ?? "Y, N, A, W, H").")
            }

            // Requests: the decision whether to assess, as it stood on the reference date.
            let withdrawn = c.known(v.date(F.withdrawnOn))
            var outcome = "A"
            var outcomeDate: CalendarDate?
            if let decision, decision != "A", let on = decidedOn ?? (isReassessment ? received : nil),
                on <= c.reference
            {
                (outcome, outcomeDate) = (decision, on)
            } else if let withdrawn {
                (outcome, outcomeDate) = ("W", withdrawn)
            } else if isReassessment {
                // A re-assessment (reg 27) has no separate decision whether to assess.
                (outcome, outcomeDate) = ("Y", received)
            }
            add(
                .requests, request: assessment.id,
                [
                    F.requestReceivedOn.sen2Name: received.description, F.decision.sen2Name: outcome,
                    F.decidedOn.sen2Name: outcomeDate?.description,
                ])

            // Assessment: whether to issue a plan.
            let final = c.known(planIssued ?? finalOn)
            if outcome == "Y" || outcome == "H" {
                let draft = c.known(v.date(F.draftServedOn))
                var issue = "A"
                var issueDate: CalendarDate?
                if outcome == "H" {
                    issue = "H"
                } else if final != nil || draft != nil {
                    // The LA serves the draft once it has decided to issue.
                    (issue, issueDate) = ("Y", draft ?? final)
                } else if let noPlan = c.known(v.date(F.noPlanOn)) {
                    (issue, issueDate) = ("N", noPlan)
                } else if let withdrawn {
                    (issue, issueDate) = ("W", withdrawn)
                }
                // As the assessment's timeline judges it on the reference date (one rule for
                // `ehc show`, timeliness and the return): an exception counts only while the
                // step's clock ran, before it was done and before its deadline passed (one before
                // the request, or after the plan was already late, set Week20 here).
                let excepted = EHCTimeline.steps(
                    of: assessment.asOf(c.reference), exceptions: file.live(EHCException.name), advice: [],
                    asOf: c.reference
                ).contains { SEN2Export.week20Steps.contains($0.step) && $0.exceptionApplies }
                add(
                    .assessment, request: assessment.id,
                    [
                        Derived.assessmentOutcome: issue, Derived.assessmentOutcomeDate: issueDate?.description,
                        Derived.week20: excepted ? "1" : "0",
                    ])
                if let final {
                    add(
                        .namedPlan, request: assessment.id,
                        [
                            EHCPlan.Field.issuedOn.sen2Name: final.description,
                            EHCPlan.Field.ceasedOn.sen2Name: c.known(planCeased)?.description,
                        ])
                }
            } else if final != nil {
                problem(
                    "The EHC needs assessment \(assessment.id) has a plan but no decision to assess by \(c.reference).",
                    hint: "Record it: `sensync ehc decide \(assessment.id) --decision assess --on DATE`.")
            }

            if let plan, isInForce { activePlan(plan, request: assessment.id) }
        }

        /// A plan in force on the reference date, its year's review, placements and needs.
        mutating func activePlan(_ plan: KindRecord, request: RecordID) {
            let c = context
            let review = file.live(EHCReview.name).filter {
                $0.values.text(EHCReview.Field.planID) == plan.id.description
                    && c.inPeriod($0.values.date(EHCReview.Field.meetingOn))
            }.max { $0.text(EHCReview.Field.meetingOn) < $1.text(EHCReview.Field.meetingOn) }
            let reviewOutcome = review.flatMap { r -> String? in
                c.known(r.values.date(EHCReview.Field.decidedOn)) == nil ? nil : r.values.text(EHCReview.Field.outcome)
            }
            if let reviewOutcome, c.reviewOutcomes?.codes.contains(where: { $0.code == reviewOutcome }) == false {
                problem(
                    "'\(reviewOutcome)' is not a SEN2 review outcome.",
                    hint: "Use one of: \(c.reviewOutcomes?.codeSummary ?? "A, C, M").")
            }
            add(
                .activePlans, request: request,
                [
                    EHCReview.Field.meetingOn.sen2Name: review?.values.text(EHCReview.Field.meetingOn),
                    EHCReview.Field.outcome.sen2Name: reviewOutcome,
                ])

            // Placements: the schools the pupil is on roll at, earliest entry first.
            let placements = file.live(Enrolment.name).filter {
                $0.applies(on: c.reference, from: Enrolment.Field.entryDate, to: .leavingDate)
            }.sorted { ($0.text(Enrolment.Field.entryDate), $0.id) < ($1.text(Enrolment.Field.entryDate), $1.id) }
            if placements.count > SEN2Export.ranks.upperBound {
                problem(
                    "The pupil is on the roll of \(placements.count) schools on \(c.reference); SEN2 takes at most two "
                        + "placements.",
                    hint:
                        "Check the enrolments (`sensync pupil show \(pupil)`): a move is recorded with `sensync pupil "
                        + "transfer`, an enrolment made in error is removed with `sensync record delete ID`.")
            }
            for (index, placement) in placements.prefix(SEN2Export.ranks.upperBound).enumerated() {
                let v = placement.values
                let site = v.text(Enrolment.Field.schoolID).flatMap(SiteID.init).flatMap { c.sites[$0] }
                guard let site else {
                    problem(
                        "A school the pupil is on roll at is not in this store's area directory.",
                        hint: "Check `sensync directory list`; the school joins it with `sensync directory add`.")
                    continue
                }
                guard let urn = site.urn, SiteRules.isValidURN(urn) else {
                    problem(
                        "\(site.name) has no URN in the area directory; SEN2 names a school by its URN.",
                        hint:
                            "A school's URN is set when its store is made (`sensync init --urn`) and reaches the LA "
                            + "with its identity file (`sensync directory add`).")
                    continue
                }
                add(
                    .placementDetail, request: request,
                    [
                        Enrolment.Field.schoolID.sen2Name: urn, Derived.placementRank: String(index + 1),
                        Enrolment.Field.entryDate.sen2Name: v.text(Enrolment.Field.entryDate),
                        Enrolment.Field.leavingDate.sen2Name: v.text(Enrolment.Field.leavingDate),
                    ])
            }

            // Needs: the pupil's current needs ranked 1 and 2, in the SEN2 codes.
            let needs = file.live(SENNeedRecord.name).filter {
                $0.applies(on: c.reference, from: SENNeedRecord.Field.startDate, to: .endDate)
            }
            let ranks = needs.compactMap { $0.values.integer(SENNeedRecord.Field.rank) }
            if Set(ranks).count != ranks.count {
                problem(
                    "Two of the pupil's current needs share a rank.",
                    hint: "Give each need its own rank (`sensync sen-need update ID --rank N`); 1 is the primary need.")
            }
            for rank in SEN2Export.ranks {
                guard
                    let code = needs.first(where: { $0.values.integer(SENNeedRecord.Field.rank) == Int64(rank) })?
                        .values.text(SENNeedRecord.Field.need)
                else {
                    if rank == 1 {
                        problem(
                            "An EHC plan is in force on \(c.reference) but the pupil has no current primary (rank 1) "
                                + "need; SEN2 reports the needs of every plan in force.",
                            hint: "Record it with `sensync sen-need add --pupil \(pupil) --need CODE --rank 1 "
                                + "--start-date DATE`.")
                    }
                    continue
                }
                if code == "NSA" {
                    // Refused, not mapped: see Schemas/exports/sen2.md.
                    problem(
                        "The rank \(rank) need is NSA (SEN support with no specialist assessment of need), which SEN2 "
                            + "does not have: a pupil with an EHC plan has been assessed, so their type of need is "
                            + "known.",
                        hint:
                            "End the NSA need and record the need the EHC needs assessment identified "
                            + "(`sensync sen-need add --pupil \(pupil) --need CODE --rank \(rank) --start-date DATE`).")
                } else if c.sen2Types?.codes.contains(where: { $0.code == code }) == false
                    || !CensusRules.isCollected(code, on: c.reference)
                {
                    problem(
                        "'\(code)' is not a SEN2 SEN type in \(c.reference.year).",
                        hint: "Use one of: \(c.sen2Types?.codeSummary ?? "the SEN2 codes")"
                            + (CensusRules.isCollected(code, on: c.reference) ? "." : " (DS from 2025)."))
                } else {
                    add(
                        .senNeed, request: request,
                        [SENNeedRecord.Field.need.sen2Name: code, SENNeedRecord.Field.rank.sen2Name: String(rank)])
                }
            }
        }
    }
}

extension Store {
    /// The LA's SEN2 person-level return for the collection with `referenceDate` (by default the
    /// latest January census day on or before today): what SENSync holds of it, from everything this
    /// store holds.
    ///
    /// - Throws: ``StoreError`` when this store is not the LA's (SEN2 is the LA's return).
    public func sen2Export(referenceDate: CalendarDate? = nil) throws -> SEN2Export {
        guard identity.kind == .la else {
            throw StoreError(
                .invalidInput,
                "SEN2 is the local authority's return; this is a \(identity.kind.label)'s store.",
                hint: "Run `sensync export sen2` with the LA's store.")
        }
        let reference = referenceDate ?? SEN2Export.latestReferenceDate(onOrBefore: today)
        let (files, directory) = try writer.read { db in
            (try exportFiles(kinds: SEN2Export.kindsRead, in: db), try Self.directory(in: db))
        }
        var sites: [SiteID: SiteIdentity] = [identity.id: identity]
        for entry in directory?.entries ?? [] { sites[entry.site.id] = entry.site }
        return SEN2Export(la: identity, referenceDate: reference, files: files, sites: sites)
    }
}

extension SEN2Export {
    /// The reference date of the latest SEN2 collection whose reference date is on or before `day`.
    public static func latestReferenceDate(onOrBefore day: CalendarDate) -> CalendarDate {
        let thisYear = referenceDate(year: day.year)
        return thisYear <= day ? thisYear : referenceDate(year: day.year - 1)
    }
}

extension KindRecord {
    /// A text field's value for sorting: empty when not set (dates sort as text).
    fileprivate func text<F: KindField>(_ field: F) -> String { values.text(field) ?? "" }
}
