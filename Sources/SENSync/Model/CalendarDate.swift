import Foundation

/// A calendar date without time zone, stored as `YYYY-MM-DD`.
public struct CalendarDate: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// The dates a store keeps: an impossible year (a typing slip, 0205 for 2025) is refused.
    public static let keptRange = "1900-01-01 to 2999-12-31"

    /// Parses `YYYY-MM-DD`, rejecting impossible dates such as 2025-02-30 and years outside
    /// 1900–2999 (``keptRange``).
    public init?(_ string: String) {
        guard let (y, m, d) = Self.parts(of: string), y >= 1900, y <= 2999 else { return nil }
        year = y
        month = m
        day = d
    }

    /// Whether `string` is a real `YYYY-MM-DD` date in a year outside 1900–2999, for a message
    /// that says so rather than "not a date".
    public static func isOutsideKeptRange(_ string: String) -> Bool {
        guard let (y, _, _) = parts(of: string) else { return false }
        return y < 1900 || y > 2999
    }

    /// Year, month and day of a real `YYYY-MM-DD` date, any year.
    private static func parts(of string: String) -> (Int, Int, Int)? {
        // Hot: reports read every date of every record as text. Works on the UTF-8 bytes.
        var utf8 = string
        guard
            let parsed = utf8.withUTF8({ bytes -> (Int, Int, Int)? in
                guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else {
                    return nil
                }
                func number(_ range: Range<Int>) -> Int? {
                    var n = 0
                    for i in range {
                        let digit = Int(bytes[i]) - 48
                        guard (0...9).contains(digit) else { return nil }
                        n = n * 10 + digit
                    }
                    return n
                }
                guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
                return (y, m, d)
            })
        else { return nil }
        let (y, m, d) = parsed
        guard (1...12).contains(m), d >= 1, d <= Self.daysIn(month: m, year: y) else { return nil }
        return (y, m, d)
    }

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Today in UTC.
    public static func today(_ now: Date = Date()) -> CalendarDate {
        CalendarDate(year: 1970, month: 1, day: 1).adding(
            days: Int((now.timeIntervalSince1970 / 86_400).rounded(.down)))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The date `days` later (or earlier, if negative).
    public func adding(days: Int) -> CalendarDate {
        let z = daysSinceEpoch + days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return CalendarDate(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    public var description: String {
        var text = ""
        text.reserveCapacity(10)
        if year < 0 { text += "-" }
        text.append(zeroPadded: abs(year), width: 4)
        text += "-"
        text.append(zeroPadded: month, width: 2)
        text += "-"
        text.append(zeroPadded: day, width: 2)
        return text
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        guard let d = CalendarDate(try c.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a YYYY-MM-DD date")
        }
        self = d
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension String {
    /// Appends `value` (not negative) in decimal, with leading zeros up to `width` digits.
    mutating func append(zeroPadded value: Int, width: Int) {
        let digits = String(value)
        if digits.count < width { append(String(repeating: "0", count: width - digits.count)) }
        append(digits)
    }
}
