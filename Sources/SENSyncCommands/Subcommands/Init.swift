import ArgumentParser
import Foundation
import SENSync

extension SiteKind: ExpressibleByArgument {}

extension SENSyncCommand {
    struct Init: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a store for this site.",
            discussion: HelpText.fitted(
                """
                Makes a new store file with a new, stable site id, and this site's signing (Ed25519) and encryption \
                (X25519) keys in a key file beside it (`<store>.keys`, readable by its owner only). Each school, academy, \
                trust and LA has one store. Schools and trusts pin their LA's identity (confirm its fingerprint first).

                Example:
                  sensync init --store northshire-la.sensync --name "Northshire Council" \\
                    --kind la --la-code 999
                  sensync init --store oakfield.sensync --name "Oakfield Primary" --kind \\
                    maintained-school --urn 100001 \\
                    --la-code 999 --la-identity northshire-la.identity
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "The site's name, as other sites will see it.") var name: String
        @Option(help: "What the site is.") var kind: SiteKind
        @Option(help: "The school's six-digit URN.") var urn: String?
        @Option(name: .customLong("la-code"), help: "The three-digit DfE LA number (an LA must give it).") var laCode:
            String?
        @Option(name: .customLong("la-identity"), help: "The LA's identity file, to pin (schools and trusts).")
        var laIdentity: String?
        @Option(
            name: .customLong("clock-guard-hours"),
            help: "Refuse changes stamped this far ahead of this machine's clock.")
        var clockGuardHours: Int = 24
        @OptionGroup var output: OutputOptions

        struct Created: Encodable {
            var site: SiteJSON
            var fingerprint: String
            var la: SiteJSON?
        }

        func validate() throws {
            guard (1...24 * 30).contains(clockGuardHours) else {
                throw ValidationError("--clock-guard-hours must be between 1 and 720.")
            }
            // Every row an LA exports (PostgreSQL, SEN2) carries its code, and a store's identity
            // cannot change once peers hold it: an LA's store made without one could never export.
            if kind == .la && laCode == nil {
                throw ValidationError(
                    "An LA's store needs its three-digit DfE LA number: add --la-code NNN (it cannot be set later).")
            }
        }

        func run() throws {
            var la: PublicIdentity?
            if let laIdentity {
                guard let data = FileManager.default.contents(atPath: laIdentity) else {
                    throw CommandFailure(
                        code: .notFound, message: "The LA identity file cannot be read.", hint: "Check --la-identity.")
                }
                la = try PublicIdentity(fileContents: data)
            }
            // A school or trust in an LA's area has its LA's code unless it says otherwise.
            let identity = SiteIdentity(
                id: .v7(), name: name, kind: kind, urn: urn, laCode: laCode ?? la?.site.laCode)
            let store = try Store.create(
                at: try storeOptions.path, identity: identity, la: la, clockGuardSeconds: clockGuardHours * 3600)
            if output.json {
                try Terminal.printJSON(
                    Created(
                        site: SiteJSON(store.identity), fingerprint: store.publicIdentity.fingerprint,
                        la: la.map { SiteJSON($0.site) }))
            } else {
                Terminal.print("Created store for \(store.identity.name) (\(store.identity.kind.label)).")
                Terminal.print("Site id:     \(store.identity.id)")
                Terminal.print("Fingerprint: \(store.publicIdentity.fingerprint)")
                Terminal.print(
                    "Keys:        \(KeyFile.path(forStore: try storeOptions.path)) (keep it private and backed up securely)"
                )
                if let la {
                    Terminal.print(
                        "Pinned LA:   \(la.site.name), fingerprint \(la.fingerprint) — confirm it with the LA.")
                }
                if kind != .la {
                    Terminal.print(
                        "Next: `sensync identity export` and send the file to your LA to be added to the area directory."
                    )
                }
            }
        }
    }
}
