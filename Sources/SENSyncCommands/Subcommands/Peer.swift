import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Peer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The sites this store exchanges bundles with.",
            subcommands: [Add.self, List.self])
    }
}

extension SENSyncCommand.Peer {
    struct Add: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "Record a site to exchange bundles with.",
            discussion: """
                Get the site id from the other site's `sensync status`.

                Example:
                  sensync peer add --store oakfield.sensync --id 0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b --name "Northshire LA" --kind la
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "The other site's id.") var id: String
        @Option(help: "Its name.") var name: String
        @Option(help: "maintained-school, academy, trust or la.") var kind: SiteKind
        @OptionGroup var output: OutputOptions

        func run() throws {
            guard let siteID = SiteID(id) else {
                throw CommandFailure(code: .invalidInput, message: "That is not a site id.", hint: "Copy it from the other site's `sensync status`.")
            }
            let store = try storeOptions.open()
            try store.addPeer(SiteIdentity(id: siteID, name: name, kind: kind))
            if output.json { try Terminal.printJSON(["peer": SiteJSON(SiteIdentity(id: siteID, name: name, kind: kind))]) } else {
                Terminal.print("Added peer \(name) (\(kind.label)).")
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "List known sites.",
            discussion: """
                Example:
                  sensync peer list --store oakfield.sensync
                """)

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct Entry: Encodable {
            var id: String
            var name: String?
            var kind: String?
            var isPeer: Bool
        }

        func run() throws {
            let store = try storeOptions.open()
            let sites = try store.knownSites()
            if output.json {
                try Terminal.printJSON(["sites": sites.map { Entry(id: $0.site.description, name: $0.name, kind: $0.kind?.rawValue, isPeer: $0.isPeer) }])
                return
            }
            Terminal.table(
                ["SITE ID", "NAME", "KIND", "PEER"],
                sites.map { [$0.site.description, $0.name ?? "-", $0.kind?.rawValue ?? "-", $0.isPeer ? "yes" : "origin only"] })
        }
    }
}
