import Foundation
import Testing

@testable import SENSync

/// A temporary folder removed when the closure returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sensync-test-\(UUID128.v7().description)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A deterministic clock for tests: starts at 2026-01-05 09:00 UTC and moves on 1 s per call.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var ms: UInt64
    init(start: UInt64 = 1_767_603_600_000) { ms = start }
    func now() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        ms += 1000
        return ms
    }
    func advance(seconds: UInt64) {
        lock.lock()
        ms += seconds * 1000
        lock.unlock()
    }
}

/// Synthetic UPNs with valid check letters (LA 801, establishment 2000).
func syntheticUPN(_ n: Int) -> String {
    let body = String(format: "80120002%04d", n % 10000)
    return String(UPN.checkLetter(for: body)!) + body
}

func makeSite(_ name: String, _ kind: SiteKind) -> SiteIdentity {
    SiteIdentity(id: .v7(), name: name, kind: kind)
}

// MARK: - Committed fixtures

/// `SENSYNC_REGENERATE_FIXTURES=1`: rewrite the committed schema file and golden fixtures.
var regenerateFixtures: Bool { ProcessInfo.processInfo.environment["SENSYNC_REGENERATE_FIXTURES"] == "1" }

/// The package's root folder (this file is `Tests/SENSyncTests/Support/TestSupport.swift`).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

// MARK: - Fixed identifiers

/// A site or record id whose 16 bytes are `lead` followed by `tail` repeated: ids whose order is
/// obvious from the arguments (`fixedID(1) < fixedID(2)`).
func fixedID(_ lead: UInt8, tail: UInt8 = 0) -> UUID128 {
    UUID128(unchecked: [lead] + [UInt8](repeating: tail, count: 15))
}

/// 2026-01-05 09:00 UTC, the start of ``TestClock``: a base for hand-made HLCs.
let baseMilliseconds: UInt64 = 1_767_603_600_000

/// An HLC `seconds` after ``baseMilliseconds``.
func hlc(_ seconds: UInt64, _ counter: UInt16 = 0) -> HLC {
    HLC(milliseconds: baseMilliseconds + seconds * 1000, counter: counter)
}

// MARK: - Deterministic randomness

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny, fast generator whose whole state is one
/// `UInt64`, so a printed seed replays a schedule exactly on every platform.
///
/// The helpers below deliberately avoid the standard library's `random(in:using:)`, whose
/// algorithm is not specified, so a seed means the same schedule on every Swift release.
struct SplitMix64: RandomNumberGenerator {
    /// The library's SplitMix64, so a seed means the same sequence everywhere.
    private var base: SeededGenerator

    init(seed: UInt64) { base = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { base.next() }

    /// A value in `0..<bound` (bound > 0), by rejection so every value is equally likely.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let limit = UInt64.max - (UInt64.max % b)
        while true {
            let x = next()
            if x < limit { return Int(x % b) }
        }
    }

    /// A value in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// `true` with probability `percent` / 100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// A random element; `nil` for an empty collection.
    mutating func pick<C: Collection>(_ items: C) -> C.Element? {
        guard !items.isEmpty else { return nil }
        return items[items.index(items.startIndex, offsetBy: below(items.count))]
    }

    /// A Fisher–Yates shuffle.
    mutating func shuffled<T>(_ items: [T]) -> [T] {
        var result = items
        guard result.count > 1 else { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            result.swapAt(i, below(i + 1))
        }
        return result
    }
}

// MARK: - Property test settings

/// Settings shared by the property tests.
enum PropertySettings {
    /// Schedules per property: `SENSYNC_PROPERTY_SCHEDULES`, else 200.
    static var scheduleCount: Int {
        ProcessInfo.processInfo.environment["SENSYNC_PROPERTY_SCHEDULES"].flatMap { Int($0) } ?? 200
    }

    /// `SENSYNC_PROPERTY_OFFSET`: start this many seeds past each property's base seed (to explore
    /// seeds a run of the same count has not reached), else 0.
    static var seedOffset: UInt64 {
        ProcessInfo.processInfo.environment["SENSYNC_PROPERTY_OFFSET"].flatMap { UInt64($0) } ?? 0
    }

    /// `SENSYNC_PROPERTY_VERBOSE=1` prints every schedule, passing or not.
    static var verbose: Bool { ProcessInfo.processInfo.environment["SENSYNC_PROPERTY_VERBOSE"] == "1" }

    /// `SENSYNC_PROPERTY_SEED` (decimal or 0x-hex): replay this one seed instead of the range.
    static var replaySeed: UInt64? {
        guard let raw = ProcessInfo.processInfo.environment["SENSYNC_PROPERTY_SEED"] else { return nil }
        if raw.lowercased().hasPrefix("0x") { return UInt64(raw.dropFirst(2), radix: 16) }
        return UInt64(raw)
    }

    /// The seeds to run for a property whose seeds start at `base`; prints them so a failure can
    /// be replayed with `SENSYNC_PROPERTY_SEED`.
    static func seeds(base: UInt64, property: String, announce: Bool = true) -> [UInt64] {
        if let seed = replaySeed {
            if announce { print("[\(property)] replaying seed \(hex(seed)) (SENSYNC_PROPERTY_SEED)") }
            return [seed]
        }
        let count = scheduleCount
        let first = base + seedOffset
        if announce {
            print(
                "[\(property)] base seed \(hex(base)), \(count) schedules (seeds \(hex(first))…\(hex(first + UInt64(max(count, 1)) - 1)); set SENSYNC_PROPERTY_SCHEDULES to change, SENSYNC_PROPERTY_OFFSET to start further on, SENSYNC_PROPERTY_SEED to replay one)"
            )
        }
        return (0..<UInt64(count)).map { first + $0 }
    }

    /// The shards a property's schedules are split into, so they run on every core without one
    /// test case per seed.
    static let shards = 4

    /// The seeds of one shard; shard 0 prints the run's base seed and count.
    static func seeds(base: UInt64, property: String, shard: Int) -> [UInt64] {
        let all = seeds(base: base, property: property, announce: shard == 0)
        return all.enumerated().filter { $0.offset % shards == shard }.map(\.element)
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16, uppercase: true) }
}

/// What one schedule of a property test did and what went wrong, printed when it fails.
struct ScheduleLog {
    let property: String
    let seed: UInt64
    private(set) var steps: [String] = []
    private(set) var failures: [String] = []

    init(property: String, seed: UInt64) {
        self.property = property
        self.seed = seed
    }

    mutating func step(_ text: String) { steps.append("\(steps.count): \(text)") }

    mutating func fail(_ text: String) { failures.append("after step \(steps.count - 1): \(text)") }

    mutating func check(_ condition: Bool, _ text: @autoclosure () -> String) {
        if !condition { fail(text()) }
    }

    var failed: Bool { !failures.isEmpty }

    /// How many failing schedules have printed their steps in this run (the first few do).
    private static let printed = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }

    /// Prints the seed, the failures and (for the first few failing schedules of a run) every
    /// step, and records an issue.
    func report(sourceLocation: SourceLocation = #_sourceLocation) {
        if !failed, PropertySettings.verbose {
            print(
                "[\(property)] seed \(PropertySettings.hex(seed)) passed:\n"
                    + steps.map { "    \($0)" }.joined(separator: "\n"))
        }
        guard failed else { return }
        var text =
            "[\(property)] FAILED seed \(PropertySettings.hex(seed)) — replay with SENSYNC_PROPERTY_SEED=\(PropertySettings.hex(seed))\n"
        text += failures.prefix(20).map { "  ✗ \($0)" }.joined(separator: "\n")
        if Self.printed.next() <= 3 {
            text += "\n  schedule:\n" + steps.map { "    \($0)" }.joined(separator: "\n")
        }
        print(text)
        Issue.record(
            "\(property): seed \(PropertySettings.hex(seed)) failed: \(failures.first ?? "")",
            sourceLocation: sourceLocation)
    }
}

// MARK: - Comparing conflicts

/// A replica's open conflicts in a form that compares with `==`.
struct ConflictSnapshot: Hashable, CustomStringConvertible {
    var key: RecordKey
    var conflict: FieldConflict

    var description: String {
        "\(key.table)/\(key.id.short).\(conflict.field) \(conflict.kind.rawValue) winner \(conflict.winner.dot) losers \(conflict.losers.map(\.dot))"
    }
}

extension MemoryReplica {
    var conflictSnapshot: [ConflictSnapshot] {
        openConflicts.map { ConflictSnapshot(key: $0.key, conflict: $0.conflict) }
    }
}

/// A store's open conflict, without the site names that differ between stores.
struct StoreConflictSnapshot: Hashable, CustomStringConvertible {
    struct Candidate: Hashable {
        var value: Value
        var site: SiteID
        var author: String?
        var hlc: HLC
        var seq: UInt64
    }

    var key: RecordKey
    var field: String
    var kind: FieldConflict.Kind
    var candidates: [Candidate]

    init(_ entry: ConflictEntry) {
        key = entry.key
        field = entry.field
        kind = entry.kind
        candidates = entry.candidates.map {
            Candidate(value: $0.value, site: $0.site, author: $0.author, hlc: $0.hlc, seq: $0.seq)
        }
    }

    var description: String {
        "\(key.table)/\(key.id.short).\(field) \(kind.rawValue) \(candidates.map { "\($0.site.short):\($0.seq)" })"
    }
}

extension Store {
    var conflictSnapshot: [StoreConflictSnapshot] {
        get throws { try conflicts().map(StoreConflictSnapshot.init) }
    }

    /// The bytes of the store file after writing the WAL back into it.
    func checkpointedFileBytes() throws -> Data {
        try checkpoint()
        return try Data(contentsOf: URL(fileURLWithPath: try #require(path)))
    }
}

// MARK: - Reading bundles

/// Every change in a bundle file that `recipient` can open, in payload order.
func changes(inBundleAt url: URL, openedBy recipient: Store) throws -> [EncodedChange] {
    let opened = try recipient.openBundle(at: url)
    var result: [EncodedChange] = []
    try BundleFile.streamSection(
        at: url, layout: opened.layout, section: opened.section, key: opened.key, originKeys: opened.originKeys
    ) { entry in
        if case .change(let change, _, _, _, _) = entry { result.append(change) }
    }
    return result
}
