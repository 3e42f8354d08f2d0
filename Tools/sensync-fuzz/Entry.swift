import Foundation
import SENSync

#if SENSYNC_FUZZ
    /// The target this fuzzing process runs, from `SENSYNC_FUZZ_TARGET` (read once).
    private let selectedTarget: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["SENSYNC_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("set SENSYNC_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(2)
        }
        return target
    }()

    /// libFuzzer's entry point: built with `-DSENSYNC_FUZZ -sanitize=fuzzer`, libFuzzer calls this
    /// once per input.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
        let bytes = count == 0 ? [] : Array(UnsafeRawBufferPointer(start: start, count: count))
        selectedTarget.run(bytes)
        return 0
    }

    /// libFuzzer's driver (`FuzzerInterface.h`), declared here rather than in a C target for one
    /// call.
    @_silgen_name("LLVMFuzzerRunDriver")
    private func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's `main` to its module's entry point (so tests can link the
    /// module), which must therefore exist in this build too: it hands over to libFuzzer's driver,
    /// as libFuzzer's own `main` does.
    @main
    enum FuzzDriver {
        static func main() {
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
        }
    }
#else
    /// Without the fuzzer: replays inputs through a target (a crash ends the process, so the exit
    /// status says whether every input was handled), writes the seed corpus, or lists the targets.
    @main
    enum FuzzCommand {
        static let usage = """
            usage: sensync-fuzz replay [--verbose] TARGET PATH...
                                                        run each file (or each file in each folder) through
                                                        TARGET; --verbose says how each one was refused
                   sensync-fuzz seeds FIXTURES OUTPUT   write the seed corpus made from the golden fixtures
                   sensync-fuzz list                    list the targets
            """

        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            defer { Scratch.remove() }
            do {
                switch arguments.first {
                case "replay" where arguments.count >= 3:
                    let verbose = arguments[1] == "--verbose"
                    let rest = Array(arguments.dropFirst(verbose ? 2 : 1))
                    guard rest.count >= 2, let target = FuzzTarget(rawValue: rest[0]) else { fail(usage) }
                    try replay(target, paths: Array(rest.dropFirst()), verbose: verbose)
                case "seeds" where arguments.count == 3:
                    try SeedCorpus.write(
                        fixtures: URL(fileURLWithPath: arguments[1]), to: URL(fileURLWithPath: arguments[2]))
                case "list":
                    for target in FuzzTarget.allCases { print("\(target.rawValue): \(target.summary)") }
                default:
                    fail(usage)
                }
            } catch {
                fail("sensync-fuzz: \(error)")
            }
        }

        /// Runs every input through `target`; an input slower than ten seconds fails the run, as it
        /// would under libFuzzer's `-timeout=10`.
        static func replay(_ target: FuzzTarget, paths: [String], verbose: Bool) throws {
            var files: [URL] = []
            for path in paths {
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                    fail("no file or folder at \(path)")
                }
                let url = URL(fileURLWithPath: path)
                if isFolder.boolValue {
                    let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                    files += names.filter { !$0.hasPrefix(".") }.map { url.appendingPathComponent($0) }
                } else {
                    files.append(url)
                }
            }
            var slowest: (seconds: Double, name: String) = (0, "")
            for file in files {
                let bytes = Array(try Data(contentsOf: file))
                let start = Date()
                let error = target.outcome(bytes)
                if verbose { print("\(file.lastPathComponent): \(error.map { "refused: \($0)" } ?? "accepted")") }
                let seconds = Date().timeIntervalSince(start)
                if seconds > slowest.seconds { slowest = (seconds, file.lastPathComponent) }
            }
            print(
                "\(target.rawValue): \(files.count) inputs replayed, slowest \(slowest.name) in \(Int(slowest.seconds * 1000)) ms"
            )
            if slowest.seconds > 10 { fail("\(slowest.name) took more than 10 s") }
        }

        static func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Scratch.remove()
            exit(1)
        }
    }
#endif
