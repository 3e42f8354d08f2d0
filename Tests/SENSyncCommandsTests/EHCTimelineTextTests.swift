import Foundation
import Testing

@testable import SENSync
@testable import SENSyncCommands

/// How `ehc show` and `pupil show` word an assessment's steps.
struct EHCTimelineTextTests {
    static func drafted(issued: String?) -> KindRecord {
        var values: [String: Value] = [
            "request_received_on": .text("2026-09-01"), "request_source": .text("parent"), "decision": .text("Y"),
            "decided_on": .text("2026-09-20"), "draft_served_on": .text("2026-10-01"),
        ]
        if let issued { values["final_issued_on"] = .text(issued) }
        return KindRecord(
            kind: EHCAssessment.name, id: .v7(), pupilID: .v7(), values: KindValues(values), isDeleted: false)
    }

    static func commentLine(_ assessment: KindRecord, on day: String) -> String? {
        let today = CalendarDate(day)!
        let steps = EHCTimeline.steps(of: assessment, exceptions: [], advice: [], asOf: today)
        return timelineLines(steps, today: today).first { $0.hasPrefix("Family's 15 days") }
    }

    /// The family's time to comment on a draft is a period: open until its last day, closed after
    /// (it read "open" two months after it ended, and "over 2026-05-18" — the day the plan was
    /// issued — once a plan was).
    @Test func theFamilysCommentPeriodIsOpenUntilItsLastDayThenClosed() {
        let pending = Self.drafted(issued: nil)
        #expect(Self.commentLine(pending, on: "2026-10-15")?.hasSuffix("— open until 2026-10-15") == true)
        #expect(Self.commentLine(pending, on: "2026-12-03")?.hasSuffix("— closed 2026-10-15") == true)
        let issued = Self.drafted(issued: "2026-11-02")
        #expect(Self.commentLine(issued, on: "2026-12-03")?.hasSuffix("— closed 2026-10-15") == true)
        #expect(Self.commentLine(issued, on: "2026-12-03")?.contains("2026-11-02") == false)
    }
}
