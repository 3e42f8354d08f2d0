import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand.Pupil {
    struct Transfer: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "transfer",
            abstract: "Move a pupil to another school (run by the LA or the school the pupil leaves).",
            discussion: HelpText.fitted(
                """
                Ends the pupil's current enrolment and enrols them at SCHOOL from DATE. The new school receives the \
                pupil's complete SEN history — notes, plans, reviews — in its next bundle from the LA (or directly from the \
                old school); the old school stops receiving anything about the pupil and removes its copy once the LA holds \
                everything it had.

                Example:
                  sensync pupil transfer H801200001001 --to "Oakfield Primary" --date \\
                    2026-01-05 --store northshire-la.sensync --author "LA SEN officer"
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @Option(help: "The school the pupil moves to (site id or name).") var to: String
        @Option(help: "The day the move takes effect, YYYY-MM-DD.") var date: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            // This school itself may be named: the pupil may be coming back to it.
            let school = try store.resolveSite(to, includingThisSite: true)
            try store.transferPupil(pupil, to: school.id, on: date, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["transferred": ["to": school.id.description, "date": date]])
            } else {
                Terminal.print(
                    "Transferred the pupil to \(school.name) from \(date). Their history travels in your next bundles.")
            }
        }
    }

    struct Leave: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "leave",
            abstract: "Record that a pupil left with no new school in the area (run by the LA or their school).",
            discussion: HelpText.fitted(
                """
                For a pupil who moves out of the area, is educated at home, or goes nobody knows where: ends their \
                enrolment at this school from DATE (at the LA, every enrolment open that day). The LA then sees them on \
                no school's roll — the area report counts them apart — and this school stops receiving anything about \
                them and removes its copy once the LA holds everything it had. If they start at a school in the area \
                later, the LA transfers them there with `sensync pupil transfer`. A pupil moving to a school in the \
                area is transferred instead, so their history follows them. Transfers made at the same time by two \
                sites can leave a pupil on two schools' rolls (`sensync due` at the LA says so): the LA ends the wrong \
                one with --school.

                Example:
                  sensync pupil leave H801200001001 --date 2026-07-22 \\
                    --store oakfield-primary.sensync --author "J. Patel (SENCO)"
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @Option(help: "The day they come off roll, YYYY-MM-DD.") var date: String
        @Option(
            help:
                "At the LA: only this school's roll (site id or name), for a pupil left on two by transfers made at the same time."
        ) var school: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let site = try school.map { try store.resolveSite($0, includingThisSite: true).id }
            try store.recordLeaving(pupil, on: date, author: try authorOptions.name, school: site)
            if output.json {
                try Terminal.printJSON(["left": ["date": date]])
            } else {
                // At the LA, its bundles tell the school; at a school, its next bundle tells the LA.
                let next =
                    store.identity.kind == .la
                    ? "Your next bundles tell their school." : "Your next bundle tells the LA."
                // The LA ending one of two rolls: the pupil is still at the other school.
                let schools = (try? store.pupil(pupil).schools) ?? []
                let still = schools.map { siteName($0, in: store) }.joined(separator: ", ")
                Terminal.print(
                    schools.isEmpty
                        ? "Recorded that the pupil left from \(date) with no new school in the area. \(next)"
                        : "Recorded that the pupil left \(site.map { siteName($0, in: store) } ?? "this school") from \(date); they stay on the roll of \(still). \(next)"
                )
            }
        }
    }

    struct Erase: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "erase",
            abstract: "Erase a pupil's personal content everywhere (run by the LA or the pupil's school).",
            discussion: HelpText.fitted(
                """
                The erasure replicates: every store that receives it deletes the pupil's records and the content of every \
                change about them, keeping only the pupil id, the reason, the date and the site — proof that the erasure \
                happened — and what sync needs to stay consistent. It cannot be undone. Do not put personal data in
                --reason.

                Example:
                  sensync pupil erase 0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b --reason \\
                    "duplicate record" --store northshire-la.sensync --author "LA DPO"
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @Option(help: "Why (kept as proof; no personal data).") var reason: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let id = try store.pupilID(for: pupil)
            try store.erasePupil(id.description, reason: reason, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["erased": id.description])
            } else {
                Terminal.print("Erased pupil \(id). The erasure reaches every other store with your next bundles.")
            }
        }
    }
}

extension SENSyncCommand {
    struct Retention: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retention",
            abstract: "Apply the retention policy (SEN files: date of birth + 31 years).",
            subcommands: [Run.self])
    }

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Check the store's tamper-evident history.",
            subcommands: [Verify.self])
    }

    struct History: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Show who did what to a pupil's records, from which site, and when.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync history H801200001001 --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @OptionGroup var output: OutputOptions

        struct Entry: Encodable {
            var site: String
            var siteName: String?
            var seq: UInt64
            var author: String?
            var at: String?
            var erased: Bool
            var rejected: String?
            var writes: [[String: String]]
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let entries = try store.history(of: pupil)
            if output.json {
                try Terminal.printJSON(
                    [
                        "history": entries.map { e in
                            Entry(
                                site: e.dot.site.description, siteName: e.siteName, seq: e.dot.seq, author: e.author,
                                at: e.hlc?.description,
                                erased: e.isRedacted, rejected: e.rejection,
                                writes: e.writes.flatMap { w in
                                    w.fields.map {
                                        [
                                            "table": w.table, "record": w.record.description, "field": $0.field,
                                            "value": $0.value.display,
                                        ]
                                    }
                                })
                        }
                    ])
                return
            }
            let records = (try? store.pupilFile(of: pupil))?.records.values.flatMap { $0 } ?? []
            let presenter = try store.presenter().naming(records)
            // Entries come oldest first: a record's first change made it, and the fields it left
            // empty then were never "cleared".
            var made: Set<RecordID> = []
            for e in entries {
                // A change held without its content (erased, or about a pupil passed on) has no author here.
                let author = e.author ?? (e.isRedacted ? "(author not held)" : "?")
                let who =
                    "\(author) at \(e.siteName ?? presenter.siteNames[e.dot.site] ?? "a site not in the directory")"
                Terminal.print(
                    "\(e.hlc?.description ?? "?")  \(who)  (change \(e.dot.seq))\(e.rejection.map { "  REJECTED: \($0)" } ?? "")"
                )
                if e.isRedacted {
                    Terminal.print("    content erased or no longer held here")
                }
                for w in e.writes {
                    let isNew = made.insert(w.record).inserted
                    let fields = w.fields.filter { !(isNew && $0.value.isNull) }.map { write -> String in
                        let (label, text) = presenter.describe(write, in: w.table)
                        let shown: String = text.count > 60 ? String(text.prefix(57)) + "..." : text
                        return label + ": " + shown
                    }.joined(separator: "; ")
                    Terminal.print("    \(presenter.noun(of: w.table).capitalizedFirst) \(w.record): \(fields)")
                }
            }
            Terminal.print("\(entries.count) change(s).")
        }
    }
}

extension SENSyncCommand.Retention {
    struct Run: ParsableCommand, JSONOutputting, AuthorOnlySometimes {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Erase every pupil whose SEN file has passed its retention period.",
            discussion: HelpText.fitted(
                """
                The period is date of birth + 31 years unless --years is given (and saved with --save). Each erasure \
                replicates like `pupil erase`. Use --dry-run to list what is due.

                Example:
                  sensync retention run --store northshire-la.sensync --author "LA DPO" \\
                    --dry-run
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "Years after the date of birth (25 to 120).") var years: Int?
        @Flag(help: "Keep --years as this store's policy.") var save = false
        @Flag(name: .customLong("dry-run"), help: "List pupils due; erase nothing.") var dryRun = false
        @OptionGroup var output: OutputOptions

        /// A dry run erases nothing.
        var needsAuthor: Bool { !dryRun }

        func run() throws {
            // A dry run changes nothing, the policy included: the store is opened read-only.
            let store = try dryRun ? storeOptions.openForReading() : storeOptions.open()
            if save, !dryRun, let years { try store.setRetentionYears(years) }
            let period = try years ?? store.retentionYears()
            let due = try store.retentionDue(years: period)
            var erased: [RecordID] = []
            if !dryRun { erased = try store.runRetention(author: try authorOptions.name, years: period) }
            if output.json {
                try Terminal.printJSON(["years": period, "due": due.count, "erased": erased.count])
            } else if dryRun {
                if due.isEmpty {
                    Terminal.print("No pupil is past date of birth + \(period) years.")
                } else {
                    Terminal.print("\(due.count) pupil(s) past date of birth + \(period) years:")
                    let pupils = Dictionary(try store.pupils().map { ($0.id, $0) }) { a, _ in a }
                    for id in due {
                        let pupil = pupils[id]
                        Terminal.print(
                            "  " + (pupil.map { "\($0.displayName) (UPN \($0.upn ?? "none"))" } ?? id.description))
                    }
                }
                if save, years != nil { Terminal.print("This was a dry run: --years was not saved as the policy.") }
            } else {
                Terminal.print("Erased \(erased.count) pupil(s) past date of birth + \(period) years.")
            }
        }
    }
}

extension SENSyncCommand.Audit {
    struct Verify: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check every site's hash chain in this store for gaps, forks and altered changes.",
            discussion: HelpText.fitted(
                """
                Exits 0 when every chain is whole, 12 with a list of problems otherwise (a gap, a fork or an altered change).

                Example:
                  sensync audit verify --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct JSON: Encodable {
            struct Chain: Encodable {
                var site: String
                var name: String?
                var length: UInt64
                var withContent: Int
                var redacted: Int
                var outOfScope: UInt64
                var checkpoints: Int
            }
            var clean: Bool
            var chains: [Chain]
            var problems: [String]
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let report = try store.auditVerify()
            if output.json {
                try Terminal.printJSON(
                    JSON(
                        clean: report.isClean,
                        chains: report.chains.map {
                            .init(
                                site: $0.site.description, name: $0.name, length: $0.length,
                                withContent: $0.withContent, redacted: $0.redacted, outOfScope: $0.outOfScope,
                                checkpoints: $0.checkpoints)
                        },
                        problems: report.problems.map {
                            "\($0.kind.rawValue): site \($0.site), change \($0.seq): \($0.detail)"
                        }))
            } else {
                // A school that rejoined has two chains under one name: the old id is marked.
                let directory = try store.directory()
                func label(_ chain: AuditReport.Chain) -> String {
                    let name = chain.name ?? chain.site.description
                    return directory?.entry(chain.site)?.isRevoked == true ? "\(name) (removed)" : name
                }
                Terminal.table(
                    ["SITE", "CHANGES", "HELD", "ERASED/LEFT", "OUT OF SCOPE", "SIGNED RUNS"],
                    report.chains.map {
                        [
                            label($0), String($0.length), String($0.withContent),
                            String($0.redacted), String($0.outOfScope), String($0.checkpoints),
                        ]
                    })
                if report.isClean {
                    Terminal.print(
                        "Every change held matches its site's signature; no forks, and this site's own history is whole."
                    )
                } else {
                    for p in report.problems { Terminal.note("problem: \(p)") }
                }
            }
            // A damaged or forked history is not a fault of this program: its own code, not 1.
            if !report.isClean { throw ExitCode(SENSyncExit.fork.rawValue) }
        }
    }
}
