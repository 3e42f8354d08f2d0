import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct CTF: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ctf",
            abstract: "Read and write the SEN data of a Common Transfer File (CTF).",
            discussion: HelpText.fitted(
                """
                A CTF carries only SEN provision codes with their start dates and ranked needs. Plans, reviews, \
                provision, referrals, concerns and notes travel in SENSync bundles. The elements read and written are \
                in Schemas/ctf/ctf-sen.md.
                """),
            subcommands: [Import.self, Export.self])
    }
}

extension SENSyncCommand.CTF {
    struct Import: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import the SEN history of every pupil in a CTF.",
            discussion: HelpText.fitted(
                """
                Pupils are matched by UPN (or a former UPN) and added if new. Provision episodes and ranked needs the \
                store lacks are added; importing the same file again changes nothing. Historic provision codes (S, A, \
                P) are recorded as E or K and flagged by a note on the pupil. The file is imported whole or not at all: \
                every pupil with a problem is reported with its line and element, and nothing is written.

                Example:
                  sensync ctf import --store oakfield.sensync --author SENCO \\
                    820aaaa_CTF_820bbbb_001.xml
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: ArgumentHelp("The CTF to read.", valueName: "file.xml")) var file: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let url = URL(fileURLWithPath: file)
            // Read in parts by the import; opened here first to say plainly that it cannot be.
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isFolder), !isFolder.boolValue,
                (try? FileHandle(forReadingFrom: url).close()) != nil
            else {
                throw CommandFailure(
                    code: FileManager.default.fileExists(atPath: file) ? .io : .notFound,
                    message: "The CTF file could not be read.", hint: "Check the path and that you can read the file.")
            }
            let store = try storeOptions.open()
            let summary: CTFImportSummary
            do {
                summary = try store.importCTF(contentsOf: url, author: try authorOptions.name) { checked, total in
                    // On stderr, for a file large enough to take a while (stdout stays the summary).
                    Terminal.note("ctf import: checked \(checked) of \(total) pupils (\(checked * 100 / total)%)")
                }
            } catch let error as CTFError where !error.problems.isEmpty {
                for problem in error.problems { Terminal.note(problem.description) }
                if error.problemCount > error.problems.count {
                    Terminal.note("… and \(error.problemCount - error.problems.count) more problem(s).")
                }
                throw error
            }
            if let elsewhere = summary.addressedElsewhere {
                Terminal.note(
                    "warning: This CTF is addressed to another school (\(elsewhere)), not \(store.identity.name); its SEN data was imported all the same. If it was not meant for this school, tell the sending school."
                )
            }
            if output.json {
                try Terminal.printJSON(["ctfImport": summary])
                return
            }
            for pupil in summary.pupils where pupil.outcome != .skipped {
                var parts: [String] = []
                if pupil.episodesAdded > 0 { parts.append("\(pupil.episodesAdded) episode(s) added") }
                if pupil.episodesEnded > 0 { parts.append("\(pupil.episodesEnded) episode(s) ended") }
                if pupil.needsAdded > 0 { parts.append("\(pupil.needsAdded) need(s) added") }
                if pupil.needsEnded > 0 { parts.append("\(pupil.needsEnded) need(s) ended") }
                let detail = parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")
                // By UPN, as the file and the SENCO know them.
                let upn = pupil.pupilID.flatMap { try? store.pupil($0.description).upn }
                Terminal.print(
                    "line \(pupil.line)  pupil \(upn ?? pupil.pupilID?.description ?? "-")  \(pupil.outcome.rawValue)\(detail)"
                )
            }
            for code in summary.historicCodes {
                Terminal.print(
                    "line \(code.line)  historic code \(code.code) from \(code.startDate) recorded as \(code.recordedAs)"
                        + (code.noteAdded ? "; flagged with a note" : "; already flagged"))
            }
            Terminal.print(
                "CTF \(summary.version ?? "(no version)"): \(summary.count(.created)) pupil(s) added, "
                    + "\(summary.count(.updated)) updated, \(summary.count(.unchanged)) unchanged, "
                    + "\(summary.count(.skipped)) without SEN history skipped."
                    + (summary.isUnchanged ? " Nothing was changed." : ""))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a pupil's SEN data as a CTF SEN fragment.",
            discussion: HelpText.fitted(
                """
                The file is a CTfile with a minimal header and one Pupil: UPN, names, date of birth, former UPNs, SEN \
                provision history and ranked needs. It re-imports to the same SEN data.

                Example:
                  sensync ctf export --store oakfield.sensync H801200001001 --out \\
                    ctf-sen.xml
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: ArgumentHelp("The pupil's UPN or record id.", valueName: "pupil")) var pupil: String
        @Option(help: "The file to write.") var out: String
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func run() throws {
            let store = try storeOptions.openForReading()
            let document = try store.ctfDocument(for: pupil)
            try writeOut(String(decoding: document.xmlData(), as: UTF8.self), to: out, force: force, what: "CTF")
        }
    }
}
