import Foundation
import GRDB
import SENSync
import Testing

/// Crash safety, end to end: the built `sensync` killed with SIGKILL at seeded random moments of
/// `bundle apply`, `bundle create` and local writes. After every kill the store passes SQLite's
/// `PRAGMA integrity_check` and `sensync audit verify`, holds either everything the command meant
/// to write or nothing of it, and a retry ends where an uninterrupted run does.
///
/// Each kill has its own seed, printed with its outcome; `SENSYNC_CRASH_SEED=N` replays one kill of
/// each test, `SENSYNC_CRASH_KILLS=N` lands N kills in each instead of the usual number.
@Suite(.serialized) struct CrashSafetyTests {
    /// Pupils in the school's store (300 changes with their SEN episodes and needs): enough that
    /// applying its full bundle at the LA takes about a third of a second in a debug build, so
    /// timed kills land before the store is opened, while the bundle is checked and in the
    /// transaction, and WAL-triggered ones in and just after its commit.
    static let pupils = 100

    @Test func aKilledBundleApplyLeavesTheStoreWholeAndARetryReachesTheSameDigest() throws {
        try withCLI { cli in
            let area = try CrashArea.make(cli)
            let bundle = cli.path("full.bundle")
            try area.run(["bundle", "create", "--to", area.la, "--out", bundle] + area.store("school"))
            try area.save("la", as: "la-before")
            let before = try area.digest("la")

            // The reference: the same apply, uninterrupted.
            try area.run(["bundle", "apply", bundle] + area.store("la"))
            let reference = try area.digest("la")
            let typical = try area.profile(["bundle", "apply", bundle], on: "la-before")
            #expect(reference != before)

            var tally = KillTally()
            for seed in CrashSchedule.seeds(base: 1_000, kills: 50) where tally.kills < CrashSchedule.kills(50) {
                var rng = SeededGenerator(seed: seed)
                let point = KillPoint.random(in: typical, using: &rng)
                try area.restore("la-before", as: "trial")
                let killed = try area.launch(["bundle", "apply", bundle], on: "trial", killing: point)

                try area.expectWhole("trial", seed: seed)
                let after = try area.digest("trial")
                let landed = tally.count(killed: killed, committed: after == reference)
                #expect(
                    after == before || after == reference,
                    "seed=\(seed): a killed apply left a store that is neither before nor after the bundle")

                let retry = try area.cli.run(["bundle", "apply", bundle] + area.store("trial"))
                #expect(retry.status == 0, "seed=\(seed): \(retry.stderr)")
                if after == reference {
                    #expect(retry.stdout.contains("already applied"), "seed=\(seed): \(retry.stdout)")
                }
                #expect(try area.digest("trial") == reference, "seed=\(seed): the retry did not reach the digest")
                print("seed=\(seed) \(point) (a run: \(typical)): \(landed)")
            }
            print("bundle apply: \(tally) (a run: \(typical))")
            #expect(CrashSchedule.replaying || tally.kills >= CrashSchedule.kills(50), "too few kills landed: \(tally)")
        }
    }

    @Test func aKilledBundleCreateLeavesNoBundleThatApplies() throws {
        try withCLI { cli in
            let area = try CrashArea.make(cli)
            try area.save("school", as: "school-before")
            try area.save("la", as: "la-before")
            let schoolDigest = try area.digest("school")
            let laBefore = try area.digest("la")

            // The reference: an uninterrupted create, applied at the LA.
            try area.run(
                ["bundle", "create", "--to", area.la, "--out", cli.path("full.bundle")] + area.store("school"))
            let typical = try area.profile(
                ["bundle", "create", "--to", area.la, "--out", cli.path("timing.bundle")], on: "school-before")
            try area.run(["bundle", "apply", cli.path("full.bundle")] + area.store("la"))
            let reference = try area.digest("la")

            var tally = KillTally()
            var leftovers = 0
            for seed in CrashSchedule.seeds(base: 2_000, kills: 20) where tally.kills < CrashSchedule.kills(20) {
                var rng = SeededGenerator(seed: seed)
                let point = KillPoint.random(in: typical, using: &rng)
                try area.restore("school-before", as: "trial")
                let out = cli.path("trial-\(seed).bundle")
                let killed = try area.launch(
                    ["bundle", "create", "--to", area.la, "--out", out], on: "trial", killing: point)

                try area.expectWhole("trial", seed: seed)
                #expect(try area.digest("trial") == schoolDigest, "seed=\(seed): a killed create changed records")
                // The bundle is there whole or not at all; a temporary file it left is refused, or
                // (killed after writing it whole, before renaming it) is the whole bundle.
                let written = FileManager.default.fileExists(atPath: out)
                let landed = tally.count(killed: killed, committed: written)
                if written { try area.expectApplies(out, reaching: reference, seed: seed) }
                for partial in try area.temporaryFiles() {
                    leftovers += 1
                    try area.expectRefusedOrWhole(partial, leaving: laBefore, orReaching: reference, seed: seed)
                    try FileManager.default.removeItem(atPath: partial)
                }

                // A retry makes a bundle that reaches the reference (a run that finished is one already).
                if killed {
                    let again = cli.path("retry-\(seed).bundle")
                    try area.run(["bundle", "create", "--to", area.la, "--out", again] + area.store("trial"))
                    try area.expectApplies(again, reaching: reference, seed: seed)
                }
                print("seed=\(seed) \(point) (a run: \(typical)): \(landed)")
            }
            print("bundle create: \(tally), \(leftovers) temporary file(s) left by kills, all refused")
            #expect(CrashSchedule.replaying || tally.kills >= CrashSchedule.kills(20), "too few kills landed: \(tally)")
        }
    }

    @Test func aKilledLocalWriteIsWhollyThereOrWhollyAbsent() throws {
        try withCLI { cli in
            let area = try CrashArea.make(cli)
            try area.save("school", as: "school-before")
            let author = ["--author", "Crash test"]

            let typical = try area.profile(
                [
                    "pupil", "add", "--upn", upn(9_000), "--forename", "Timing", "--surname", "Sample", "--dob",
                    "2016-01-01",
                ]
                    + author, on: "school-before")

            var tally = KillTally()
            for seed in CrashSchedule.seeds(base: 3_000, kills: 20) where tally.kills < CrashSchedule.kills(20) {
                var rng = SeededGenerator(seed: seed)
                let point = KillPoint.random(in: typical, using: &rng)
                try area.restore("school-before", as: "trial")
                // Even seeds add a pupil (the pupil and their enrolment), odd ones a note about pupil 1.
                let addsPupil = seed % 2 == 0
                let pupil = addsPupil ? upn(9_001) : upn(1)
                let write =
                    addsPupil
                    ? [
                        "pupil", "add", "--upn", pupil, "--forename", "Crash", "--surname", "Sample", "--dob",
                        "2016-02-02",
                    ]
                    : ["note", "add", "--pupil", pupil, "--area", "cognition-learning", "--text", "Crash note."]
                let killed = try area.launch(write + author, on: "trial", killing: point)

                try area.expectWhole("trial", seed: seed)
                let held = try area.written(pupil, note: !addsPupil, in: "trial", seed: seed)
                let landed = tally.count(killed: killed, committed: held)
                // A retry: run again what is not there; a pupil added twice is refused by UPN.
                if !held || addsPupil {
                    let retry = try area.cli.run(write + author + area.store("trial"))
                    #expect((retry.status == 0) == !held, "seed=\(seed): \(retry.stderr)")
                }
                #expect(try area.written(pupil, note: !addsPupil, in: "trial", seed: seed), "seed=\(seed)")
                print(
                    "seed=\(seed) \(addsPupil ? "pupil add" : "note add") \(point) (a run: \(typical)): \(landed)"
                )
            }
            print("local writes: \(tally)")
            #expect(CrashSchedule.replaying || tally.kills >= CrashSchedule.kills(20), "too few kills landed: \(tally)")
        }
    }
}

extension CrashSafetyTests {
    /// `sensync init` killed at any moment leaves either a whole store with its key file, or
    /// nothing that stops the same `init` from being run again.
    @Test func aKilledInitLeavesAWholeStoreOrARetryThatWorks() throws {
        try withCLI { cli in
            let area = try CrashArea(cli: cli, la: CLIArea.make(cli).ids["la"] ?? "")
            let initialise = [
                "init", "--name", "Crash School", "--kind", "maintained-school", "--la-identity",
                cli.path("la.identity"),
            ]
            func removeTrial() throws {
                for file in try FileManager.default.contentsOfDirectory(atPath: cli.folder.path)
                where file.hasPrefix("trial.") || file.hasPrefix("timing.") {
                    try FileManager.default.removeItem(atPath: cli.path(file))
                }
            }
            try removeTrial()
            let start = Date()
            _ = try area.run(initialise + area.store("timing"))
            let typical = RunProfile(duration: Date().timeIntervalSince(start), walBytes: 0)

            var tally = KillTally()
            for seed in CrashSchedule.seeds(base: 4_000, kills: 20) where tally.kills < CrashSchedule.kills(20) {
                var rng = SeededGenerator(seed: seed)
                let point = KillPoint.after(Double.random(in: 0...typical.duration, using: &rng))
                try removeTrial()
                let killed = try area.launch(initialise, on: "trial", killing: point)
                let status = try cli.run(["status"] + area.store("trial"))
                let whole = status.status == 0
                let landed = tally.count(killed: killed, committed: whole)
                if whole {
                    try area.expectWhole("trial", seed: seed)
                } else {
                    let retry = try cli.run(initialise + area.store("trial"))
                    #expect(retry.status == 0, "seed=\(seed): a retried init failed: \(retry.stderr)")
                }
                // The store and its key file belong together: a write signs with the key.
                let write = try cli.run(
                    [
                        "pupil", "add", "--upn", upn(1), "--forename", "Crash", "--surname", "Sample", "--dob",
                        "2016-02-02", "--author", "Crash test",
                    ] + area.store("trial"))
                #expect(write.status == 0, "seed=\(seed): \(write.stderr)")
                let made = try cli.run(
                    ["bundle", "create", "--to", area.la, "--out", cli.path("trial.bundle")] + area.store("trial"))
                #expect(made.status == 0, "seed=\(seed): \(made.stderr)")
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: cli.folder.path)
                    .filter {
                        $0.hasPrefix("trial.") && $0 != "trial.sensync" && $0 != "trial.sensync.keys"
                            && $0 != "trial.bundle"
                    }
                #expect(leftovers.isEmpty, "seed=\(seed): left behind: \(leftovers)")
                print("seed=\(seed) init \(point) (a run: \(typical)): \(landed)")
            }
            print("init: \(tally)")
            #expect(CrashSchedule.replaying || tally.kills >= CrashSchedule.kills(20), "too few kills landed: \(tally)")
        }
    }
}

/// Milliseconds, for the printed schedule.
private func ms(_ seconds: TimeInterval) -> String { "\(Int((seconds * 1000).rounded())) ms" }

/// Which seeds to run: the usual ones, or the one `SENSYNC_CRASH_SEED` names.
private enum CrashSchedule {
    static let environment = ProcessInfo.processInfo.environment
    static var replaying: Bool { environment["SENSYNC_CRASH_SEED"] != nil }

    /// How many kills must land: `usual` or `SENSYNC_CRASH_KILLS`; one when replaying a seed
    /// (which runs alone, whether its kill lands or not).
    static func kills(_ usual: Int) -> Int {
        replaying ? 1 : environment["SENSYNC_CRASH_KILLS"].flatMap(Int.init) ?? usual
    }

    /// Seeds from `base` on, or the one seed being replayed. Runs that finish before their kill
    /// do not count, so a test takes seeds until enough kills landed, at most three times as many.
    static func seeds(base: UInt64, kills usual: Int) -> [UInt64] {
        if let seed = environment["SENSYNC_CRASH_SEED"].flatMap(UInt64.init) { return [seed] }
        return Array(base..<base + UInt64(3 * kills(usual)))
    }
}

/// What an uninterrupted run takes: its wall time, and how large it grows the store's WAL file
/// (the size after its last commit, before the checkpoint when the store closes).
private struct RunProfile: CustomStringConvertible {
    var duration: TimeInterval
    var walBytes: Int
    var description: String { "\(ms(duration)), \(walBytes) WAL bytes" }
}

/// When a kill is sent: a time after launch, or the moment the store's WAL file (which SQLite
/// appends to as a transaction commits) has grown to a size.
private enum KillPoint: CustomStringConvertible {
    case after(TimeInterval)
    case walReaches(Int)

    /// Half the seeds kill at a time anywhere in a typical run; a quarter while the WAL is being
    /// written (during a commit); a quarter as soon as the last commit is in the WAL, before the
    /// process checkpoints and exits — a window too short for a timed kill to hit often.
    static func random(in run: RunProfile, using rng: inout SeededGenerator) -> KillPoint {
        switch rng.next() % 4 {
        case 0, 1: .after(Double.random(in: 0...run.duration, using: &rng))
        case 2: .walReaches(Int.random(in: 1...max(1, run.walBytes), using: &rng))
        default: .walReaches(run.walBytes)
        }
    }

    var description: String {
        switch self {
        case .after(let delay): "kill at \(ms(delay))"
        case .walReaches(let bytes): "kill at \(bytes) WAL bytes"
        }
    }
}

/// Where the kills landed.
private struct KillTally: CustomStringConvertible {
    var beforeCommit = 0
    var afterCommit = 0
    var finished = 0
    var kills: Int { beforeCommit + afterCommit }

    /// Counts one run and says where it landed.
    mutating func count(killed: Bool, committed: Bool) -> String {
        switch (killed, committed) {
        case (false, _):
            finished += 1
            return "finished before the kill"
        case (true, false):
            beforeCommit += 1
            return "killed before commit"
        case (true, true):
            afterCommit += 1
            return "killed after commit"
        }
    }

    var description: String {
        "\(kills) kills, \(beforeCommit) before commit, \(afterCommit) after commit; \(finished) run(s) finished first"
    }
}

/// An LA and one maintained school holding ``CrashSafetyTests/pupils`` pupils, each with a SEN
/// support episode and a need, made through the CLI.
private struct CrashArea {
    let cli: CLI
    let la: String

    func store(_ name: String) -> [String] { ["--store", cli.path("\(name).sensync")] }

    static func make(_ cli: CLI) throws -> CrashArea {
        var area = try CLIArea.make(cli)
        try area.add("school", kind: "maintained-school")
        let crash = CrashArea(cli: cli, la: try #require(area.ids["la"]))
        let pupils = 1...CrashSafetyTests.pupils
        try
            (["ID,UPN,Forename,Surname,DOB,NCyearActual,EntryDate"]
            + pupils.map { "P\($0),\(upn($0)),Pupil\($0),Sample,2016-03-01,4,2021-09-01" })
            .joined(separator: "\n").write(toFile: cli.path("pupils.csv"), atomically: true, encoding: .utf8)
        try (["ID,UPN,SENprovision,StartDate"] + pupils.map { "E\($0),\(upn($0)),K,2024-09-10" })
            .joined(separator: "\n").write(toFile: cli.path("sen_episodes.csv"), atomically: true, encoding: .utf8)
        try pupils.map {
            #"{"kind": "sen_need", "id": "N\#($0)", "upn": "\#(upn($0))", "need": "SLCN", "rank": 1, "startDate": "2024-09-10"}"#
        }
        .joined(separator: "\n").write(toFile: cli.path("needs.jsonl"), atomically: true, encoding: .utf8)
        try crash.run(
            [
                "import", "--author", "MIS import", "--quiet", cli.path("pupils.csv"), cli.path("sen_episodes.csv"),
                cli.path("needs.jsonl"),
            ] + crash.store("school"))
        return crash
    }

    /// Runs a command that must succeed.
    @discardableResult
    func run(_ arguments: [String]) throws -> CLI.Result {
        let r = try cli.run(arguments)
        #expect(r.status == 0, "\(arguments.prefix(2).joined(separator: " ")): \(r.stderr)")
        return r
    }

    func digest(_ name: String) throws -> String { try run(["digest"] + store(name)).stdout }

    func save(_ name: String, as copy: String) throws { try cli.copyStore(name, to: copy) }

    func restore(_ saved: String, as name: String) throws { try save(saved, as: name) }

    /// The median wall time of three uninterrupted runs of a command, each on a fresh copy of
    /// `saved`, and the largest the store's WAL file grew.
    func profile(_ arguments: [String], on saved: String) throws -> RunProfile {
        var runs: [RunProfile] = []
        for _ in 0..<3 {
            try restore(saved, as: "timing")
            let started = Date()
            let process = try start(arguments + store("timing"))
            var walBytes = 0
            while process.isRunning {
                walBytes = max(walBytes, walSize(of: "timing"))
                usleep(200)
            }
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(arguments.prefix(2).joined(separator: " ")) failed")
            runs.append(RunProfile(duration: Date().timeIntervalSince(started), walBytes: walBytes))
        }
        return RunProfile(duration: runs.map(\.duration).sorted()[1], walBytes: runs.map(\.walBytes).max() ?? 0)
    }

    /// Launches `sensync` on store `name`, sends it SIGKILL at `point`, and says whether the kill
    /// landed (`false` when it had already exited by itself).
    func launch(_ arguments: [String], on name: String, killing point: KillPoint) throws -> Bool {
        let process = try start(arguments + store(name))
        switch point {
        case .after(let delay):
            Thread.sleep(forTimeInterval: delay)
        case .walReaches(let bytes):
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning && walSize(of: name) < bytes && Date() < deadline { usleep(200) }
        }
        _ = kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal
    }

    private func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments
        process.currentDirectoryURL = cli.folder
        var env = ProcessInfo.processInfo.environment
        env["SENSYNC_AUTHOR"] = nil
        env["SENSYNC_STORE"] = nil
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private func walSize(of name: String) -> Int {
        var info = stat()
        return stat(cli.path("\(name).sensync-wal"), &info) == 0 ? Int(info.st_size) : 0
    }

    /// SQLite finds the store file sound and `sensync audit verify` every chain whole.
    func expectWhole(_ name: String, seed: UInt64) throws {
        let integrity = try DatabaseQueue(path: cli.path("\(name).sensync")).read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check")
        }
        #expect(integrity == ["ok"], "seed=\(seed): integrity_check: \(integrity)")
        let audit = try cli.run(["audit", "verify", "--json"] + store(name))
        #expect(audit.status == 0, "seed=\(seed): audit verify: \(audit.stdout) \(audit.stderr)")
    }

    /// A bundle that verifies and applies at a fresh copy of the LA, reaching `reference`.
    func expectApplies(_ bundle: String, reaching reference: String, seed: UInt64) throws {
        try restore("la-before", as: "la-trial")
        let r = try cli.run(["bundle", "apply", bundle] + store("la-trial"))
        #expect(r.status == 0, "seed=\(seed): \(r.stderr)")
        #expect(try digest("la-trial") == reference, "seed=\(seed): the bundle did not reach the digest")
    }

    /// A leftover temporary file: a section (refused, like any partial file), or the whole bundle
    /// written before the kill stopped its rename, which applies as the finished bundle would.
    func expectRefusedOrWhole(_ file: String, leaving digest: String, orReaching reference: String, seed: UInt64) throws
    {
        try restore("la-before", as: "la-trial")
        if try cli.run(["bundle", "verify", file] + store("la-trial")).status == 0 {
            try expectApplies(file, reaching: reference, seed: seed)
        } else {
            try expectRefused(file, leaving: digest, seed: seed)
        }
    }

    /// A file that `bundle verify` and `bundle apply` refuse at a fresh copy of the LA, which
    /// stays at `digest`.
    func expectRefused(_ file: String, leaving digest: String, seed: UInt64) throws {
        try restore("la-before", as: "la-trial")
        let verify = try cli.run(["bundle", "verify", file] + store("la-trial"))
        #expect(verify.status != 0, "seed=\(seed): a partial bundle verified")
        let apply = try cli.run(["bundle", "apply", file] + store("la-trial"))
        #expect(apply.status != 0, "seed=\(seed): a partial bundle applied")
        #expect(try self.digest("la-trial") == digest, "seed=\(seed): a refused bundle changed the store")
    }

    /// Temporary files `bundle create` left in the folder.
    func temporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: cli.folder.path)
            .filter { $0.hasSuffix(".sensync-tmp") }.map { cli.path($0) }
    }

    /// Whether the write is held: the pupil with exactly one enrolment, or exactly one note.
    /// Anything in between (a pupil without their enrolment, two notes) fails the test.
    func written(_ pupil: String, note: Bool, in name: String, seed: UInt64) throws -> Bool {
        let shown = try cli.run(["pupil", "show", pupil, "--json"] + store(name))
        guard shown.status == 0 else { return false }
        let json = try #require(shown.json as? [String: Any], "seed=\(seed)")
        let count = (json[note ? "notes" : "enrolments"] as? [Any])?.count ?? 0
        #expect(count <= 1, "seed=\(seed): the write is held \(count) times")
        if !note { #expect(count == 1, "seed=\(seed): a pupil without their enrolment") }
        return count == 1
    }
}
