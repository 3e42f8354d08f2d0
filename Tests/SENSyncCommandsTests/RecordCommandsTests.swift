import Foundation
import SENSync
import Testing

/// The SENCO's and the LA officer's workflow through the built binary: concerns, referrals,
/// `due`, `ehc …`, `pupil show`, `history` and `summary`, with their output and exit codes.
struct RecordCommandsTests {
    func ok(_ r: CLI.Result, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 0, "\(what): \(r.stderr)", sourceLocation: sourceLocation)
    }

    func id(_ r: CLI.Result, _ kind: String) throws -> String {
        try #require(((r.json as? [String: Any])?[kind] as? [String: Any])?["id"] as? String, "\(r.stdout) \(r.stderr)")
    }

    /// The day something happened (a concern raised, a referral made, a review held) cannot be
    /// after the day it is recorded: a concern raised in 2031 was kept, then counted nowhere (every
    /// report counts what has happened by its day). Dates ahead (a review date, a due date) are
    /// still fine, and so is the day itself.
    @Test func aDayThatHasNotHappenedYetIsRefused() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let s = area.store("Oakfield") + ["--author", "SENCO"]
            ok(
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(42), "--forename", "Bo", "--surname", "Example", "--dob",
                        "2016-04-01",
                    ]
                        + s))
            let later = CalendarDate.today().adding(days: 3).description
            let today = CalendarDate.today().adding(days: -1).description
            let concern = ["concern", "add", "--pupil", upn(42), "--raised-by-role", "senco", "--areas", "semh"]
            var r = try cli.run(concern + ["--raised-on", later, "--observations", "Withdrawn"] + s)
            #expect(
                r.status == 2 && r.stderr.contains("in the future") && r.stderr.contains("--raised-on"), "\(r.stderr)")
            r = try cli.run(
                [
                    "referral", "add", "--pupil", upn(42), "--agency", "camhs", "--referred-on", later, "--referred-by",
                    "X", "--reason", "x",
                ] + s)
            #expect(r.status == 2 && r.stderr.contains("in the future"), "\(r.stderr)")
            #expect(try cli.run(["pupil", "list", "--json"] + area.store("Oakfield")).stdout.contains(upn(42)))
            r = try cli.run(
                concern + ["--raised-on", today, "--review-date", later, "--observations", "Withdrawn", "--json"] + s)
            #expect(r.status == 0, "\(r.stderr)")
            // Through an import too, at the row and column that give it.
            try """
            {"kind": "concern", "id": "C1", "upn": "\(upn(42))", "raisedOn": "\(later)", "raisedByRole": "senco", "areas": "semh", "observations": "x"}
            """.write(toFile: cli.path("concerns.jsonl"), atomically: true, encoding: .utf8)
            r = try cli.run(["import", cli.path("concerns.jsonl"), "--quiet"] + s)
            #expect(
                r.status == 2 && r.stderr.contains("concerns.jsonl line 1, column raisedOn")
                    && r.stderr.contains("in the future"), "\(r.stderr)")
        }
    }

    @Test func aSENCOGoesFromFirstConcernToAReviewedPlanAndAReferral() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let s = area.store("Oakfield")
            let author = ["--author", "J Smith (SENCO)"]
            let pupil = upn(41)
            ok(
                try cli.run(
                    [
                        "pupil", "add", "--upn", pupil, "--forename", "Ada", "--surname", "Example", "--dob",
                        "2016-04-01",
                    ] + s + author))
            // A nursery year is a negative year group, given as it is written (it was "missing").
            ok(try cli.run(["pupil", "update", pupil, "--year-group", "-1"] + s + author))
            #expect(try cli.run(["pupil", "show", pupil] + s).stdout.contains("year -1"))
            ok(try cli.run(["pupil", "update", pupil, "--year-group", "4"] + s + author))
            let concern = try id(
                try cli.run(
                    [
                        "concern", "add", "--pupil", pupil, "--raised-on", "2026-01-05", "--raised-by-role",
                        "class-teacher",
                        "--areas", "communication-interaction", "--observations", "Rarely speaks in class",
                        "--review-date", "2026-02-02", "--json",
                    ] + s + author),
                "concern")
            ok(
                try cli.run(
                    [
                        "concern-action", "add", "--concern-id", concern, "--action", "Speak to parents", "--owner",
                        "Class teacher", "--due-on", "2026-01-12",
                    ] + s + author))
            // A wrong code lists the valid ones; nothing is written.
            let bad = try cli.run(["concern", "update", concern, "--status", "done"] + s + author)
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("monitoring") && bad.stderr.contains("sen-support"))
            // Dates out of order are refused with both named.
            let early = try cli.run(["concern", "update", concern, "--closed-on", "2025-12-01"] + s + author)
            #expect(early.status == 2 && early.stderr.contains("--closed-on"))
            ok(try cli.run(["concern", "update", concern, "--status", "sen-support"] + s + author))
            let plan = try id(
                try cli.run(
                    [
                        "plan", "create", "--pupil", pupil, "--title", "Speaking and listening", "--start-date",
                        "2026-02-02",
                        "--review-date", "2026-04-20", "--responsible-org", "Oakfield", "--responsible-person",
                        "J Smith", "--json",
                    ] + s + author),
                "plan")
            let outcome = try id(
                try cli.run(
                    [
                        "record", "add", "plan_outcome", "--plan-id", plan, "--description",
                        "Answers a question in class", "--json",
                    ] + s + author),
                "plan_outcome")
            // An outcome due before its plan starts is refused (it was accepted).
            let targetBefore = try cli.run(
                [
                    "plan", "add-outcome", "--plan", plan, "--description", "Reads a sentence", "--target-date",
                    "2026-01-20",
                ] + s + author)
            #expect(targetBefore.status == 2 && targetBefore.stderr.contains("--target-date"), "\(targetBefore.stderr)")
            let provisionFields = [
                "record", "add", "provision-item", "--plan-id", plan, "--description", "Talk boost group",
                "--sessions-per-week", "3",
                "--minutes-per-session", "20", "--group-size", "4", "--staff-role", "teaching-assistant",
                "--responsible-org", "Oakfield",
                "--responsible-person", "K Jones",
            ]
            // A cost is given in pounds by a name that does not say pence (`--cost-pence 45000`
            // was kept as £45,000); the stored name is refused, saying which option to use.
            let inPence = try cli.run(provisionFields + ["--cost-pence", "45000"] + s + author)
            #expect(inPence.status == 2 && inPence.stderr.contains("--cost 450.00"), "\(inPence.stderr)")
            let provision = try id(
                try cli.run(provisionFields + ["--cost", "450.00", "--json"] + s + author), "provision_item")
            let shown = try cli.run(["provision-item", "show", provision, "--json"] + s)
            ok(shown)
            #expect(shown.stdout.contains("\"costPence\" : 45000"), "\(shown.stdout)")
            #expect(try cli.run(["provision-item", "--help"]).stdout.contains("--cost "))
            // For people, the plan it belongs to reads by its title, not its id.
            let forPeople = try cli.run(["provision-item", "show", provision] + s)
            #expect(
                forPeople.stdout.contains("Plan: plan \u{201C}Speaking and listening\u{201D}"), "\(forPeople.stdout)")
            #expect(!forPeople.stdout.contains(plan), "\(forPeople.stdout)")
            // The kind may be left out: `record show ID` finds it (it read the id as the kind).
            let byID = try cli.run(["record", "show", provision] + s)
            #expect(byID.status == 0 && byID.stdout == forPeople.stdout, "\(byID.stdout) \(byID.stderr)")
            let kindAlone = try cli.run(["record", "show", "provision-item"] + s)
            #expect(kindAlone.status == 64 && kindAlone.stderr.contains("after its kind"), "\(kindAlone.stderr)")
            // A review before the plan started is refused.
            let before = try cli.run(
                [
                    "plan", "record-review", "--plan", plan, "--held-on", "2026-01-20", "--decision", "continue",
                    "--next-review", "2026-07-01", "--summary", "x",
                ] + s + author)
            #expect(before.status == 2, "\(before.stderr)")
            // A next review before the meeting is refused too, and every option a refusal's hint
            // names is one this command takes (it named --next-review-date, which it did not).
            let backwards = try cli.run(
                [
                    "plan", "record-review", "--plan", plan, "--held-on", "2026-04-20", "--decision", "continue",
                    "--next-review", "2026-01-01", "--summary", "x",
                ] + s + author)
            #expect(backwards.status == 2, "\(backwards.stderr)")
            let help = try cli.run(["plan", "record-review", "--help"]).stdout
            for refusal in [before, backwards] {
                for option in refusal.stderr.matches(of: /--[a-z][a-z-]*/).map({ String($0.output) }) {
                    #expect(help.contains(option), "the hint names \(option): \(refusal.stderr)")
                }
            }
            ok(
                try cli.run(
                    [
                        "plan", "record-review", "--plan", plan, "--held-on", "2026-04-20", "--decision", "continue",
                        "--next-review", "2026-07-13", "--summary", "Good progress",
                    ] + s + author))
            ok(try cli.run(["record", "update", "plan_outcome", outcome, "--status", "partly-met"] + s + author))
            ok(
                try cli.run(
                    [
                        "referral", "add", "--pupil", pupil, "--agency", "speech-language-therapy", "--referred-on",
                        "2026-04-21",
                        "--referred-by", "J Smith", "--reason", "Speech unclear",
                    ] + s + author))

            // `due` lists the plan review, the referral follow-up and the overdue action, soonest first.
            let due = try cli.run(["due", "--as-of", "2026-05-01", "--json"] + s)
            ok(due)
            let items = try #require((due.json as? [String: Any])?["items"] as? [[String: Any]])
            #expect(items.map { $0["kind"] as? String } == ["concern-action", "referral-response", "plan-review"])
            #expect(items.first?["overdue"] as? Bool == true)
            #expect(items.first?["dueOn"] as? String == "2026-01-12")
            #expect(items.last?["responsibleOrg"] as? String == "Oakfield")
            #expect(items.allSatisfy { $0["pupil"] as? String == "Ada Example" })
            let within = try cli.run(["due", "--as-of", "2026-05-01", "--within", "35", "--json"] + s)
            #expect(((within.json as? [String: Any])?["items"] as? [Any])?.count == 2)  // not July's review
            let soon = try cli.run(["due", "--as-of", "2026-05-01", "--within", "30", "--json"] + s)
            #expect(((soon.json as? [String: Any])?["items"] as? [Any])?.count == 1)  // the overdue action only
            // A negative number of days is refused as such (it was "Missing value for '--within'").
            for command in [["due"], ["report", "school"]] {
                let negative = try cli.run(command + ["--within", "-5"] + s)
                #expect(
                    negative.status == 2 && negative.stderr.contains("--within cannot be negative"),
                    "\(command): \(negative.stderr)")
                // A number of days past any date is refused too (it crashed: arithmetic overflow).
                for days in ["9223372036854775807", "36526"] {
                    let huge = try cli.run(command + ["--within", days] + s)
                    #expect(
                        huge.status == 2 && huge.stderr.contains("--within is at most 36525 days"),
                        "\(command) \(days): \(huge.status) \(huge.stderr.prefix(300))")
                }
                #expect(try cli.run(command + ["--within", "36525"] + s).status == 0)
                // A real date in a year no store keeps says so (it said "--as-of is not a date").
                let far = try cli.run(command + ["--as-of", "3000-01-01"] + s)
                #expect(
                    far.status == 2 && far.stderr.contains("--as-of is outside the dates SENSync keeps (1900-01-01"),
                    "\(command): \(far.stderr)")
                #expect(try cli.run(command + ["--as-of", "2026-02-30"] + s).stderr.contains("--as-of is not a date"))
            }
            let old = try cli.run(["pupil", "update", pupil, "--dob", "1890-01-01"] + s + author)
            #expect(old.status == 2 && old.stderr.contains("outside the dates SENSync keeps"), "\(old.stderr)")
            let text = try cli.run(["due", "--as-of", "2026-05-01"] + s)
            #expect(text.stdout.contains("OVERDUE") && text.stdout.contains("3 due, 1 overdue"))
            // Every column is headed (the overdue mark's was blank).
            let heading = text.stdout.split(separator: "\n").first { $0.hasPrefix("DUE") }
            #expect(heading?.split(separator: " ") == ["DUE", "STATUS", "PUPIL", "WHAT", "WHOSE"], "\(text.stdout)")

            // The area report, as values: one pupil, one referral still waiting (10 days on 1 May).
            let report = try cli.run(["report", "area", "--as-of", "2026-05-01", "--format", "json"] + s)
            ok(report)
            let values = try #require(report.json as? [String: Any])
            let schools = try #require(values["schools"] as? [[String: Any]])
            #expect(schools.first?["name"] as? String == "Oakfield" && schools.first?["pupils"] as? Int == 1)
            let agency = try #require((values["agencies"] as? [[String: Any]])?.first)
            #expect(agency["agency"] as? String == "speech-language-therapy")
            #expect((agency["waiting"] as? [String: Any])?["longestDays"] as? Int == 10)
            // A school's roll, recorded at the store, makes the area report show SEN as a share of it.
            #expect(try cli.run(["report", "roll", "Oakfield"] + s).status != 0)  // no count given
            // Fewer than the pupils held on the school's roll that day (Ada): the area report showed
            // 200% of the roll with an EHC plan.
            let small = try cli.run(["report", "roll", "Oakfield", "0"] + s)
            #expect(small.status == 2 && small.stderr.contains("fewer"), "\(small.stderr)")
            // A count no school has, or a count of a day to come, is refused (both were shown).
            for bad in [["9223372036854775807"], ["20001"], ["50", "--as-of", "2999-01-15"]] {
                let r = try cli.run(["report", "roll", "Oakfield"] + bad + s)
                #expect(r.status == 2, "\(bad): \(r.stdout) \(r.stderr)")
            }
            ok(try cli.run(["report", "roll", "Oakfield", "50", "--as-of", "2026-01-15"] + s))
            // An older count does not replace a newer one (it did, and got round the check above).
            let older = try cli.run(["report", "roll", "Oakfield", "0", "--as-of", "2025-10-02"] + s)
            #expect(older.status == 2 && older.stderr.contains("recorded already"), "\(older.stderr)")
            let rolls = try cli.run(["report", "roll", "--json"] + s)
            #expect(((rolls.json as? [String: Any])?["rolls"] as? [[String: Any]])?.first?["pupils"] as? Int == 50)
            let withRoll = try cli.run(["report", "area", "--as-of", "2026-05-01", "--format", "json"] + s)
            let school = try #require(((withRoll.json as? [String: Any])?["schools"] as? [[String: Any]])?.first)
            #expect(school["roll"] as? Int == 50)
            // A report of a day before the count was taken has no roll to compare with (it used the
            // January count for a report of the day before).
            let beforeCount = try cli.run(["report", "area", "--as-of", "2026-01-14", "--format", "json"] + s)
            let earlier = try #require(((beforeCount.json as? [String: Any])?["schools"] as? [[String: Any]])?.first)
            #expect(earlier["roll"] == nil && earlier["ehcPlanPercentOfRoll"] == nil, "\(earlier)")
            let csv = try cli.run(["report", "area", "--as-of", "2026-05-01", "--format", "csv"] + s)
            ok(csv)
            #expect(csv.stdout.hasPrefix("section,group,detail,measure,value\n"))
            #expect(csv.stdout.contains("school,Oakfield,,roll,50\n"))
            #expect(csv.stdout.contains("agency,speech-language-therapy,,waiting_longest_days,10\n"))
            let reportFile = cli.path("area.txt")
            ok(try cli.run(["report", "area", "--out", reportFile] + s))
            #expect(try cli.run(["report", "area", "--out", reportFile] + s).status == 13)
            #expect(try String(contentsOfFile: reportFile, encoding: .utf8).contains("Speech and language therapy"))
            // The school's own view: what it owes by when (the overdue action, the referral follow-up).
            let mine = try cli.run(["report", "school", "--as-of", "2026-05-01", "--within", "35", "--json"] + s)
            ok(mine)
            let view = try #require(mine.json as? [String: Any])
            #expect(view["pupils"] as? Int == 1)
            #expect(
                (view["duties"] as? [[String: Any]])?.map { $0["kind"] as? String } == [
                    "concern-action", "referral-response",
                ])
            // Each duty names its pupil as `due --json` does: by id and UPN as well as by name.
            #expect(
                (view["duties"] as? [[String: Any]])?.allSatisfy {
                    $0["pupilID"] as? String == pupil || $0["upn"] as? String == pupil
                } == true, "\(view["duties"] ?? "")")
            #expect((view["referralsWaiting"] as? [String: Int])?["speech-language-therapy"] == 1)
            let page = cli.path("area.html")
            ok(try cli.run(["report", "area", "--format", "html", "--out", page] + s))
            let pageText = try String(contentsOfFile: page, encoding: .utf8)
            #expect(pageText.contains("<svg role=\"img\"") && pageText.contains("Speech and language therapy"))

            // `pupil show` names sites and people and shows every kind, with records under their parents.
            let show = try cli.run(["pupil", "show", pupil] + s)
            ok(show)
            for expected in [
                "Concerns (1)", "Communication and interaction", "Speak to parents", "Speaking and listening",
                "Answers a question in class", "Partly met", "Talk boost group", "Teaching assistant",
                "Speech and language therapy", "School: Oakfield",
            ] {
                #expect(show.stdout.contains(expected), "pupil show lacks \(expected)")
            }
            let json = try cli.run(["pupil", "show", pupil, "--json"] + s)
            let records = try #require((json.json as? [String: Any])?["records"] as? [String: Any])
            #expect(
                Set(records.keys).isSuperset(of: [
                    "concern", "concern_action", "support_plan", "plan_outcome", "provision_item", "plan_review",
                    "referral",
                ]))

            // `history` names who did what, with labels rather than field names.
            let history = try cli.run(["history", pupil] + s)
            ok(history)
            #expect(history.stdout.contains("J Smith (SENCO) at Oakfield"))
            #expect(history.stdout.contains("Agency: Speech and language therapy"))

            // `summary` reads plainly: no codes, no ids.
            let md = try cli.run(["summary", pupil] + s)
            ok(md)
            #expect(md.stdout.contains("# A summary of Ada Example's support"))
            #expect(md.stdout.contains("Talk boost group: 3 sessions a week, 20 minutes each, in a group of 4"))
            #expect(md.stdout.contains("Speech and language therapy: asked for on 21 April 2026"))
            #expect(md.stdout.contains("keep the plan as it is"))
            // A step whose date has passed reads as late, not as "by" a day gone by.
            #expect(
                md.stdout.contains("- Due by 13 July 2026, and not yet done: Review the support plan"), "\(md.stdout)")
            #expect(
                !md.stdout.contains(plan) && !md.stdout.contains("speech-language-therapy")
                    && !md.stdout.contains(pupil))
            let out = cli.path("ada.html")
            ok(try cli.run(["summary", pupil, "--format", "html", "--out", out] + s))
            let html = try String(contentsOfFile: out, encoding: .utf8)
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<h2>The support in place</h2>"))
            let again = try cli.run(["summary", pupil, "--format", "html", "--out", out] + s)
            #expect(again.status == 13 && again.stderr.contains("--force"))
            ok(try cli.run(["summary", pupil, "--out", out, "--force"] + s))
            #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("# A summary"))
            let unwritable = try cli.run(["summary", pupil, "--out", cli.path("missing/folder/x.md")] + s)
            #expect(unwritable.status == 13)
        }
    }

    @Test func anLAOfficerRunsOneEHCNeedsAssessmentAgainstItsDeadlines() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let la = area.store("la")
            let author = ["--author", "EHC team"]
            let pupil = upn(42)
            ok(
                try cli.run(
                    [
                        "pupil", "add", "--upn", pupil, "--forename", "Ben", "--surname", "Sample", "--dob",
                        "2015-02-01", "--school", "Oakfield",
                    ] + la + author))
            // Schools cannot record statutory EHC work.
            let school = try cli.run(
                ["ehc", "request", "--pupil", pupil, "--received", "2025-01-06", "--source", "school"]
                    + area.store("Oakfield") + author)
            #expect(school.status != 0)
            let request = try cli.run(
                [
                    "ehc", "request", "--pupil", pupil, "--received", "2025-01-06", "--source", "school",
                    "--case-officer", "R Patel", "--json",
                ] + la + author)
            let assessment = try id(request, "ehc_assessment")
            var due = try cli.run(["due", "--as-of", "2025-01-07", "--json"] + la)
            var items = try #require((due.json as? [String: Any])?["items"] as? [[String: Any]])
            #expect(items.map { $0["kind"] as? String } == ["ehc-decision"])
            #expect(items.first?["dueOn"] as? String == "2025-02-17")
            #expect(items.first?["responsibleOrg"] as? String == "Northshire")
            // A decision the option does not know names the option's own words first (it offered
            // only the SEN2 codes), and records nothing.
            let unknown = try cli.run(
                ["ehc", "decide", assessment, "--decision", "maybe", "--on", "2025-02-10"] + la + author)
            #expect(unknown.status == 2 && unknown.stderr.contains("assess or not-assess"), "\(unknown.stderr)")
            ok(try cli.run(["ehc", "decide", assessment, "--decision", "assess", "--on", "2025-02-10"] + la + author))
            ok(
                try cli.run(
                    ["ehc", "advice", assessment, "--agency", "educational-psychology", "--requested-on", "2025-02-12"]
                        + la + author))
            due = try cli.run(["due", "--as-of", "2025-02-11", "--json"] + la)
            items = try #require((due.json as? [String: Any])?["items"] as? [[String: Any]])
            #expect(
                items.map { "\($0["kind"] ?? ""):\($0["dueOn"] ?? "")" } == [
                    "ehc-advice:2025-03-26", "ehc-no-plan:2025-04-28", "ehc-final-plan:2025-05-26",
                ])
            ok(
                try cli.run(
                    [
                        "ehc", "exception", assessment, "--step", "final-plan", "--reason", "away-from-area", "--from",
                        "2025-03-03", "--to", "2025-04-04",
                    ] + la + author))
            let wrongException = try cli.run(
                [
                    "ehc", "exception", assessment, "--step", "final-plan", "--reason", "missed-appointment", "--from",
                    "2025-03-03",
                ] + la + author)
            #expect(wrongException.status == 2)
            ok(try cli.run(["ehc", "draft", assessment, "--served-on", "2025-04-14"] + la + author))
            // Inside the family's 15 days (14–28 April) the final plan is refused.
            let early = try cli.run(["ehc", "issue", assessment, "--on", "2025-04-28"] + la + author)
            #expect(early.status == 2 && early.stderr.contains("2025-04-29"))
            let issued = try cli.run(["ehc", "issue", assessment, "--on", "2025-06-02", "--json"] + la + author)
            let plan = try id(issued, "ehc_plan")
            ok(
                try cli.run(
                    [
                        "ehc", "section", plan, "--section", "F", "--owner-agency", "Northshire SEN team", "--content",
                        "Speech therapy weekly",
                    ] + la + author))
            // Section F again, the same review meeting again, a second decision: refused (each was
            // recorded a second time, or silently replaced the first).
            let sectionAgain = try cli.run(
                ["ehc", "section", plan, "--section", "F", "--owner-agency", "Health", "--content", "x"] + la + author)
            #expect(
                sectionAgain.status == 2 && sectionAgain.stderr.contains("ehc-section update"), "\(sectionAgain.stderr)"
            )
            let decideAgain = try cli.run(
                ["ehc", "decide", assessment, "--decision", "assess", "--on", "2025-02-11"] + la + author)
            #expect(
                decideAgain.status == 2 && decideAgain.stderr.contains("ehc-assessment update"), "\(decideAgain.stderr)"
            )
            ok(try cli.run(["ehc", "decide", assessment, "--decision", "assess", "--on", "2025-02-10"] + la + author))
            let show = try cli.run(["ehc", "show", pupil, "--json"] + la)
            let shownAssessment = try #require(
                ((show.json as? [String: Any])?["assessments"] as? [[String: Any]])?.first)
            #expect(shownAssessment["assessmentId"] as? String == assessment)
            #expect((shownAssessment["plans"] as? [[String: Any]])?.first?["nextReviewDue"] as? String == "2026-06-02")
            let steps = try #require(shownAssessment["steps"] as? [[String: Any]])
            let final = try #require(steps.first { $0["step"] as? String == "final-plan" })
            #expect(final["onTime"] as? Bool == false)
            #expect(final["exceptionApplies"] as? Bool == true)
            #expect(steps.first { $0["step"] as? String == "decision" }?["onTime"] as? Bool == true)
            // The plan's annual review then falls due within 12 months, in `due` and `pupil show`.
            due = try cli.run(["due", "--as-of", "2025-06-03", "--json"] + la)
            items = try #require((due.json as? [String: Any])?["items"] as? [[String: Any]])
            #expect(
                items.contains {
                    $0["kind"] as? String == "ehc-annual-review" && $0["dueOn"] as? String == "2026-06-02"
                })
            #expect(items.contains { $0["kind"] as? String == "ehc-advice" && $0["overdue"] as? Bool == true } == false)
            let pupilShow = try cli.run(["pupil", "show", pupil] + la)
            #expect(
                pupilShow.stdout.contains(
                    "Final EHC plan issued: due 2025-05-26 (reg 13(2)) — done 2025-06-02, late; exception recorded"))
            #expect(pupilShow.stdout.contains("Hold the annual review of the EHC plan"))
            // The family's period to comment on the draft is over once the plan is issued.
            #expect(pupilShow.stdout.contains("comment on the draft: due 2025-04-28 (reg 13(1)) — closed 2025-04-28"))
            // A review meeting before the plan was issued is refused (it was accepted).
            let meetingBefore = try cli.run(["ehc", "review", plan, "--meeting-on", "2025-05-11"] + la + author)
            #expect(
                meetingBefore.status == 2 && meetingBefore.stderr.contains("--meeting-on"), "\(meetingBefore.stderr)")
            // So is one dated after today: it would put the next annual review off (it was accepted).
            let tomorrow = Calendar(identifier: .gregorian).date(byAdding: .day, value: 2, to: Date())!
            let future = ISO8601DateFormatter.string(
                from: tomorrow, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
            let meetingAhead = try cli.run(["ehc", "review", plan, "--meeting-on", future] + la + author)
            #expect(
                meetingAhead.status == 2 && meetingAhead.stderr.contains("is after today"), "\(meetingAhead.stderr)")
            ok(
                try cli.run(
                    [
                        "ehc", "review", plan, "--meeting-on", "2026-05-11", "--outcome", "A", "--decided-on",
                        "2026-05-25",
                    ] + la + author))
            let reviewAgain = try cli.run(
                [
                    "ehc", "review", plan, "--meeting-on", "2026-05-11", "--outcome", "A", "--decided-on",
                    "2026-05-25",
                ] + la + author)
            #expect(reviewAgain.status == 2 && reviewAgain.stderr.contains("already recorded"), "\(reviewAgain.stderr)")
            // `ehc show` lists the plan the assessment led to, its reviews and the next one due.
            let shown = try cli.run(["ehc", "show", pupil] + la)
            #expect(shown.stdout.contains("EHC plan \(plan): issued 2025-06-02"), "\(shown.stdout)")
            #expect(shown.stdout.contains("Annual review: meeting 2026-05-11; amend the plan (decided 2026-05-25)"))
            // With its deadlines: the decision within 4 weeks (met), the amended plan within 12
            // (not issued, and past).
            #expect(shown.stdout.contains("Decision after the review: due 2026-06-08 — done 2026-05-25, on time"))
            #expect(shown.stdout.contains("Amended plan issued: due 2026-08-03 — OVERDUE"), "\(shown.stdout)")
            #expect(shown.stdout.contains("Next annual review due 2027-05-11"))
            // Advice never received is over once the plan is issued, as `due` says (it said
            // OVERDUE for ever).
            #expect(
                shown.stdout.contains("(reg 8) — not done; the assessment ended 2025-06-02")
                    && !shown.stdout.contains("(reg 8) — OVERDUE"), "\(shown.stdout)")
            due = try cli.run(["due", "--as-of", "2026-05-26", "--json"] + la)
            items = try #require((due.json as? [String: Any])?["items"] as? [[String: Any]])
            #expect(
                items.contains { $0["kind"] as? String == "ehc-amended-plan" && $0["dueOn"] as? String == "2026-08-03" }
            )
            #expect(
                items.contains {
                    $0["kind"] as? String == "ehc-annual-review" && $0["dueOn"] as? String == "2027-05-11"
                })
            // The school sees the LA's EHC work once they sync.
            try area.send("la", "Oakfield")
            let atSchool = try cli.run(["pupil", "show", pupil, "--json"] + area.store("Oakfield"))
            let records = try #require((atSchool.json as? [String: Any])?["records"] as? [String: Any])
            #expect(records["ehc_plan"] != nil && records["ehc_section"] != nil)
        }
    }

    @Test func idsTakeAUniquePrefixAndAnAmbiguousOneListsTheCandidates() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let s = area.store("Oakfield")
            let author = ["--author", "SENCO"]
            let pupil = upn(43)
            ok(
                try cli.run(
                    ["pupil", "add", "--upn", pupil, "--forename", "Cy", "--surname", "Test", "--dob", "2016-04-01"] + s
                        + author))
            var ids: [String] = []
            for day in ["2026-01-05", "2026-01-06"] {
                ids.append(
                    try id(
                        try cli.run(
                            [
                                "referral", "add", "--pupil", pupil, "--agency", "camhs", "--referred-on", day,
                                "--referred-by", "SENCO", "--reason", "r", "--json",
                            ] + s + author), "referral"))
            }
            let shared = String(zip(ids[0], ids[1]).prefix { $0 == $1 }.map(\.0))
            #expect(shared.count >= 8)
            let ambiguous = try cli.run(["referral", "show", String(shared.prefix(8))] + s)
            #expect(ambiguous.status == 4)
            // Each candidate names its pupil by record id, never by UPN (an error message).
            let shown = try cli.run(["pupil", "show", pupil, "--json"] + s)
            let pupilID = try id(shown, "pupil")
            #expect(
                ambiguous.stderr.contains(ids[0]) && ambiguous.stderr.contains(ids[1])
                    && ambiguous.stderr.contains(pupilID))
            #expect(!ambiguous.stderr.contains(pupil))
            let unique = try cli.run(["referral", "show", String(ids[1].prefix(shared.count + 1))] + s)
            ok(unique)
            #expect(unique.stdout.contains("2026-01-06"))
        }
    }

    /// Defect: `pupil update --upn` committed and then exited 3 (it looked the pupil up again by the
    /// old UPN), and could give two records one UPN.
    @Test func changingAUPNSucceedsOnceAndNeverDuplicates() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let s = area.store("Oakfield") + ["--author", "SENCO"]
            ok(
                try cli.run(
                    ["pupil", "add", "--upn", upn(51), "--forename", "A", "--surname", "B", "--dob", "2016-01-01"] + s))
            ok(
                try cli.run(
                    ["pupil", "add", "--upn", upn(52), "--forename", "C", "--surname", "D", "--dob", "2016-01-01"] + s))
            let changed = try cli.run(["pupil", "update", upn(51), "--upn", upn(53), "--json"] + s)
            #expect(changed.status == 0, "\(changed.stderr)")
            #expect(
                ((changed.json as? [String: Any])?["pupil"] as? [String: Any])?["formerUPNs"] as? [String] == [upn(51)])
            let clash = try cli.run(["pupil", "update", upn(53), "--upn", upn(52)] + s)
            #expect(clash.status == 2)
            let list = try cli.run(["pupil", "list", "--json"] + area.store("Oakfield"))
            let upns = ((list.json as? [String: Any])?["pupils"] as? [[String: Any]])?.compactMap {
                $0["upn"] as? String
            }
            #expect(upns?.sorted() == [upn(52), upn(53)].sorted())
            // The pupil's former UPN still names them (it was "no pupil has that UPN").
            let byFormer = try cli.run(["pupil", "show", upn(51), "--json"] + area.store("Oakfield"))
            #expect(
                ((byFormer.json as? [String: Any])?["pupil"] as? [String: Any])?["upn"] as? String == upn(53),
                "\(byFormer.stdout) \(byFormer.stderr)")
        }
    }

    /// A dry run changes nothing, the retention policy included: `--save` takes effect only on a
    /// real run.
    @Test func aRetentionDryRunDoesNotSaveThePolicy() throws {
        try withCLI { cli in
            let area = try CLIArea.make(cli)
            let la = area.store("la")
            let dry = try cli.run(["retention", "run", "--years", "25", "--save", "--dry-run", "--author", "LA"] + la)
            ok(dry)
            #expect(dry.stdout.contains("not saved"), "\(dry.stdout)")
            let after = try cli.run(["retention", "run", "--dry-run", "--json", "--author", "LA"] + la)
            ok(after)
            #expect((after.json as? [String: Any])?["years"] as? Int == 31, "\(after.stdout)")
        }
    }

    /// `sensync KIND` and `sensync KIND --help` show the kind's commands and fields (they showed
    /// the top-level help), wrapped to the terminal; the top-level help's exit codes fit 50
    /// columns too.
    @Test func aKindsHelpListsItsFieldsWrappedToTheTerminal() throws {
        try withCLI { cli in
            // `sensync help concern` too (it printed the top-level help).
            for arguments in [
                ["concern", "--help"], ["referral"], ["record", "fields", "ehc-plan"], ["help", "concern"],
            ] {
                let r = try cli.run(arguments, environment: ["COLUMNS": "50"])
                ok(r, "\(arguments)")
                #expect(r.stdout.contains("Fields of a"), "\(arguments): \(r.stdout)")
                // With an example, as every command's help has (it had none).
                #expect(r.stdout.contains("Example:\n  sensync "), "\(arguments): \(r.stdout)")
                let long = r.stdout.split(separator: "\n").filter { $0.count > 50 }
                #expect(long.isEmpty, "\(arguments): \(long)")
            }
            #expect(try cli.run(["concern", "--help"]).stdout.contains("--raised-on"))
            // "an" before a vowel ("Fields of a escalation" once).
            #expect(try cli.run(["escalation"]).stdout.contains("Fields of an escalation:"))
            #expect(try cli.run(["record", "fields", "ehc-plan"]).stdout.contains("Fields of an EHC plan:"))
            #expect(try cli.run(["referral"]).stdout.contains("Fields of a referral:"))
            // `sensync KIND VERB --help` shows the kind's usage, not `record VERB`'s with its KIND
            // argument.
            let verbHelp = try cli.run(["referral", "add", "--help"])
            #expect(verbHelp.status == 0)
            #expect(verbHelp.stdout.contains("sensync referral add --pupil UPN --FIELD VALUE"), "\(verbHelp.stdout)")
            #expect(verbHelp.stdout.contains("--agency") && !verbHelp.stdout.contains("<kind>"))
            let root = try cli.run(["--help"], environment: ["COLUMNS": "50"])
            let codes = root.stdout.split(separator: "\n").filter {
                $0.hasPrefix("  ") && $0.dropFirst(2).first?.isNumber == true
            }
            #expect(codes.count == 17, "\(root.stdout)")
            #expect(codes.allSatisfy { $0.count <= 50 }, "\(codes.filter { $0.count > 50 })")
        }
    }

    /// `history` tells what each change did: a field left empty when its record was made was
    /// never "cleared"; deleting a record names its kind as people say it.
    @Test func historyAndDeletionSpeakAsPeopleDo() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let s = area.store("Oakfield") + ["--author", "SENCO"]
            let pupil = upn(71)
            ok(
                try cli.run(
                    ["pupil", "add", "--upn", pupil, "--forename", "Di", "--surname", "T", "--dob", "2016-04-01"] + s))
            ok(try cli.run(["note", "add", "--pupil", pupil, "--text", "Seen in class."] + s))
            let history = try cli.run(["history", pupil] + area.store("Oakfield"))
            ok(history)
            #expect(!history.stdout.contains("cleared"), "\(history.stdout)")
            #expect(history.stdout.contains("Seen in class."))
            let plan = try id(
                try cli.run(
                    [
                        "plan", "create", "--pupil", pupil, "--title", "Reading", "--start-date", "2026-01-12",
                        "--review-date", "2026-03-01", "--json",
                    ] + s), "plan")
            let deleted = try cli.run(["record", "delete", plan] + s)
            ok(deleted)
            #expect(deleted.stdout.contains("Deleted the plan."), "\(deleted.stdout)")
        }
    }

    /// An id prefix that several records share lists every one, of every kind (it listed only the
    /// records of the first kind with two), by the kind's command name; a reference that is no id
    /// at all says so for a record (it said "neither a UPN nor a pupil id").
    @Test func anAmbiguousIdListsEveryRecordItCouldMean() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let s = area.store("oak")
            let author = ["--author", "SENCO"]
            // Ids made within about a minute share their first eight characters: a pupil (with
            // their enrolment) and two notes about them, made again in the rare case the minute
            // turned over between them.
            var prefix: String?
            for attempt in 3...5 where prefix == nil {
                let pupil = try id(
                    try cli.run(
                        [
                            "pupil", "add", "--upn", upn(attempt), "--forename", "Ada", "--surname", "Example", "--dob",
                            "2016-04-01", "--json",
                        ] + s + author), "pupil")
                var ids = [pupil]
                for text in ["One.", "Two."] {
                    ids.append(
                        try id(
                            try cli.run(["note", "add", "--pupil", pupil, "--text", text, "--json"] + s + author),
                            "note"))
                }
                if Set(ids.map { $0.prefix(8) }).count == 1 { prefix = String(pupil.prefix(8)) }
            }
            let shared = try #require(prefix)
            let r = try cli.run(["record", "delete", shared] + s + author)
            #expect(r.status == 4, "\(r.stdout) \(r.stderr)")
            for kind in ["  pupil  ", "  note  ", "  enrolment  "] {
                #expect(r.stderr.contains(kind), "\(kind): \(r.stderr)")
            }
            let placeholder = try cli.run(["record", "delete", "RECORD-ID"] + s + author)
            #expect(placeholder.status == 2)
            #expect(placeholder.stderr.contains("not a record id"), "\(placeholder.stderr)")
        }
    }
}
