/// Help text that reads and copies cleanly at any terminal width.
///
/// ArgumentParser wraps a command's discussion at the terminal's width like prose, so an example
/// command broke wherever the width fell: inside a quoted value, and without a `\`, so the copied
/// lines no longer ran. ``fitted(_:width:)`` lays each example out for the width itself, breaking
/// only between shell words and ending every line but the last with ` \`: lines that fit are
/// left alone by ArgumentParser (it reads the width the same way as ``Terminal/width``).
enum HelpText {
    /// `discussion` with the commands in its `Example:` / `Examples:` blocks laid out to fit
    /// `width` columns. A command starts on a line indented two spaces and runs on over lines
    /// ending in ` \`; everything else is left as it is.
    /// A two-column list (an exit code and its meaning, say) indented by two, each meaning wrapped
    /// to the terminal under its own first word. ArgumentParser leaves lines that fit alone.
    static func hangingList(_ items: [(label: String, text: String)], width: Int = Terminal.width) -> String {
        let labelWidth = (items.map(\.label.count).max() ?? 0) + 2
        let indent = String(repeating: " ", count: 2 + labelWidth)
        let room = max(20, width - 1 - indent.count)
        return items.map { item in
            let lines = Terminal.wrap(item.text, width: room, indent: 0)
            let label = "  " + item.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            return ([label + lines[0]] + lines.dropFirst().map { indent + $0 }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    static func fitted(_ discussion: String, width: Int = Terminal.width) -> String {
        // Every command's configuration, and so its discussion, is built on every run (the command
        // tree is), help or not: Foundation's trimming and splitting by Character made this a
        // tenth of a command's start.
        let lines = discussion.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            Substring($0)
        }
        var out: [Substring] = []
        var inExamples = false
        var i = 0
        while i < lines.count {
            let line = lines[i]
            i += 1
            let trimmed = stripped(line)
            if trimmed.hasPrefix("Example"), trimmed.hasSuffix(":") {
                inExamples = true
            } else if trimmed.isEmpty || !line.hasPrefix("  ") {
                inExamples = false
            }
            // A command: every line of an `Example:` block indented two, or a `sensync` command
            // indented anywhere else (a numbered step's), laid out at its own indent.
            let indent = line.prefix { $0 == " " }.count
            if inExamples ? indent == 2 : indent >= 2 && trimmed.hasPrefix("sensync ") {
                var command = String(line.dropFirst(indent))
                while command.hasSuffix(" \\"), i < lines.count {
                    command = String(command.dropLast(2)) + " " + stripped(lines[i])
                    i += 1
                }
                // ArgumentParser breaks a line as long as the width (it looks for the line's
                // end within `width` characters), so a line keeps one column free.
                out += layout(words(of: command), width: width - 1, indent: indent).map { Substring($0) }
                continue
            }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    /// `line` without the spaces and tabs at either end.
    private static func stripped(_ line: Substring) -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = line.firstIndex(where: { !blank($0) }), let last = line.lastIndex(where: { !blank($0) })
        else { return "" }
        return line[first...last]
    }

    /// The shell words of `command`: split at spaces outside quotes, quotes kept; a word starting
    /// with `#` starts a comment, which runs to the end as one word.
    static func words(of command: String) -> [String] {
        var words: [String] = []
        var word = ""
        var quote: Character?
        var rest = Substring(command)
        while let c = rest.first {
            if quote == nil, word.isEmpty, c == "#" {
                words.append(String(rest).trimmingCharacters(in: .whitespaces))
                return words
            }
            rest = rest.dropFirst()
            if let open = quote {
                if c == open { quote = nil }
                word.append(c)
            } else if c == " " {
                if !word.isEmpty { words.append(word) }
                word = ""
            } else {
                if c == "\"" || c == "'" { quote = c }
                word.append(c)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    /// `words` as lines of at most `width` columns: the first indented `indent` spaces, the rest
    /// two more (fewer for a word that would not fit), each but the last ending in ` \`. A quoted
    /// text too long for a line breaks at its spaces; any other word too long stands alone on its
    /// line. An option and its value stay on one line when they fit on one.
    static func layout(_ words: [String], width: Int, indent: Int = 2) -> [String] {
        let first = String(repeating: " ", count: indent)
        let next = indent + 2
        var units: [String] = []
        var n = 0
        while n < words.count {
            let word = words[n]
            if word.hasPrefix("--"), n + 1 < words.count, !words[n + 1].hasPrefix("-"), !words[n + 1].hasPrefix("#"),
                next + word.count + 1 + words[n + 1].count + 2 <= width
            {
                units.append(word + " " + words[n + 1])
                n += 2
            } else {
                units.append(word)
                n += 1
            }
        }
        var lines: [String] = []
        var line = ""
        for (n, unit) in units.enumerated() {
            // A line that does not end the command needs room for its ` \`.
            let room = n == units.count - 1 ? width : width - 2
            if line.isEmpty {
                line = first + unit
            } else if line.count + 1 + unit.count <= room {
                line += " " + unit
            } else if unit.count + next > room, unit.hasPrefix("\""), unit.hasSuffix("\""), unit.contains(" ") {
                // A quoted text too long for any line breaks at its spaces: inside double quotes
                // the shell drops a `\` and the line break after it, so each line but the last
                // ends in the text's own space and a `\`, and the next starts at the margin.
                let pieces = unit.split(separator: " ").map(String.init)
                for (i, piece) in pieces.enumerated() {
                    let last = i == pieces.count - 1
                    let limit = last ? room : width - 2
                    if line.count + 1 + piece.count <= limit {
                        line += " " + piece
                    } else {
                        lines.append(line + " \\")
                        line = i == 0 ? String(repeating: " ", count: next) + piece : piece
                    }
                }
            } else {
                lines.append(line + " \\")
                // Indented less when the indent would push a long word past the width (the
                // terminal's wrapping would break the line at the indent's spaces).
                line = String(repeating: " ", count: max(0, min(next, room - unit.count))) + unit
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// `message` (help or a usage error, as ArgumentParser writes it) with its usage line, which
    /// ArgumentParser leaves at any length, wrapped to `width` between its parts (`[--store
    /// <path>]` and `--kind <kind>` stay whole), the lines after the first indented under the
    /// command.
    static func wrappingUsage(_ message: String, width: Int = Terminal.width) -> String {
        message.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.count > width, let label = ["USAGE: ", "Usage: "].first(where: { line.hasPrefix($0) }) else {
                return String(line)
            }
            var parts: [String] = []
            var part = ""
            var depth = 0
            for c in line.dropFirst(label.count) {
                if c == " ", depth == 0 {
                    if !part.isEmpty { parts.append(part) }
                    part = ""
                    continue
                }
                if c == "[" || c == "<" || c == "(" { depth += 1 }
                if c == "]" || c == ">" || c == ")" { depth = max(0, depth - 1) }
                part.append(c)
            }
            if !part.isEmpty { parts.append(part) }
            // A required option and its value are one part (`--kind <kind>`), as a bracketed one is.
            var joined: [String] = []
            for part in parts {
                if part.hasPrefix("<"), let last = joined.last, last.hasPrefix("--"), !last.contains(" ") {
                    joined[joined.count - 1] = last + " " + part
                } else {
                    joined.append(part)
                }
            }
            parts = joined
            // The command's own words (`sensync plan add-provision`) lead; the rest hang under them.
            let lead = parts.prefix { !$0.hasPrefix("[") && !$0.hasPrefix("<") && !$0.hasPrefix("-") }
            let first = label + lead.joined(separator: " ")
            let indent = String(repeating: " ", count: min(first.count + 1, max(label.count, width / 3)))
            var lines: [String] = []
            var current = first
            for part in parts.dropFirst(lead.count) {
                if current.count + 1 + part.count <= width {
                    current += " " + part
                } else {
                    lines.append(current)
                    current = indent + part
                }
            }
            lines.append(current)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
