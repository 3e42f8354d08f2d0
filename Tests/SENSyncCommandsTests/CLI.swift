import Foundation
import Testing

/// Runs the built `sensync` executable.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    /// The `sensync` binary next to the test bundle (`swift build` puts them in one folder).
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("sensync")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/sensync")
    }()

    let folder: URL
    var environment: [String: String] = [:]

    @discardableResult
    func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env["SENSYNC_AUTHOR"] = nil
        env["SENSYNC_STORE"] = nil
        for (k, v) in environment.merging(extra, uniquingKeysWith: { $1 }) { env[k] = v }
        let result = try Self.runProcess(Self.executable, arguments, in: folder, environment: env)
        if arguments.contains("--json"), let json = result.json {
            let odd = Self.keysSpellingIDInCapitals(json)
            #expect(
                odd.isEmpty, "`\(arguments.prefix(2).joined(separator: " "))` --json spells an id \(odd), not ...Id")
        }
        return result
    }

    /// Keys in `json` that spell an id `ID` (`pupilID`): every `--json` output says `pupilId`.
    static func keysSpellingIDInCapitals(_ json: Any) -> Set<String> {
        var found: Set<String> = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, inner) in object {
                    if key.range(
                        of: #"^[a-z][A-Za-z0-9]*[a-z0-9]IDs?([A-Z][A-Za-z0-9]*)?$"#, options: .regularExpression)
                        != nil
                    {
                        found.insert(key)
                    }
                    walk(inner)
                }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(json)
        return found
    }

    /// Runs any program to the end and returns its exit status and output.
    static func runProcess(
        _ executable: URL, _ arguments: [String], in folder: URL? = nil, environment: [String: String]? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = folder }
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Copies the closed store `name.sensync` (file, WAL and shared-memory files if any, and key
    /// file) to `copy.sensync`, replacing what was there: a backup, or its restoring.
    func copyStore(_ name: String, to copy: String) throws {
        let from = path("\(name).sensync")
        let to = path("\(copy).sensync")
        for suffix in ["", "-wal", "-shm", ".keys"] {
            try? FileManager.default.removeItem(atPath: to + suffix)
            if FileManager.default.fileExists(atPath: from + suffix) {
                try FileManager.default.copyItem(atPath: from + suffix, toPath: to + suffix)
            }
        }
    }
}

func withCLI<T>(_ body: (CLI) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sensync-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(CLI(folder: url))
}

/// Synthetic UPNs with a valid check letter.
func upn(_ n: Int) -> String {
    let body = String(format: "80190002%04d", n)
    let letters = Array("ABCDEFGHJKLMNPQRTUVWXYZ")
    let sum = body.enumerated().reduce(0) { $0 + Int(String($1.element))! * ($1.offset + 2) }
    return String(letters[sum % 23]) + body
}
