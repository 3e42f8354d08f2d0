import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Peer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The sites this store knows: its directory, and those it has exchanged bundles with.",
            subcommands: [List.self])
    }
}

extension SENSyncCommand.Peer {
    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "List known sites.",
            discussion: HelpText.fitted(
                """
                PEER is "yes" for a site this store has exchanged bundles with, and "origin only" for one it knows only as the author of changes that reached it through others (an academy's, through its trust).

                Example:
                  sensync peer list --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct Entry: Encodable {
            var id: String
            var name: String?
            var kind: String?
            var isPeer: Bool
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let sites = try store.knownSites()
            if output.json {
                try Terminal.printJSON([
                    "sites": sites.map {
                        Entry(id: $0.site.description, name: $0.name, kind: $0.kind?.rawValue, isPeer: $0.isPeer)
                    }
                ])
                return
            }
            Terminal.table(
                ["SITE ID", "NAME", "KIND", "PEER"],
                sites.map {
                    [$0.site.description, $0.name ?? "-", $0.kind?.rawValue ?? "-", $0.isPeer ? "yes" : "origin only"]
                })
        }
    }
}
