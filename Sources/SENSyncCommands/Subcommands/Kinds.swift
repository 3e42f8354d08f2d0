import ArgumentParser
import Foundation
import SENSync

/// Commands for every record kind, derived from its declaration: `sensync KIND add|update|list|show`
/// (`sensync referral add --pupil UPN --agency speech-language-therapy …`) is `sensync record
/// add KIND …`. A new kind needs no command code.
enum KindCommandLine {
    /// The command-line name of a kind: `concern_action` is `concern-action`.
    static func commandName(_ kind: KindSpec) -> String { kind.commandName }

    /// Kinds that have their own commands elsewhere are still reachable as `record add KIND`.
    static var kindNames: [String] { RecordSchema.kinds.map(commandName) }

    /// `sensync referral add …` → `sensync record add referral …`, for a kind with no command of
    /// its own.
    /// `sensync referral` and `sensync referral --help` show the kind's commands and fields.
    static func rewrite(_ arguments: [String], reserved: Set<String>) -> [String] {
        // `sensync help referral`, as `sensync help pupil` works for a command of its own.
        if arguments.count >= 2, arguments[0] == "help", !reserved.contains(arguments[1]),
            kindNames.contains(arguments[1])
        {
            return ["record", "fields", arguments[1]]
        }
        guard let first = arguments.first, !reserved.contains(first), kindNames.contains(first) else {
            return arguments
        }
        if arguments.count == 1 || ["--help", "-h", "help"].contains(arguments[1]) {
            return ["record", "fields", first]
        }
        guard ["add", "update", "list", "show"].contains(arguments[1]) else { return arguments }
        // `sensync referral add --help`: the kind's commands and fields, not `record add`'s usage
        // with its KIND argument.
        if arguments.dropFirst(2).contains(where: { ["--help", "-h"].contains($0) }) {
            return ["record", "fields", first]
        }
        return ["record", arguments[1], first] + arguments.dropFirst(2)
    }

    static func kind(_ name: String) throws -> KindSpec {
        guard let kind = RecordSchema.kind(name) else {
            throw CommandFailure(
                code: .invalidInput, message: "There is no record kind '\(name)'.",
                hint: "Kinds: \(kindNames.joined(separator: ", ")).")
        }
        return kind
    }

    /// Pairs `--field value` (or `--field=value`) arguments.
    static func fields(_ arguments: [String], of kind: KindSpec) throws -> [String: String] {
        var fields: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw CommandFailure(
                    code: .usage,
                    message: "Expected a field option such as --\(commandName(kind)) value, not a bare value.",
                    hint: "Run `sensync record fields \(commandName(kind))` for its fields.")
            }
            var name = String(argument.dropFirst(2))
            let value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                guard i + 1 < arguments.count else {
                    throw CommandFailure(
                        code: .usage, message: "--\(name) needs a value.", hint: "Give --\(name) VALUE.")
                }
                i += 1
                value = arguments[i]
            }
            guard fields[name] == nil else {
                throw CommandFailure(code: .usage, message: "--\(name) is given twice.", hint: "Give it once.")
            }
            fields[name] = value
            i += 1
        }
        return fields
    }

    /// An `add` of `kind` giving its required fields, with values of their kind: what `--help`
    /// shows as the example, one option and its value per piece (so a line never splits them).
    static func example(_ kind: KindSpec) -> [String] {
        var dates = ["2026-01-12", "2026-04-13", "2026-07-13"].makeIterator()
        let given = kind.fields.filter { !$0.isSystem && $0.isRequired && $0.defaultValue == nil }.map { field in
            let value: String
            switch field.rule {
            case .text: value = "\"…\""
            case .date: value = dates.next() ?? "2026-10-12"
            case .code(let list), .codes(let list): value = CodeLists.named(list)?.codes.first?.code ?? "CODE"
            case .integer(let range): value = String(max(range.lowerBound, min(range.upperBound, 1)))
            case .pence: value = "450.00"
            case .flag: value = "yes"
            case .reference: value = "ID"
            case .site: value = "\"Oakfield Primary\""
            }
            return "\(field.option) \(value)"
        }
        let store = kind.owner == .localAuthority ? "northshire-la.sensync" : "oakfield.sensync"
        return ["sensync \(commandName(kind)) add"] + (kind.parent == nil ? ["--pupil H801200001001"] : []) + given
            + ["--store \(store)"]
    }

    /// The field list for help: option, what it takes, required or not, and its codes.
    /// One entry per field a person gives: its option, then what it is and takes, wrapped to
    /// `width` columns under a column of options.
    static func fieldHelp(_ kind: KindSpec, width: Int = Terminal.width) -> String {
        let fields = kind.fields.filter { !$0.isSystem }
        let column = min(2 + (fields.map(\.option.count).max() ?? 0) + 2, 28)
        return fields.map { field in
            let takes: String
            switch field.rule {
            case .text: takes = "TEXT"
            case .date: takes = field.isPastDate ? "YYYY-MM-DD, not after today" : "YYYY-MM-DD"
            case .code(let list): takes = CodeLists.named(list)?.codeSummary ?? "CODE"
            case .codes(let list): takes = "one or more of " + (CodeLists.named(list)?.codeSummary ?? "CODE")
            case .integer(let range): takes = "\(range.lowerBound)–\(range.upperBound)"
            case .pence: takes = "POUNDS, e.g. 450.00"
            case .flag: takes = "yes or no"
            case .reference(let table): takes = "\(RecordSchema.kind(table)?.noun ?? table) id"
            case .site: takes = "site name or id"
            }
            let need: String
            switch (field.isRequired, field.defaultValue) {
            case (_, "here"?): need = " (at a school, this school unless given)"
            case (true, let value?): need = " (default: \(value))"
            case (true, nil): need = " (required)"
            case (false, _): need = ""
            }
            let about = "\(field.label)\(need): \(takes)"
            let option = "  \(field.option)"
            // An option too long for the column has its description on the next line.
            let lead = option.count + 2 <= column ? option.padding(toLength: column, withPad: " ", startingAt: 0) : nil
            let lines = Terminal.wrap(about, width: max(width - column, 20), indent: 0).map {
                String(repeating: " ", count: column) + $0
            }
            guard let lead else { return ([option] + lines).joined(separator: "\n") }
            return ([lead + lines[0].dropFirst(column)] + lines.dropFirst()).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    static func printRecord(_ record: KindRecord, store: Store) throws {
        let presenter = try store.presenter(naming: [record])
        let spec = record.spec
        Terminal.print(
            "\((spec?.noun ?? record.kind).capitalizedFirst)  \(record.id)\(record.isDeleted ? "  [deleted]" : "")")
        for (label, text) in presenter.lines(record) { Terminal.print("  \(label): \(text)") }
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}

extension SENSyncCommand.Record {
    struct Add: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Record a new record of any kind (also `sensync KIND add`).",
            discussion: HelpText.fitted(
                """
                Fields are given as options named after the kind's fields; `sensync record fields KIND` lists them \
                with their codes. A kind that belongs to another record (an action to its concern) takes its pupil \
                from that record.

                Example:
                  sensync referral add --store oakfield.sensync --author SENCO --pupil \\
                    H801200001001 \\
                    --agency speech-language-therapy --referred-on 2026-01-12 \\
                    --referred-by "J Smith (SENCO)" \\
                    --reason "Unclear speech; not improving with small-group work"
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "The kind of record (concern, referral, escalation, sen-episode, sen-need, …).") var kind:
            String
        @Option(help: "UPN or record id of the pupil.") var pupil: String?
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("--FIELD VALUE for each field.", valueName: "fields"))
        var fieldArguments: [String] = []

        func run() throws {
            let spec = try KindCommandLine.kind(kind)
            let store = try storeOptions.open()
            let id = try store.addRecord(
                spec, pupil: pupil, fields: try KindCommandLine.fields(fieldArguments, of: spec),
                author: try authorOptions.name)
            let record = try store.record(id.description, kind: spec)
            if output.json {
                try Terminal.printJSON([spec.name: record])
            } else {
                Terminal.print("Recorded \(spec.noun) \(id).")
            }
        }
    }

    struct Update: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "update",
            abstract: "Change fields of a record of any kind (also `sensync KIND update`).",
            discussion: HelpText.fitted(
                """
                An empty value clears a field that is not required. Changing a field that is in conflict resolves \
                the conflict with the new value.

                Example:
                  sensync referral update 0193a1b2 --store oakfield.sensync --author \\
                    SENCO --accepted-on 2026-01-30
                  sensync record update plan_outcome 0193a1b3 --store oakfield.sensync \\
                    --author SENCO --status met
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "The kind of record.") var kind: String
        @Argument(help: "Record id (or its first 8+ characters).") var record: String
        @OptionGroup var output: OutputOptions
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("--FIELD VALUE for each field.", valueName: "fields"))
        var fieldArguments: [String] = []

        func run() throws {
            let spec = try KindCommandLine.kind(kind)
            let store = try storeOptions.open()
            let receipt = try store.updateRecord(
                record, kind: spec, fields: try KindCommandLine.fields(fieldArguments, of: spec),
                author: try authorOptions.name)
            let updated = try store.record(record, kind: spec)
            if output.json {
                try Terminal.printJSON([spec.name: updated])
            } else {
                Terminal.print(
                    receipt.changed
                        ? "Updated \(spec.noun) \(updated.id)."
                        : "Nothing changed: \(spec.noun) \(updated.id) already has those values.")
                if receipt.conflictsClosed > 0 {
                    Terminal.print("This resolved \(receipt.conflictsClosed) open conflict(s).")
                }
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List a pupil's records of one kind, or every pupil's (also `sensync KIND list`).",
            discussion: HelpText.fitted(
                """
                Without --pupil, every record of the kind in the store, pupil by pupil (the way to \
                find an erasure: the erased pupil's UPN is gone).

                Examples:
                  sensync referral list --store oakfield.sensync --pupil H801200001001
                  sensync erasure list --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The kind of record.") var kind: String
        @Option(help: "UPN or record id of the pupil (default: every pupil).") var pupil: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let spec = try KindCommandLine.kind(kind)
            let store = try storeOptions.openForReading()
            let records = try pupil.map { try store.records(spec, of: $0) } ?? store.records(spec)
            if output.json {
                try Terminal.printJSON([spec.pluralKey: records])
                return
            }
            for record in records { try KindCommandLine.printRecord(record, store: store) }
            Terminal.print("\(records.count) \(records.count == 1 ? spec.noun : spec.plural).")
        }
    }

    struct Show: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show one record of any kind (also `sensync KIND show`).",
            discussion: HelpText.fitted(
                """
                The kind may be left out: the record is found by its id whatever its kind.

                Examples:
                  sensync referral show 0193a1b2 --store oakfield.sensync
                  sensync record show 0193a1b2 --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The kind of record (or, alone, the record's id).") var kind: String
        @Argument(help: "Record id (or its first 8+ characters).") var record: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let spec: KindSpec
            let reference: String
            if let record {
                spec = try KindCommandLine.kind(kind)
                reference = record
            } else if RecordSchema.kind(kind) != nil {
                throw CommandFailure(
                    code: .usage, message: "Give the record's id after its kind.",
                    hint: "For example: sensync record show \(kind) 0193a1b2")
            } else {
                // One argument: a record's id, found whatever its kind.
                let key = try store.findRecord(kind).key
                guard let found = RecordSchema.kind(key.table) else {
                    throw CommandFailure(
                        code: .notFound, message: "That record is of a kind this SENSync does not know.",
                        hint: "A newer SENSync can show it.")
                }
                spec = found
                reference = key.id.description
            }
            let found = try store.record(reference, kind: spec)
            if output.json {
                try Terminal.printJSON([spec.name: found])
            } else {
                try KindCommandLine.printRecord(found, store: store)
            }
        }
    }

    struct Fields: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fields",
            abstract: "List the kinds of record, or one kind's fields with their codes.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync record fields referral
                """))

        @Argument(help: "The kind of record.") var kind: String?

        func run() throws {
            guard let kind else {
                for spec in RecordSchema.kinds {
                    Terminal.print(
                        "\(KindCommandLine.commandName(spec))  (\(spec.plural)\(spec.owner == .localAuthority ? ", LA only" : ""))"
                    )
                }
                return
            }
            let spec = try KindCommandLine.kind(kind)
            let name = KindCommandLine.commandName(spec)
            // A kind whose every field SENSync sets (an enrolment: `pupil add`, `pupil transfer`)
            // is read here, not written.
            let writable = spec.fields.contains { !$0.isSystem }
            let verbs = writable ? "add|update|list|show" : "list|show"
            let commands = "Commands: sensync \(name) \(verbs) (the same as sensync record VERB \(name))."
            for line in Terminal.wrap(commands, width: Terminal.width, indent: 2) { Terminal.print(line) }
            let pupil = spec.parent == nil ? "--pupil UPN " : ""
            let writes = ["sensync \(name) add \(pupil)--FIELD VALUE …", "sensync \(name) update ID --FIELD VALUE …"]
            for usage in (writable ? writes : []) + ["sensync \(name) list [--pupil UPN]", "sensync \(name) show ID"] {
                for line in Terminal.wrap(usage, width: Terminal.width - 2, indent: 2) { Terminal.print("  " + line) }
            }
            let common = "(each with --store PATH, and --author NAME to write; --json to print JSON)"
            for line in Terminal.wrap(common, width: Terminal.width - 2, indent: 1) { Terminal.print("  " + line) }
            guard writable else {
                let note =
                    "Every field of \(spec.nounWithArticle) is set by SENSync, by the commands that make it (see `sensync pupil --help`), not by hand."
                for line in Terminal.wrap(note, width: Terminal.width, indent: 0) { Terminal.print(line) }
                Terminal.print("Examples:")
                for example in [
                    "sensync \(name) list --store oakfield.sensync --pupil H801200001001",
                    "sensync \(name) list --store oakfield.sensync",
                ] {
                    for line in Terminal.wrap(example, width: Terminal.width - 2, indent: 2) {
                        Terminal.print("  " + line)
                    }
                }
                return
            }
            Terminal.print("Fields of \(spec.nounWithArticle):")
            Terminal.print(KindCommandLine.fieldHelp(spec))
            Terminal.print("Example:")
            var line = " "
            for piece in KindCommandLine.example(spec) {
                if line.count > 4 && line.count + 1 + piece.count > Terminal.width - 2 {
                    Terminal.print(line + " \\")
                    line = "     "
                }
                line += " " + piece
            }
            Terminal.print(line)
        }
    }
}
