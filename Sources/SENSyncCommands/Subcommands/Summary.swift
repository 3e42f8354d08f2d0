import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Summary: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case md, html
        }

        static let configuration = CommandConfiguration(
            commandName: "summary",
            abstract: "Write a plain-English summary of a pupil's support that a family could read.",
            discussion: HelpText.fitted(
                """
                Needs, the support in place, who is responsible for each part, what was decided and what happens next, \
                without codes, ids or internal terms. Markdown by default; --format html writes a standalone page.

                Example:
                  sensync summary H801200001001 --store oakfield.sensync --format html \\
                    --out ada-summary.html
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @Option(help: "md or html.") var format: Format = .md
        @Option(help: "Write to this file instead of printing.") var out: String?
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func run() throws {
            let store = try storeOptions.openForReading()
            let record = try store.pupil(pupil)
            let summary = FamilySummary(
                forename: record.forename ?? "The pupil", surname: record.surname ?? "",
                file: try store.pupilFile(of: pupil),
                preparedBy: store.identity.name, on: store.localToday, obligations: try store.obligations(of: pupil))
            let text = format == .html ? summary.html : summary.markdown
            if let out {
                try writeOut(text, to: out, force: force, what: "summary")
            } else {
                Terminal.print(text)
            }
        }
    }
}
