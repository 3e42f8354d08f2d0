import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reports computed from the store: the area, a school, and sync health.",
            subcommands: [Area.self, School.self, Sync.self])
    }
}

extension SENSyncCommand.Report {
    struct Area: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json, html
        }

        static let configuration = CommandConfiguration(
            abstract: "Where in the area children are waiting, and whose move it is.",
            discussion: """
                From everything this store holds (at the LA: the merged area): pupils with SEN support and EHC plans \
                by school, time from first concern to SEN support (median and 90th percentile, nearest rank), concerns \
                past their review date, overdue duties by school and by responsible organisation, referral waits by \
                agency (referred to first seen, and still waiting), EHC timeliness over the year to the as-of date \
                with and without exceptions, complaints by stage, and possible duplicate pupils.

                Example:
                  sensync report area --store northshire-la.sensync --as-of 2026-03-31
                  sensync report area --store northshire-la.sensync --format json --out \\
                    area.json
                  sensync report area --store northshire-la.sensync --format html --out \\
                    area.html
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("as-of"), help: "Count from this date, YYYY-MM-DD. Defaults to today.") var asOf:
            String?
        @Option(help: "table, json or html (one self-contained page with charts, printable on A4).") var format:
            Format = .table
        @Option(help: "Write to this file instead of printing.") var out: String?
        @Flag(help: "Replace the --out file if it exists.") var force = false

        func run() throws {
            let date = try asOfDate(asOf)
            let store = try storeOptions.open()
            let report = try store.areaReport(asOf: date)
            let timeliness = try store.ehcTimeliness(
                from: StatutoryClock.adding(months: -12, to: report.asOf).adding(days: 1), to: report.asOf,
                asOf: report.asOf)
            let duplicates = try store.duplicatePupils().count
            let text: String
            switch format {
            case .json: text = try json(report, timeliness: timeliness, duplicates: duplicates)
            case .table: text = table(report, timeliness: timeliness, duplicates: duplicates, site: store.identity.name)
            case .html:
                let sites = [store.identity.name] + (try store.knownSites().compactMap(\.name))
                text =
                    report.document(
                        site: store.identity.name, timeliness: timeliness, duplicates: duplicates, sites: sites
                    ).html
            }
            if let out {
                try writeOut(text, to: out, force: force, what: "area report")
            } else {
                Terminal.print(text)
            }
        }

        func label(_ list: String, _ code: String) -> String { CodeLists.named(list)?.label(of: code) ?? code }
        func days(_ n: Int?) -> String { n.map { "\($0) d" } ?? "-" }

        func table(_ r: AreaReport, timeliness: EHCTimeliness, duplicates: Int, site: String) -> String {
            var lines = ["Area report for \(site), as of \(r.asOf)", ""]
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
                    "SCHOOL", "PUPILS", "SEN SUPPORT", "EHC PLAN", "CONCERN→SUPPORT MEDIAN", "P90",
                    "CONCERNS PAST REVIEW", "OVERDUE",
                ],
                r.schools.map {
                    [
                        $0.name, String($0.pupils), String($0.senSupport), String($0.ehcPlans),
                        days($0.concernToSupport.median),
                        days($0.concernToSupport.p90), String($0.concernsPastReview), String($0.overdueDuties),
                    ]
                })
            lines.append("Primary needs")
            add(["NEED", "PUPILS"], r.primaryNeeds.map { [label("census-sen-type", $0.code), String($0.count)] })
            lines.append("Referrals to outside agencies (referred → first seen)")
            add(
                ["AGENCY", "SEEN", "MEDIAN", "P90", "≤6 WK", "6–12", "12–18", ">18", "WAITING", "LONGEST WAIT"],
                r.agencies.map {
                    [
                        label("referral-agency", $0.agency), String($0.seen.count), days($0.seen.median),
                        days($0.seen.p90),
                    ]
                        + $0.distribution.map(String.init) + [String($0.waiting.count), days($0.waiting.longest)]
                })
            lines.append("EHC deadlines falling in the year to \(r.asOf)")
            add(
                ["STEP", "DUE", "ON TIME", "LATE (EXCEPTION)", "LATE", "MET", "MET EXCL. EXCEPTIONS"],
                timeliness.steps.map {
                    [
                        $0.step, String($0.due), String($0.onTime), String($0.lateWithException), String($0.late),
                        $0.percentIncludingExceptions.map { String(format: "%.0f%%", $0) } ?? "-",
                        $0.percentExcludingExceptions.map { String(format: "%.0f%%", $0) } ?? "-",
                    ]
                })
            lines.append("Overdue duties by responsible organisation")
            add(["ORGANISATION", "OVERDUE"], r.overdueByOrganisation.map { [$0.organisation, String($0.count)] })
            lines.append("Complaints and appeals open")
            add(
                ["STAGE", "OPEN", "PAST RESPONSE DATE"],
                r.escalations.map { [label("escalation-stage", $0.stage), String($0.open), String($0.overdue)] })
            lines.append(
                "Possible duplicate pupils (same UPN, different records): \(duplicates) (see `sensync pupil duplicates`)"
            )
            return lines.joined(separator: "\n")
        }

        struct WaitJSON: Encodable {
            var count: Int
            var medianDays: Int?
            var p90Days: Int?
            var longestDays: Int?
            init(_ w: WaitSummary) {
                count = w.count
                medianDays = w.median
                p90Days = w.p90
                longestDays = w.longest
            }
        }

        struct ReportJSON: Encodable {
            struct School: Encodable {
                var name: String
                var pupils, senSupport, ehcPlans, concernsPastReview, overdueDuties: Int
                var concernToSupport: WaitJSON
            }
            struct Agency: Encodable {
                var agency: String
                var seen: WaitJSON
                var waiting: WaitJSON
                var seenWithinWeeks: [String: Int]
            }
            struct Count: Encodable {
                var name: String
                var count: Int
            }
            struct Stage: Encodable {
                var stage: String
                var open, overdue: Int
            }
            struct Step: Encodable {
                var step: String
                var due, onTime, lateWithException, late: Int
                var percentIncludingExceptions, percentExcludingExceptions: Double?
            }
            var asOf: String
            var schools: [School]
            var primaryNeeds: [Count]
            var agencies: [Agency]
            var ehcTimeliness: [Step]
            var overdueByOrganisation: [Count]
            var escalations: [Stage]
            var possibleDuplicatePupils: Int
        }

        func json(_ r: AreaReport, timeliness: EHCTimeliness, duplicates: Int) throws -> String {
            let value = ReportJSON(
                asOf: r.asOf.description,
                schools: r.schools.map {
                    .init(
                        name: $0.name, pupils: $0.pupils, senSupport: $0.senSupport, ehcPlans: $0.ehcPlans,
                        concernsPastReview: $0.concernsPastReview, overdueDuties: $0.overdueDuties,
                        concernToSupport: WaitJSON($0.concernToSupport))
                },
                primaryNeeds: r.primaryNeeds.map { .init(name: $0.code, count: $0.count) },
                agencies: r.agencies.map {
                    .init(
                        agency: $0.agency, seen: WaitJSON($0.seen), waiting: WaitJSON($0.waiting),
                        seenWithinWeeks: Dictionary(
                            uniqueKeysWithValues: zip(["0-6", "6-12", "12-18", "18+"], $0.distribution)))
                },
                ehcTimeliness: timeliness.steps.map {
                    .init(
                        step: $0.step, due: $0.due, onTime: $0.onTime, lateWithException: $0.lateWithException,
                        late: $0.late,
                        percentIncludingExceptions: $0.percentIncludingExceptions,
                        percentExcludingExceptions: $0.percentExcludingExceptions)
                },
                overdueByOrganisation: r.overdueByOrganisation.map { .init(name: $0.organisation, count: $0.count) },
                escalations: r.escalations.map { .init(stage: $0.stage, open: $0.open, overdue: $0.overdue) },
                possibleDuplicatePupils: duplicates)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        }
    }
}

extension SENSyncCommand.Report {
    struct Sync: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "Which site is behind, and what is stuck: one line per site this store exchanges with.",
            discussion: """
                For each site: when its last bundle was applied here and when this store last made one for it, how \
                many changes it lacks that it may see (what a bundle made now would carry), how many of its own it \
                holds that this store has not received, bundles from it refused since the last one applied, and a \
                verdict: in step, behind, or needs attention and why.

                Example:
                  sensync report sync --store riverside-trust.sensync
                """)

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct PeerJSON: Encodable {
            var site: String
            var name: String
            var kind: String
            var lastReceived: String?
            var lastSent: String?
            var theyLack: Int
            var weLack: Int?
            var refusedSinceLastApplied: Int
            var lastRefusal: String?
            var verdict: String
        }

        func run() throws {
            let store = try storeOptions.open()
            let peers = try store.syncHealth()
            if output.json {
                try Terminal.printJSON([
                    "peers": peers.map {
                        PeerJSON(
                            site: $0.site.id.description, name: $0.site.name, kind: $0.site.kind.rawValue,
                            lastReceived: $0.lastReceived, lastSent: $0.lastSent, theyLack: $0.theyLack,
                            weLack: $0.weLack,
                            refusedSinceLastApplied: $0.refusedSinceLastApplied, lastRefusal: $0.lastRefusal,
                            verdict: $0.verdictText)
                    }
                ])
                return
            }
            if peers.isEmpty { Terminal.print("This store exchanges with no other site yet.") }
            Terminal.table(
                ["SITE", "LAST RECEIVED", "LAST SENT", "THEY LACK", "WE LACK", "VERDICT"],
                peers.map {
                    [
                        $0.site.name, $0.lastReceived ?? "never", $0.lastSent ?? "never", String($0.theyLack),
                        $0.weLack.map(String.init) ?? "-", $0.verdictText,
                    ]
                })
        }
    }
}

extension SENSyncCommand.Report {
    struct School: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "A school's own view: what it owes, to whom, by when; its pupils; referrals waiting.",
            discussion: """
                Every duty due in the next --within days (28 by default) or overdue, soonest first and whose it \
                is; this store's pupils by SEN provision and primary need; referrals still waiting by agency; \
                support plans due for review.

                Example:
                  sensync report school --store oakfield.sensync --within 14
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("as-of"), help: "Count from this date, YYYY-MM-DD. Defaults to today.") var asOf:
            String?
        @Option(help: "Days ahead to list duties for.") var within: Int = 28
        @OptionGroup var output: OutputOptions

        struct DutyJSON: Encodable {
            var kind, pupil, what, dueOn, responsibleOrg: String
            var responsibleRole: String?
            var overdue: Bool
        }

        struct SchoolJSON: Encodable {
            var asOf: String
            var pupils, senSupport, ehcPlans: Int
            var primaryNeeds: [String: Int]
            var referralsWaiting: [String: Int]
            var plansDueForReview: Int
            var duties: [DutyJSON]
        }

        func run() throws {
            guard within >= 0 else {
                throw CommandFailure(
                    code: .invalidInput, message: "--within cannot be negative.", hint: "Give a number of days.")
            }
            let date = try asOfDate(asOf)
            let store = try storeOptions.open()
            let report = try store.areaReport(asOf: date)
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
                        duties: duties.map {
                            DutyJSON(
                                kind: $0.obligation.kind, pupil: $0.pupilName, what: $0.obligation.what,
                                dueOn: $0.obligation.dueOn.description, responsibleOrg: $0.obligation.responsibleOrg,
                                responsibleRole: $0.obligation.responsibleRole, overdue: $0.overdue)
                        }))
                return
            }
            func label(_ list: String, _ code: String) -> String { CodeLists.named(list)?.label(of: code) ?? code }
            Terminal.print("\(store.identity.name), as of \(report.asOf)")
            Terminal.print(
                "Pupils: \(report.schools.map(\.pupils).reduce(0, +)); SEN support: \(report.schools.map(\.senSupport).reduce(0, +)); EHC plans: \(report.schools.map(\.ehcPlans).reduce(0, +)); plans due for review in \(within) days: \(plans)"
            )
            Terminal.print()
            Terminal.print("What is due (next \(within) days, and overdue):")
            Terminal.table(
                ["DUE", "", "PUPIL", "WHAT", "WHOSE"],
                duties.map {
                    [
                        $0.obligation.dueOn.description, $0.overdue ? "OVERDUE" : "", $0.pupilName, $0.obligation.what,
                        [$0.obligation.responsibleRole, $0.obligation.responsibleOrg].compactMap { $0 }.joined(
                            separator: ", "),
                    ]
                })
            Terminal.print()
            Terminal.print("Primary needs:")
            Terminal.table(
                ["NEED", "PUPILS"], report.primaryNeeds.map { [label("census-sen-type", $0.code), String($0.count)] })
            Terminal.print()
            Terminal.print("Referrals still waiting:")
            Terminal.table(
                ["AGENCY", "WAITING", "LONGEST WAIT"],
                waiting.map {
                    [
                        label("referral-agency", $0.agency), String($0.waiting.count),
                        $0.waiting.longest.map { "\($0) d" } ?? "-",
                    ]
                })
        }
    }
}
