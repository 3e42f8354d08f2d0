import Foundation
import GRDB

/// The area view: pupils by school and SEN status, the commonest needs, and plans that are due.
public struct AreaSummary: Sendable {
    public struct SchoolRow: Sendable {
        public var school: SiteID?
        public var name: String
        public var ehcPlan = 0
        public var senSupport = 0
        public var noSEN = 0
        public var total: Int { ehcPlan + senSupport + noSEN }
    }

    public struct NeedRow: Sendable {
        public var need: SENNeed
        /// Pupils with this as their primary need.
        public var primary = 0
        /// Pupils with this need at any rank.
        public var any = 0
    }

    public var schools: [SchoolRow]
    public var needs: [NeedRow]
    public var activePlans: Int
    /// Active plans whose review date has passed.
    public var overdueReviews: Int
    public var openConflicts: Int
    /// Early-identification concerns still open or being monitored.
    public var openConcerns = 0
    /// Referrals to outside agencies with no answer yet.
    public var referralsAwaiting = 0
    /// EHC needs assessments with no final plan, no decision not to issue, not withdrawn, and not
    /// refused at the decision whether to assess.
    public var assessmentsOpen = 0
    /// Duties due in the next 28 days, and overdue ones.
    public var dueSoon = 0
    public var overdue = 0
}

extension Store {
    /// Summarises what this store holds (at an LA: the whole area).
    public func areaSummary(today: CalendarDate) throws -> AreaSummary {
        let pupils = try self.pupils()
        let sites = Dictionary(
            try knownSites().map { ($0.site, $0.name ?? $0.site.short) }, uniquingKeysWith: { a, _ in a })
        var rows: [String: AreaSummary.SchoolRow] = [:]
        var needs: [SENNeed: AreaSummary.NeedRow] = [:]
        for pupil in pupils {
            let school = pupil.schools.first
            let name = school.map { $0 == identity.id ? identity.name : sites[$0] ?? $0.short } ?? "(not enrolled)"
            var row = rows[name] ?? AreaSummary.SchoolRow(school: school, name: name)
            switch SENStatus(rawValue: pupil.senStatus ?? "N") ?? .none {
            case .ehcPlan: row.ehcPlan += 1
            case .senSupport: row.senSupport += 1
            case .none: row.noSEN += 1
            }
            rows[name] = row
            for (rank, code) in pupil.senNeeds.enumerated() {
                guard let need = SENNeed(rawValue: code) else { continue }
                var n = needs[need] ?? AreaSummary.NeedRow(need: need)
                n.any += 1
                if rank == 0 { n.primary += 1 }
                needs[need] = n
            }
        }
        let (active, overdue) = try writer.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM support_plan WHERE deleted = 0 AND status = 'active'")
                    ?? 0,
                try Int.fetchOne(
                    db,
                    sql:
                        "SELECT count(*) FROM support_plan WHERE deleted = 0 AND status = 'active' AND review_date < ?",
                    arguments: [today.description]) ?? 0
            )
        }
        let due = try self.due(asOf: today, within: 28)
        let (concerns, referrals, assessments) = try writer.read { db in
            (
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM concern WHERE deleted = 0 AND status IN ('open', 'monitoring')")
                    ?? 0,
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM referral WHERE deleted = 0 AND accepted_on IS NULL AND declined_on IS NULL
                          AND closed_on IS NULL
                        """) ?? 0,
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM ehc_assessment WHERE deleted = 0 AND final_issued_on IS NULL AND no_plan_on IS NULL
                          AND withdrawn_on IS NULL AND (decision IS NULL OR decision != 'N')
                        """) ?? 0
            )
        }
        return AreaSummary(
            schools: rows.values.sorted { $0.name < $1.name },
            needs: needs.values.sorted {
                ($0.primary, $0.any, $1.need.rawValue) > ($1.primary, $1.any, $0.need.rawValue)
            },
            activePlans: active, overdueReviews: overdue, openConflicts: try status().openConflicts,
            openConcerns: concerns, referralsAwaiting: referrals, assessmentsOpen: assessments,
            dueSoon: due.filter { !$0.overdue }.count, overdue: due.filter(\.overdue).count)
    }
}
