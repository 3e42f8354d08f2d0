import Foundation
import SENSync

/// Peak memory of applying bundles, measured in a separate process so nothing else the benchmark
/// holds (other stores, generated rows) is counted: the child opens a store, applies the bundles
/// in order and reports its own VmHWM, as `sensync bundle apply` would run.
enum ChildApply {
    /// The hidden mode: `sensync-bench --apply-child STORE BUNDLE...`.
    static let flag = "--apply-child"

    struct Result {
        var openMiB: Double
        var peakMiB: Double
        var seconds: Double
        var applied: Int
    }

    /// Runs in the child. Prints one line: `open_kib peak_kib seconds applied`.
    static func run(_ arguments: [String]) -> Int32 {
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: sensync-bench \(flag) STORE BUNDLE...\n".utf8))
            return 2
        }
        do {
            let store = try Store.open(at: arguments[0])
            let open = Memory.kib("VmRSS") ?? -1
            var applied = 0
            let (_, seconds) = try sensync_bench.measure {
                for path in arguments.dropFirst() {
                    applied += try store.apply(bundleAt: URL(fileURLWithPath: path)).applied
                }
            }
            print("\(open) \(Memory.kib("VmHWM") ?? -1) \(seconds) \(applied)")
            return 0
        } catch {
            FileHandle.standardError.write(Data("sensync-bench \(flag): \(error)\n".utf8))
            return 1
        }
    }

    /// Makes a fresh copy of the LA store (same identity, the schools as peers), closes it, and
    /// runs the child on it with every bundle.
    static func measure(
        _ bundles: [Bench.MadeBundle], pristine: String, folder: URL, tag: String,
        progress: Progress
    ) throws -> Result {
        let path = folder.appendingPathComponent("\(tag)-la-child.sensync").path
        do {
            let replica = try SyntheticArea.copyPristine(pristine, to: path)
            try replica.checkpoint()
        }
        defer {
            for suffix in ["", "-wal", "-shm", ".keys"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let process = Process()
        process.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = [flag, path] + bundles.map(\.summary.url.path)
        let pipe = Pipe()
        process.standardOutput = pipe
        progress.say("[\(tag)] separate process applying \(bundles.count) bundles")
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let fields = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard process.terminationStatus == 0, fields.count == 4, let open = Double(fields[0]),
            let peak = Double(fields[1]),
            let seconds = Double(fields[2]), let applied = Int(fields[3])
        else {
            throw BenchFailure("The separate apply process failed (exit \(process.terminationStatus)).")
        }
        let expected = bundles.reduce(0) { $0 + $1.changes }
        guard applied == expected else {
            throw BenchFailure("The separate apply process applied \(applied) of \(expected) changes.")
        }
        return Result(openMiB: open / 1024, peakMiB: peak / 1024, seconds: seconds, applied: applied)
    }
}
