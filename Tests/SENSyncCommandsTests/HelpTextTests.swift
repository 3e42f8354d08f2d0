import ArgumentParser
import Foundation
import Testing

@testable import SENSyncCommands

/// Help reads and copies cleanly at any width: every command's examples break only between shell
/// words, each line but the last ending in ` \`, and the usage line breaks between its parts.
/// (ArgumentParser wrapped examples like prose, inside quoted values and without a `\`, and left
/// the usage line at any length.)
struct HelpTextTests {
    /// Every command path (`["plan", "add-provision"]`), from the help's subcommand lists.
    func commands(_ cli: CLI, under path: [String] = []) throws -> [[String]] {
        let help = try cli.run(path + ["--help"], environment: ["COLUMNS": "300"]).stdout
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [path] }
        // The list runs to the first blank line ("See 'sensync help …'" follows it).
        let list = help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
            .prefix { !$0.isEmpty }
        let names = list.compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }
        return try [path] + names.flatMap { try commands(cli, under: path + [$0]) }
    }

    /// The example commands of a help text, each as its lines.
    func examples(_ help: String) -> [[Substring]] {
        var examples: [[Substring]] = []
        var inExamples = false
        var continuing = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("Example") && line.hasSuffix(":") {
                inExamples = true
            } else if inExamples && continuing {
                // A continued line may start anywhere (a long word or quoted text at the margin).
                examples[examples.count - 1].append(line)
                continuing = line.hasSuffix(" \\")
                continue
            } else if line.isEmpty || !line.hasPrefix("  ") {
                inExamples = false
            } else if inExamples {
                examples.append([line])
                continuing = line.hasSuffix(" \\")
                continue
            }
            continuing = false
        }
        return examples
    }

    /// The arguments `bash` runs an example's lines with, as printed (`[sensync][plan][add]…`):
    /// the example's command is a function that prints its arguments.
    func words(_ example: [Substring]) throws -> String {
        let command = example.first?.split(separator: " ").first ?? "sensync"
        let script = "\(command)() { printf '[%s]' \"$@\"; }\n" + example.joined(separator: "\n")
        let run = try CLI.runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", script])
        #expect(run.status == 0 && run.stderr.isEmpty, "\(script): \(run.stderr)")
        return run.stdout
    }

    @Test func everyCommandsExamplesAndUsageFitTheWidthAndStillRun() throws {
        try withCLI { cli in
            let all = try commands(cli)
            #expect(all.count > 60, "\(all.count) commands")
            var checked = 0
            for path in all {
                let wide = try cli.run(path + ["--help"], environment: ["COLUMNS": "1000"])
                #expect(wide.status == 0, "\(path): \(wide.stderr)")
                let reference = try examples(wide.stdout).map(words)
                for width in [41, 80] {
                    let help = try cli.run(path + ["--help"], environment: ["COLUMNS": "\(width)"]).stdout
                    let shown = examples(help)
                    // The same commands, word for word, however they are broken.
                    #expect(try shown.map(words) == reference, "\(path) at \(width)")
                    for example in shown {
                        for (n, line) in example.enumerated() {
                            let words = HelpText.words(of: String(line))
                            // Too long only when a single word (or an option and its value) is.
                            #expect(
                                line.count <= width || words.count <= (n == 0 ? 1 : 2) + 1,
                                "\(path) at \(width): \(line)")
                            #expect(
                                (n == example.count - 1) != line.hasSuffix(" \\"),
                                "\(path) at \(width): a continued line ends in ` \\`: \(line)")
                            checked += 1
                        }
                    }
                    let usage = help.split(separator: "\n", omittingEmptySubsequences: false).drop {
                        !$0.hasPrefix("USAGE: ")
                    }.prefix { !$0.isEmpty }
                    #expect(!usage.isEmpty, "\(path)")
                    // A required option keeps its value on its line (`--kind` / `<kind>` were split).
                    for line in usage.dropLast() {
                        #expect(
                            !line.hasSuffix("-")
                                && line.split(separator: " ").last.map { !$0.hasPrefix("--") } != false,
                            "\(path) at \(width): an option ends the line, its value starts the next: \(line)")
                    }
                    for line in usage.dropFirst() where line.count > width {
                        // Only a part too long for any line (`[--accept-clock-ahead <site> ...]`,
                        // `--requested-on <requested-on>`), alone after the indent.
                        let part = line.trimmingCharacters(in: .whitespaces)
                        let option = part.hasPrefix("--") && part.split(separator: " ").count == 2
                        #expect(
                            option || part.hasPrefix("[") && part.hasSuffix("]") && !part.contains("] "),
                            "\(path) at \(width): \(line)")
                    }
                }
            }
            #expect(checked > 300, "\(checked) example lines checked")
        }
    }

    @Test func anExampleBreaksBetweenWordsKeepingAnOptionWithItsValue() {
        let text = """
            Example:
              sensync plan add-provision --store oakfield.sensync --description "Phonics catch-up, small group" \\
                --frequency "3 x 20 min weekly"   # weekly
            Prose after the example is left alone.
            """
        #expect(
            HelpText.fitted(text, width: 45) == """
                Example:
                  sensync plan add-provision \\
                    --store oakfield.sensync --description \\
                    "Phonics catch-up, small group" \\
                    --frequency "3 x 20 min weekly" # weekly
                Prose after the example is left alone.
                """)
        #expect(
            HelpText.wrappingUsage(
                "USAGE: sensync bundle create [--store <path>] [--to <to> ...] --out <out>", width: 40)
                    == """
                    USAGE: sensync bundle create
                                 [--store <path>]
                                 [--to <to> ...] --out <out>
                    """)
        #expect(
            HelpText.wrappingUsage(
                "USAGE: sensync init [--store <path>] --name <name> --kind <kind> [--urn <urn>]", width: 50)
                    == """
                    USAGE: sensync init [--store <path>] --name <name>
                                    --kind <kind> [--urn <urn>]
                    """)
    }

    /// A command in a numbered step (`rejoin --help`) is laid out at its own indent, as an
    /// example's is: at 60 columns it broke to the left edge mid-option (`--out` on one line,
    /// `oakfield-2.identity` at column 0), so it could not be copied.
    @Test func aCommandInAStepIsLaidOutAtItsIndent() {
        let text = """
              1. At the school:
                   sensync rejoin start --store oakfield.sensync --new-store oakfield-2.sensync \\
                     --out oakfield-2.identity
            Prose is left alone.
            """
        #expect(
            HelpText.fitted(text, width: 50) == """
                  1. At the school:
                       sensync rejoin start \\
                         --store oakfield.sensync \\
                         --new-store oakfield-2.sensync \\
                         --out oakfield-2.identity
                Prose is left alone.
                """)
    }

    /// The top-level help's exit codes wrap under their meaning, not at the left edge (at 50
    /// columns "not found" broke to column 0).
    @Test func theExitCodesWrapUnderTheirMeaning() throws {
        #expect(
            HelpText.hangingList([("3", "store, file, pupil, record or site not found"), ("64", "usage")], width: 30)
                == """
                  3   store, file, pupil,
                      record or site not
                      found
                  64  usage
                """)
        try withCLI { cli in
            let help = try cli.run(["--help"], environment: ["COLUMNS": "50"]).stdout
            #expect(help.contains("  3   store, file, pupil, record or site not\n      found"), "\(help)")
        }
    }

    /// Every command names itself: ArgumentParser builds the whole command tree on every run, and
    /// a command without a `commandName` is named from its type's name (`String(describing:)`),
    /// which was a quarter of the time `sensync` took to start.
    @Test func everyCommandNamesItself() {
        func check(_ command: any ParsableCommand.Type, path: String) {
            let configuration = command.configuration
            #expect(configuration.commandName != nil, "\(path) \(command) has no commandName")
            for sub in configuration.subcommands {
                check(sub, path: path + " " + (sub.configuration.commandName ?? "\(sub)"))
            }
        }
        check(SENSyncCommand.self, path: "sensync")
    }
}
