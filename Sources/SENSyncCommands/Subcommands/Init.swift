import ArgumentParser
import Foundation
import SENSync

extension SiteKind: ExpressibleByArgument {}

extension SENSyncCommand {
    struct Init: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "Create a store for this site.",
            discussion: """
                Makes a new store file with a new, stable site id. Each school, academy, trust and LA has one store.

                Example:
                  sensync init --store oakfield.sensync --name "Oakfield Primary" --kind maintained-school --urn 100001 --la-code 999
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "The site's name, as other sites will see it.") var name: String
        @Option(help: "maintained-school, academy, trust or la.") var kind: SiteKind
        @Option(help: "The school's six-digit URN.") var urn: String?
        @Option(name: .customLong("la-code"), help: "The three-digit DfE LA number.") var laCode: String?
        @Option(name: .customLong("clock-guard-hours"), help: "Refuse changes stamped this far ahead of this machine's clock.")
        var clockGuardHours: Int = 24
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...24 * 30).contains(clockGuardHours) else {
                throw ValidationError("--clock-guard-hours must be between 1 and 720.")
            }
        }

        func run() throws {
            let identity = SiteIdentity(id: .v7(), name: name, kind: kind, urn: urn, laCode: laCode)
            let store = try Store.create(at: try storeOptions.path, identity: identity, clockGuardSeconds: clockGuardHours * 3600)
            if output.json {
                try Terminal.printJSON(["site": SiteJSON(store.identity)])
            } else {
                Terminal.print("Created store for \(store.identity.name) (\(store.identity.kind.label)).")
                Terminal.print("Site id: \(store.identity.id)")
                Terminal.print("Share the site id with the sites you exchange bundles with (`sensync peer add`).")
            }
        }
    }
}
