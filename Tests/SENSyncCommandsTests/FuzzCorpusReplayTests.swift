import Foundation
import Testing

/// Replays the fuzz seed corpus (`Tests/Fuzz/<target>/`) through the plain build of
/// `sensync-fuzz`, so every `swift test` runs each decoder target on inputs it accepts: the
/// libFuzzer build is too slow for CI (README, Fuzzing); `Tools/fuzz.sh` runs it.
@Suite struct FuzzCorpusReplayTests {
    static let targets = [
        "bundle", "header", "payload", "zlib", "change", "directory", "identity", "keyfile", "jsonl", "csv", "ctf",
    ]

    /// `Tests/Fuzz`, found from this file's path.
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    @Test func everyTargetHasASeedCorpus() throws {
        let list = try run(["list"])
        #expect(list.status == 0)
        let listed = list.stdout.split(separator: "\n").map { String($0.prefix { $0 != ":" }) }
        #expect(listed == Self.targets)
        for target in Self.targets {
            let seeds = try FileManager.default.contentsOfDirectory(
                atPath: Self.corpus.appendingPathComponent(target).path)
            #expect(!seeds.isEmpty, "no seeds for \(target)")
        }
    }

    @Test(arguments: targets) func seedCorpusReplaysAndIsAccepted(_ target: String) throws {
        let result = try run(["replay", "--verbose", target, Self.corpus.appendingPathComponent(target).path])
        #expect(result.status == 0, "\(result.stderr)")
        // The seeds are inputs the decoders accept, so fuzzing starts deep in each one; inputs
        // named `regression-…` are what fuzzing found, kept so they stay refused without a crash.
        let refusedSeeds = result.stdout.split(separator: "\n").filter {
            $0.contains(": refused") && !$0.hasPrefix("regression-")
        }
        #expect(refusedSeeds.isEmpty, "\(result.stdout)")
    }

    func run(_ arguments: [String]) throws -> CLI.Result {
        try CLI.runProcess(
            CLI.executable.deletingLastPathComponent().appendingPathComponent("sensync-fuzz"), arguments)
    }
}
