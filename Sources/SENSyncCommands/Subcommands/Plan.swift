import ArgumentParser
import Foundation
import SENSync

extension PlanDecision: ExpressibleByArgument {}

extension SENSyncCommand {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Support plans: assess, plan, do, review.",
            subcommands: [Create.self, AddOutcome.self, AddProvision.self, RecordReview.self, List.self])
    }
}

/// Parses "450", "450.5" or "450.00" pounds into pence (``Money/pence(fromPounds:)``).
func pence(fromPounds text: String) throws -> Int64 {
    guard let pence = Money.pence(fromPounds: text) else {
        throw CommandFailure(
            code: .invalidInput, message: "The cost is not an amount in pounds.",
            hint: "Use a number like 450 or 450.00.")
    }
    return pence
}

extension SENSyncCommand.Plan {
    struct Create: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Start a support plan for a pupil.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync plan create --store oakfield.sensync --author SENCO --pupil \\
                    H801200001001 \\
                    --title "Literacy support" --review-date 2026-02-13 \\
                    --responsible-person "J Smith (SENCO)" --responsible-org \\
                    "Oakfield Primary"
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "UPN or record id.") var pupil: String
        @Option(help: "What the plan is for, e.g. Literacy (no names).") var title: String
        @Option(name: .customLong("review-date"), help: "When the plan is next reviewed, YYYY-MM-DD.") var reviewDate:
            String
        @Option(name: .customLong("start-date"), help: "Defaults to today.") var startDate: String?
        @Option(name: .customLong("responsible-org"), help: "The organisation responsible for the plan.")
        var responsibleOrg: String?
        @Option(name: .customLong("responsible-person"), help: "Who is responsible, by role or name.")
        var responsiblePerson: String?
        @Option(help: "draft, active, under-review or closed.") var status: String = "active"
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let id = try store.createPlan(
                pupil: pupil,
                NewSupportPlan(
                    title: title, startDate: startDate, reviewDate: reviewDate, responsibleOrg: responsibleOrg,
                    responsiblePerson: responsiblePerson, status: status),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["plan": ["id": id.description]])
            } else {
                Terminal.print("Created plan \(id).")
            }
        }
    }

    struct AddOutcome: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "add-outcome",
            abstract: "Add an outcome to a plan.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync plan add-outcome --store oakfield.sensync --author SENCO --plan \\
                    0193a1b2-... \\
                    --description "Reads 40 high-frequency words" --target-date 2026-02-13
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "Plan id (or its first 8+ characters).") var plan: String
        @Option(help: "The outcome hoped for.") var description: String
        @Option(name: .customLong("target-date"), help: "When it should be met, YYYY-MM-DD.") var targetDate: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let id = try store.addOutcome(
                plan: plan, description: description, targetDate: targetDate, author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["outcome": ["id": id.description]])
            } else {
                Terminal.print("Recorded outcome \(id).")
            }
        }
    }

    struct AddProvision: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "add-provision",
            abstract: "Add provision to a plan: what, who delivers it, how often, cost, and who is responsible.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync plan add-provision --store oakfield.sensync --author SENCO \\
                    --plan 0193a1b2-... \\
                    --description "Phonics catch-up, small group" --provider \\
                    "TA (K Jones)" --frequency "3 x 20 min weekly" \\
                    --responsible-org "Oakfield Primary" --responsible-person \\
                    "J Smith (SENCO)" --cost 450.00
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "Plan id (or its first 8+ characters).") var plan: String
        @Option(help: "What is provided.") var description: String
        @Option(help: "Who delivers it.") var provider: String?
        @Option(help: "How often, e.g. \"3 x 20 min weekly\".") var frequency: String?
        @Option(name: .customLong("responsible-org"), help: "Required: the organisation responsible.")
        var responsibleOrg: String?
        @Option(name: .customLong("responsible-person"), help: "Required: the person responsible.")
        var responsiblePerson: String?
        @Option(help: "Cost in pounds, e.g. 450.00.") var cost: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let id = try store.addProvision(
                plan: plan,
                NewProvision(
                    description: description, provider: provider, frequency: frequency, responsibleOrg: responsibleOrg,
                    responsiblePerson: responsiblePerson, costPence: try cost.map(pence(fromPounds:))),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["provision": ["id": id.description]])
            } else {
                Terminal.print("Added provision \(id).")
            }
        }
    }

    struct RecordReview: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "record-review",
            abstract: "Record a review of a plan and set the next review date.",
            discussion: HelpText.fitted(
                """
                DECISION is continue, modify, escalate (request an EHC needs assessment) or close.

                Example:
                  sensync plan record-review --store oakfield.sensync --author SENCO \\
                    --plan 0193a1b2-... \\
                    --held-on 2026-02-13 --decision continue --next-review 2026-05-15 \\
                    --summary "Good progress; keep group."
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var authorOptions: AuthorOptions
        @Option(help: "Plan id (or its first 8+ characters).") var plan: String
        @Option(name: .customLong("held-on"), help: "The day of the review meeting, YYYY-MM-DD.") var heldOn: String
        @Option(help: "What the review found.") var summary: String
        @Option(
            help:
                "What happens to the plan next: continue, modify, escalate (ask for an EHC needs assessment) or close.")
        var decision: PlanDecision
        @Option(
            name: [.customLong("next-review"), .customLong("next-review-date")],
            help: "When the plan is next reviewed, YYYY-MM-DD.")
        var nextReview: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.open()
            let id = try store.recordReview(
                plan: plan, NewReview(heldOn: heldOn, summary: summary, decision: decision, nextReviewDate: nextReview),
                author: try authorOptions.name)
            if output.json {
                try Terminal.printJSON(["review": ["id": id.description]])
            } else {
                Terminal.print("Recorded review \(id).")
            }
        }
    }

    struct List: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List a pupil's plans with outcomes, provision and reviews.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync plan list --store oakfield.sensync --pupil H801200001001 --json
                """))

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "UPN or record id.") var pupil: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openForReading()
            let plans = try store.plans(of: pupil)
            if output.json {
                try Terminal.printJSON(["plans": plans])
                return
            }
            for plan in plans {
                Terminal.print(
                    "\(plan.id)  \(plan.title ?? "-")  [\(plan.status ?? "-")]  review due \(plan.reviewDate ?? "-")")
                Terminal.print(
                    "  \(plan.outcomes.count) outcome(s), \(plan.provision.count) provision item(s), \(plan.reviews.count) review(s)"
                )
            }
            Terminal.print("\(plans.count) plan(s).")
        }
    }
}
