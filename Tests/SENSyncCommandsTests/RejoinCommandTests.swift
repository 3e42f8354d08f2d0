import Foundation
import Testing

/// A school's laptop restored from a backup: its old id can never write again without forking, so
/// it rejoins under a new id. Nothing that reached the LA is lost, and what only the restored copy
/// held is carried over as new changes.
struct RejoinCommandTests {
    @Test func aSchoolRestoredFromABackupRejoinsUnderANewIDAndLosesNothing() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oakfield", kind: "maintained-school")
            let author = ["--author", "SENCO"]
            func write(_ arguments: [String], at site: String = "oakfield") throws -> CLI.Result {
                try cli.run(arguments + author + area.store(site))
            }
            func addPupil(_ n: Int) throws -> CLI.Result {
                try write([
                    "pupil", "add", "--upn", upn(n), "--forename", "Rejoin", "--surname", "Sample", "--dob",
                    "2016-01-01",
                ])
            }
            func addNote(_ n: Int, _ text: String) throws -> CLI.Result {
                try write(["note", "add", "--pupil", upn(n), "--area", "cognition-learning", "--text", text])
            }
            #expect(try area.send("la", "oakfield").status == 0)
            #expect(try addPupil(1).status == 0)
            #expect(try addNote(1, "Before the backup.").status == 0)
            #expect(try area.send("oakfield", "la").status == 0)
            try cli.copyStore("oakfield", to: "backup")
            // After the backup: three more changes, which reach the LA.
            #expect(try addPupil(2).status == 0)
            #expect(try addNote(1, "After the backup.").status == 0)
            #expect(try addNote(2, "Also after the backup.").status == 0)
            #expect(try area.send("oakfield", "la").status == 0)

            // The laptop is restored from the backup, and the SENCO records two changes on it.
            try cli.copyStore("backup", to: "oakfield")
            #expect(try addPupil(3).status == 0)
            #expect(try addNote(1, "Only on the restored copy.").status == 0)
            // The LA's next bundle tells the restored store, which refuses to write from then on; its
            // bundles carry nothing of its own that the LA lacks, so they fork nothing.
            let told = try area.send("la", "oakfield")
            #expect(told.stderr.contains("restored from a backup"), "\(told.stderr)")
            #expect(try addNote(1, "Refused.").status == 12)
            let quiet = try area.send("oakfield", "la")
            #expect(
                quiet.status == 0 && quiet.stdout.contains("applied 0 new change(s)"), "\(quiet.stdout) \(quiet.stderr)"
            )

            // Rejoin under a new id.
            let started = try cli.run(
                [
                    "rejoin", "start", "--new-store", cli.path("oakfield-2.sensync"), "--out",
                    cli.path("oakfield-2.identity"), "--json",
                ]
                    + area.store("oakfield"))
            #expect(started.status == 0, "\(started.stderr)")
            let newID = try #require(((started.json as? [String: Any])?["site"] as? [String: Any])?["id"] as? String)
            #expect(newID != area.ids["oakfield"])
            area.ids["oakfield-2"] = newID
            let replaced = try cli.run(
                [
                    "directory", "add", cli.path("oakfield-2.identity"), "--replaces", area.ids["oakfield"]!,
                    "--author", "LA officer", "--json",
                ]
                    + area.store("la"))
            #expect(replaced.status == 0, "\(replaced.stderr)")
            #expect((replaced.json as? [String: Any])?["pupilsMoved"] as? Int == 2)
            // Before the LA's bundle reaches the new store, carrying over would write every change
            // again (and open a conflict on every field): refused, saying what to do first.
            let early = try cli.run(
                ["rejoin", "carry-over", "--from", cli.path("oakfield.sensync")] + area.store("oakfield-2"))
            #expect(early.status == 2, "\(early.stdout) \(early.stderr)")
            #expect(early.stderr.contains("apply its next bundle"), "\(early.stderr)")
            #expect(try area.send("la", "oakfield-2").status == 0)
            let carried = try cli.run(
                ["rejoin", "carry-over", "--from", cli.path("oakfield.sensync"), "--json"] + area.store("oakfield-2"))
            #expect(carried.status == 0, "\(carried.stdout) \(carried.stderr)")
            let report = try #require(carried.json as? [String: Any], "\(carried.stdout)")
            #expect(report["carried"] as? Int == 2 && report["alreadyHeld"] as? Int == 2, "\(report)")
            // Carrying over again finds nothing new to record.
            let again = try cli.run(
                ["rejoin", "carry-over", "--from", cli.path("oakfield.sensync"), "--json"] + area.store("oakfield-2"))
            #expect((again.json as? [String: Any])?["carried"] as? Int == 0, "\(again.stdout) \(again.stderr)")
            #expect(try area.send("oakfield-2", "la").status == 0)
            // The LA knows the school by two ids now, one name: the old one is marked.
            let peers = try cli.run(["peer", "list"] + area.store("la")).stdout
            #expect(peers.contains("oakfield (removed)"), "\(peers)")
            #expect(peers.components(separatedBy: "oakfield").count == 3, "\(peers)")

            // Nothing that reached the LA is lost, and what only the restored copy held is there too.
            for n in 1...3 {
                let atLA = try cli.run(["pupil", "show", upn(n), "--json"] + area.store("la"))
                let atSchool = try cli.run(["pupil", "show", upn(n), "--json"] + area.store("oakfield-2"))
                #expect(atLA.status == 0 && atSchool.status == 0, "pupil \(n): \(atLA.stderr) \(atSchool.stderr)")
                #expect(atLA.stdout == atSchool.stdout, "pupil \(n) differs between the LA and the rejoined school")
            }
            let notes = try cli.run(["pupil", "show", upn(1)] + area.store("la")).stdout
            for text in ["Before the backup.", "After the backup.", "Only on the restored copy."] {
                #expect(notes.contains(text), "\(text) is missing at the LA")
            }
            #expect(!notes.contains("Refused."))
            // The old store stays refused; the new one writes, and the LA takes its bundles.
            let old = try addNote(1, "Under the old id.")
            #expect(old.status == 12, "\(old.stderr)")
            let removed = try area.send("oakfield", "la")
            #expect(removed.status != 0, "\(removed.stdout)")
            let newNote = try write(
                ["note", "add", "--pupil", upn(2), "--area", "cognition-learning", "--text", "Under the new id."],
                at: "oakfield-2")
            #expect(newNote.status == 0, "\(newNote.stderr)")
            #expect(try area.send("oakfield-2", "la").status == 0)
            #expect(try cli.run(["pupil", "show", upn(2)] + area.store("la")).stdout.contains("Under the new id."))
            for site in ["la", "oakfield-2"] {
                #expect(try cli.run(["audit", "verify"] + area.store(site)).status == 0, "\(site)")
            }
            // Both of the school's chains carry its name; the old id's is marked as removed.
            let audit = try cli.run(["audit", "verify"] + area.store("la")).stdout
            #expect(audit.contains("(removed)"), "\(audit)")
        }
    }
    /// The restored copy writes before anything tells it and sends its bundle: the LA refuses it
    /// as a fork (exit 12). The LA's next bundle used to tell the copy nothing (it acknowledged
    /// numbers the copy holds, with other changes), so the copy went on recording changes no site
    /// would take. Now it warns that its history forked, and refuses local writes (exit 12).
    @Test func aRestoredCopyThatWroteBeforeSyncingIsToldByTheLAsNextBundle() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oakfield", kind: "maintained-school")
            func addNote(_ text: String) throws -> CLI.Result {
                try cli.run(
                    [
                        "note", "add", "--pupil", upn(1), "--area", "cognition-learning", "--text", text, "--author",
                        "SENCO",
                    ]
                        + area.store("oakfield"))
            }
            #expect(try area.send("la", "oakfield").status == 0)
            let added = try cli.run(
                [
                    "pupil", "add", "--upn", upn(1), "--forename", "Fork", "--surname", "Sample", "--dob", "2016-01-01",
                    "--author", "SENCO",
                ] + area.store("oakfield"))
            #expect(added.status == 0, "\(added.stderr)")
            #expect(try area.send("oakfield", "la").status == 0)
            try cli.copyStore("oakfield", to: "backup")
            #expect(try addNote("After the backup.").status == 0)
            #expect(try area.send("oakfield", "la").status == 0)

            try cli.copyStore("backup", to: "oakfield")
            #expect(try addNote("Only on the restored copy.").status == 0)
            let refused = try area.send("oakfield", "la")
            #expect(refused.status == 12, "\(refused.stdout) \(refused.stderr)")
            let told = try area.send("la", "oakfield")
            #expect(told.status == 0, "\(told.stderr)")
            #expect(told.stderr.contains("history has forked"), "\(told.stderr)")
            #expect(told.stderr.contains("sensync rejoin start"), "\(told.stderr)")
            let status = try cli.run(["status"] + area.store("oakfield"))
            #expect(status.stderr.contains("history has forked"), "\(status.stdout) \(status.stderr)")
            #expect(try addNote("Refused.").status == 12)
        }
    }

    /// A maintained school converts to an academy of the same name in a trust, as the README's
    /// "Setting up an area" shows: the academy's store takes the school's place with every pupil's
    /// history, and what the school's store never sent is carried over.
    @Test func aSchoolThatConvertsToAnAcademyOfTheSameNameKeepsItsPupils() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("trust", kind: "trust")
            try area.add("oakfield", kind: "maintained-school")
            let author = ["--author", "SENCO"]
            #expect(try area.send("la", "oakfield").status == 0)
            var r = try cli.run(
                [
                    "pupil", "add", "--upn", upn(1), "--forename", "Convert", "--surname", "Sample", "--dob",
                    "2016-01-01",
                ]
                    + author + area.store("oakfield"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try area.send("oakfield", "la").status == 0)
            r = try cli.run(
                ["note", "add", "--pupil", upn(1), "--text", "Never sent by the school."] + author
                    + area.store("oakfield"))
            #expect(r.status == 0, "\(r.stderr)")

            r = try cli.run(
                [
                    "init", "--name", "oakfield", "--kind", "academy", "--urn", "150001", "--la-identity",
                    cli.path("la.identity"), "--json",
                ] + area.store("academy"))
            #expect(r.status == 0, "\(r.stderr)")
            area.ids["academy"] = try #require(
                ((r.json as? [String: Any])?["site"] as? [String: Any])?["id"] as? String)
            r = try cli.run(["identity", "export", "--out", cli.path("academy.identity")] + area.store("academy"))
            #expect(r.status == 0, "\(r.stderr)")
            // A plain add is refused (two sites of one name) with the way that works.
            r = try cli.run(["directory", "add", cli.path("academy.identity"), "--trust", "trust"] + area.store("la"))
            #expect(r.status != 0 && r.stderr.contains("--replaces"), "\(r.stderr)")
            r = try cli.run(
                ["directory", "add", cli.path("academy.identity"), "--replaces", "oakfield", "--trust", "trust"]
                    + ["--author", "LA officer"] + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(
                r.stdout.contains(
                    "Added oakfield (academy) in place of oakfield (maintained school), moved 1 pupil(s) to it"),
                "\(r.stdout)")

            #expect(try area.send("la", "trust").status == 0)
            #expect(try area.send("trust", "academy").status == 0)
            r = try cli.run(["rejoin", "carry-over", "--from", cli.path("oakfield.sensync")] + area.store("academy"))
            #expect(r.status == 0 && r.stdout.contains("Carried over 1 change(s)"), "\(r.stdout) \(r.stderr)")
            #expect(try area.send("academy", "trust").status == 0)
            #expect(try area.send("trust", "la").status == 0)
            for site in ["la", "trust", "academy"] {
                r = try cli.run(["note", "list", "--pupil", upn(1)] + area.store(site))
                #expect(r.stdout.contains("Never sent by the school."), "\(site): \(r.stdout) \(r.stderr)")
            }
            // The school's name is the academy's now; the school's bundles are refused.
            r = try cli.run(
                ["bundle", "create", "--to", "oakfield", "--out", cli.path("named.bundle"), "--json"]
                    + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains(try #require(area.ids["academy"])), "\(r.stdout)")
            let refused = try area.send("oakfield", "la")
            #expect(refused.status != 0 && refused.stderr.contains("removed"), "\(refused.stderr)")
        }
    }
}
