import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct BundleCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle",
            abstract: "Make, apply, inspect and verify bundle files.",
            subcommands: [Create.self, Apply.self, Inspect.self, Verify.self])
    }
}

/// JSON form of a bundle header.
struct HeaderJSON: Encodable {
    struct Origin: Encodable {
        var site: String
        var changes: UInt64
    }

    struct Section: Encodable {
        var recipient: String
        var payloadBytes: UInt64
        var plainBytes: UInt64
        var payloadSHA256: String
        var checkpoints: UInt64
        var changes: UInt64
        var withoutContent: UInt64
        var holdings: UInt64
        var tableCounts: [String: UInt64]
        var origins: [Origin]
    }

    var format: String
    var schemaVersion: UInt16
    var bundleID: String
    var createdAt: String
    var sender: SiteJSON
    var recipients: [String]
    var directoryVersion: UInt64
    var carriesDirectory: Bool
    /// Always false: `inspect` reads the header's claims; `bundle verify --store` checks the
    /// signature. (It said `signed: true` of any file, a tampered one included.)
    var signatureChecked: Bool
    var encryption: String
    var changes: UInt64
    var sections: [Section]
    var versionVector: [String: UInt64]

    init(_ h: BundleHeader) {
        format = "\(h.formatMajor).\(h.formatMinor)"
        schemaVersion = h.schemaVersion
        bundleID = h.bundleID.description
        createdAt = HLC(milliseconds: h.createdAt, counter: 0).description
        sender = SiteJSON(h.sender)
        recipients = h.recipients.map(\.description)
        directoryVersion = h.directoryVersion
        carriesDirectory = !h.directory.isEmpty
        signatureChecked = false
        encryption =
            "HPKE auth mode X25519-HKDF-SHA256 / ChaCha20-Poly1305 from the sender, one sealed section per recipient"
        changes = h.changeCount
        sections = h.sections.map { s in
            Section(
                recipient: s.recipient.description, payloadBytes: s.payloadLength, plainBytes: s.plainLength,
                payloadSHA256: s.payloadSHA256.hex, checkpoints: s.checkpointCount, changes: s.changeCount,
                withoutContent: s.redactedCount, holdings: s.holdingsCount, tableCounts: s.tableCounts,
                origins: s.origins.sorted { $0.key < $1.key }.map {
                    Origin(site: $0.key.description, changes: $0.value)
                })
        }
        versionVector = jsonVector(h.versionVector)
    }
}

extension SENSyncCommand.BundleCommand {
    struct Create: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Write a bundle of every change the recipients have not acknowledged.",
            discussion: HelpText.fitted(
                """
                SITE is a site id or the name of a site this store knows. The bundle also acknowledges everything this \
                store holds, so the recipients' next bundles back hold only what this site lacks.

                Example:
                  sensync bundle create --store oakfield.sensync --to "Northshire Council" \\
                    --out oakfield-to-la.bundle
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("to"), help: "A recipient site (repeat for several).") var recipients: [String] = []
        @Option(help: "The bundle file to write. An older bundle there is replaced; any other file only with --force.")
        var out: String
        @Flag(help: "Replace the --out file even if it is not a bundle.") var force = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if recipients.isEmpty { throw ValidationError("Give at least one --to SITE.") }
        }

        func run() throws {
            try checkOutFile(out, force: force, mayReplace: BundleFile.looksLikeBundle(atPath:))
            let store = try storeOptions.openUsingKeys()
            let sites = try recipients.map { try store.resolveSite($0) }
            let summary = try store.makeBundle(to: sites.map(\.id), at: URL(fileURLWithPath: out))
            if output.json {
                try Terminal.printJSON(
                    BundleCreated(file: out, bytes: summary.fileSize, header: HeaderJSON(summary.header)))
            } else {
                let withoutContent = summary.header.sections.reduce(0) { $0 + $1.redactedCount }
                Terminal.print(
                    "Wrote \(out): \(summary.header.changeCount) change(s)\(withoutContent > 0 ? " and \(withoutContent) erased one(s) by their headers" : ""), \(Terminal.bytes(summary.fileSize)), signed and sealed for \(sites.map(\.name).joined(separator: ", "))."
                )
            }
        }

        struct BundleCreated: Encodable {
            var file: String
            var bytes: UInt64
            var header: HeaderJSON
        }
    }

    struct Apply: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Verify and apply bundle files, each all-or-nothing.",
            discussion: HelpText.fitted(
                """
                Every bundle is checked completely before anything is applied, then applied in one transaction. Files are \
                tried in the order given; a bundle refused for missing prerequisites is retried after the others, so a \
                folder of bundles can be applied in any order. Re-applying a bundle changes nothing.

                A site whose clock ran fast stamps its changes ahead; once its clock is put right they stay ahead until \
                real time catches up, and are refused here until then (the refusal says when). If you know the site \
                and trust its changes, accept them now with --accept-clock-ahead; the import log records it.

                Example:
                  sensync bundle apply --store northshire-la.sensync inbox/*.bundle
                  sensync bundle apply --accept-clock-ahead "Oakfield Primary" oak.bundle
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Bundle files.") var files: [String]
        @Option(
            name: .customLong("accept-clock-ahead"),
            help: ArgumentHelp(
                "Accept this site's changes however far ahead of this machine's clock they are stamped (repeatable).",
                valueName: "site"))
        var acceptClockAhead: [String] = []
        @OptionGroup var output: OutputOptions

        struct Result: Encodable {
            var file: String
            var result: String
            var bundleID: String?
            var sender: String?
            var applied: Int = 0
            var duplicates: Int = 0
            var rejected: [String] = []
            var conflictsOpened: Int = 0
            var conflictsClosed: Int = 0
            /// Pupils who left this site, no longer kept here once this bundle was applied.
            var pupilsForgotten: Int = 0
            /// Minutes this machine's clock read past the bundle's making, beyond the clock guard.
            var madeBeforeThisClockMinutes: UInt64?
            /// Set when, after this bundle, this site records no changes until its clock is put
            /// right or confirmed (`sensync clock`).
            var localWritesRefused: Bool?
            var error: ErrorReport?
        }

        func run() throws {
            var results: [String: Result] = [:]
            var firstFailure: SENSyncExit?
            func refuse(_ file: String, _ error: any Error) {
                let report = ErrorReport(error)
                results[file] = Result(file: file, result: "refused", error: report)
                if !output.json {
                    Terminal.note("\(file): refused. \(report.message)\(report.hint.map { " " + $0 } ?? "")")
                }
                firstFailure = firstFailure ?? report.exit
            }
            // What is not a file (missing, a folder, a device) is refused before the store is
            // opened: when nothing given is a file, the store is not opened, and so not touched.
            var pending: [String] = []
            for file in files {
                let url = URL(fileURLWithPath: file)
                if BundleFile.isRegularFile(url) {
                    pending.append(file)
                } else {
                    do { _ = try Store.inspectBundle(at: url) } catch { refuse(file, error) }
                }
            }
            guard !pending.isEmpty else { return try finish(results, firstFailure) }
            let store = try storeOptions.openUsingKeys()
            let accepted = Set(try acceptClockAhead.map { try store.resolveSite($0).id })
            var progress = true
            while progress && !pending.isEmpty {
                progress = false
                var stillPending: [String] = []
                for file in pending {
                    do {
                        let report = try store.apply(
                            bundleAt: URL(fileURLWithPath: file), acceptingClockAheadFrom: accepted)
                        progress = true
                        results[file] = Result(
                            file: file, result: report.result.rawValue, bundleID: report.header.bundleID.description,
                            sender: report.header.sender.name, applied: report.applied, duplicates: report.duplicates,
                            rejected: report.rejected.map { "\($0.dot): \($0.reason)" },
                            conflictsOpened: report.conflictsOpened,
                            conflictsClosed: report.conflictsClosed, pupilsForgotten: report.pupilsForgotten,
                            madeBeforeThisClockMinutes: report.madeBeforeThisClockMinutes,
                            localWritesRefused: report.clockDoubt == nil ? nil : true)
                        if !output.json { describe(file, report) }
                    } catch let error as BundleError where error.code == .missingPrerequisites && files.count > 1 {
                        stillPending.append(file)
                        results[file] = Result(file: file, result: "refused", error: ErrorReport(error))
                    } catch {
                        refuse(file, error)
                    }
                }
                pending = stillPending
            }
            for file in pending {
                let report = results[file]!.error!
                if !output.json { Terminal.note("\(file): refused. \(report.message) \(report.hint ?? "")") }
                firstFailure = firstFailure ?? report.exit
            }
            try finish(results, firstFailure)
        }

        /// Prints the JSON, and ends with the first refusal's exit code, saying so when other
        /// files were applied (the code alone would read as "nothing applied").
        private func finish(_ results: [String: Result], _ firstFailure: SENSyncExit?) throws {
            if output.json { try Terminal.printJSON(["imports": files.map { results[$0]! }]) }
            guard let firstFailure else { return }
            let refused = files.filter { results[$0]?.result == "refused" }.count
            if !output.json && refused < files.count {
                Terminal.note(
                    "\(refused) of \(files.count) bundle file(s) refused (the exit code is the first refusal's); the others were applied or already held."
                )
            }
            throw ExitCode(firstFailure.rawValue)
        }

        /// "3 day(s) 2 hour(s)", "5 hours", "90 minutes".
        private func describe(_ file: String, _ report: ImportReport) {
            switch report.result {
            case .alreadyApplied:
                Terminal.print("\(file): already applied (\(report.previousImportAt ?? "earlier")); nothing changed.")
            case .applied:
                var line = "\(file): applied \(report.applied) new change(s) from \(report.header.sender.name)"
                if report.duplicates > 0 { line += ", \(report.duplicates) already held" }
                // Every change the bundle carried is accounted for, as `log` counts them.
                if report.heldWithoutContent > 0 {
                    line += ", \(report.heldWithoutContent) kept without content (about erased pupils)"
                }
                if report.relayed > 0 { line += ", \(report.relayed) kept only to pass on to the LA" }
                if report.skipped > 0 { line += ", \(report.skipped) not taken (about pupils this site does not hold)" }
                if report.conflictsOpened > 0 { line += ", \(report.conflictsOpened) conflict(s) opened" }
                if report.conflictsClosed > 0 { line += ", \(report.conflictsClosed) conflict(s) closed" }
                if let version = report.directoryUpdatedTo { line += "; the area directory is now version \(version)" }
                Terminal.print(line + ".")
                if report.pupilsForgotten > 0 {
                    Terminal.print(
                        "  \(report.pupilsForgotten) pupil(s) who left this site are no longer kept here: their records went with them (their new school and the LA hold them)."
                    )
                }
                if let gap = report.behindOwnHistory { Terminal.note("warning: \(gap.message) \(gap.hint)") }
                if let minutes = report.madeBeforeThisClockMinutes {
                    let made =
                        "warning: \(report.header.sender.name) made this bundle \(ClockDoubt.span(minutes)) before this computer's time. If it did not take that long to arrive, this computer's clock is ahead, and other sites would refuse this site's changes"
                    Terminal.note(
                        report.clockDoubt == nil
                            ? "\(made): check it before recording anything (see README, Troubleshooting: a wrong clock)."
                            : "\(made). Until the clock is put right, or you say it is right with `sensync clock confirm`, this site records no changes (see README, Troubleshooting: a wrong clock)."
                    )
                }
                for (site, count) in report.acceptedClockAhead.sorted(by: { $0.key < $1.key }) {
                    Terminal.print(
                        "  Accepted \(count) change(s) from \(report.siteNames[site] ?? site.short) stamped ahead of this machine's clock, as asked; recorded in the import log."
                    )
                }
                for (dot, reason) in report.rejected {
                    Terminal.print("  rejected \(report.describe(dot)): it \(reason).")
                }
                for (dot, reason) in report.refused {
                    Terminal.print("  refused \(report.describe(dot)): \(reason).")
                }
            }
        }
    }

    struct Inspect: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Show a bundle's header and counts without touching any store.",
            discussion: HelpText.fitted(
                """
                The header holds no personal data: site ids and names, sequence numbers, hashes and counts. The payload is \
                sealed to each recipient and is not read. With --store (opened read-only), recipients and the sites in the \
                version vector are named from that store's directory.

                Example:
                  sensync bundle inspect oakfield-to-la.bundle --json
                """))

        @Argument(help: "The bundle file.") var file: String
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let header = try Store.inspectBundle(at: URL(fileURLWithPath: file))
            if output.json {
                try Terminal.printJSON(HeaderJSON(header))
                return
            }
            // Names come only from a store's own directory, never from the file's claims (the
            // sender's name is the file's claim, shown as such).
            // An explicit --store must open; $SENSYNC_STORE names sites if it can.
            let store =
                storeOptions.store != nil ? try storeOptions.openForReading() : try? storeOptions.openForReading()
            printHeader(header) { site in store.map { "\(siteName(site, in: $0)) (\(site))" } ?? site.description }
        }
    }

    struct Verify: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a bundle completely without applying it.",
            discussion: HelpText.fitted(
                """
                Without --store: format, header checksum and every section's payload checksum (no keys needed). With
                --store, also the sender (it must be in the area directory), its signature, that the bundle is addressed to
                this site, and — opening this site's section — every change against its origin's signature, prerequisites, forks \
                and the clock guard.

                Example:
                  sensync bundle verify oakfield-to-la.bundle --store northshire-la.sensync
                """))

        @Argument(help: "The bundle file.") var file: String
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct Verified: Encodable {
            var file: String
            var valid: Bool
            var checkedAgainstStore: Bool
            var changes: UInt64
            var newChanges: Int
            var duplicates: Int
        }

        func run() throws {
            let store = try storeOptions.givenPath.map { try Store.open(at: $0, access: .rollbackOnly) }
            let report = try Store.verifyBundle(at: URL(fileURLWithPath: file), against: store)
            if output.json {
                try Terminal.printJSON(
                    Verified(
                        file: file, valid: true, checkedAgainstStore: report.checkedAgainstStore,
                        changes: report.header.changeCount,
                        newChanges: report.newChanges, duplicates: report.duplicates))
            } else if report.checkedAgainstStore {
                Terminal.print(
                    "\(file): valid. \(report.newChanges) new change(s), \(report.duplicates) already held; it can be applied."
                )
            } else {
                Terminal.print(
                    "\(file): intact. Header and payload checksums verify; use --store to check the signature and contents."
                )
            }
        }
    }
}

private func printHeader(_ h: BundleHeader, naming name: (SiteID) -> String) {
    Terminal.print(
        "SENSync bundle, format \(h.formatMajor).\(h.formatMinor), record schema \(h.schemaVersion); what its header claims (signature not checked: `sensync bundle verify FILE --store STORE` checks it)"
    )
    Terminal.print("Bundle id:   \(h.bundleID)")
    Terminal.print("Created:     \(HLC(milliseconds: h.createdAt, counter: 0))")
    Terminal.print("Sender:      \(h.sender.name) (\(h.sender.kind.label), \(h.sender.id))")
    Terminal.print("Directory:   version \(h.directoryVersion)\(h.directory.isEmpty ? "" : ", carried in this bundle")")
    for (i, s) in h.sections.enumerated() {
        Terminal.print("Section \(i + 1), sealed to \(name(s.recipient))")
        Terminal.print("  payload \(s.payloadLength) bytes (\(s.plainLength) once opened), SHA-256 \(s.payloadSHA256)")
        Terminal.print(
            "  \(s.changeCount) change(s), \(s.redactedCount) without content (erased), \(s.checkpointCount) origin checkpoint(s), holdings of \(s.holdingsCount) pupil(s)"
        )
        if !s.tableCounts.isEmpty {
            Terminal.print(
                "  record writes, by table: "
                    + s.tableCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for (site, count) in s.origins.sorted(by: { $0.key < $1.key }) {
            Terminal.print("  from \(name(site)): \(count)")
        }
    }
    Terminal.print("Sender holds (version vector):")
    for e in h.versionVector.entries { Terminal.print("  \(name(e.site))  \(e.seq)") }
}
