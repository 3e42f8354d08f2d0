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
