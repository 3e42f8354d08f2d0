import Foundation
import Testing

@testable import SENSync

struct HLCTests {
    @Test func packsMillisecondsAndCounter() {
        let h = HLC(milliseconds: 1_795_338_843_120, counter: 2)
        #expect(h.milliseconds == 1_795_338_843_120)
        #expect(h.counter == 2)
        #expect(h.rawValue == 1_795_338_843_120 << 16 | 2)
        #expect(HLC(rawValue: h.rawValue) == h)
        #expect(h.description == "2026-11-22T09:14:03.120Z#2")
        #expect(HLC(milliseconds: 1_795_338_843_120, counter: 0).description == "2026-11-22T09:14:03.120Z")
    }

    /// The text form is computed by arithmetic; it must agree with Foundation's ISO 8601 formatter
    /// (seed printed) from 1970 to the end of the 48-bit range's useful years.
    @Test func descriptionAgreesWithFoundationsISO8601() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let seed: UInt64 = 20_261_129
        print("HLC description seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let edges: [UInt64] = [0, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 4_102_444_799_999]
        for ms in edges + (0..<2000).map({ _ in rng.next() % 253_402_300_800_000 }) {
            let h = HLC(milliseconds: ms, counter: UInt16(ms % 3))
            let expected = formatter.string(from: h.date) + (h.counter > 0 ? "#\(h.counter)" : "")
            #expect(h.description == expected, "ms \(ms)")
        }
    }

    @Test func ordersByMillisecondsThenCounter() {
        let a = HLC(milliseconds: 1000, counter: UInt16.max)
        let b = HLC(milliseconds: 1001, counter: 0)
        let c = HLC(milliseconds: 1001, counter: 1)
        #expect(a < b && b < c)
        #expect(HLC.zero < a)
    }

    @Test func tickFollowsTheWallClock() {
        var clock = HybridClock()
        #expect(clock.tick(now: 5000) == HLC(milliseconds: 5000, counter: 0))
        #expect(clock.tick(now: 5000) == HLC(milliseconds: 5000, counter: 1))
        #expect(clock.tick(now: 5000) == HLC(milliseconds: 5000, counter: 2))
        #expect(clock.tick(now: 7000) == HLC(milliseconds: 7000, counter: 0))
        #expect(clock.last == HLC(milliseconds: 7000, counter: 0))
    }

    @Test func tickNeverGoesBackwardsWhenTheClockDoes() {
        var clock = HybridClock()
        #expect(clock.tick(now: 9000) == HLC(milliseconds: 9000, counter: 0))
        #expect(clock.tick(now: 1000) == HLC(milliseconds: 9000, counter: 1))
        #expect(clock.tick(now: 8999) == HLC(milliseconds: 9000, counter: 2))
        #expect(clock.tick(now: 9001) == HLC(milliseconds: 9001, counter: 0))
    }

    @Test func counterOverflowMovesToTheNextMillisecond() {
        var clock = HybridClock(last: HLC(milliseconds: 5000, counter: UInt16.max - 1))
        #expect(clock.tick(now: 5000) == HLC(milliseconds: 5000, counter: UInt16.max))
        #expect(clock.tick(now: 5000) == HLC(milliseconds: 5001, counter: 0))
        #expect(clock.tick(now: 4000) == HLC(milliseconds: 5001, counter: 1))
        // The wall clock catching up with the borrowed millisecond resets the counter.
        #expect(clock.tick(now: 5002) == HLC(milliseconds: 5002, counter: 0))
    }

    @Test func aFullMillisecondOfTicksStaysIncreasing() {
        var clock = HybridClock()
        var previous = HLC.zero
        for _ in 0..<(Int(UInt16.max) + 10) {
            let next = clock.tick(now: 1000)
            #expect(next > previous)
            previous = next
        }
        #expect(previous == HLC(milliseconds: 1001, counter: 8))
    }

    @Test func observedRemoteTimestampsAreNeverUndercut() {
        var clock = HybridClock()
        _ = clock.tick(now: 1000)
        clock.observe(HLC(milliseconds: 60_000, counter: 7))
        #expect(clock.tick(now: 2000) == HLC(milliseconds: 60_000, counter: 8))
        clock.observe(HLC(milliseconds: 10, counter: 0))  // older: ignored
        #expect(clock.last == HLC(milliseconds: 60_000, counter: 8))
    }

    @Test func randomTicksAndObservationsAreStrictlyIncreasing() {
        var rng = SplitMix64(seed: 0x4C0C_0001)
        var clock = HybridClock()
        var lastIssued = HLC.zero
        var maxObserved = HLC.zero
        var wall: UInt64 = 1_000_000_000
        for _ in 0..<20_000 {
            switch rng.below(4) {
            case 0: wall -= UInt64(rng.below(5000))  // the clock is set back
            case 1: wall += UInt64(rng.below(5000))
            case 2:
                let remote = HLC(milliseconds: wall + UInt64(rng.below(3000)), counter: UInt16(rng.below(4)))
                clock.observe(remote)
                maxObserved = max(maxObserved, remote)
            default: break
            }
            let next = clock.tick(now: wall)
            #expect(next > lastIssued && next > maxObserved)
            #expect(next.milliseconds >= wall)
            lastIssued = next
        }
    }
}
