import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Identity: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "identity",
            abstract: "This site's public identity: id, name, kind and public keys.",
            subcommands: [Export.self, Show.self])
    }
}

extension SENSyncCommand.Identity {
    struct Export: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write this site's public identity to a file, and print its fingerprint.",
            discussion: HelpText.fitted(
                """
                Send the file to your LA (or, at the LA, to every site in the area). Read the fingerprint to the other \
                side by phone or in person: they must see the same one before trusting the file. The file holds only \
                public keys; the private keys stay in the key file beside the store.

                Example:
                  sensync identity export --store oakfield.sensync --out oakfield.identity
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(
            help: "The identity file to write. An identity file there is replaced; any other file only with --force.")
        var out: String
        @Flag(help: "Replace the --out file even if it is not an identity file.") var force = false
        @OptionGroup var output: OutputOptions

        struct Exported: Encodable {
            var site: SiteJSON
            var fingerprint: String
            var file: String
        }

        func run() throws {
            try checkOutFile(out, force: force, mayReplace: isIdentityFile)
            let store = try storeOptions.openForReading()
            let identity = store.publicIdentity
            try writeIdentity(identity, to: out)
            if output.json {
                try Terminal.printJSON(
                    Exported(site: SiteJSON(identity.site), fingerprint: identity.fingerprint, file: out))
            } else {
                Terminal.print("Wrote \(out) for \(identity.site.name) (\(identity.site.kind.label)).")
                Terminal.print("Fingerprint: \(identity.fingerprint)")
                Terminal.print("Confirm this fingerprint with the receiving site by phone or in person.")
            }
        }
    }

    struct Show: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show this site's identity, fingerprint and pinned LA.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync identity show --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct JSON: Encodable {
            var site: SiteJSON
            var fingerprint: String
            var la: SiteJSON?
            var laFingerprint: String?
            var directoryVersion: UInt64?
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let la = try store.pinnedLA()
            let directory = try store.directory()
            if output.json {
                try Terminal.printJSON(
                    JSON(
                        site: SiteJSON(store.identity), fingerprint: store.publicIdentity.fingerprint,
                        la: la.map { SiteJSON($0.site) },
                        laFingerprint: la?.fingerprint, directoryVersion: directory?.version))
                return
            }
            Terminal.print("\(store.identity.name) (\(store.identity.kind.label))  \(store.identity.id)")
            Terminal.print("Fingerprint: \(store.publicIdentity.fingerprint)")
            if let la, la.site.id != store.identity.id {
                Terminal.print("Pinned LA:   \(la.site.name)  \(la.fingerprint)")
            } else if la == nil {
                Terminal.print("Pinned LA:   none yet (`sensync directory pin LA-IDENTITY-FILE`)")
            }
            Terminal.print(
                "Directory:   \(directory.map { "version \($0.version), \($0.entries.count) site(s)" } ?? "not received yet")"
            )
        }
    }
}

extension SENSyncCommand {
    struct Directory: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "directory",
            abstract: "The LA's signed directory of the sites in its area.",
            subcommands: [Add.self, Remove.self, List.self, Pin.self])
    }
}

extension SENSyncCommand.Directory {
    struct Add: ParsableCommand, JSONOutputting, AuthorOnlySometimes {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a site's identity file to the area directory (LA only).",
            discussion: HelpText.fitted(
                """
                Confirm the fingerprint printed here with the site first. For an academy, give its trust (already listed). \
                To move an academy to another trust, add it again with the new --trust: the directory keeps every \
                membership, so what its old trust wrote while it was a member stays valid. The new directory, signed \
                by the LA, travels to every site in the LA's next bundles.

                A school whose store was restored from a backup rejoins under a new id (`sensync rejoin \
                start`): add its new identity file with --replaces naming the old site. A maintained school that \
                converts to an academy (often keeping its name) is added the same way, once the school has sent \
                the LA a last bundle and applied the LA's reply: the academy's identity file with --replaces \
                naming the school, and --trust naming its trust. Every pupil on the old \
                site's roll moves to the new one (a transfer each, so it receives their whole history in its \
                next bundle from the LA), and the old site is removed from the directory.

                Examples:
                  sensync directory add riverside-academy.identity --trust \\
                    "Riverside Learning Trust" --store northshire-la.sensync
                  sensync directory add oakfield-2.identity --replaces "Oakfield Primary" \\
                    --author "LA SEN officer" --store northshire-la.sensync
                  sensync directory add oakfield-academy.identity --replaces "Oakfield Primary" \\
                    --trust "Riverside Learning Trust" --author "LA SEN officer" \\
                    --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The site's identity file.") var file: String
        @Option(help: "For an academy: its trust (site id or name).") var trust: String?
        @Flag(help: "For an academy listed in a trust: take it out of its trust.") var noTrust = false
        @Option(
            help:
                "The site this identity replaces (site id or name): the same school rejoining under a new id, or the maintained school an academy converted from."
        )
        var replaces: String?
        @Option(help: "With --replaces: the day its pupils move to the new id, YYYY-MM-DD (default: today).")
        var date: String?
        @OptionGroup var authorOptions: AuthorOptions
        @OptionGroup var output: OutputOptions

        /// Only a replacement moves pupils (changes that need an author).
        var needsAuthor: Bool { replaces != nil }

        func run() throws {
            let store = try storeOptions.openUsingKeys()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(
                    code: .notFound, message: "The identity file cannot be read.", hint: "Check the path.")
            }
            let identity = try PublicIdentity(fileContents: data)
            if let replaces {
                guard !noTrust else {
                    throw CommandFailure(
                        code: .usage,
                        message:
                            "--no-trust does not go with --replaces: an academy converted from a school joins the --trust given, or none."
                    )
                }
                let old = try store.resolveSite(replaces)
                let trustID = try trust.map { try store.resolveSite($0).id }
                let moved = try store.replaceInDirectory(
                    old.id, with: identity, trust: trustID, on: date, author: try authorOptions.name)
                if output.json {
                    try Terminal.printJSON(
                        ReplacedJSON(site: SiteJSON(identity.site), replaced: SiteJSON(old), pupilsMoved: moved))
                } else {
                    if old.kind == identity.site.kind {
                        Terminal.print(
                            "Added \(identity.site.name) (\(identity.site.kind.label)) under its new id, moved \(moved) pupil(s) from its old id to it, and removed the old id from the directory."
                        )
                    } else {
                        Terminal.print(
                            "Added \(identity.site.name) (\(identity.site.kind.label)) in place of \(old.name) (\(old.kind.label)), moved \(moved) pupil(s) to it, and removed the \(old.kind.label) from the directory."
                        )
                    }
                    Terminal.print("Fingerprint: \(identity.fingerprint) — confirm it with the site.")
                    Terminal.print(
                        "Next: send it a bundle (`sensync bundle create --to \"\(identity.site.name)\" --out FILE`).")
                }
                return
            }
            guard date == nil else { throw CommandFailure(code: .usage, message: "--date goes with --replaces.") }
            guard !(noTrust && trust != nil) else {
                throw CommandFailure(code: .usage, message: "Give --trust or --no-trust, not both.")
            }
            let trustID = try trust.map { try store.resolveSite($0).id }
            // Added again without --trust, an academy would leave its trust: only when asked.
            if trust == nil, !noTrust, let directory = try store.directory(),
                let current = directory.activeEntry(identity.site.id)?.trust
            {
                let trustName = directory.entry(current)?.site.name ?? "its trust"
                throw CommandFailure(
                    code: .invalidInput,
                    message:
                        "\(identity.site.name) is in \(trustName): added again without --trust it would leave the trust.",
                    hint:
                        "Give --trust \"\(trustName)\" to keep it there (or another trust to move it), or --no-trust to take it out."
                )
            }
            let previous = try store.directory()
            let listed = previous?.activeEntry(identity.site.id)
            let directory = try store.addToDirectory(identity, trust: trustID)
            if output.json {
                try Terminal.printJSON(["site": SiteJSON(identity.site)])
            } else if directory.version == previous?.version {
                Terminal.print(
                    "\(identity.site.name) (\(identity.site.kind.label)) is already in the directory as given; nothing changed (version \(directory.version))."
                )
            } else if let listed, listed.trust != trustID {
                // Listed already: a move between trusts (or out of one), not an addition.
                let to = trustID.flatMap { directory.entry($0)?.site.name }.map { "into \($0)" } ?? "out of its trust"
                Terminal.print(
                    "Moved \(identity.site.name) \(to); the directory is now version \(directory.version).")
            } else {
                Terminal.print(
                    "Added \(identity.site.name) (\(identity.site.kind.label)) to the directory, now version \(directory.version)."
                )
                Terminal.print("Fingerprint: \(identity.fingerprint) — confirm it with the site.")
            }
        }
    }

    struct ReplacedJSON: Encodable {
        var site: SiteJSON
        var replaced: SiteJSON
        var pupilsMoved: Int
    }

    struct Remove: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Remove a site from the area directory (LA only); its bundles are refused from then on.",
            discussion: HelpText.fitted(
                """
                The site stays listed as removed, so changes it made before, relayed by other sites, are still accepted \
                and attributed to it. A trust is removed only once no academy is in it (move them first).

                Example:
                  sensync directory remove "Old Academy" --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Site id or name.") var site: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openUsingKeys()
            // The LA itself is found too, so it is told it cannot remove itself (not "not found").
            let target = try store.resolveSite(site, includingThisSite: true)
            let directory = try store.removeFromDirectory(target.id)
            // Pupils still on its roll are held by no school from now on: say so, and what to do.
            let onRoll = try store.pupils().filter { $0.schools.contains(target.id) }.count
            if output.json {
                struct Removed: Encodable {
                    var removed: SiteJSON
                    var pupilsStillOnRoll: Int
                }
                try Terminal.printJSON(Removed(removed: SiteJSON(target), pupilsStillOnRoll: onRoll))
            } else {
                Terminal.print("Removed \(target.name) from the directory, now version \(directory.version).")
            }
            if onRoll > 0 {
                Terminal.note(
                    "warning: \(onRoll) pupil(s) are still on \(target.name)'s roll here. Transfer each to the school they attend now (`sensync pupil transfer UPN --to SCHOOL`), so a school holds their records again."
                )
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the sites in the area directory this site holds.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync directory list --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct Entry: Encodable {
            var site: SiteJSON
            /// The trust's id (an id is spelled `Id`), and its name.
            var trustID: String?
            var trustName: String?
            var fingerprint: String
            var revoked: Bool
        }

        struct Listing: Encodable {
            var version: UInt64
            var sites: [Entry]
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            guard let directory = try store.directory() else {
                throw CommandFailure(
                    code: .notFound, message: "This site has not received the area directory yet.",
                    hint: "It arrives with the first bundle from your LA or trust.")
            }
            if output.json {
                try Terminal.printJSON(
                    Listing(
                        version: directory.version,
                        sites: directory.entries.map {
                            Entry(
                                site: SiteJSON($0.site), trustID: $0.trust?.description,
                                trustName: $0.trust.flatMap { directory.entry($0)?.site.name },
                                fingerprint: $0.identity.fingerprint,
                                revoked: $0.isRevoked)
                        }))
                return
            }
            Terminal.print("Area directory version \(directory.version), signed by the LA")
            Terminal.table(
                ["SITE", "KIND", "TRUST", "STATUS", "SITE ID", "FINGERPRINT"],
                directory.entries.map { e in
                    [
                        e.site.name, e.site.kind.rawValue, e.trust.flatMap { directory.entry($0)?.site.name } ?? "",
                        e.isRevoked ? "removed" : "active", e.site.id.description, e.identity.fingerprint,
                    ]
                })
        }
    }

    struct Pin: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "pin",
            abstract: "Pin the LA's identity: this site will accept only directories the LA signed.",
            discussion: HelpText.fitted(
                """
                Confirm the printed fingerprint with the LA by phone or in person first. Can also be done at set-up with \
                `sensync init --la-identity FILE`.

                Example:
                  sensync directory pin northshire-la.identity --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The LA's identity file.") var file: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openUsingKeys()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(
                    code: .notFound, message: "The identity file cannot be read.", hint: "Check the path.")
            }
            let la = try PublicIdentity(fileContents: data)
            try store.pinLA(la)
            if output.json {
                try Terminal.printJSON(["la": SiteJSON(la.site)])
            } else {
                Terminal.print("Pinned \(la.site.name) as this site's LA. Fingerprint: \(la.fingerprint)")
            }
        }
    }
}

/// Whether the file at `path` is a site's identity file (which a new export may replace).
func isIdentityFile(_ path: String) -> Bool {
    guard let data = FileManager.default.contents(atPath: path), data.count < 1 << 20 else { return false }
    return (try? PublicIdentity(fileContents: data)) != nil
}

/// Writes an identity file, with an error that says what to check when it cannot.
func writeIdentity(_ identity: PublicIdentity, to out: String) throws {
    do { try identity.fileContents().write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
        throw CommandFailure(
            code: .io, message: "The identity file cannot be written there.",
            hint: "Check the folder exists and can be written.")
    }
}
