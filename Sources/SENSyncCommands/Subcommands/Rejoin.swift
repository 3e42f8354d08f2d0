import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Rejoin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rejoin",
            abstract: "Recover a school's store that was restored from a backup: rejoin under a new site id.",
            discussion: HelpText.fitted(
                """
                A store restored from a backup has forgotten changes it had already sent: its next \
                changes would reuse their numbers, and every other site refuses them as a fork. It \
                cannot write under its old id again. Instead:

                  1. At the school:
                       sensync rejoin start --store oakfield.sensync \\
                         --new-store oakfield-2.sensync --out oakfield-2.identity
                  2. At the LA, then send the new store a bundle:
                       sensync directory add oakfield-2.identity \\
                         --replaces "Oakfield Primary" --author "LA SEN officer"
                  3. At the school, all that reached the LA comes back:
                       sensync bundle apply --store oakfield-2.sensync la.bundle
                  4. What only the restored copy held is recorded again:
                       sensync rejoin carry-over --store oakfield-2.sensync \\
                         --from oakfield.sensync

                Keep the restored store until step 4 is done; then use only the new one.
                """),
            subcommands: [Start.self, CarryOver.self])
    }
}

extension SENSyncCommand.Rejoin {
    struct Start: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Make a new store and key file for this site under a new site id, and its identity file.",
            discussion: HelpText.fitted(
                """
                The new site has the same name, kind, URN and LA as the restored store's. Send the \
                identity file to the LA, which adds it with `sensync directory add FILE --replaces SITE`.

                Example:
                  sensync rejoin start --store oakfield.sensync \\
                    --new-store oakfield-2.sensync --out oakfield-2.identity
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: ArgumentHelp("Where to make the new store.", valueName: "path")) var newStore: String
        @Option(help: ArgumentHelp("Where to write the new site's identity file.", valueName: "path")) var out: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            try checkOutFile(out, force: false, mayReplace: isIdentityFile)
            let restored = try storeOptions.openForReading()
            let store: Store
            do { store = try Store.rejoin(restored: restored, newStoreAt: newStore) } catch let error as StoreError
                where error.code == .storeExists
            {
                throw CommandFailure(
                    code: .invalidInput, message: error.message, hint: "Choose another --new-store path.")
            }
            let identity = store.publicIdentity
            do { try writeIdentity(identity, to: out) } catch {
                throw CommandFailure(
                    code: .io, message: "The identity file cannot be written.",
                    hint:
                        "Check the folder exists and is writable. The new store was made: export its identity with `sensync identity export --store \(newStore) --out FILE`."
                )
            }
            if output.json {
                try Terminal.printJSON(["site": SiteJSON(identity.site), "replaces": SiteJSON(restored.identity)])
                return
            }
            Terminal.print("Made \(newStore) for \(identity.site.name) under a new site id, \(identity.site.id).")
            Terminal.print("Fingerprint: \(identity.fingerprint)")
            Terminal.print(
                "Next: send \(out) to the LA, which adds it with `sensync directory add \(out) --replaces \"\(restored.identity.name)\"`; apply its next bundle to the new store, then run `sensync rejoin carry-over --store \(newStore) --from \(try storeOptions.path)`."
            )
        }
    }

    struct CarryOver: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "carry-over",
            abstract: "Record again, as this new site's changes, what only the old store held.",
            discussion: HelpText.fitted(
                """
                Run it in the new store after applying the LA's bundle. Changes of the old site that \
                came back from the LA byte for byte are left alone; the rest (made only on the \
                restored copy, or never sent before the backup) are written again here, under their \
                original authors, with enrolments at the old site moved to this one. An academy added in \
                place of the maintained school it converted from (`directory add --replaces`) carries over \
                what the school's store never sent the same way.

                Example:
                  sensync rejoin carry-over --store oakfield-2.sensync \\
                    --from oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(
            help: ArgumentHelp(
                "The old store: restored from a backup, or the school's before it converted.", valueName: "path"))
        var from: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openUsingKeys()
            let restored = try Store.open(at: from, access: .readOnly)
            let report = try store.carryOver(from: restored)
            if output.json {
                try Terminal.printJSON(
                    CarryOverJSON(
                        alreadyHeld: report.alreadyHeld, carried: report.carried, unchanged: report.unchanged,
                        notOnRoll: report.notOnRoll, refused: report.refused, withoutContent: report.withoutContent))
            } else {
                Terminal.print(
                    "Carried over \(report.carried) change(s) only the old store held; \(report.alreadyHeld) had come back from upstream already\(report.unchanged > 0 ? ", \(report.unchanged) changed nothing here" : "")."
                )
                if report.notOnRoll > 0 {
                    Terminal.print(
                        "\(report.notOnRoll) change(s) about pupils no longer on this school's roll were left: the LA holds any that reached it."
                    )
                }
                for line in report.refused { Terminal.print("  not carried over: \(line)") }
            }
            if !report.refused.isEmpty {
                throw CommandFailure(
                    code: .invalidInput, message: "\(report.refused.count) change(s) could not be carried over.",
                    hint: "The rest were recorded. Each is listed above with the reason.")
            }
        }
    }

    struct CarryOverJSON: Encodable {
        var alreadyHeld: Int
        var carried: Int
        var unchanged: Int
        var notOnRoll: Int
        var refused: [String]
        var withoutContent: Int
    }
}
