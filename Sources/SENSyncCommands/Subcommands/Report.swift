import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Reports computed from the store: the area, a school, and sync health.",
            subcommands: [Area.self, School.self, Sync.self, Roll.self])
    }
}

extension SENSyncCommand.Report {
    struct Area: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, csv, json, html
        }

        static let configuration = CommandConfiguration(
            commandName: "area",
            abstract: "Where in the area children are waiting, and whose move it is.",
            discussion: HelpText.fitted(
                """
                From everything this store holds (at the LA: the merged area): pupils with SEN support and EHC plans \
                by school, time from first concern to SEN support (median and 90th percentile, nearest rank), concerns \
                past their review date, overdue duties by school and by responsible organisation, referral waits by \
                agency (referred to first seen, and still waiting), EHC timeliness over the year to the as-of date \
                with and without exceptions, open EHC deadlines passed and whose they are, complaints by stage, \
                when each site's changes last arrived and what it lacks, and possible duplicate pupils. Where a \
                school's roll is known (`sensync report roll`), SEN support and EHC plans are shown as a share of it.

                The CSV (one figure per row) and JSON shapes are documented in Schemas/reports/area-report.md.

                Example:
                  sensync report area --store northshire-la.sensync --as-of 2026-03-31
                  sensync report area --store northshire-la.sensync --format csv --out \\
                    area.csv
                  sensync report area --store northshire-la.sensync --format html --out \\
                    area.html
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("as-of"), help: "Count from this date, YYYY-MM-DD. Defaults to today.") var asOf:
            String?
        @Option(help: "table, csv, json or html (one self-contained page with charts, printable on A4).")
        var format: Format = .table
        @Flag(help: "The same as --format json (as every other command's --json).") var json = false
        @Option(help: "Write to this file instead of printing.") var out: String?
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func validate() throws {
            if json && format != .table && format != .json {
                throw ValidationError("Give --json or --format \(format.rawValue), not both.")
            }
        }

        func run() throws {
            let date = try asOfDate(asOf)
            let store = try storeOptions.openForReading()
            let report = try store.areaReport(asOf: date)
            let text: String
            switch json ? .json : format {
            case .json: text = Terminal.escapedForTerminal(try Terminal.jsonText(report.export))
            case .csv: text = try CSVTable.text(header: AreaReport.csvHeader, rows: report.csvRows)
            case .table: text = table(report)
            case .html: text = report.document().html
            }
            if let out {
                try writeOut(text, to: out, force: force, what: "area report")
            } else {
                Terminal.print(text)
            }
        }

        func days(_ n: Int?) -> String { n.map { "\($0) d" } ?? "-" }

        func percent(_ p: Double?) -> String { p.map { String(format: "%.0f%%", $0) } ?? "-" }
        func share(_ p: Double?) -> String { p.map { String(format: "%.1f%%", $0) } ?? "-" }

        func table(_ r: AreaReport) -> String {
            var lines = ["Area report for \(r.heldBy), as of \(r.asOf)", ""]
            func add(_ header: [String], _ rows: [[String]]) {
                let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
                func line(_ cells: [String]) -> String {
                    cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                        .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
                }
                lines.append(line(header))
                lines.append(line(widths.map { String(repeating: "-", count: $0) }))
                lines += rows.map(line)
                lines.append("")
            }
            lines.append("Schools")
            add(
                [
                    "SCHOOL", "PUPILS", "ROLL", "SEN SUPPORT", "% ROLL", "EHC PLAN", "% ROLL",
                    "CONCERN→SUPPORT MEDIAN", "P90", "CONCERNS PAST REVIEW", "OVERDUE",
                ],
                r.schools.map {
                    [
                        $0.name, String($0.pupils), $0.roll.map(String.init) ?? "-", String($0.senSupport),
                        share($0.senSupportShare), String($0.ehcPlans), share($0.ehcPlanShare),
                        days($0.concernToSupport.median),
                        days($0.concernToSupport.p90), String($0.concernsPastReview), String($0.overdueDuties),
                    ]
                })
            lines.append("Primary needs")
            add(
                ["NEED", "PUPILS"],
                r.primaryNeeds.map { [CodeLists.label("census-sen-type", $0.code), String($0.count)] })
            lines.append("Broad areas of need (primary need)")
            add(
                ["AREA", "PUPILS"],
                r.broadAreas.map { [CodeLists.label("broad-area-of-need", $0.area), String($0.count)] })
            lines.append("Referrals to outside agencies (referred → first seen)")
            add(
                ["AGENCY", "SEEN", "MEDIAN", "P90", "≤6 WK", "6–12", "12–18", ">18", "WAITING", "LONGEST WAIT"],
                r.agencies.map {
                    [
                        CodeLists.label("referral-agency", $0.agency), String($0.seen.count), days($0.seen.median),
                        days($0.seen.p90),
                    ]
                        + $0.distribution.map(String.init) + [String($0.waiting.count), days($0.waiting.longest)]
                })
            lines.append("EHC deadlines falling in the year to \(r.asOf)")
            add(
                ["STEP", "DUE", "ON TIME", "LATE (EXCEPTION)", "LATE", "MET", "MET EXCL. EXCEPTIONS"],
                r.timeliness.steps.map {
                    [
                        $0.step, String($0.due), String($0.onTime), String($0.lateWithException), String($0.late),
                        percent($0.percentIncludingExceptions), percent($0.percentExcludingExceptions),
                    ]
                })
            lines.append("Open EHC deadlines passed")
            add(
                ["STEP", "WHOSE MOVE", "CASES", "OLDEST DUE"],
                r.ehcOverdue.map { [$0.step, $0.organisation, String($0.count), $0.oldestDueOn.description] })
            lines.append("Overdue duties by responsible organisation")
            add(["ORGANISATION", "OVERDUE"], r.overdueByOrganisation.map { [$0.organisation, String($0.count)] })
            lines.append("Complaints and appeals open")
            add(
                ["STAGE", "OPEN", "PAST RESPONSE DATE"],
                r.escalations.map {
                    [CodeLists.label("escalation-stage", $0.stage), String($0.open), String($0.overdue)]
                })
            lines.append("Data freshness")
            add(
                ["SITE", "LAST RECEIVED", "LAST SENT", "VERDICT"],
                r.freshness.map { [$0.site.name, $0.lastReceived ?? "never", $0.lastSent ?? "never", $0.verdictText] })
            lines.append(
                "Possible duplicate pupils (same UPN, different records): \(r.possibleDuplicatePupils) (see `sensync pupil duplicates`)"
            )
            return lines.joined(separator: "\n")
        }
    }
}

extension SENSyncCommand.Report {
    struct Sync: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Which site is behind, and what is stuck: one line per site this store exchanges with.",
            discussion: HelpText.fitted(
                """
                For each site: when its last bundle was applied here and when this store last made one for it, how \
                many changes it lacks that it may see (what a bundle made now would carry), how many of its own it \
                holds that this store has not received, bundles from it refused since the last one applied, and a \
                verdict: in step, behind, or needs attention and why.

                Example:
                  sensync report sync --store riverside-trust.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let peers = try store.syncHealth()
            if output.json {
                try Terminal.printJSON([
                    "peers": peers.map {
                        $0.export
                    }
                ])
                return
            }
            if peers.isEmpty { Terminal.print("This store exchanges with no other site yet.") }
            Terminal.table(
                ["SITE", "LAST RECEIVED", "LAST SENT", "THEY LACK", "WE LACK", "VERDICT"],
                peers.map {
                    [
                        $0.site.name, $0.lastReceived ?? "never", $0.lastSent ?? "never",
                        $0.theyLack.map(String.init) ?? "-",
                        $0.weLack.map(String.init) ?? "-", $0.verdictText,
                    ]
                })
        }
    }
}

extension SENSyncCommand.Report {
    struct School: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "school",
            abstract: "A school's own view: what it owes, to whom, by when; its pupils; referrals waiting.",
            discussion: HelpText.fitted(
                """
                Every duty due in the next --within days (28 by default) or overdue, soonest first and whose it \
                is; this store's pupils by SEN provision and primary need; referrals still waiting by agency; \
                support plans due for review.

                Example:
                  sensync report school --store oakfield.sensync --within 14
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("as-of"), help: "Count from this date, YYYY-MM-DD. Defaults to today.") var asOf:
            String?
        @Option(parsing: .unconditional, help: "Days ahead to list duties for.") var within: Int = 28
        @OptionGroup var output: OutputOptions

        struct SchoolJSON: Encodable {
            var asOf: String
            var pupils, senSupport, ehcPlans: Int
            var primaryNeeds: [String: Int]
            var referralsWaiting: [String: Int]
            var plansDueForReview: Int
            /// As `due --json` prints them.
            var duties: [SENSyncCommand.Due.ItemJSON]
        }

        func run() throws {
            try checkWithin(within)
            let date = try asOfDate(asOf)
            let store = try storeOptions.openForReading()
            let report = try store.pupilFigures(asOf: date, onRollHereOnly: store.identity.kind.isSchool)
            let duties = try store.due(asOf: report.asOf, within: within)
            let plans = duties.filter { $0.obligation.kind == "plan-review" }.count
            let waiting = report.agencies.filter { $0.waiting.count > 0 }
            if output.json {
                try Terminal.printJSON(
                    SchoolJSON(
                        asOf: report.asOf.description, pupils: report.schools.map(\.pupils).reduce(0, +),
                        senSupport: report.schools.map(\.senSupport).reduce(0, +),
                        ehcPlans: report.schools.map(\.ehcPlans).reduce(0, +),
                        primaryNeeds: Dictionary(uniqueKeysWithValues: report.primaryNeeds.map { ($0.code, $0.count) }),
                        referralsWaiting: Dictionary(
                            uniqueKeysWithValues: waiting.map { ($0.agency, $0.waiting.count) }),
                        plansDueForReview: plans,
                        duties: duties.map(SENSyncCommand.Due.ItemJSON.init)))
                return
            }
            Terminal.print("\(store.identity.name), as of \(report.asOf)")
            if !store.identity.kind.isSchool {
                // Not a school: the figures are over every pupil this store holds.
                Terminal.print(
                    "(\(store.identity.name) is \(store.identity.kind == .la ? "the LA" : "a trust"): these figures cover every pupil it holds; `sensync report area` is the area's report.)"
                )
            }
            Terminal.print(
                "Pupils: \(report.schools.map(\.pupils).reduce(0, +)); SEN support: \(report.schools.map(\.senSupport).reduce(0, +)); EHC plans: \(report.schools.map(\.ehcPlans).reduce(0, +)); plans due for review in the next \(within) days or overdue: \(plans)"
            )
            Terminal.print()
            Terminal.print("What is due (next \(within) days, and overdue):")
            Terminal.table(
                ["DUE", "STATUS", "PUPIL", "WHAT", "WHOSE"],
                duties.map {
                    [
                        $0.obligation.dueOn.description, $0.overdue ? "OVERDUE" : "due", $0.pupilName,
                        $0.obligation.what,
                        [$0.obligation.responsibleRole, $0.obligation.responsibleOrg].compactMap { $0 }.joined(
                            separator: ", "),
                    ]
                })
            Terminal.print()
            Terminal.print("Primary needs:")
            Terminal.table(
                ["NEED", "PUPILS"],
                report.primaryNeeds.map { [CodeLists.label("census-sen-type", $0.code), String($0.count)] })
            Terminal.print()
            Terminal.print("Referrals still waiting:")
            Terminal.table(
                ["AGENCY", "WAITING", "LONGEST WAIT"],
                waiting.map {
                    [
                        CodeLists.label("referral-agency", $0.agency), String($0.waiting.count),
                        $0.waiting.longest.map { "\($0) d" } ?? "-",
                    ]
                })
        }
    }
}

extension SENSyncCommand.Report {
    struct Roll: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "roll",
            abstract: "Record a school's roll, so the area report shows SEN as a share of it.",
            discussion: HelpText.fitted(
                """
                The number of pupils on a school's roll (from the school census) is not part of the SEN records \
                schools share, so the LA records it here. The area report then shows pupils with SEN support and \
                with EHC plans as a percentage of the roll. Rolls stay in this store; they are not sent in bundles. \
                With no arguments, lists the rolls recorded.

                Example:
                  sensync report roll "Oakfield Primary" 412 --as-of 2026-01-15 \\
                    --store northshire-la.sensync
                  sensync report roll --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The school, by name or site id.") var school: String?
        @Argument(help: "Pupils on its roll.") var pupils: Int?
        @Option(name: .customLong("as-of"), help: "The census date of the count, YYYY-MM-DD. Defaults to today.")
        var asOf: String?
        @OptionGroup var output: OutputOptions

        struct RollJSON: Encodable {
            var site, name, asOf: String
            var pupils: Int
        }

        func run() throws {
            // Listing the rolls only reads: the store is opened read-only.
            let store = try school == nil ? storeOptions.openForReading() : storeOptions.open()
            if let school {
                guard let pupils else {
                    throw CommandFailure(
                        code: .invalidInput, message: "Give the number of pupils on the roll after the school.",
                        hint: "For example: sensync report roll \"Oakfield Primary\" 412")
                }
                let roll = try store.setSchoolRoll(
                    school: school, pupils: pupils, asOf: try asOfDate(asOf) ?? store.localToday)
                if output.json {
                    try Terminal.printJSON(
                        RollJSON(
                            site: roll.site.description, name: roll.name, asOf: roll.asOf.description,
                            pupils: roll.pupils))
                } else {
                    Terminal.print("Recorded \(roll.name)'s roll: \(roll.pupils) pupils on \(roll.asOf).")
                }
                return
            }
            let rolls = try store.schoolRolls()
            if output.json {
                try Terminal.printJSON([
                    "rolls": rolls.map {
                        RollJSON(site: $0.site.description, name: $0.name, asOf: $0.asOf.description, pupils: $0.pupils)
                    }
                ])
                return
            }
            if rolls.isEmpty {
                Terminal.print("No school rolls are recorded here yet. Record one with `sensync report roll SCHOOL N`.")
                return
            }
            Terminal.table(
                ["SCHOOL", "ON ROLL", "AS OF"], rolls.map { [$0.name, String($0.pupils), $0.asOf.description] })
        }
    }
}
