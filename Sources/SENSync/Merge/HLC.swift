import Foundation

/// A hybrid logical clock timestamp: 48 bits of Unix milliseconds and a 16-bit counter.
///
/// HLCs order a site's changes, survive small clock skews and never go backwards: a site's next
/// timestamp is greater than every timestamp it has issued or applied. Merge compares
/// `(hlc, site id)`, which is a total order over all changes.
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The packed 64-bit value.
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(milliseconds: UInt64, counter: UInt16) {
        rawValue = (milliseconds << 16) | UInt64(counter)
    }

    /// Unix time in milliseconds.
    public var milliseconds: UInt64 { rawValue >> 16 }
    /// Tie-breaking counter within one millisecond.
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
    /// The wall-clock time this timestamp stands for.
    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public static let zero = HLC(rawValue: 0)

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.rawValue < rhs.rawValue }

    /// ISO 8601 with milliseconds, then the counter: `2026-11-22T09:14:03.120Z#2`.
    /// (Computed by arithmetic: a Foundation date formatter costs more to build than a whole local
    /// write, and every note records one.)
    public var description: String {
        let ms = milliseconds
        let day = CalendarDate(year: 1970, month: 1, day: 1).adding(days: Int(ms / 86_400_000))
        let inDay = Int(ms % 86_400_000)
        var text = day.description
        text.reserveCapacity(32)
        text += "T"
        text.append(zeroPadded: inDay / 3_600_000, width: 2)
        text += ":"
        text.append(zeroPadded: inDay / 60_000 % 60, width: 2)
        text += ":"
        text.append(zeroPadded: inDay / 1000 % 60, width: 2)
        text += "."
        text.append(zeroPadded: inDay % 1000, width: 3)
        text += "Z"
        if counter > 0 { text += "#\(counter)" }
        return text
    }
}

/// The clock of one site: issues strictly increasing ``HLC`` values.
public struct HybridClock: Sendable {
    /// The greatest timestamp issued or observed.
    public private(set) var last: HLC

    public init(last: HLC = .zero) { self.last = last }

    /// The next local timestamp at wall-clock time `now` (Unix milliseconds).
    public mutating func tick(now: UInt64) -> HLC {
        let physical = min(now, (1 << 48) - 1)
        if physical > last.milliseconds {
            last = HLC(milliseconds: physical, counter: 0)
        } else if last.counter == .max {
            last = HLC(milliseconds: last.milliseconds + 1, counter: 0)
        } else {
            last = HLC(milliseconds: last.milliseconds, counter: last.counter + 1)
        }
        return last
    }

    /// Takes a timestamp seen on an applied change into account.
    public mutating func observe(_ remote: HLC) {
        if remote > last { last = remote }
    }
}
