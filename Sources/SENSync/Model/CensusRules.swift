import Foundation

/// The school census rules for SEN provision and needs (sen-domain.md §2.1 and §10): NSA only
/// with SEN support (K) and never alongside another need; a pupil with E or K has a rank-1 need;
/// ranks are not shared; a need is not recorded twice.
public enum CensusRules {
    /// DS (Down syndrome) is a census SEN type from January 2025 (and in the SEN2 list from 2025).
    public static let downSyndromeFrom = CalendarDate(year: 2025, month: 1, day: 1)

    /// Whether `need` is a SEN type the DfE collects on `date`: every code but DS, which is collected
    /// only from ``downSyndromeFrom``.
    public static func isCollected(_ need: String, on date: CalendarDate) -> Bool {
        need != "DS" || date >= downSyndromeFrom
    }

    /// What is wrong with a pupil's current needs, given the provision open now.
    public static func needProblem(needs: [KindValues], openProvision: [String]) -> RecordRuleViolation? {
        let codes = needs.compactMap { $0.text(SENNeedRecord.Field.need) }
        if codes.contains("NSA") {
            if codes.count > 1 {
                return RecordRuleViolation(
                    "NSA (no specialist assessment) cannot be recorded alongside another need.",
                    hint: "End the NSA need, or the other need, first.")
            }
            if !openProvision.contains("K") {
                return RecordRuleViolation(
                    "NSA is only valid for a pupil on SEN support (K).",
                    hint: "Record the SEN support episode first, or give the assessed need.")
            }
        }
        if Set(codes).count != codes.count {
            return RecordRuleViolation("The same need is recorded twice.", hint: "End the earlier one first.")
        }
        let ranks = needs.compactMap { $0.integer(SENNeedRecord.Field.rank) }
        if Set(ranks).count != ranks.count {
            return RecordRuleViolation(
                "Two current needs share a rank.", hint: "Give each need its own --rank (1 is the primary need).")
        }
        return nil
    }

    /// Every census problem with a pupil's current provision and needs, for `pupil show` and the
    /// census export.
    public static func problems(openProvision: [String], needs: [KindValues]) -> [RecordRuleViolation] {
        var problems: [RecordRuleViolation] = []
        if let problem = needProblem(needs: needs, openProvision: openProvision) { problems.append(problem) }
        if openProvision.contains(where: { $0 == "E" || $0 == "K" }),
            !needs.contains(where: { $0.integer(SENNeedRecord.Field.rank) == 1 })
        {
            problems.append(
                RecordRuleViolation(
                    "A pupil with SEN support or an EHC plan needs a primary (rank 1) need.",
                    hint: "Record it with `sensync sen-need add --pupil ID --need CODE --rank 1 --start-date DATE`."))
        }
        if Set(openProvision).count > 1 {
            problems.append(
                RecordRuleViolation(
                    "Open provision episodes disagree (\(openProvision.sorted().joined(separator: ", "))).",
                    hint: "End the episode that no longer applies."))
        }
        return problems
    }
}
