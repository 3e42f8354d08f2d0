import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Conflicts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conflicts",
            abstract: "The conflict queue: concurrent edits kept for review.",
            subcommands: [List.self, Resolve.self])
    }
}

struct ConflictJSON: Encodable {
    struct Candidate: Encodable {
        var option: Int
        var current: Bool
        /// The field's value; `nil` when cleared, or for the deletion itself.
        var value: String?
        /// The candidate is the record's deletion (in an edited-while-deleted conflict), not a value.
        var deleted: Bool
        var site: String
        var siteName: String?
        var author: String?
        var recordedAt: String
    }

    var table: String
    var pupilID: String
    var recordID: String
    var field: String
    var kind: String
    var candidates: [Candidate]

    init(_ c: ConflictEntry) {
        table = c.key.table
        pupilID = c.key.scope.description
        recordID = c.key.id.description
        field = c.field
        kind = c.kind.rawValue
        candidates = c.candidates.enumerated().map { i, x in
            let deleted = c.isDeletion(i)
            return Candidate(
                option: i + 1, current: i == 0, value: x.value.isNull || deleted ? nil : x.value.display,
                deleted: deleted, site: x.site.description, siteName: x.siteName, author: x.author,
                recordedAt: x.hlc.description)
        }
    }
}

extension SENSyncCommand.Conflicts {
    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List open conflicts with every competing value, who wrote it, where and when.",
            discussion: HelpText.fitted(
                """
                Option 1 is the value currently shown; the others lost by the merge order but are kept until resolved.

                Example:
                  sensync conflicts list --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Flag(name: .customLong("fail-if-any"), help: "Exit with code 14 if any conflict is open.") var failIfAny =
            false
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let conflicts = try store.conflicts()
            if output.json {
                try Terminal.printJSON(["conflicts": conflicts.map(ConflictJSON.init)])
            } else if conflicts.isEmpty {
                Terminal.print("No open conflicts.")
            } else {
                let presenter = try store.presenter()
                // Each conflict under the pupil it is about, by name and UPN (the record's id is
                // what `conflicts resolve` takes).
                var pupils: [RecordID: String] = [:]
                for scope in Set(conflicts.map(\.key.scope)) { pupils[scope] = pupilLabel(scope, in: store) }
                for c in conflicts {
                    printConflict(c, presenter: presenter, pupil: pupils[c.key.scope])
                }
                let whileDeleted =
                    conflicts.contains { $0.kind == .editedWhileDeleted }
                    ? " (an edit made while the record was deleted: --keep-deleted or --restore)" : ""
                Terminal.print(
                    "\(conflicts.count) open conflict(s). Resolve with `sensync conflicts resolve RECORD --field FIELD --keep N`\(whileDeleted)."
                )
            }
            if failIfAny && !conflicts.isEmpty { throw ExitCode(SENSyncExit.conflictsOpen.rawValue) }
        }
    }

    struct Resolve: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "resolve",
            abstract: "Resolve a conflict by choosing a value; the resolution replicates like any change.",
            discussion: HelpText.fitted(
                """
                Choose one of the listed options with --keep N, or give a new --value. For an edit made while the record \
                was being deleted, choose --keep-deleted or --restore.

                Example:
                  sensync conflicts resolve 0193a1b2 --field \\
                    review_date --keep 2 \\
                    --store northshire-la.sensync --author "LA SEN officer"
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Record id (or its first 8+ characters), or a pupil's UPN for their own fields.")
        var record: String
        @Option(help: "The field in conflict.") var field: String
        @Option(help: "Keep option N from `conflicts list`.") var keep: Int?
        @Option(help: "Write this value instead.") var value: String?
        @Flag(name: .customLong("keep-deleted"), help: "Keep the record deleted.") var keepDeleted = false
        @Flag(help: "Restore the deleted record with the edit.") var restore = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            let chosen = [keep != nil, value != nil, keepDeleted, restore].filter { $0 }.count
            guard chosen == 1 else {
                throw ValidationError("Choose exactly one of --keep N, --value V, --keep-deleted, --restore.")
            }
        }

        func run() throws {
            let store = try storeOptions.open()
            let key: RecordKey
            do {
                key = try store.findRecord(record).0
            } catch let error as StoreError where [.notFound, .invalidInput].contains(error.code) {
                // A pupil's own fields (`pupil show` names the pupil by UPN).
                guard let pupil = try? store.pupilID(for: record) else { throw error }
                key = RecordKey(table: Pupil.name, scope: pupil, id: pupil)
            }
            // The field as `conflicts list` names it, or as its option is spelled (`review-date`).
            // An amount kept in pence is named as its option is (`cost`, not `cost_pence`).
            let given = self.field.trimmingCharacters(in: CharacterSet(charactersIn: "-")).replacingOccurrences(
                of: "-", with: "_")
            let field = RecordSchema.kind(key.table)?.fieldNamedByPeople(given)?.name ?? given
            let open = try store.conflicts().filter { $0.key == key }
            guard let conflict = open.first(where: { $0.field == field }) else {
                throw CommandFailure(
                    code: .notFound, message: "That record has no open conflict on that field.",
                    hint: open.isEmpty
                        ? "See `sensync conflicts list`."
                        : "Its open conflicts are on: \(Set(open.map(shownName)).sorted().joined(separator: ", ")).")
            }
            let receipt: WriteReceipt
            let outcome: String
            switch (conflict.kind, keep, value) {
            case (.editedWhileDeleted, _, _):
                guard keepDeleted || restore else {
                    throw CommandFailure(
                        code: .invalidInput, message: "This record was deleted while it was being edited.",
                        hint: "Use --keep-deleted or --restore.")
                }
                receipt = try store.resolveConflict(
                    record: key.id.description, field: field, value: .integer(keepDeleted ? 1 : 0),
                    author: try authorOptions.name)
                outcome = keepDeleted ? "kept deleted" : "restored"
            case (.concurrentEdit, let keep?, _):
                guard (1...conflict.candidates.count).contains(keep) else {
                    throw CommandFailure(
                        code: .invalidInput, message: "There is no option \(keep).",
                        hint: "Choose 1 to \(conflict.candidates.count).")
                }
                let chosen = conflict.candidates[keep - 1].value
                receipt = try store.resolveConflict(
                    record: key.id.description, field: field, value: chosen, author: try authorOptions.name)
                outcome = "now \(chosen.display)"
            case (.concurrentEdit, nil, let value?):
                // Typed: checked against the field's rule as an update of the field is.
                receipt = try store.resolveConflict(
                    record: key.id.description, field: field, text: value, author: try authorOptions.name)
                let now = try store.findRecord(key.id.description).state.fields[field]?.winner.value
                outcome = "now \(now?.display ?? value)"
            case (.concurrentEdit, nil, nil):
                throw CommandFailure(
                    code: .invalidInput, message: "This conflict is between values, not about a deletion.",
                    hint: "Use --keep N or --value V.")
            }
            if output.json {
                try Terminal.printJSON([
                    "resolved": [
                        "record": key.id.description, "field": field,
                        "change": receipt.dot.map { "\($0.seq)" } ?? "none",
                    ]
                ])
            } else {
                // By the pupil's name and UPN, as `conflicts list` shows them (the record's id meant
                // nothing to the person resolving it).
                let who = pupilLabel(key.scope, in: store) ?? "pupil \(key.scope)"
                let what =
                    key.table == Pupil.name
                    ? "\(field) of \(who)"
                    : "\(field) of the \(RecordSchema.kind(key.table)?.noun ?? key.table) \(key.id.description.prefix(8)) of \(who)"
                Terminal.print("Resolved: \(what), \(outcome). The resolution travels in your next bundles.")
            }
        }
    }
}

/// A pupil as people know them: name and UPN (`nil` when this store cannot show the pupil).
private func pupilLabel(_ pupil: RecordID, in store: Store) -> String? {
    guard let record = try? store.pupil(pupil.description) else { return nil }
    let name = [record.forename, record.surname].compactMap { $0 }.joined(separator: " ")
    return (name.isEmpty ? "pupil" : name) + (record.upn.map { " (UPN \($0))" } ?? "")
}

func printConflict(_ c: ConflictEntry, indent: Int = 0, presenter: RecordPresenter? = nil, pupil: String? = nil) {
    let pad = String(repeating: " ", count: indent)
    let what = c.kind == .editedWhileDeleted ? "edited while it was being deleted" : "edited concurrently"
    let noun = RecordSchema.kind(c.key.table)?.noun ?? c.key.table
    let about = pupil.map { "\($0): " } ?? ""
    Terminal.print("\(pad)\(about)\(noun) \(c.key.id)  field \(shownName(c)): \(what)")
    // A school by name, an amount in pounds, as `pupil show` gives them (a school was given by its
    // id, and an amount in pence: "50000" for £500); other values as they are typed.
    let presented: Bool
    switch RecordSchema.kind(c.key.table)?.field(c.field)?.rule {
    case .site?, .pence?: presented = true
    default: presented = false
    }
    for (i, x) in c.candidates.enumerated() {
        let value =
            c.isDeletion(i)
            ? "(deleted)"
            : presented && !x.value.isNull
                ? (presenter?.describe(FieldWrite(c.field, x.value), in: c.key.table).text ?? x.value.display)
                : x.value.display
        Terminal.print(
            "\(pad)  \(i + 1)\(i == 0 ? "*" : " ") \(value)   — \(x.author ?? "?") at \(x.siteName ?? x.site.description), \(x.hlc)"
        )
    }
}

/// The field of a conflict as people name it: as its option is spelled, with underscores
/// (`year_group`; `cost` for an amount kept in pence, `cost_pence`).
private func shownName(_ c: ConflictEntry) -> String {
    RecordSchema.kind(c.key.table)?.field(c.field)?.personName ?? c.field
}
