import ArgumentParser
import Foundation
import SENSync

/// A command that may print JSON; used to report errors in the requested form.
protocol JSONOutputting {
    var output: OutputOptions { get }
}

/// `sensync`: the root command.
public struct SENSyncCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sensync",
        abstract:
            "Keep a school's SEN records offline and sync them between schools, trusts and the LA as bundle files.",
        discussion: HelpText.fitted(
            """
            Start with `sensync demo`, which builds a small synthetic area and exchanges real bundles.

            Every kind of record also has commands of its own: `sensync concern add`, `sensync referral list`, and so on; `sensync record fields` lists the kinds and `sensync KIND --help` a kind's fields.

            Exit codes (the README says more):
            \(HelpText.hangingList(SENSyncExit.allCases.map { (String($0.rawValue), $0.meaning) }))
            """),
        version: "0.1.0",
        subcommands: [
            Init.self, Identity.self, Directory.self, Pupil.self, Note.self, Plan.self, Record.self, Due.self, EHC.self,
            Summary.self, Report.self, Import.self, CTF.self, Export.self, Peer.self,
            BundleCommand.self, Conflicts.self, Status.self, Clock.self, Rejoin.self, Digest.self, ImportLog.self,
            History.self,
            Audit.self,
            Retention.self, Demo.self,
        ])

    public init() {}

    /// Parses and runs `arguments`, printing errors itself. Returns the process exit code.
    public static func run(_ arguments: [String]? = nil) -> Int32 {
        var command: any ParsableCommand
        let reserved = Set(configuration.subcommands.map { $0._commandName })
        let arguments = KindCommandLine.rewrite(
            arguments ?? Array(CommandLine.arguments.dropFirst()), reserved: reserved)
        if let unknown = UnknownCommand.message(for: arguments, root: Self.self) {
            Terminal.note(unknown)
            return SENSyncExit.usage.rawValue
        }
        do {
            command = try parseAsRoot(arguments)
        } catch {
            return report(error, json: false)
        }
        do {
            try AuthorOptions.requireAuthor(of: command)
            try command.run()
            return 0
        } catch {
            return report(error, json: (command as? JSONOutputting)?.output.json ?? false)
        }
    }

    /// Entry point for the executable.
    public static func main() {
        Foundation.exit(run())
    }

    private static func report(_ error: any Error, json: Bool) -> Int32 {
        if let code = error as? ExitCode { return code.rawValue }
        if error is CleanExit || error is ValidationError || "\(type(of: error))".contains("ParserError")
            || "\(type(of: error))".contains("CommandError")
        {
            // "error:" as every other error says it (ArgumentParser writes "Error:").
            var message = HelpText.wrappingUsage(fullMessage(for: error))
            if message.hasPrefix("Error: ") { message = "error: " + message.dropFirst(7) }
            let code = exitCode(for: error).rawValue
            if code == 0 {
                Terminal.print(message)
            } else {
                Terminal.note(message)
            }
            return code
        }
        let report = ErrorReport(error)
        Terminal.note("error: \(report.message)")
        if let hint = report.hint { Terminal.note("hint: \(hint)") }
        for candidate in report.candidates { Terminal.note("  \(candidate)") }
        if json { try? Terminal.printJSON(["error": report]) }
        return report.exit.rawValue
    }
}
