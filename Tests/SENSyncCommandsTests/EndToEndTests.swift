import Foundation
import Testing

/// End-to-end: the built binary on real files, checking output and exit codes.
@Suite(.serialized) struct EndToEndTests {
    /// Creates a store and returns its site id.
    func initStore(_ cli: CLI, _ file: String, name: String, kind: String) throws -> String {
        let r = try cli.run(["init", "--store", cli.path(file), "--name", name, "--kind", kind, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let site = (r.json as? [String: Any])?["site"] as? [String: Any]
        return try #require(site?["id"] as? String)
    }

    @Test func recordsEverythingInTheSliceAndShowsIt() throws {
        try withCLI { cli in
            _ = try initStore(cli, "oak.sensync", name: "Oakfield Primary", kind: "maintained-school")
            let store = ["--store", cli.path("oak.sensync"), "--author", "J Smith (SENCO)"]
            var r = try cli.run(["pupil", "add", "--upn", upn(1), "--forename", "Ada", "--surname", "Example", "--dob", "2016-04-01", "--year-group", "4", "--json"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            let pupil = try #require(((r.json as? [String: Any])?["pupil"] as? [String: Any])?["id"] as? String)
            r = try cli.run(["pupil", "update", upn(1), "--sen-status", "K", "--needs", "SPLD,SLCN"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["note", "add", "--pupil", upn(1), "--area", "cognition-learning", "--text", "Finds blending hard.", "--json"] + store)
            let note = try #require(((r.json as? [String: Any])?["note"] as? [String: Any])?["id"] as? String)
            r = try cli.run(["note", "add", "--pupil", pupil, "--amends", note, "--text", "Correction: blending CVC words."] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["plan", "create", "--pupil", upn(1), "--title", "Literacy", "--review-date", "2027-02-13", "--responsible-person", "J Smith", "--responsible-org", "Oakfield Primary", "--json"] + store)
            let plan = try #require(((r.json as? [String: Any])?["plan"] as? [String: Any])?["id"] as? String)
            r = try cli.run(["plan", "add-outcome", "--plan", plan, "--description", "Reads 40 words", "--target-date", "2027-02-13"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["plan", "add-provision", "--plan", String(plan.prefix(13)), "--description", "Phonics group", "--provider", "TA", "--frequency", "3 x 20 min weekly", "--responsible-org", "Oakfield", "--responsible-person", "SENCO", "--cost", "450.50"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["plan", "record-review", "--plan", plan, "--held-on", "2026-11-20", "--decision", "continue", "--next-review", "2027-03-01", "--summary", "Good progress."] + store)
            #expect(r.status == 0, "\(r.stderr)")
            let read = ["--store", cli.path("oak.sensync")]
            r = try cli.run(["pupil", "show", upn(1)] + read)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("Example, Ada"))
            #expect(r.stdout.contains("needs by rank: SPLD, SLCN"))
            #expect(r.stdout.contains("amends \(note)"))
            #expect(r.stdout.contains("£450.50"))
            #expect(r.stdout.contains("review due 2027-03-01"))
            r = try cli.run(["pupil", "show", upn(1), "--json"] + read)
            let full = try #require(r.json as? [String: Any])
            #expect((full["notes"] as? [Any])?.count == 2)
            let plans = try #require(full["plans"] as? [[String: Any]])
            #expect((plans.first?["outcomes"] as? [Any])?.count == 1)
            #expect((plans.first?["reviews"] as? [Any])?.count == 1)
            r = try cli.run(["pupil", "list", "--sen-status", "K", "--json"] + read)
            #expect(((r.json as? [String: Any])?["pupils"] as? [Any])?.count == 1)
        }
    }

    @Test func badInputGetsAClearErrorWithoutPersonalData() throws {
        try withCLI { cli in
            _ = try initStore(cli, "oak.sensync", name: "Oakfield", kind: "maintained-school")
            let store = ["--store", cli.path("oak.sensync")]
            let wrong = "Z801200001001"
            var r = try cli.run(["pupil", "add", "--upn", wrong, "--forename", "Zed", "--surname", "Secretname", "--dob", "2016-04-01", "--author", "SENCO"] + store)
            #expect(r.status == 2)
            #expect(r.stderr.contains("wrong check letter"))
            #expect(!r.stderr.contains(wrong) && !r.stderr.contains("Secretname"))
            r = try cli.run(["pupil", "add", "--upn", upn(2), "--forename", "A", "--surname", "B", "--dob", "2016-02-30", "--author", "SENCO"] + store)
            #expect(r.status == 2)
            #expect(r.stderr.contains("YYYY-MM-DD"))
            r = try cli.run(["pupil", "add", "--upn", upn(2), "--forename", "A", "--surname", "B", "--dob", "2016-02-03"] + store)
            #expect(r.status == 64)
            #expect(r.stderr.contains("SENSYNC_AUTHOR"))
            r = try cli.run(["pupil", "add", "--upn", upn(2), "--forename", "A", "--surname", "B", "--dob", "2016-02-03"] + store, environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["pupil", "update", upn(2), "--sen-status", "E", "--needs", "NSA", "--author", "SENCO"] + store)
            #expect(r.status == 2)
            #expect(r.stderr.contains("NSA"))
            r = try cli.run(["pupil", "show", upn(3)] + store)
            #expect(r.status == 3)
            r = try cli.run(["status", "--store", cli.path("missing.sensync")])
            #expect(r.status == 3)
            #expect(r.stderr.contains("sensync init"))
            r = try cli.run(["init", "--store", cli.path("oak.sensync"), "--name", "X", "--kind", "academy"])
            #expect(r.status == 2)
        }
    }

    @Test func bundlesTravelBetweenStoresAsFiles() throws {
        try withCLI { cli in
            let oakID = try initStore(cli, "oak.sensync", name: "Oakfield Primary", kind: "maintained-school")
            let laID = try initStore(cli, "la.sensync", name: "Northshire", kind: "la")
            let oak = ["--store", cli.path("oak.sensync")]
            let la = ["--store", cli.path("la.sensync")]
            #expect(try cli.run(["peer", "add", "--id", laID, "--name", "Northshire", "--kind", "la"] + oak).status == 0)
            #expect(try cli.run(["peer", "add", "--id", oakID, "--name", "Oakfield Primary", "--kind", "maintained-school"] + la).status == 0)
            for i in 1...3 {
                let r = try cli.run(["pupil", "add", "--upn", upn(i), "--forename", "P\(i)", "--surname", "S", "--dob", "2015-05-05", "--author", "SENCO"] + oak)
                #expect(r.status == 0, "\(r.stderr)")
            }
            var r = try cli.run(["bundle", "create", "--to", "Northshire", "--out", cli.path("oak-1.bundle")] + oak)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("3 change(s)"))
            r = try cli.run(["bundle", "inspect", cli.path("oak-1.bundle"), "--json"])
            let header = try #require(r.json as? [String: Any])
            #expect(header["changes"] as? Int == 3)
            #expect((header["sender"] as? [String: Any])?["id"] as? String == oakID)
            #expect(!r.stdout.contains("P1"))
            r = try cli.run(["bundle", "verify", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0)
            #expect(r.stdout.contains("3 new change(s)"))
            r = try cli.run(["bundle", "apply", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("applied 3 new change(s)"))
            r = try cli.run(["bundle", "apply", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0)
            #expect(r.stdout.contains("already applied"))
            let d1 = try cli.run(["digest"] + oak).stdout
            let d2 = try cli.run(["digest"] + la).stdout
            #expect(d1 == d2 && d1.count == 65)
            r = try cli.run(["status", "--json"] + oak)
            let status = try #require(r.json as? [String: Any])
            let site = try #require(status["site"] as? [String: Any])
            #expect(site["id"] as? String == oakID && site["name"] as? String == "Oakfield Primary" && site["kind"] as? String == "maintained-school")
            let peers = try #require(status["peers"] as? [[String: Any]])
            #expect(peers.first?["lacks"] as? Int == 3)
            // The LA answers; its bundle acknowledges the three changes.
            r = try cli.run(["bundle", "create", "--to", oakID, "--out", cli.path("la-1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["bundle", "apply", cli.path("la-1.bundle")] + oak)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["status", "--json"] + oak)
            #expect(((r.json as? [String: Any])?["peers"] as? [[String: Any]])?.first?["lacks"] as? Int == 0)
        }
    }

    @Test func refusedBundlesLeaveTheStoreUnchangedWithTheirOwnExitCodes() throws {
        try withCLI { cli in
            let oakID = try initStore(cli, "oak.sensync", name: "Oakfield", kind: "maintained-school")
            let laID = try initStore(cli, "la.sensync", name: "LA", kind: "la")
            _ = try initStore(cli, "other.sensync", name: "Other", kind: "academy")
            let oak = ["--store", cli.path("oak.sensync")]
            let la = ["--store", cli.path("la.sensync")]
            #expect(try cli.run(["peer", "add", "--id", laID, "--name", "LA", "--kind", "la"] + oak).status == 0)
            #expect(try cli.run(["peer", "add", "--id", oakID, "--name", "Oakfield", "--kind", "maintained-school"] + la).status == 0)
            #expect(try cli.run(["pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05", "--author", "S"] + oak).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "LA", "--out", cli.path("b1.bundle")] + oak).status == 0)
            let before = try cli.run(["digest"] + la).stdout
            let bytes = try Data(contentsOf: URL(fileURLWithPath: cli.path("b1.bundle")))
            try bytes.prefix(bytes.count - 7).write(to: URL(fileURLWithPath: cli.path("cut.bundle")))
            var r = try cli.run(["bundle", "apply", cli.path("cut.bundle")] + la)
            #expect(r.status == 5)
            #expect(r.stderr.contains("damaged or incomplete"))
            var flipped = bytes
            flipped[flipped.count / 2] ^= 0x10
            try flipped.write(to: URL(fileURLWithPath: cli.path("flip.bundle")))
            r = try cli.run(["bundle", "apply", cli.path("flip.bundle")] + la)
            #expect(r.status == 5)
            r = try cli.run(["bundle", "verify", cli.path("flip.bundle")])
            #expect(r.status == 5)
            r = try cli.run(["bundle", "apply", cli.path("b1.bundle"), "--store", cli.path("other.sensync")])
            #expect(r.status == 6)
            #expect(r.stderr.contains("addressed to other sites"))
            try Data("hello".utf8).write(to: URL(fileURLWithPath: cli.path("text.bundle")))
            r = try cli.run(["bundle", "apply", cli.path("text.bundle")] + la)
            #expect(r.status == 5)
            #expect(r.stderr.contains("not a SENSync bundle"))
            #expect(try cli.run(["digest"] + la).stdout == before)
            // The intact bundle still applies afterwards: the refusals lost nothing.
            r = try cli.run(["bundle", "apply", cli.path("b1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try cli.run(["digest"] + la).stdout == (try cli.run(["digest"] + oak).stdout))
        }
    }

    @Test func missingPrerequisitesNameTheSiteAndRange() throws {
        try withCLI { cli in
            let oakID = try initStore(cli, "oak.sensync", name: "Oakfield", kind: "maintained-school")
            let laID = try initStore(cli, "la.sensync", name: "LA", kind: "la")
            let oak = ["--store", cli.path("oak.sensync")]
            let la = ["--store", cli.path("la.sensync")]
            #expect(try cli.run(["peer", "add", "--id", laID, "--name", "LA", "--kind", "la"] + oak).status == 0)
            #expect(try cli.run(["peer", "add", "--id", oakID, "--name", "Oakfield", "--kind", "maintained-school"] + la).status == 0)
            #expect(try cli.run(["pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05", "--author", "S"] + oak).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "LA", "--out", cli.path("b1.bundle")] + oak).status == 0)
            // Keep a copy of the LA store before it applies b1.
            try FileManager.default.copyItem(atPath: cli.path("la.sensync"), toPath: cli.path("la-before.sensync"))
            #expect(try cli.run(["bundle", "apply", cli.path("b1.bundle")] + la).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", oakID, "--out", cli.path("ack.bundle")] + la).status == 0)
            #expect(try cli.run(["bundle", "apply", cli.path("ack.bundle")] + oak).status == 0)
            #expect(try cli.run(["note", "add", "--pupil", upn(1), "--text", "x", "--author", "S"] + oak).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "LA", "--out", cli.path("b2.bundle")] + oak).status == 0)
            let old = ["--store", cli.path("la-before.sensync")]
            let before = try cli.run(["digest"] + old).stdout
            let r = try cli.run(["bundle", "apply", cli.path("b2.bundle")] + old)
            #expect(r.status == 10)
            #expect(r.stderr.contains("Missing change 1 of site \(oakID)"))
            #expect(try cli.run(["digest"] + old).stdout == before)
            // Given both files in any order, apply retries and succeeds.
            let both = try cli.run(["bundle", "apply", cli.path("b2.bundle"), cli.path("b1.bundle")] + old)
            #expect(both.status == 0, "\(both.stderr)")
            #expect(try cli.run(["digest"] + old).stdout == (try cli.run(["digest"] + oak).stdout))
        }
    }

    @Test func conflictsAreListedAndResolved() throws {
        try withCLI { cli in
            let oakID = try initStore(cli, "oak.sensync", name: "Oakfield", kind: "maintained-school")
            let laID = try initStore(cli, "la.sensync", name: "LA", kind: "la")
            let oak = ["--store", cli.path("oak.sensync")]
            let la = ["--store", cli.path("la.sensync")]
            #expect(try cli.run(["peer", "add", "--id", laID, "--name", "LA", "--kind", "la"] + oak).status == 0)
            #expect(try cli.run(["peer", "add", "--id", oakID, "--name", "Oakfield", "--kind", "maintained-school"] + la).status == 0)
            #expect(try cli.run(["pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05", "--year-group", "5", "--author", "S"] + oak).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "LA", "--out", cli.path("1.bundle")] + oak).status == 0)
            #expect(try cli.run(["bundle", "apply", cli.path("1.bundle")] + la).status == 0)
            #expect(try cli.run(["pupil", "update", upn(1), "--year-group", "6", "--author", "SENCO"] + oak).status == 0)
            #expect(try cli.run(["pupil", "update", upn(1), "--year-group", "4", "--author", "LA officer"] + la).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "LA", "--out", cli.path("2.bundle")] + oak).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "Oakfield", "--out", cli.path("3.bundle")] + la).status == 0)
            #expect(try cli.run(["bundle", "apply", cli.path("2.bundle")] + la).stdout.contains("1 conflict(s) opened"))
            #expect(try cli.run(["bundle", "apply", cli.path("3.bundle")] + oak).status == 0)
            var r = try cli.run(["conflicts", "list", "--json"] + la)
            let conflicts = try #require((r.json as? [String: Any])?["conflicts"] as? [[String: Any]])
            #expect(conflicts.count == 1)
            let conflict = try #require(conflicts.first)
            #expect(conflict["field"] as? String == "year_group")
            let candidates = try #require(conflict["candidates"] as? [[String: Any]])
            #expect(Set(candidates.compactMap { $0["value"] as? String }) == ["4", "6"])
            #expect(Set(candidates.compactMap { $0["author"] as? String }) == ["SENCO", "LA officer"])
            r = try cli.run(["conflicts", "list", "--fail-if-any"] + oak)
            #expect(r.status == 14)
            #expect(try cli.run(["digest"] + oak).stdout == (try cli.run(["digest"] + la).stdout))
            let record = try #require(conflict["recordID"] as? String)
            let six = candidates.firstIndex { $0["value"] as? String == "6" }! + 1
            r = try cli.run(["conflicts", "resolve", record, "--field", "year_group", "--keep", "\(six)", "--author", "LA officer"] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try cli.run(["conflicts", "list", "--fail-if-any"] + la).status == 0)
            #expect(try cli.run(["bundle", "create", "--to", "Oakfield", "--out", cli.path("4.bundle")] + la).status == 0)
            r = try cli.run(["bundle", "apply", cli.path("4.bundle")] + oak)
            #expect(r.stdout.contains("1 conflict(s) closed"))
            #expect(try cli.run(["conflicts", "list", "--fail-if-any"] + oak).status == 0)
        }
    }

    @Test func demoRunsAndConverges() throws {
        try withCLI { cli in
            let r = try cli.run(["demo", "--dir", cli.path("demo")])
            #expect(r.status == 0, "\(r.stderr)")
            for step in ["1. Sites", "2. Each SENCO", "3. Bundle files travel", "4. A concurrent edit", "5. Area view", "6. Digests"] {
                #expect(r.stdout.contains(step))
            }
            #expect(r.stdout.contains("(relay)"))
            #expect(r.stdout.contains("edited concurrently"))
            #expect(r.stdout.contains("all six digests are equal"))
            let again = try cli.run(["demo", "--dir", cli.path("demo")])
            #expect(again.status == 0)
            try FileManager.default.createDirectory(atPath: cli.path("notademo"), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: cli.path("notademo/keep.txt")))
            #expect(try cli.run(["demo", "--dir", cli.path("notademo")]).status == 2)
            #expect(FileManager.default.fileExists(atPath: cli.path("notademo/keep.txt")))
        }
    }

    @Test(arguments: [
        ["init"], ["pupil", "add"], ["pupil", "update"], ["pupil", "show"], ["pupil", "list"], ["note", "add"], ["note", "list"],
        ["plan", "create"], ["plan", "add-outcome"], ["plan", "add-provision"], ["plan", "record-review"], ["plan", "list"],
        ["record", "delete"], ["record", "restore"], ["peer", "add"], ["peer", "list"], ["bundle", "create"], ["bundle", "apply"],
        ["bundle", "inspect"], ["bundle", "verify"], ["conflicts", "list"], ["conflicts", "resolve"], ["status"], ["digest"],
        ["log"], ["demo"],
    ])
    func everyCommandHasHelpWithAnExample(_ command: [String]) throws {
        try withCLI { cli in
            let r = try cli.run(command + ["--help"])
            #expect(r.status == 0)
            #expect(r.stdout.contains("Example"), "\(command.joined(separator: " ")) --help has no example")
        }
    }

    @Test func rootHelpDocumentsExitCodes() throws {
        try withCLI { cli in
            let r = try cli.run(["--help"])
            #expect(r.status == 0)
            #expect(r.stdout.contains("Exit codes"))
            #expect(r.stdout.contains("10  changes the bundle builds on are missing"))
        }
    }
}
