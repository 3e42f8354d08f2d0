import Foundation

/// A plain-English summary of a pupil's SEN record that a family could read: needs, the support in
/// place, who is responsible for each part, what was decided and what comes next. No codes, no
/// ids, no internal terms.
public struct FamilySummary: Sendable {
    /// A part of the document.
    public enum Block: Sendable, Hashable {
        case title(String)
        case heading(String)
        case subheading(String)
        case paragraph(String)
        case list([String])
    }

    public var blocks: [Block]

    /// Builds the summary from a pupil's file.
    public init(
        forename: String, surname: String, file: PupilFile, preparedBy: String, on today: CalendarDate,
        obligations: [Obligation]
    ) {
        var blocks: [Block] = [.title("A summary of \(forename) \(surname)'s support")]
        blocks.append(.paragraph("Prepared by \(preparedBy) on \(Self.words(today))."))
        let child = forename
        func label(_ list: String, _ code: String?) -> String? {
            code.map { CodeLists.label(list, $0) }
        }
        func live(_ kind: String) -> [KindRecord] { (file.records[kind] ?? []).filter { !$0.isDeleted } }

        // Needs.
        blocks.append(.heading("What \(child) finds difficult"))
        let needs = live(SENNeedRecord.name).filter { $0.values[SENNeedRecord.Field.endDate] == nil }
            .sorted {
                ($0.values.integer(SENNeedRecord.Field.rank) ?? 9) < ($1.values.integer(SENNeedRecord.Field.rank) ?? 9)
            }
        if needs.isEmpty {
            blocks.append(.paragraph("No special educational needs are recorded for \(child) at the moment."))
        } else {
            blocks.append(
                .list(
                    needs.enumerated().map { index, need in
                        let text = label("census-sen-type", need.values.text(SENNeedRecord.Field.need)) ?? "A need"
                        return index == 0 ? "\(text) (the main need)" : text
                    }))
        }
        let provision = live(SENEpisode.name).filter { $0.values[SENEpisode.Field.endDate] == nil }
            .compactMap { $0.values.text(SENEpisode.Field.provision) }
        if provision.contains("E") || !live(EHCPlan.name).filter({ $0.values[EHCPlan.Field.ceasedOn] == nil }).isEmpty {
            blocks.append(.paragraph("\(child) has an education, health and care (EHC) plan."))
        } else if provision.contains("K") {
            blocks.append(.paragraph("\(child) gets extra help at school (SEN support)."))
        }

        // Support in place.
        let plans = live(SupportPlan.name).filter { $0.values.text(SupportPlan.Field.status) != "closed" }
        blocks.append(.heading("The support in place"))
        if plans.isEmpty { blocks.append(.paragraph("There is no support plan in place at the moment.")) }
        for plan in plans {
            let v = plan.values
            blocks.append(.subheading(v.text(SupportPlan.Field.title) ?? "Support plan"))
            var lines: [String] = []
            if let person = v.text(SupportPlan.Field.responsiblePerson) ?? v.text(SupportPlan.Field.responsibleOrg) {
                let org = v.text(SupportPlan.Field.responsibleOrg).map { " at \($0)" } ?? ""
                lines.append(
                    "Responsible for this plan: \(person)\(v.text(SupportPlan.Field.responsiblePerson) == nil ? "" : org)."
                )
            }
            if let review = v.date(SupportPlan.Field.reviewDate) {
                lines.append("Next review by \(Self.words(review)).")
            }
            blocks.append(.paragraph(lines.joined(separator: " ")))
            let items = live(ProvisionItem.name).filter {
                $0.values.text(ProvisionItem.Field.planID) == plan.id.description
            }
            if !items.isEmpty {
                blocks.append(.paragraph("What is provided:"))
                blocks.append(.list(items.map { Self.provisionSentence($0.values) }))
            }
            let outcomes = live(PlanOutcome.name).filter {
                $0.values.text(PlanOutcome.Field.planID) == plan.id.description
            }
            if !outcomes.isEmpty {
                blocks.append(.paragraph("What we hope \(child) will achieve:"))
                blocks.append(
                    .list(
                        outcomes.map { outcome in
                            let o = outcome.values
                            var text = o.text(PlanOutcome.Field.description) ?? "An outcome"
                            if let target = o.date(PlanOutcome.Field.targetDate) { text += " by \(Self.words(target))" }
                            if let status = o.text(PlanOutcome.Field.status), status != "open" {
                                text += " — \(label("outcome-status", status)?.lowercased() ?? status)"
                            }
                            return text
                        }))
            }
        }

        // Outside help.
        let referrals = live(Referral.name)
        if !referrals.isEmpty {
            blocks.append(.heading("Help asked for from outside the school"))
            blocks.append(
                .list(
                    referrals.map { referral in
                        let v = referral.values
                        var parts = [
                            "\(label("referral-agency", v.text(Referral.Field.agency)) ?? "An outside service"): asked for on \(v.date(Referral.Field.referredOn).map(Self.words) ?? "an unknown date")"
                        ]
                        if let d = v.date(Referral.Field.acceptedOn) { parts.append("accepted on \(Self.words(d))") }
                        if let d = v.date(Referral.Field.declinedOn) { parts.append("not taken on (\(Self.words(d)))") }
                        if let d = v.date(Referral.Field.firstSeenOn) {
                            parts.append("first appointment on \(Self.words(d))")
                        }
                        if let d = v.date(Referral.Field.closedOn) { parts.append("finished on \(Self.words(d))") }
                        if v[Referral.Field.acceptedOn] == nil && v[Referral.Field.declinedOn] == nil
                            && v[Referral.Field.closedOn] == nil
                        {
                            parts.append("waiting for an answer")
                        }
                        return parts.joined(separator: "; ") + "."
                    }))
        }

        // Decisions.
        let reviews = live(PlanReview.name)
        if !reviews.isEmpty {
            blocks.append(.heading("What was decided"))
            blocks.append(
                .list(
                    reviews.map { review in
                        let v = review.values
                        let plan = plans.first { $0.id.description == v.text(PlanReview.Field.planID) }
                        var text =
                            "\(v.date(PlanReview.Field.heldOn).map(Self.words) ?? "Undated"): review of \(plan?.values.text(SupportPlan.Field.title).map { "\"\($0)\"" } ?? "a support plan") — \(Self.decisionWords(v.text(PlanReview.Field.decision)))."
                        if let next = v.date(PlanReview.Field.nextReviewDate) {
                            text += " Next review by \(Self.words(next))."
                        }
                        return text
                    }))
        }

        // EHC.
        let assessments = live(EHCAssessment.name)
        if !assessments.isEmpty {
            blocks.append(.heading("The education, health and care needs assessment"))
            for assessment in assessments {
                let v = assessment.values
                var sentences: [String] = []
                if let d = v.date(EHCAssessment.Field.requestReceivedOn) {
                    sentences.append("The local authority received the request on \(Self.words(d)).")
                }
                if let d = v.date(EHCAssessment.Field.decidedOn) {
                    sentences.append(
                        v.text(EHCAssessment.Field.decision) == "N"
                            ? "On \(Self.words(d)) it decided not to carry out an assessment."
                            : "On \(Self.words(d)) it decided to carry out an assessment.")
                }
                if let d = v.date(EHCAssessment.Field.draftServedOn) {
                    sentences.append(
                        "A draft plan was sent on \(Self.words(d)); the family had until \(Self.words(StatutoryClock.draftCommentsClose(draftServedOn: d))) to comment."
                    )
                }
                if let d = v.date(EHCAssessment.Field.noPlanOn) {
                    sentences.append("On \(Self.words(d)) it decided not to issue a plan.")
                }
                if let d = v.date(EHCAssessment.Field.finalIssuedOn) {
                    sentences.append("The final plan was issued on \(Self.words(d)).")
                }
                blocks.append(.paragraph(sentences.joined(separator: " ")))
            }
        }
        for plan in live(EHCPlan.name) {
            let sections = live(EHCSection.name).filter {
                $0.values.text(EHCSection.Field.planID) == plan.id.description
            }
            guard !sections.isEmpty else { continue }
            blocks.append(.subheading("Who is responsible for each part of the EHC plan"))
            blocks.append(
                .list(
                    sections.map {
                        "\(label("ehc-section", $0.values.text(EHCSection.Field.section)) ?? "A section"): \($0.values.text(EHCSection.Field.ownerAgency) ?? "not named")"
                    }))
        }

        // What comes next.
        let coming = obligations
        blocks.append(.heading("What happens next"))
        if coming.isEmpty {
            blocks.append(.paragraph("Nothing is planned yet."))
        } else {
            blocks.append(
                .list(
                    coming.prefix(10).map { o in
                        let whose = [o.responsibleRole, o.responsibleOrg].compactMap { $0 }.joined(separator: ", ")
                        // A date that has passed is not "by" it: the step is late, and says so.
                        let when =
                            o.dueOn < today
                            ? "Due by \(Self.words(o.dueOn)), and not yet done" : "By \(Self.words(o.dueOn))"
                        return "\(when): \(Self.plain(o)) (\(whose))."
                    }))
        }
        self.blocks = blocks
    }

    /// "12 January 2026".
    public static func words(_ date: CalendarDate) -> String {
        let months = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November",
            "December",
        ]
        return "\(date.day) \(months[date.month - 1]) \(date.year)"
    }

    static func decisionWords(_ code: String?) -> String {
        switch code {
        case "continue": "keep the plan as it is"
        case "modify": "change the plan"
        case "escalate": "ask the local authority for an education, health and care needs assessment"
        case "close": "the plan is no longer needed"
        default: "no decision recorded"
        }
    }

    /// A duty in a family's words (the titles people gave plans are kept as written).
    static func plain(_ obligation: Obligation) -> String {
        switch obligation.kind {
        case "ehc-decision":
            "The local authority decides whether to carry out an education, health and care needs assessment"
        case "ehc-advice": "Advice for the assessment is due"
        case "ehc-no-plan": "The local authority decides whether to issue an education, health and care plan"
        case "ehc-draft-comments": "Last day for the family to comment on the draft plan"
        case "ehc-final-plan": "The final education, health and care plan is due"
        case "ehc-annual-review": "Annual review of the education, health and care plan"
        case "ehc-review-decision": "The local authority's decision after the annual review"
        case "ehc-amended-plan": "The amended education, health and care plan is due"
        case "ehc-phase-transfer": "The plan is reviewed for the move to the next school or college"
        case "referral-response": "An answer to the referral is expected"
        case "escalation-response": "A response to the complaint is due"
        default: obligation.what
        }
    }

    static func provisionSentence(_ v: KindValues) -> String {
        var text = v.text(ProvisionItem.Field.description) ?? "Support"
        var how: [String] = []
        if let n = v.integer(ProvisionItem.Field.sessionsPerWeek) {
            how.append("\(n) session\(n == 1 ? "" : "s") a week")
        }
        if let m = v.integer(ProvisionItem.Field.minutesPerSession) { how.append("\(m) minutes each") }
        if let g = v.integer(ProvisionItem.Field.groupSize) { how.append(g == 1 ? "one to one" : "in a group of \(g)") }
        if let w = v.integer(ProvisionItem.Field.weeksPerYear) { how.append("\(w) weeks a year") }
        if how.isEmpty, let free = v.text(ProvisionItem.Field.frequency) { how.append(free) }
        if !how.isEmpty { text += ": " + how.joined(separator: ", ") }
        if let role = v.text(ProvisionItem.Field.staffRole) {
            text += ". Given by a \(CodeLists.named("staff-role")?.label(of: role).lowercased() ?? role)"
        } else if let provider = v.text(ProvisionItem.Field.provider) {
            text += ". Given by \(provider)"
        }
        if let person = v.text(ProvisionItem.Field.responsiblePerson) {
            text += ". Responsible: \(person)\(v.text(ProvisionItem.Field.responsibleOrg).map { ", \($0)" } ?? "")"
        }
        return text + "."
    }

    /// Markdown.
    public var markdown: String {
        blocks.map { block in
            switch block {
            case .title(let t): "# \(t)\n"
            case .heading(let t): "## \(t)\n"
            case .subheading(let t): "### \(t)\n"
            case .paragraph(let t): "\(t)\n"
            case .list(let items): items.map { "- \($0)" }.joined(separator: "\n") + "\n"
            }
        }.joined(separator: "\n")
    }

    /// A standalone HTML page.
    public var html: String {
        var title = "Support summary"
        let page: [HTMLDocument.Block] = blocks.compactMap { block in
            switch block {
            case .title(let t):
                title = t
                return nil
            case .heading(let t): return .heading(t)
            case .subheading(let t): return .subheading(t)
            case .paragraph(let t): return .paragraph(t)
            case .list(let items): return .list(items)
            }
        }
        return HTMLDocument(title: title, blocks: page).html
    }
}
