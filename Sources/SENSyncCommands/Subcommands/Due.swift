import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Due: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "due",
            abstract: "What is due or overdue, whose it is, soonest first.",
            discussion: HelpText.fitted(
                """
                Lists every dated duty in this store: plan and concern reviews, agreed actions, referrals awaiting an \
                answer, complaints awaiting a response and, at the LA, every statutory EHC deadline (decision to \
                assess, advice, final plan, annual reviews, phase transfers). Dates are days in England \
                (Europe/London). Overdue duties are always listed.

                Example:
                  sensync due --store oakfield.sensync --within 30
                  sensync due --store northshire-la.sensync --as-of 2026-03-01 --json
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(parsing: .unconditional, help: "Only duties due within this many days (overdue ones always show).")
        var within: Int?
        @Option(name: .customLong("as-of"), help: "Count from this date, YYYY-MM-DD. Defaults to today.") var asOf:
            String?
        @OptionGroup var output: OutputOptions

        struct ItemJSON: Encodable {
            var kind: String
            var pupil: String
            var pupilID: String
            var upn: String?
            var what: String
            var dueOn: String
            var overdue: Bool
            var responsibleOrg: String
            var responsibleRole: String?
            var statute: String?
            var exceptionApplies: Bool
            var record: String

            /// An item as `due --json` and `report school --json` print it.
            init(_ item: DueItem) {
                let o = item.obligation
                (kind, pupil, pupilID, upn) = (o.kind, item.pupilName, o.pupil.description, item.upn)
                (what, dueOn, overdue) = (o.what, o.dueOn.description, item.overdue)
                (responsibleOrg, responsibleRole, statute) = (o.responsibleOrg, o.responsibleRole, o.statute)
                (exceptionApplies, record) = (o.exceptionApplies, o.record.description)
            }
        }

        struct DueJSON: Encodable {
            var asOf: String
            var items: [ItemJSON]
        }

        func run() throws {
            try checkWithin(within)
            let date = try asOfDate(asOf)
            let store = try storeOptions.openForReading()
            let items = try store.due(asOf: date, within: within)
            if output.json {
                try Terminal.printJSON(
                    DueJSON(
                        asOf: (date ?? store.localToday).description,
                        items: items.map(ItemJSON.init)))
                return
            }
            let today = date ?? store.localToday
            if items.isEmpty {
                Terminal.print("Nothing is due\(within.map { " in the next \($0) days" } ?? "") as of \(today).")
                return
            }
            Terminal.table(
                ["DUE", "STATUS", "PUPIL", "WHAT", "WHOSE"],
                items.map { item in
                    let o = item.obligation
                    let whose = [o.responsibleRole, o.responsibleOrg].compactMap { $0 }.joined(separator: ", ")
                    return [
                        o.dueOn.description, item.overdue ? "OVERDUE" : "due",
                        "\(item.pupilName) (\(item.upn ?? "no UPN"))",
                        o.what + (o.exceptionApplies ? " [exception recorded]" : ""), whose,
                    ]
                })
            let overdue = items.filter(\.overdue).count
            Terminal.print("\(items.count) due, \(overdue) overdue, as of \(today).")
        }
    }
}
