import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Peer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "peer",
            abstract: "The sites this store knows: its directory, and those it has exchanged bundles with.",
            subcommands: [List.self])
    }
}

extension SENSyncCommand.Peer {
    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List known sites.",
            discussion: HelpText.fitted(
                """
                PEER is "yes" for a site whose bundles this store has applied, and "no" for one it knows only from the area directory, has only sent bundles to, or knows as the author of changes that reached it through others (an academy's, through its trust).

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
            /// Removed from the area directory (a site that rejoined under a new id, one that closed).
            var removed: Bool
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let sites = try store.knownSites()
            let directory = try store.directory()
            // A site that rejoined is listed twice by one name: the old id is marked.
            func removed(_ site: SiteID) -> Bool { directory?.entry(site)?.isRevoked ?? false }
            if output.json {
                try Terminal.printJSON([
                    "sites": sites.map {
                        Entry(
                            id: $0.site.description, name: $0.name, kind: $0.kind?.rawValue, isPeer: $0.isPeer,
                            removed: removed($0.site))
                    }
                ])
                return
            }
            Terminal.table(
                ["SITE ID", "NAME", "KIND", "PEER"],
                sites.map {
                    [
                        $0.site.description, ($0.name ?? "-") + (removed($0.site) ? " (removed)" : ""),
                        $0.kind?.rawValue ?? "-", $0.isPeer ? "yes" : "no",
                    ]
                })
        }
    }
}
