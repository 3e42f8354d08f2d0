import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Pupil: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pupil",
            abstract: "Add, change and look up pupils.",
            subcommands: [
                Add.self, Update.self, Show.self, List.self, Duplicates.self, MigrateSEN.self, Transfer.self,
                Leave.self,
                Erase.self,
            ])
    }
}

/// JSON form of a pupil.
struct PupilJSON: Encodable {
    var id: String
    var upn: String?
    var forename: String?
    var surname: String?
    var dateOfBirth: String?
    var yearGroup: Int?
    var senStatus: String?
    var senNeeds: [String]
    var schools: [String]
    /// The schools' names, in the order of `schools`.
    var schoolNames: [String]
    var formerUPNs: [String]

    init(_ p: PupilRecord, in store: Store) {
        id = p.id.description
        upn = p.upn
        forename = p.forename
        surname = p.surname
        dateOfBirth = p.dateOfBirth
        yearGroup = p.yearGroup
        senStatus = p.senStatus
        senNeeds = p.senNeeds
        schools = p.schools.map(\.description)
        schoolNames = p.schools.map { siteName($0, in: store) }
        formerUPNs = p.formerUPNs
    }
}

func siteName(_ id: SiteID, in store: Store) -> String {
    if id == store.identity.id { return store.identity.name }
    return (try? store.resolveSite(id.description).name) ?? id.short
}

extension SENSyncCommand.Pupil {
    struct Add: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a pupil (enrolled at this school, or at --school).",
            discussion: HelpText.fitted(
                """
                The UPN's check letter is validated. At a school, the pupil is enrolled here from today (or --entry-date).

                Example:
                  sensync pupil add --store oakfield.sensync --author "J Smith (SENCO)" \\
                    --upn H801200001001 --forename Ada --surname Example --dob 2016-04-01 \\
                    --year-group 4
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "Unique Pupil Number (13 characters).") var upn: String
        @Option(help: "Legal forename.") var forename: String
        @Option(help: "Legal surname.") var surname: String
        @Option(help: "Date of birth, YYYY-MM-DD.") var dob: String
        // Unconditional: -1 and -2 (nursery years) are year groups, not options.
        @Option(
            name: .customLong("year-group"), parsing: .unconditional,
            help: "National curriculum year (0 = reception, -1 and -2 nursery).") var yearGroup: Int?
        @Option(help: "Enrol at this school (site id or name). Defaults to this site if it is a school.") var school:
            String?
        @Option(name: .customLong("entry-date"), help: "Enrolment start, YYYY-MM-DD. Defaults to today.") var entryDate:
            String?
        @OptionGroup var output: OutputOptions

        /// A pupil as people name them, after the id a script reads: "Ada Example, UPN H801200001001".
        static func named(_ pupil: PupilRecord) -> String {
            let name = [pupil.forename, pupil.surname].compactMap { $0 }.joined(separator: " ")
            return "\(name), UPN \(pupil.upn ?? "none")"
        }

        func run() throws {
            let store = try storeOptions.open()
            let schoolID = try school.map { try store.resolveSite($0).id }
            let id = try store.addPupil(
                NewPupil(
                    upn: upn, forename: forename, surname: surname, dateOfBirth: dob, yearGroup: yearGroup,
                    school: schoolID, entryDate: entryDate),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["pupil": PupilJSON(try store.pupil(id.description), in: store)])
            } else {
                let pupil = try store.pupil(id.description)
                let at = pupil.schools.first.map { " at \(siteName($0, in: store))" } ?? " (not enrolled at a school)"
                Terminal.print("Added pupil \(id) (\(Self.named(pupil)))\(at).")
            }
        }
    }

    struct Update: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "update",
            abstract: "Change a pupil's details, SEN status or ranked needs.",
            discussion: HelpText.fitted(
                """
                PUPIL is a UPN or a record id. Needs are census codes in rank order, the first being the primary need. \
                Changing a field that is in conflict resolves the conflict with the new value.

                Example:
                  sensync pupil update H801200001001 --store oakfield.sensync --author \\
                    SENCO --sen-status K --needs SPLD,SLCN
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @Option(help: "A new UPN (the old one is kept as a former UPN).") var upn: String?
        @Option(help: "A new forename.") var forename: String?
        @Option(help: "A new surname.") var surname: String?
        @Option(help: "Date of birth, YYYY-MM-DD.") var dob: String?
        @Option(name: .customLong("year-group"), parsing: .unconditional, help: "National curriculum year, e.g. 4.")
        var yearGroup: Int?
        @Option(name: .customLong("sen-status"), help: "E (EHC plan), K (SEN support) or N (no SEN).") var senStatus:
            String?
        @Option(help: "Ranked census need codes, comma-separated, e.g. SEMH,SLCN.") var needs: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            // Resolve first: a new UPN would no longer find the pupil by the old one.
            let id = try store.pupilID(for: pupil).description
            let receipt = try store.updatePupil(
                id,
                PupilUpdate(
                    upn: upn, forename: forename, surname: surname, dateOfBirth: dob, yearGroup: yearGroup,
                    senStatus: senStatus, senNeeds: needs),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["pupil": PupilJSON(try store.pupil(id), in: store)])
            } else {
                let named = (try? store.pupil(id)).map { " (\(Add.named($0)))" } ?? ""
                Terminal.print(
                    receipt.changed
                        ? "Updated pupil \(id)\(named)."
                        : "Nothing changed: pupil \(id)\(named) already has those values.")
                if receipt.conflictsClosed > 0 {
                    Terminal.print("This resolved \(receipt.conflictsClosed) open conflict(s).")
                }
            }
        }
    }

    struct Show: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a pupil's whole record: details, SEN, every kind of record, EHC deadlines and what is due.",
            discussion: HelpText.fitted(
                """
                Records appear under the record they belong to (a plan's outcomes, provision and reviews under the plan). \
                Sites and people are named; ids are shown only so a record can be changed.

                Example:
                  sensync pupil show H801200001001 --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @OptionGroup var output: OutputOptions

        struct FullJSON: Encodable {
            var pupil: PupilJSON
            var enrolments: [EnrolmentRecord]
            var notes: [NoteRecord]
            var plans: [SupportPlanRecord]
            /// Every record of every kind, by kind name.
            var records: [String: [KindRecord]]
            var due: [DueJSON]
            var censusProblems: [String]
        }

        struct DueJSON: Encodable {
            var kind: String
            var what: String
            var dueOn: String
            var responsibleOrg: String
            var responsibleRole: String?
            var statute: String?
            var exceptionApplies: Bool
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let record = try store.pupil(pupil)
            let file = try store.pupilFile(of: pupil)
            let obligations = try store.obligations(of: pupil)
            let problems = censusProblems(file)
            if output.json {
                try Terminal.printJSON(
                    FullJSON(
                        pupil: PupilJSON(record, in: store), enrolments: try store.enrolments(of: pupil),
                        notes: try store.notes(of: pupil), plans: try store.plans(of: pupil), records: file.records,
                        due: obligations.map {
                            DueJSON(
                                kind: $0.kind, what: $0.what, dueOn: $0.dueOn.description,
                                responsibleOrg: $0.responsibleOrg,
                                responsibleRole: $0.responsibleRole, statute: $0.statute,
                                exceptionApplies: $0.exceptionApplies)
                        }, censusProblems: problems.map(\.description)))
                return
            }
            let presenter = try store.presenter().naming(file.records.values.joined())
            Terminal.print("\(record.displayName)  (\(record.id))")
            Terminal.print(
                "  UPN \(record.upn ?? "-")\(record.formerUPNs.isEmpty ? "" : " (formerly \(record.formerUPNs.joined(separator: ", ")))")   born \(record.dateOfBirth ?? "-")   year \(record.yearGroup.map(String.init) ?? "-")"
            )
            let status = record.senStatus.flatMap(SENStatus.init) ?? .none
            Terminal.print(
                "  SEN: \(status.label)\(record.senNeeds.isEmpty ? "" : "; needs by rank: " + record.senNeeds.map { SENNeed(rawValue: $0)?.label ?? $0 }.joined(separator: ", "))"
            )
            for problem in problems { Terminal.print("  Census check: \(problem.description)") }
            let tree = RecordTree(records: file.records.values.flatMap { $0 })
            for (kind, nodes) in tree.sections {
                Terminal.print()
                Terminal.print("\(kind.plural.capitalizedFirst) (\(nodes.count)):")
                for node in nodes { printNode(node, presenter: presenter, indent: "  ") }
            }
            let timelines = try store.ehcTimelines(of: pupil)
            for t in timelines {
                Terminal.print()
                Terminal.print("EHC needs assessment deadlines (\(t.assessment.id)):")
                for line in timelineLines(t.steps, today: store.localToday) { Terminal.print("  " + line) }
            }
            Terminal.print()
            Terminal.print(obligations.isEmpty ? "Nothing is due." : "Due:")
            for o in obligations {
                let whose = [o.responsibleRole, o.responsibleOrg].compactMap { $0 }.joined(separator: ", ")
                Terminal.print(
                    "  \(o.dueOn)\(o.isOverdue(asOf: store.localToday) ? " OVERDUE" : "")  \(o.what) — \(whose)\(o.statute.map { " (\($0))" } ?? "")"
                )
            }
        }

        private func printNode(_ node: RecordTree.Node, presenter: RecordPresenter, indent: String) {
            let noun = node.record.spec?.noun ?? node.record.kind
            Terminal.print(
                "\(indent)\(noun.capitalizedFirst) \(node.record.id)\(node.record.isDeleted ? " [deleted]" : "")")
            // Every field with a value but the one naming the parent it is shown under.
            for field in node.record.spec?.fields ?? [] where field.name != node.record.spec?.parent {
                guard let text = presenter.text(node.record.values[field.name], of: field) else { continue }
                Terminal.print("\(indent)  \(field.label): \(text)")
            }
            for child in node.children { printNode(child, presenter: presenter, indent: indent + "  ") }
        }

        private func censusProblems(_ file: PupilFile) -> [RecordRuleViolation] {
            let episodes = (file.records[SENEpisode.name] ?? []).filter { $0.values[SENEpisode.Field.endDate] == nil }
            let needs = (file.records[SENNeedRecord.name] ?? []).filter {
                $0.values[SENNeedRecord.Field.endDate] == nil
            }
            guard !episodes.isEmpty || !needs.isEmpty else { return [] }
            return CensusRules.problems(
                openProvision: episodes.compactMap { $0.values.text(SENEpisode.Field.provision) },
                needs: needs.map(\.values))
        }
    }

    struct MigrateSEN: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "migrate-sen",
            abstract: "Turn each pupil's past SEN status and needs into dated provision episodes and ranked needs.",
            discussion: HelpText.fitted(
                """
                For pupils on roll here that have no episodes or needs yet (recorded before SENSync kept them): every \
                change of SEN status or needs in the pupil's history starts a record on its day and ends the one before, \
                so no history is lost. Run once at each school after upgrading; `pupil update` keeps them in step after.

                Example:
                  sensync pupil migrate-sen --store oakfield.sensync --author SENCO --dry-run
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Flag(name: .customLong("dry-run"), help: "Count the pupils without writing anything.") var dryRun = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let count = try store.migrateSENHistory(author: try authorOptions.name, dryRun: dryRun)
            if output.json {
                try Terminal.printJSON(["pupils": count])
            } else {
                Terminal.print(
                    dryRun
                        ? "\(count) pupil(s) would be given provision episodes and needs from their history."
                        : "Gave \(count) pupil(s) provision episodes and needs from their history.")
            }
        }
    }

    struct Duplicates: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "duplicates",
            abstract: "List pupil records that share a UPN (found after merges).",
            discussion: HelpText.fitted(
                """
                Two schools may record the same child before they sync, or a UPN may be mistyped. Each group lists the \
                records so one can be corrected (`sensync pupil update`) or deleted (`sensync record delete`).

                Example:
                  sensync pupil duplicates --store northshire-la.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let groups = try store.duplicatePupils()
            if output.json {
                struct Group: Encodable {
                    var upn: String
                    var pupils: [String]
                }
                try Terminal.printJSON([
                    "duplicates": groups.map { Group(upn: $0.upn, pupils: $0.pupils.map(\.id.description)) }
                ])
                return
            }
            if groups.isEmpty { Terminal.print("No two pupil records share a UPN.") }
            for group in groups {
                Terminal.print("UPN \(group.upn):")
                for p in group.pupils {
                    Terminal.print(
                        "  \(p.id)  \(p.displayName), born \(p.dateOfBirth ?? "?")\(p.schools.isEmpty ? "" : ", at " + p.schools.map { siteName($0, in: store) }.joined(separator: ", "))"
                    )
                }
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List pupils in this store.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync pupil list --store oakfield.sensync --sen-status K
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("sen-status"), help: "Only pupils with this SEN status (E, K or N).") var senStatus:
            String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            var pupils = try store.pupils()
            if let senStatus {
                guard SENStatus(rawValue: senStatus.uppercased()) != nil else {
                    throw CommandFailure(code: .invalidInput, message: "Unknown SEN status.", hint: "Use E, K or N.")
                }
                pupils = pupils.filter { $0.senStatus == senStatus.uppercased() }
            }
            if output.json {
                try Terminal.printJSON(["pupils": pupils.map { PupilJSON($0, in: store) }])
                return
            }
            Terminal.table(
                ["ID", "UPN", "NAME", "YEAR", "SEN", "NEEDS", "SCHOOL"],
                pupils.map { p in
                    [
                        p.id.description, p.upn ?? "-", p.displayName, p.yearGroup.map(String.init) ?? "-",
                        p.senStatus ?? "-",
                        p.senNeeds.joined(separator: ","),
                        // A pupil who left for no school in the area is on nobody's roll.
                        p.schools.isEmpty ? "none" : p.schools.map { siteName($0, in: store) }.joined(separator: ", "),
                    ]
                })
            Terminal.print("\(pupils.count) pupil(s).")
        }
    }
}
