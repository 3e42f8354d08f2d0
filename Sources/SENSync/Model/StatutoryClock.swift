import Foundation

/// The statutory clock: every deadline SENSync tracks, as pure date arithmetic on calendar dates in
/// the school's local time (Europe/London). No store, no wall clock: the caller passes the dates.
///
/// Sources: SEND Regulations 2014 (SI 2014/1530) and the SEND Code of Practice, as summarised in
/// `sen-domain.md` §1.4, §1.6 and §10.
public enum StatutoryClock {
    /// The time zone every deadline is counted in.
    public static let timeZone = TimeZone(identifier: "Europe/London") ?? .gmt

    /// The calendar date in England at `instant` (so 23:30 UTC on a summer evening is already the
    /// next day).
    public static func localDate(at instant: Date) -> CalendarDate {
        // The zone's offset, then day arithmetic (a Calendar per call cost more than a local write).
        CalendarDate.today(instant.addingTimeInterval(Double(timeZone.secondsFromGMT(for: instant))))
    }

    static func weeks(_ n: Int, after date: CalendarDate) -> CalendarDate { date.adding(days: 7 * n) }

    /// Reg 5(1): the LA decides whether to assess within 6 weeks of the request.
    public static func decisionToAssessDue(requestReceived: CalendarDate) -> CalendarDate {
        weeks(6, after: requestReceived)
    }

    /// Reg 8: advice within 6 weeks of the LA's request for it.
    public static func adviceDue(requested: CalendarDate) -> CalendarDate { weeks(6, after: requested) }

    /// Reg 10: notice of a decision not to issue a plan within 16 weeks of the request.
    public static func noPlanDecisionDue(requestReceived: CalendarDate) -> CalendarDate {
        weeks(16, after: requestReceived)
    }

    /// Reg 13(2): the final plan within 20 weeks of the request; reg 27(2): within 14 weeks after a
    /// re-assessment.
    public static func finalPlanDue(requestReceived: CalendarDate, reassessment: Bool = false) -> CalendarDate {
        weeks(reassessment ? 14 : 20, after: requestReceived)
    }

    /// Reg 13(1): the family has at least 15 days, *beginning with* the day the draft was served,
    /// to comment: the last day of the period.
    public static func draftCommentsClose(draftServedOn served: CalendarDate) -> CalendarDate {
        served.adding(days: 14)
    }

    /// The first day the final plan may be issued after a draft served on `served`.
    public static func earliestFinalPlan(draftServedOn served: CalendarDate) -> CalendarDate {
        served.adding(days: 15)
    }

    /// The same day `months` months later, or the month's last day when it has no such day
    /// (29 February + 12 months = 28 February).
    public static func adding(months: Int, to date: CalendarDate) -> CalendarDate {
        let total = date.year * 12 + (date.month - 1) + months
        let year = total / 12
        let month = total % 12 + 1
        return CalendarDate(year: year, month: month, day: min(date.day, CalendarDate.daysIn(month: month, year: year)))
    }

    /// CFA 2014 s44: a plan is reviewed within 12 months of being issued or of its last review;
    /// for a child under five, every 3 to 6 months (CoP 9.178), so within 6 months.
    public static func annualReviewDue(
        issuedOrLastReviewed from: CalendarDate, dateOfBirth: CalendarDate?
    ) -> CalendarDate {
        if let dob = dateOfBirth, from < adding(months: 60, to: dob) {
            return adding(months: 6, to: from)
        }
        return adding(months: 12, to: from)
    }

    /// Reg 20(10): the LA decides to maintain, amend or cease within 4 weeks of the review meeting.
    public static func reviewDecisionDue(meeting: CalendarDate) -> CalendarDate { weeks(4, after: meeting) }

    /// The final amended plan within 12 weeks of the review meeting (R (L) v Devon CC [2022]).
    public static func amendedPlanDue(meeting: CalendarDate) -> CalendarDate { weeks(12, after: meeting) }

    /// Reg 18: a plan is reviewed and amended before a phase transfer by 15 February of the
    /// transfer year, or by 31 March for a move from secondary school to post-16.
    public static func phaseTransferDue(year: Int, toPost16: Bool) -> CalendarDate {
        toPost16 ? CalendarDate(year: year, month: 3, day: 31) : CalendarDate(year: year, month: 2, day: 15)
    }

    /// An EHC plan's phase transfer deadline (reg 18), with the first day of the school year it
    /// falls in (1 September before it), when the plan names a transfer year.
    public static func phaseTransfer(of plan: KindValues) -> (due: CalendarDate, schoolYearStart: CalendarDate)? {
        plan.integer(EHCPlan.Field.phaseTransferYear).map { year in
            (
                phaseTransferDue(year: Int(year), toPost16: plan.integer(EHCPlan.Field.phaseTransferToPost16) == 1),
                CalendarDate(year: Int(year) - 1, month: 9, day: 1)
            )
        }
    }

    /// The amended plan after a review of `plan` held on `meeting`: 12 weeks, or by the plan's
    /// phase transfer deadline when the meeting falls in that school year and the deadline comes
    /// first (the due-list and `ehc show` gave two dates).
    public static func amendedPlanDue(meeting: CalendarDate, plan: KindValues?) -> CalendarDate {
        let due = amendedPlanDue(meeting: meeting)
        guard let phase = plan.flatMap(phaseTransfer(of:)), meeting >= phase.schoolYearStart, meeting <= phase.due
        else { return due }
        return min(due, phase.due)
    }
}
