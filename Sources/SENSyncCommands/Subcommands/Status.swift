import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Status: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show this site, its record counts, and what each peer has acknowledged and still lacks.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync status --store oakfield.sensync --json
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct JSON: Encodable {
            struct Peer: Encodable {
                var site: SiteJSON
                var acknowledged: [String: UInt64]
                var lacks: UInt64
            }

            var site: SiteJSON
            var records: [String: Int]
            var tombstones: [String: Int]
            var openConflicts: Int
            var versionVector: [String: UInt64]
            var changesHeld: [String: Int]
            var peers: [Peer]
            var imports: Int
            var lastImport: ImportLogEntry?
            var clockAheadMinutes: UInt64?
            var behindOwnHistory: String?
            var clockDoubt: String?
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let s = try store.status()
            if output.json {
                try Terminal.printJSON(
                    JSON(
                        site: SiteJSON(s.site),
                        records: Dictionary(uniqueKeysWithValues: s.recordCounts.map { ($0.table, $0.count) }),
                        tombstones: Dictionary(uniqueKeysWithValues: s.tombstoneCounts.map { ($0.table, $0.count) }),
                        openConflicts: s.openConflicts, versionVector: jsonVector(s.versionVector),
                        changesHeld: Dictionary(
                            uniqueKeysWithValues: s.changesHeld.map { ($0.key.description, $0.value) }),
                        peers: s.peers.map {
                            JSON.Peer(
                                site: SiteJSON($0.site), acknowledged: jsonVector($0.acknowledged), lacks: $0.lacks)
                        },
                        imports: s.imports, lastImport: s.lastImport, clockAheadMinutes: s.clockAheadMinutes,
                        behindOwnHistory: s.behindOwnHistory?.message,
                        clockDoubt: s.clockDoubt.map { "\($0.message) \($0.hint)" }))
                return
            }
            if let gap = s.behindOwnHistory { Terminal.note("warning: \(gap.message) \(gap.hint)") }
            if let doubt = s.clockDoubt {
                Terminal.note("warning: local writes are refused. \(doubt.message) \(doubt.hint)")
            }
            if let minutes = s.clockAheadMinutes {
                Terminal.note(
                    "warning: this site's latest change is stamped \(minutes) minutes ahead of this computer's clock (more than the \(store.clockGuardSeconds / 60)-minute limit). Other sites refuse its bundles until their clocks catch up, or until they accept them with `sensync bundle apply --accept-clock-ahead \"\(s.site.name)\"`. Check this computer's date and time."
                )
            }
            Terminal.print("\(s.site.name) (\(s.site.kind.label))")
            Terminal.print(
                "Site id: \(s.site.id)\(s.site.urn.map { "   URN \($0)" } ?? "")\(s.site.laCode.map { "   LA \($0)" } ?? "")"
            )
            Terminal.print()
            Terminal.table(
                ["TABLE", "RECORDS", "DELETED"],
                zip(s.recordCounts, s.tombstoneCounts).map { [$0.table, String($0.count), String($1.count)] })
            Terminal.print()
            Terminal.print("Open conflicts: \(s.openConflicts)")
            // Every site whose changes are held, with how many (a trust holds only some of the
            // LA's: those about its academies' pupils), and how far they run without a gap.
            Terminal.print("Changes held, by site of origin:")
            let origins = s.changesHeld.keys.sorted {
                (s.siteNames[$0] ?? $0.description, $0) < (s.siteNames[$1] ?? $1.description, $1)
            }
            for site in origins {
                let name = (s.siteNames[site] ?? site.description).padding(toLength: 32, withPad: " ", startingAt: 0)
                let run = s.versionVector[site]
                Terminal.print(
                    "  \(name) \(s.changesHeld[site] ?? 0)" + (run > 0 ? " (every one up to number \(run))" : ""))
            }
            if !s.peers.isEmpty {
                Terminal.print()
                Terminal.table(
                    ["PEER", "KIND", "ACKNOWLEDGED", "LACKS (THAT IT MAY SEE)"],
                    s.peers.map {
                        [
                            $0.site.name, $0.site.kind.rawValue, "\($0.acknowledged.total) change(s)",
                            "\($0.lacks) change(s)",
                        ]
                    })
            }
            if let last = s.lastImport {
                Terminal.print()
                Terminal.print(
                    "Imports: \(s.imports); last from \(senderLabel(last)) at \(last.importedAt): \(last.result)")
            }
        }
    }

    struct Digest: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "digest",
            abstract: "Print one digest of the replicated state; equal on any two sites holding the same changes.",
            discussion: HelpText.fitted(
                """
                Covers records, tombstones and open conflicts, not local bookkeeping.

                Example:
                  sensync digest --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let digest = try store.digest()
            if output.json {
                try Terminal.printJSON(["digest": digest.hex, "site": store.identity.id.description])
            } else {
                Terminal.print(digest.hex)
            }
        }
    }

    struct ImportLog: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "log",
            abstract: "Show the import log: the recorded result of every bundle applied or refused.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync log --store northshire-la.sensync --limit 20
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "How many entries to show.") var limit: Int = 50
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard limit >= 0 else { throw ValidationError("--limit cannot be negative.") }
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let entries = try store.importLog(limit: limit)
            if output.json {
                try Terminal.printJSON(["imports": entries])
                return
            }
            // CHANGES = NEW + HELD + NOT TAKEN + REJECTED: new to this store are the changes merged
            // and those kept without content or only to pass on (said below the table).
            Terminal.table(
                ["WHEN", "FROM", "RESULT", "CHANGES", "NEW", "HELD", "NOT TAKEN", "REJECTED", "CONFLICTS"],
                entries.map {
                    [
                        $0.importedAt, senderLabel($0), $0.result, String($0.changeCount),
                        String($0.applied + ($0.keptWithoutContent ?? 0) + ($0.relayed ?? 0)),
                        String($0.duplicates), $0.notTaken.map(String.init) ?? "-",
                        String($0.rejected), "+\($0.conflictsOpened)/-\($0.conflictsClosed)",
                    ]
                })
            // Why each bundle was refused, what was kept back from those applied, and which new
            // changes were kept without being merged.
            let notes = entries.flatMap { e in
                var lines: [String] = []
                if let detail = e.detail {
                    lines.append(
                        "  \(e.importedAt) \(e.result): \(detail)"
                            + (e.fileSHA256.map { " (file SHA-256 \($0))" } ?? ""))
                }
                if let kept = e.keptWithoutContent, kept > 0 {
                    lines.append("  \(e.importedAt): \(kept) new change(s) kept without content (about erased pupils)")
                }
                if let relayed = e.relayed, relayed > 0 {
                    lines.append("  \(e.importedAt): \(relayed) new change(s) kept only to pass on to the LA")
                }
                return lines
            }
            if !notes.isEmpty {
                Terminal.print()
                for note in notes { Terminal.print(note) }
            }
        }
    }
}

/// Who an import came from, for people: the site's name as this store knows it, else the id its
/// header gave (a refused bundle from a site this store does not know), else "-" (a file whose
/// header could not be read).
private func senderLabel(_ entry: ImportLogEntry) -> String {
    entry.sender ?? entry.senderID.map { "site \($0)" } ?? "-"
}
