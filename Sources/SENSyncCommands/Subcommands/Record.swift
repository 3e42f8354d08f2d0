import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "record",
            abstract: "Record, change, list, show, delete or restore records of any kind.",
            discussion: HelpText.fitted(
                """
                Every kind of record also has its own command: `sensync referral add …` is `sensync record add referral …`. \
                Kinds: \(KindCommandLine.kindNames.joined(separator: ", ")).
                """),
            subcommands: [Add.self, Update.self, List.self, Show.self, Fields.self, Delete.self, Restore.self])
    }
}

extension SENSyncCommand.Record {
    struct Delete: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract:
                "Delete a record of any kind but a note (notes are amended, never deleted).",
            discussion: HelpText.fitted(
                """
                The record is kept as a tombstone so the deletion reaches every site; `record restore` undoes it.

                Example:
                  sensync record delete 0193a1b2 --store \\
                    oakfield.sensync --author SENCO
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Record id (or its first 8+ characters).") var record: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let (table, _) = try store.deleteRecord(record, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["deleted": ["table": table]])
            } else {
                Terminal.print("Deleted the \(RecordSchema.kind(table)?.noun ?? table).")
            }
        }
    }

    struct Restore: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "restore",
            abstract: "Restore a deleted record.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync record restore 0193a1b2 --store \\
                    oakfield.sensync --author SENCO
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "Record id (or its first 8+ characters).") var record: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let (table, _) = try store.restoreRecord(record, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["restored": ["table": table]])
            } else {
                Terminal.print("Restored the \(RecordSchema.kind(table)?.noun ?? table).")
            }
        }
    }
}
