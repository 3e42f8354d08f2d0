import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Pupil: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, change and look up pupils.",
            subcommands: [Add.self, Update.self, Show.self, List.self, Transfer.self, Erase.self])
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

    init(_ p: PupilRecord) {
        id = p.id.description
        upn = p.upn
        forename = p.forename
        surname = p.surname
        dateOfBirth = p.dateOfBirth
        yearGroup = p.yearGroup
        senStatus = p.senStatus
        senNeeds = p.senNeeds
        schools = p.schools.map(\.description)
    }
}

func siteName(_ id: SiteID, in store: Store) -> String {
    if id == store.identity.id { return store.identity.name }
    return (try? store.resolveSite(id.description).name) ?? id.short
}

extension SENSyncCommand.Pupil {
    struct Add: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "Add a pupil (enrolled at this school, or at --school).",
            discussion: """
                The UPN's check letter is validated. At a school, the pupil is enrolled here from today (or --entry-date).

                Example:
                  sensync pupil add --store oakfield.sensync --author "J Smith (SENCO)" \\
                    --upn H801200001001 --forename Ada --surname Example --dob 2016-04-01 --year-group 4
                """)

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "Unique Pupil Number (13 characters).") var upn: String
        @Option(help: "Legal forename.") var forename: String
        @Option(help: "Legal surname.") var surname: String
        @Option(help: "Date of birth, YYYY-MM-DD.") var dob: String
        @Option(name: .customLong("year-group"), help: "National curriculum year (0 = reception).") var yearGroup: Int?
        @Option(help: "Enrol at this school (site id or name). Defaults to this site if it is a school.") var school:
            String?
        @Option(name: .customLong("entry-date"), help: "Enrolment start, YYYY-MM-DD. Defaults to today.") var entryDate:
            String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let schoolID = try school.map { try store.resolveSite($0).id }
            let id = try store.addPupil(
                NewPupil(
                    upn: upn, forename: forename, surname: surname, dateOfBirth: dob, yearGroup: yearGroup,
                    school: schoolID, entryDate: entryDate),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["pupil": PupilJSON(try store.pupil(id.description))])
            } else {
                let pupil = try store.pupil(id.description)
                let at = pupil.schools.first.map { " at \(siteName($0, in: store))" } ?? " (not enrolled at a school)"
                Terminal.print("Added pupil \(id)\(at).")
            }
        }
    }

    struct Update: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "Change a pupil's details, SEN status or ranked needs.",
            discussion: """
                PUPIL is a UPN or a record id. Needs are census codes in rank order, the first being the primary need.
                Changing a field that is in conflict resolves the conflict with the new value.

                Example:
                  sensync pupil update H801200001001 --store oakfield.sensync --author SENCO --sen-status K --needs SPLD,SLCN
                """)

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @Option var upn: String?
        @Option var forename: String?
        @Option var surname: String?
        @Option(help: "Date of birth, YYYY-MM-DD.") var dob: String?
        @Option(name: .customLong("year-group")) var yearGroup: Int?
        @Option(name: .customLong("sen-status"), help: "E (EHC plan), K (SEN support) or N (no SEN).") var senStatus:
            String?
        @Option(help: "Ranked census need codes, comma-separated, e.g. SEMH,SLCN.") var needs: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let receipt = try store.updatePupil(
                pupil,
                PupilUpdate(
                    upn: upn, forename: forename, surname: surname, dateOfBirth: dob, yearGroup: yearGroup,
                    senStatus: senStatus, senNeeds: needs),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["pupil": PupilJSON(try store.pupil(pupil))])
            } else {
                Terminal.print("Updated pupil \(try store.pupilID(for: pupil)).")
                if receipt.conflictsClosed > 0 {
                    Terminal.print("This resolved \(receipt.conflictsClosed) open conflict(s).")
                }
            }
        }
    }

    struct Show: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "Show a pupil's full SEN record: details, enrolments, notes and plans.",
            discussion: """
                Example:
                  sensync pupil show H801200001001 --store oakfield.sensync
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "UPN or record id.") var pupil: String
        @OptionGroup var output: OutputOptions

        struct FullJSON: Encodable {
            var pupil: PupilJSON
            var enrolments: [EnrolmentRecord]
            var notes: [NoteRecord]
            var plans: [SupportPlanRecord]
        }

        func run() throws {
            let store = try storeOptions.open()
            let record = try store.pupil(pupil)
            let notes = try store.notes(of: pupil)
            let plans = try store.plans(of: pupil)
            let enrolments = try store.enrolments(of: pupil)
            if output.json {
                try Terminal.printJSON(
                    FullJSON(pupil: PupilJSON(record), enrolments: enrolments, notes: notes, plans: plans))
                return
            }
            Terminal.print("\(record.displayName)  (\(record.id))")
            Terminal.print(
                "  UPN \(record.upn ?? "-")   born \(record.dateOfBirth ?? "-")   year \(record.yearGroup.map(String.init) ?? "-")"
            )
            let status = record.senStatus.flatMap(SENStatus.init) ?? .none
            Terminal.print(
                "  SEN: \(status.rawValue) (\(status.label))\(record.senNeeds.isEmpty ? "" : "   needs by rank: " + record.senNeeds.joined(separator: ", "))"
            )
            for e in enrolments {
                Terminal.print(
                    "  Enrolled at \(e.schoolID.map { siteName($0, in: store) } ?? "?") from \(e.entryDate ?? "?")\(e.leavingDate.map { " to \($0)" } ?? "")"
                )
            }
            Terminal.print()
            Terminal.print("Early-identification notes (\(notes.count)):")
            for n in notes {
                let amends = n.amendsNoteID.map { " [amends \($0)]" } ?? ""
                Terminal.print(
                    "  \(n.recordedAt?.prefix(10) ?? "?")  \(n.recordedBy ?? "?")  \(n.area ?? "general")\(amends)  (\(n.id))"
                )
                Terminal.print("    \(n.text)")
            }
            for plan in plans {
                Terminal.print()
                Terminal.print("Plan: \(plan.title ?? "-")  [\(plan.status ?? "-")]  (\(plan.id))")
                Terminal.print(
                    "  from \(plan.startDate ?? "?"), review due \(plan.reviewDate ?? "?"); responsible: \(plan.responsiblePerson ?? "-") (\(plan.responsibleOrg ?? "-"))"
                )
                for o in plan.outcomes {
                    Terminal.print(
                        "  Outcome: \(o.description ?? "-") (target \(o.targetDate ?? "-"), \(o.status ?? "-"))")
                }
                for p in plan.provision {
                    let cost = p.costPence.map { String(format: "£%.2f", Double($0) / 100) } ?? "-"
                    Terminal.print(
                        "  Provision: \(p.description ?? "-"); \(p.frequency ?? "-"); by \(p.provider ?? "-"); responsible \(p.responsiblePerson ?? "-") (\(p.responsibleOrg ?? "-")); cost \(cost)"
                    )
                }
                for r in plan.reviews {
                    Terminal.print(
                        "  Review \(r.heldOn ?? "?"): \(r.decision ?? "-"); next \(r.nextReviewDate ?? "-"). \(r.summary ?? "")"
                    )
                }
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            abstract: "List pupils in this store.",
            discussion: """
                Example:
                  sensync pupil list --store oakfield.sensync --sen-status K
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Option(name: .customLong("sen-status"), help: "Only pupils with this SEN status (E, K or N).") var senStatus:
            String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            var pupils = try store.pupils()
            if let senStatus {
                guard SENStatus(rawValue: senStatus.uppercased()) != nil else {
                    throw CommandFailure(code: .invalidInput, message: "Unknown SEN status.", hint: "Use E, K or N.")
                }
                pupils = pupils.filter { $0.senStatus == senStatus.uppercased() }
            }
            if output.json {
                try Terminal.printJSON(["pupils": pupils.map(PupilJSON.init)])
                return
            }
            Terminal.table(
                ["ID", "UPN", "NAME", "YEAR", "SEN", "NEEDS", "SCHOOL"],
                pupils.map { p in
                    [
                        p.id.description, p.upn ?? "-", p.displayName, p.yearGroup.map(String.init) ?? "-",
                        p.senStatus ?? "-",
                        p.senNeeds.joined(separator: ","),
                        p.schools.map { siteName($0, in: store) }.joined(separator: ", "),
                    ]
                })
            Terminal.print("\(pupils.count) pupil(s).")
        }
    }
}
