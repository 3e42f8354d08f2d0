import ArgumentParser
import SENSync

/// A command name that is none of a command group's commands (`sensync pupil ad`), said as such
/// with the group's commands and the nearest: ArgumentParser blamed the next option
/// ("Unknown option '--store'") or listed the arguments it did not expect.
enum UnknownCommand {
    /// The message for `arguments` (as the kinds' rewrite leaves them) when a word where a command
    /// goes names none; `nil` when every command word is known (ArgumentParser does the rest).
    static func message(for arguments: [String], root: any ParsableCommand.Type) -> String? {
        var commands: [any ParsableCommand.Type] = root.configuration.subcommands
        var isRoot = true
        var path = ["sensync"]
        var rest = arguments[...]
        while let word = rest.first, !word.hasPrefix("-") {
            // `sensync help KIND` and `sensync KIND VERB` are read elsewhere.
            if isRoot, word == "help" { return nil }
            var next: (any ParsableCommand.Type)?
            for command in commands where command._commandName == word || command.configuration.aliases.contains(word) {
                next = command
                break
            }
            if let next {
                // A command with no commands of its own takes the rest as its arguments.
                guard next.configuration.defaultSubcommand == nil else { return nil }
                commands = next.configuration.subcommands
                guard !commands.isEmpty else { return nil }
                isRoot = false
                path.append(word)
                rest = rest.dropFirst()
                continue
            }
            let names = commands.map { $0._commandName }
            var candidates = names
            if isRoot {
                // A kind's own commands: `sensync concern add`.
                if KindCommandLine.kindNames.contains(word) {
                    let verbs = ["add", "update", "list", "show"]
                    guard let verb = rest.dropFirst().first, !verb.hasPrefix("-"), !verbs.contains(verb) else {
                        return nil
                    }
                    return unknown(verb, in: "sensync \(word)", commands: verbs)
                }
                candidates += KindCommandLine.kindNames.filter { !names.contains($0) }
            }
            return unknown(
                word, in: path.joined(separator: " "), commands: names, nearestOf: candidates,
                more: isRoot ? "; and each kind of record's (`sensync record fields` lists them)" : "")
        }
        return nil
    }

    private static func unknown(
        _ word: String, in group: String, commands: [String], nearestOf candidates: [String]? = nil, more: String = ""
    ) -> String {
        let nearest = (candidates ?? commands).map { ($0, distance(word, $0)) }
            .filter { $0.1 <= max(1, word.count / 3) }
            .min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
        let suggestion = nearest.map { " Did you mean `\(group) \($0)`?" } ?? ""
        let text =
            "error: '\(word)' is not a command of `\(group)`.\(suggestion) Its commands: "
            + "\(commands.joined(separator: ", "))\(more)."
        return
            (Terminal.wrap(text, width: Terminal.width - 1, indent: 0) + [
                "  See '\(group) --help' for more information."
            ])
            .joined(separator: "\n")
    }

    /// The Levenshtein distance between `a` and `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
