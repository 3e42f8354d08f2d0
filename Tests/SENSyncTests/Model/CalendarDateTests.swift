import Foundation
import Testing

@testable import SENSync

struct CalendarDateTests {
    @Test(arguments: ["2024-02-29", "2000-02-29", "2025-02-28", "2025-12-31", "2025-01-01", "1900-01-01", "2999-12-31"])
    func parsesRealDates(_ raw: String) throws {
        let date = try #require(CalendarDate(raw))
        #expect(date.description == raw)
    }

    @Test(arguments: [
        "2025-02-29", "2100-02-29", "1900-02-29", "2025-02-30", "2025-04-31", "2025-13-01", "2025-00-10", "2025-01-00",
        "2025-01-32", "2025-4-01", "25-04-01", "2025/04/01", "2025-04-01x", "2025-04-01T00:00", "", "2025--01",
        "1899-12-31", "3000-01-01", "+025-01-01",
    ])
    func rejectsImpossibleOrMalformedDates(_ raw: String) {
        #expect(CalendarDate(raw) == nil)
    }

    /// The worked example in `reference/sen-domain.md` §1.4 and §7.16–7.19.
    @Test(arguments: [
        ("2025-01-06", 42, "2025-02-17"),  // decision to assess: 6 weeks
        ("2025-01-06", 112, "2025-04-28"),  // "no plan" notice: 16 weeks
        ("2025-01-06", 140, "2025-05-26"),  // final plan: 20 weeks
        ("2025-04-14", 15, "2025-04-29"),  // comments on the draft: 15 days
        ("2025-03-03", -14, "2025-02-17"),  // annual review papers out
        ("2025-03-03", 14, "2025-03-17"),
        ("2025-03-03", 28, "2025-03-31"),
        ("2025-03-03", 84, "2025-05-26"),
        ("2024-02-28", 1, "2024-02-29"),
        ("2025-02-28", 1, "2025-03-01"),
        ("2024-12-31", 1, "2025-01-01"),
        ("2025-01-01", -1, "2024-12-31"),
        ("2000-02-28", 366, "2001-02-28"),
    ])
    func addingDays(_ start: String, _ days: Int, _ expected: String) throws {
        let date = try #require(CalendarDate(start))
        #expect(date.adding(days: days).description == expected)
    }

    @Test func daysSinceEpochAgreesWithFoundation() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var rng = SplitMix64(seed: 0xCA1E_DA7E)
        for _ in 0..<2000 {
            let days = rng.int(-25_567...376_199)  // 1900-01-01 … 2999-12-31
            let date = Date(timeIntervalSince1970: Double(days) * 86_400)
            let c = calendar.dateComponents([.year, .month, .day], from: date)
            let expected = CalendarDate(
                year: try #require(c.year), month: try #require(c.month), day: try #require(c.day))
            #expect(CalendarDate(year: 1970, month: 1, day: 1).adding(days: days) == expected)
            #expect(expected.daysSinceEpoch == days)
            #expect(CalendarDate(expected.description) == expected)
        }
    }

    @Test func orderFollowsTheCalendar() throws {
        let dates = try ["2024-12-31", "2025-01-01", "2025-01-10", "2025-02-01", "2025-10-01"].map {
            try #require(CalendarDate($0))
        }
        #expect(dates == dates.sorted())
        for (a, b) in zip(dates, dates.dropFirst()) { #expect(a.daysSinceEpoch < b.daysSinceEpoch) }
    }

    @Test func codableUsesTheTextFormAndValidates() throws {
        let data = try JSONEncoder().encode([CalendarDate(year: 2024, month: 2, day: 29)])
        #expect(String(decoding: data, as: UTF8.self) == #"["2024-02-29"]"#)
        #expect(
            try JSONDecoder().decode([CalendarDate].self, from: data) == [CalendarDate(year: 2024, month: 2, day: 29)])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([CalendarDate].self, from: Data(#"["2025-02-29"]"#.utf8))
        }
    }

    @Test func todayIsInUTC() {
        // 2026-01-05 23:30 UTC is still the 5th in UTC whatever the machine's zone.
        #expect(CalendarDate.today(Date(timeIntervalSince1970: 1_767_655_800)).description == "2026-01-05")
        #expect(CalendarDate.today(Date(timeIntervalSince1970: 1_767_657_599.999)).description == "2026-01-05")
        #expect(CalendarDate.today(Date(timeIntervalSince1970: 1_767_657_600)).description == "2026-01-06")
        #expect(CalendarDate.today(Date(timeIntervalSince1970: -0.5)).description == "1969-12-31")
    }
}
