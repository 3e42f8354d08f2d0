import Foundation
import Testing

@testable import SENSync

/// The statutory clock against the worked examples in `sen-domain.md` §1.4, §7 and §10.
struct StatutoryClockTests {
    func d(_ s: String) -> CalendarDate { CalendarDate(s)! }

    @Test func decisionToAssessIsDueSixWeeksFromTheRequest() {
        #expect(StatutoryClock.decisionToAssessDue(requestReceived: d("2025-01-06")) == d("2025-02-17"))
        #expect(StatutoryClock.decisionToAssessDue(requestReceived: d("2025-01-06")) != d("2025-02-18"))
    }

    @Test func adviceIsDueSixWeeksFromItsRequest() {
        #expect(StatutoryClock.adviceDue(requested: d("2025-02-12")) == d("2025-03-26"))
    }

    @Test func aDecisionNotToIssueIsDueSixteenWeeksFromTheRequest() {
        #expect(StatutoryClock.noPlanDecisionDue(requestReceived: d("2025-01-06")) == d("2025-04-28"))
    }

    @Test func theFinalPlanIsDueTwentyWeeksFromTheRequestOrFourteenAfterAReassessment() {
        #expect(StatutoryClock.finalPlanDue(requestReceived: d("2025-01-06")) == d("2025-05-26"))
        #expect(StatutoryClock.finalPlanDue(requestReceived: d("2025-01-06"), reassessment: true) == d("2025-04-14"))
    }

    /// Reg 13(1): "at least 15 days, beginning with the day on which the draft plan was served".
    @Test func theFamilyHasFifteenDaysBeginningWithTheDayTheDraftIsServed() {
        #expect(StatutoryClock.draftCommentsClose(draftServedOn: d("2025-04-14")) == d("2025-04-28"))
        #expect(StatutoryClock.earliestFinalPlan(draftServedOn: d("2025-04-14")) == d("2025-04-29"))
        // Read as "+15 days" the period would close a day late (sen-domain.md §10).
        #expect(StatutoryClock.draftCommentsClose(draftServedOn: d("2025-04-14")) != d("2025-04-29"))
    }

    @Test func annualReviewsAreDueWithinTwelveMonthsOrSixUnderFive() {
        #expect(
            StatutoryClock.annualReviewDue(issuedOrLastReviewed: d("2025-03-03"), dateOfBirth: d("2015-01-01"))
                == d("2026-03-03"))
        // 29 February has no anniversary: the last day of February.
        #expect(
            StatutoryClock.annualReviewDue(issuedOrLastReviewed: d("2024-02-29"), dateOfBirth: nil) == d("2025-02-28"))
        // A three-year-old: every 3 to 6 months, so within 6.
        #expect(
            StatutoryClock.annualReviewDue(issuedOrLastReviewed: d("2025-03-03"), dateOfBirth: d("2021-06-01"))
                == d("2025-09-03"))
        // Five on the day of the review: the 12-month rule.
        #expect(
            StatutoryClock.annualReviewDue(issuedOrLastReviewed: d("2026-06-01"), dateOfBirth: d("2021-06-01"))
                == d("2027-06-01"))
        #expect(StatutoryClock.adding(months: 1, to: d("2025-01-31")) == d("2025-02-28"))
        #expect(StatutoryClock.adding(months: -12, to: d("2026-02-15")) == d("2025-02-15"))
    }

    @Test func afterAReviewTheDecisionIsDueInFourWeeksAndTheAmendedPlanInTwelve() {
        #expect(StatutoryClock.reviewDecisionDue(meeting: d("2025-03-03")) == d("2025-03-31"))
        #expect(StatutoryClock.amendedPlanDue(meeting: d("2025-03-03")) == d("2025-05-26"))
    }

    /// After a review in a phase transfer's school year, the amended plan is due by the transfer
    /// deadline when that comes first (one rule for the due-list and `ehc show`, which gave two).
    @Test func anAmendedPlanInAPhaseTransferYearIsDueByItsDeadline() {
        let plan = KindValues([EHCPlan.Field.phaseTransferYear.rawValue: .integer(2026)])
        #expect(StatutoryClock.amendedPlanDue(meeting: d("2026-01-26"), plan: plan) == d("2026-02-15"))
        #expect(StatutoryClock.amendedPlanDue(meeting: d("2025-10-06"), plan: plan) == d("2025-12-29"))
        #expect(StatutoryClock.amendedPlanDue(meeting: d("2025-06-02"), plan: plan) == d("2025-08-25"))
        #expect(StatutoryClock.amendedPlanDue(meeting: d("2026-01-26"), plan: nil) == d("2026-04-20"))
    }

    @Test func phaseTransfersAreDueOnFifteenFebruaryOrThirtyFirstMarch() {
        #expect(StatutoryClock.phaseTransferDue(year: 2026, toPost16: false) == d("2026-02-15"))
        #expect(StatutoryClock.phaseTransferDue(year: 2026, toPost16: true) == d("2026-03-31"))
    }

    /// Dates are days in England: late evening UTC in summer is already tomorrow; the clock
    /// changes at 01:00 UTC on the last Sundays of March and October.
    @Test(arguments: [
        ("2025-03-30T00:30:00Z", "2025-03-30"),  // GMT: midnight thirty
        ("2025-03-30T23:30:00Z", "2025-03-31"),  // BST: half past midnight on the 31st
        ("2025-06-30T22:59:59Z", "2025-06-30"),
        ("2025-06-30T23:00:00Z", "2025-07-01"),
        ("2025-10-25T23:30:00Z", "2025-10-26"),  // still BST
        ("2025-10-26T23:30:00Z", "2025-10-26"),  // GMT again
        ("2025-12-31T23:59:59Z", "2025-12-31"),
    ])
    func localDatesFollowEuropeLondon(_ instant: String, _ expected: String) throws {
        let date = try #require(ISO8601DateFormatter().date(from: instant))
        #expect(StatutoryClock.localDate(at: date) == d(expected))
    }

    /// Deadlines count calendar days, so a clock change inside the period moves nothing.
    @Test func deadlinesAcrossAClockChangeAreWholeWeeks() {
        #expect(StatutoryClock.decisionToAssessDue(requestReceived: d("2025-03-24")) == d("2025-05-05"))
        #expect(StatutoryClock.decisionToAssessDue(requestReceived: d("2025-10-20")) == d("2025-12-01"))
    }
}
