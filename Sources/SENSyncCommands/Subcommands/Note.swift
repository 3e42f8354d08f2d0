import ArgumentParser
import Foundation
import SENSync

extension NoteArea: ExpressibleByArgument {}

extension SENSyncCommand {
    struct Note: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "note",
            abstract: "Record and read early-identification notes (append-only).",
            subcommands: [Add.self, List.self, Show.self])
    }
}

extension SENSyncCommand.Note {
    struct Show: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show one note (also `sensync record show ID`).",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync note show 0193a1b2 --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Note id (or its first 8+ characters), as `sensync note list` shows it.") var note: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let found = try store.record(note, kind: SENSync.Note.spec)
            if output.json {
                try Terminal.printJSON([SENSync.Note.spec.name: found])
            } else {
                try KindCommandLine.printRecord(found, store: store)
            }
        }
    }
}

extension SENSyncCommand.Note {
    struct Add: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a note about a pupil. Notes are never edited: a correction amends an earlier note.",
            discussion: HelpText.fitted(
                """
                AREA is one of: \(NoteArea.allCases.map(\.rawValue).joined(separator: ", ")).

                Example:
                  sensync note add --store oakfield.sensync --author SENCO --pupil \\
                    H801200001001 \\
                    --area cognition-learning --text \\
                    "Struggles to blend CVC words; phonics catch-up from Monday."
                  sensync note add --store oakfield.sensync --author SENCO --pupil \\
                    H801200001001 \\
                    --amends 0193a1b2-... --text "Correction: catch-up starts Tuesday."
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "UPN or record id.") var pupil: String
        @Option(help: "What was observed.") var text: String
        @Option(help: "Broad area of need.") var area: NoteArea?
        @Option(help: "Id of an earlier note this one corrects.") var amends: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let id = try store.addNote(
                pupil: pupil, text: text, area: area, amends: amends, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["note": ["id": id.description]])
            } else {
                Terminal.print("Added note \(id).")
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List a pupil's notes, oldest first.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync note list --store oakfield.sensync --pupil H801200001001
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "UPN or record id.") var pupil: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let notes = try store.notes(of: pupil)
            if output.json {
                try Terminal.printJSON(["notes": notes])
                return
            }
            for n in notes {
                let amends = n.amendsNoteID.map { " amends \($0)" } ?? ""
                Terminal.print(
                    "\(n.id)  \(n.recordedAt ?? "?")  \(n.recordedBy ?? "?")  \(n.area ?? "general")\(amends)")
                Terminal.print("  \(n.text)")
            }
            Terminal.print("\(notes.count) note(s).")
        }
    }
}
