import Foundation
import SENSync

/// Wall-clock seconds taken by `body`.
func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// Process memory from /proc/self/status (Linux).
enum Memory {
    /// A field of /proc/self/status in KiB (`VmHWM`, `VmRSS`), or nil if unavailable.
    static func kib(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(
                line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    static func mib(_ field: String) -> Double? { kib(field).map { Double($0) / 1024 } }

    /// Resets VmHWM to the current RSS (writes 5 to /proc/self/clear_refs). Returns whether it worked.
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every figure.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// Size in bytes of a file (0 if absent).
func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

/// What the benchmark ran on.
struct MachineInfo {
    var cpus: Int
    var cpuModel: String
    var memoryMiB: Int
    var kernel: String
    var swift: String
    var build: String
    var tempFolder: String
    var tempFilesystem: String

    static func current(tempFolder: URL) -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKiB =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #if DEBUG
            let build = "debug"
        #else
            let build = "release"
        #endif
        return MachineInfo(
            cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, memoryMiB: memKiB / 1024,
            kernel: "Linux \(kernel)", swift: swiftVersion(), build: build, tempFolder: tempFolder.path,
            tempFilesystem: filesystem(of: tempFolder.path))
    }

    /// `swift --version`'s first line, or the compiler version this was built with.
    static func swiftVersion() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        if (try? process.run()) != nil {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            if process.terminationStatus == 0,
                let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first
            {
                return String(line)
            }
        }
        #if compiler(>=6.3)
            return "compiler >= 6.3"
        #elseif compiler(>=6.2)
            return "compiler 6.2"
        #else
            return "compiler 6.1"
        #endif
    }

    /// The type and device of the filesystem holding `path`, from /proc/mounts.
    static func filesystem(of path: String) -> String {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return "unknown" }
        var best: (mount: String, text: String)?
        for line in mounts.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 3 else { continue }
            let mount = String(parts[1])
            let matches = path == mount || path.hasPrefix(mount == "/" ? "/" : mount + "/")
            if matches, mount.count >= (best?.mount.count ?? -1) {
                best = (mount, "\(parts[2]) (\(parts[0]) on \(mount))")
            }
        }
        return best?.text ?? "unknown"
    }
}

/// A fresh temporary folder for one benchmark run: removed when the run ends, unless `--keep`.
///
/// Every mode starts with one; it also notes the machine and the load average at the start, and
/// warns when the build is a debug build.
final class ScratchFolder {
    let url: URL
    let machine: MachineInfo
    let loadStart: String
    private let keep: Bool
    private let progress: Progress

    init(_ tag: String, keep: Bool, progress: Progress) throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("sensync-bench-\(tag)\(getpid())-\(UUID128.v7().short)")
        self.keep = keep
        self.progress = progress
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        machine = MachineInfo.current(tempFolder: url)
        loadStart = loadAverage()
        if machine.build == "debug" { progress.say("warning: this is a debug build; figures are not meaningful") }
    }

    /// Call once the run is done (`defer`).
    func finish() {
        if keep {
            progress.say("kept \(url.path)")
        } else {
            try? FileManager.default.removeItem(at: url)
        }
    }
}

extension Report {
    /// The header every mode but the main one prints: the command, seed, date, build and machine.
    static func header(seed: UInt64, machine: MachineInfo, loadStart: String)
        -> [(key: String, label: String, value: String)]
    {
        [
            ("command", "Command", CommandLine.arguments.joined(separator: " ")),
            ("seed", "Seed", String(seed)),
            ("date", "Date (UTC)", ISO8601DateFormatter().string(from: Date())),
            ("build", "Build", machine.build), ("swift", "Swift", machine.swift),
            (
                "machine", "Machine",
                "\(machine.cpus) CPUs (\(machine.cpuModel)), \(machine.memoryMiB) MiB RAM, \(machine.kernel)"
            ),
            ("temp", "Temporary folder", "\(machine.tempFolder) on \(machine.tempFilesystem)"),
            ("load", "Load average", "\(loadStart) at start, \(loadAverage()) at end (1/5/15 min)"),
        ]
    }
}
