import Foundation

extension AreaReport {
    /// The report as JSON (`report area --format json`); the shape is documented in
    /// `Schemas/reports/area-report.md` and pinned by a test.
    public struct Export: Codable, Sendable, Hashable {
        public struct Wait: Codable, Sendable, Hashable {
            public var count: Int
            public var medianDays, p90Days, longestDays: Int?
            init(_ w: WaitSummary) {
                count = w.count
                medianDays = w.median
                p90Days = w.p90
                longestDays = w.longest
            }
        }
        public struct Headline: Codable, Sendable, Hashable {
            public var pupils, senSupport, ehcPlans, overdueDuties, referralsWaiting, possibleDuplicatePupils: Int
        }
        public struct School: Codable, Sendable, Hashable {
            public var name: String
            public var pupils, senSupport, ehcPlans, concernsPastReview, overdueDuties: Int
            public var roll: Int?
            public var senSupportPercentOfRoll, ehcPlanPercentOfRoll: Double?
            public var concernToSupport: Wait
        }
        public struct Count: Codable, Sendable, Hashable {
            public var code: String
            public var label: String
            public var count: Int
        }
        public struct Agency: Codable, Sendable, Hashable {
            public var agency, label: String
            public var seen, waiting: Wait
            public var seenWithin6Weeks, seenIn6To12Weeks, seenIn12To18Weeks, seenAfter18Weeks: Int
        }
        public struct Step: Codable, Sendable, Hashable {
            public var step: String
            public var due, onTime, lateWithException, late: Int
            public var percentMet, percentMetExcludingExceptions: Double?
        }
        public struct EHCOverdueRow: Codable, Sendable, Hashable {
            public var step, organisation: String
            public var count: Int
            public var oldestDueOn: String
        }
        public struct Organisation: Codable, Sendable, Hashable {
            public var organisation: String
            public var overdueDuties: Int
        }
        public struct Stage: Codable, Sendable, Hashable {
            public var stage, label: String
            public var open, pastResponseDate: Int
        }

        public var format = "sensync-area-report"
        public var version = 1
        public var asOf: String
        public var heldBy: String
        public var sites: [String]
        public var headline: Headline
        public var schools: [School]
        public var primaryNeeds: [Count]
        public var broadAreas: [Count]
        public var agencies: [Agency]
        public var ehcTimeliness: [Step]
        public var ehcOverdue: [EHCOverdueRow]
        public var overdueByOrganisation: [Organisation]
        public var escalations: [Stage]
        public var possibleDuplicatePupils: Int
        public var freshness: [PeerHealth.Export]
    }

    /// The report's values in the documented JSON shape.
    public var export: Export {
        return Export(
            asOf: asOf.description, heldBy: heldBy, sites: sites, headline: headline,
            schools: schools.map {
                .init(
                    name: $0.name, pupils: $0.pupils, senSupport: $0.senSupport, ehcPlans: $0.ehcPlans,
                    concernsPastReview: $0.concernsPastReview, overdueDuties: $0.overdueDuties, roll: $0.roll,
                    senSupportPercentOfRoll: $0.senSupportShare, ehcPlanPercentOfRoll: $0.ehcPlanShare,
                    concernToSupport: .init($0.concernToSupport))
            },
            primaryNeeds: primaryNeeds.map {
                .init(code: $0.code, label: CodeLists.label("census-sen-type", $0.code), count: $0.count)
            },
            broadAreas: broadAreas.map {
                .init(code: $0.area, label: CodeLists.label("broad-area-of-need", $0.area), count: $0.count)
            },
            agencies: agencies.map {
                .init(
                    agency: $0.agency, label: CodeLists.label("referral-agency", $0.agency), seen: .init($0.seen),
                    waiting: .init($0.waiting), seenWithin6Weeks: $0.distribution[0],
                    seenIn6To12Weeks: $0.distribution[1],
                    seenIn12To18Weeks: $0.distribution[2], seenAfter18Weeks: $0.distribution[3])
            },
            ehcTimeliness: timeliness.steps.map {
                .init(
                    step: $0.step, due: $0.due, onTime: $0.onTime, lateWithException: $0.lateWithException,
                    late: $0.late,
                    percentMet: $0.percentIncludingExceptions,
                    percentMetExcludingExceptions: $0.percentExcludingExceptions)
            },
            ehcOverdue: ehcOverdue.map {
                .init(
                    step: $0.step, organisation: $0.organisation, count: $0.count,
                    oldestDueOn: $0.oldestDueOn.description)
            },
            overdueByOrganisation: overdueByOrganisation.map {
                .init(organisation: $0.organisation, overdueDuties: $0.count)
            },
            escalations: escalations.map {
                .init(
                    stage: $0.stage, label: CodeLists.label("escalation-stage", $0.stage), open: $0.open,
                    pastResponseDate: $0.overdue)
            },
            possibleDuplicatePupils: possibleDuplicatePupils, freshness: freshness.map(\.export))
    }

    /// The headline panel's figures, for the area as a whole.
    public var headline: Export.Headline {
        Export.Headline(
            pupils: schools.map(\.pupils).reduce(0, +), senSupport: schools.map(\.senSupport).reduce(0, +),
            ehcPlans: schools.map(\.ehcPlans).reduce(0, +), overdueDuties: schools.map(\.overdueDuties).reduce(0, +),
            referralsWaiting: agencies.map(\.waiting.count).reduce(0, +),
            possibleDuplicatePupils: possibleDuplicatePupils)
    }

    public static let csvHeader = ["section", "group", "detail", "measure", "value"]

    /// The report as long-format CSV (`report area --format csv`): one figure per row, so a
    /// spreadsheet or analysis tool can pivot it; sections, measures and units are documented in
    /// `Schemas/reports/area-report.md`.
    public var csvRows: [[String]] {
        func n(_ v: Int?) -> String { v.map(String.init) ?? "" }
        func p(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "" }
        var rows: [[String]] = [
            ["report", "", "", "as_of", asOf.description], ["report", "", "", "held_by", heldBy],
        ]
        rows += sites.map { ["report", "", "", "site_included", $0] }
        let h = headline
        rows += [
            ("pupils", h.pupils), ("sen_support", h.senSupport), ("ehc_plans", h.ehcPlans),
            ("overdue_duties", h.overdueDuties), ("referrals_waiting", h.referralsWaiting),
            ("possible_duplicate_pupils", h.possibleDuplicatePupils),
        ].map { ["headline", "", "", $0.0, String($0.1)] }
        for s in schools {
            rows += [
                ("pupils", String(s.pupils)), ("roll", n(s.roll)), ("sen_support", String(s.senSupport)),
                ("sen_support_percent_of_roll", p(s.senSupportShare)), ("ehc_plans", String(s.ehcPlans)),
                ("ehc_plan_percent_of_roll", p(s.ehcPlanShare)),
                ("concern_to_support_pupils", String(s.concernToSupport.count)),
                ("concern_to_support_median_days", n(s.concernToSupport.median)),
                ("concern_to_support_p90_days", n(s.concernToSupport.p90)),
                ("concerns_past_review", String(s.concernsPastReview)), ("overdue_duties", String(s.overdueDuties)),
            ].map { ["school", s.name, "", $0.0, $0.1] }
        }
        rows += primaryNeeds.map { ["primary_need", $0.code, "", "pupils", String($0.count)] }
        rows += broadAreas.map { ["broad_area", $0.area, "", "pupils", String($0.count)] }
        for a in agencies {
            rows += [
                ("seen", String(a.seen.count)), ("seen_median_days", n(a.seen.median)),
                ("seen_p90_days", n(a.seen.p90)), ("seen_within_6_weeks", String(a.distribution[0])),
                ("seen_in_6_to_12_weeks", String(a.distribution[1])),
                ("seen_in_12_to_18_weeks", String(a.distribution[2])),
                ("seen_after_18_weeks", String(a.distribution[3])), ("waiting", String(a.waiting.count)),
                ("waiting_median_days", n(a.waiting.median)), ("waiting_longest_days", n(a.waiting.longest)),
            ].map { ["agency", a.agency, "", $0.0, $0.1] }
        }
        for s in timeliness.steps {
            rows += [
                ("due", String(s.due)), ("on_time", String(s.onTime)),
                ("late_with_exception", String(s.lateWithException)), ("late", String(s.late)),
                ("percent_met", p(s.percentIncludingExceptions)),
                ("percent_met_excluding_exceptions", p(s.percentExcludingExceptions)),
            ].map { ["ehc_timeliness", s.step, "", $0.0, $0.1] }
        }
        for o in ehcOverdue {
            rows.append(["ehc_overdue", o.step, o.organisation, "open_past_deadline", String(o.count)])
            rows.append(["ehc_overdue", o.step, o.organisation, "oldest_due_on", o.oldestDueOn.description])
        }
        rows += overdueByOrganisation.map {
            ["overdue_by_organisation", $0.organisation, "", "overdue_duties", String($0.count)]
        }
        for e in escalations {
            rows.append(["escalation", e.stage, "", "open", String(e.open)])
            rows.append(["escalation", e.stage, "", "past_response_date", String(e.overdue)])
        }
        for f in freshness {
            rows += [
                ("last_received", f.lastReceived ?? ""), ("last_sent", f.lastSent ?? ""),
                ("they_lack", n(f.theyLack)), ("we_lack", n(f.weLack)),
                ("refused_since_last_applied", String(f.refusedSinceLastApplied)), ("verdict", f.verdictText),
            ].map { ["freshness", f.site.name, "", $0.0, $0.1] }
        }
        return rows
    }
}

extension PeerHealth {
    /// One site's sync health as JSON (`report sync --json`, and the area report's freshness).
    public struct Export: Codable, Sendable, Hashable {
        public var site, name, kind: String
        public var lastReceived, lastSent: String?
        public var theyLack: Int?
        public var weLack: Int?
        public var refusedSinceLastApplied: Int
        public var lastRefusal: String?
        public var verdict: String
    }

    public var export: Export {
        Export(
            site: site.id.description, name: site.name, kind: site.kind.rawValue, lastReceived: lastReceived,
            lastSent: lastSent, theyLack: theyLack, weLack: weLack, refusedSinceLastApplied: refusedSinceLastApplied,
            lastRefusal: lastRefusal, verdict: verdictText)
    }
}
