import Foundation
import Testing

/// End to end: `sensync import` from the built binary, on real files and stores.
@Suite(.serialized) struct ImportCommandTests {
    @Test func anMISExportImportsOnceRefusesABadRowAndSyncs() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            let school = area.store("Oakfield")
            try """
            ID,UPN,Forename,Surname,DOB,NCyearActual,EntryDate
            101,\(upn(1)),Ada,Sample,2016-03-01,4,2021-09-01
            102,\(upn(2)),Ben,Sample,2015-11-20,5,2020-09-01
            """.write(toFile: cli.path("pupils.csv"), atomically: true, encoding: .utf8)
            try """
            ID,UPN,SENprovision,StartDate
            E1,\(upn(1)),K,2024-09-10
            """.write(toFile: cli.path("sen_episodes.csv"), atomically: true, encoding: .utf8)
            try """
            {"kind": "sen_need", "id": "N1", "upn": "\(upn(1))", "need": "SLCN", "rank": 1, "startDate": "2024-09-10"}
            """.write(toFile: cli.path("needs.jsonl"), atomically: true, encoding: .utf8)
            let files = [cli.path("pupils.csv"), cli.path("sen_episodes.csv"), cli.path("needs.jsonl")]

            // A dry run says what would change and keeps nothing.
            let empty = try area.digest("Oakfield")
            var r = try cli.run(["import", "--author", "MIS import", "--dry-run", "--quiet"] + files + school)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("Would import 4 row(s): created 2 pupils, 1 provision episode, 1 need;"))
            #expect(try area.digest("Oakfield") == empty)

            r = try cli.run(["import", "--author", "MIS import"] + files + school)
            #expect(r.status == 0, "\(r.stderr)")
            // One change per pupil, however the files spread their rows: Ada's pupil row, episode
            // and need (three files) are one change, Ben's the other.
            #expect(r.stdout.contains("2 change(s) recorded"), "\(r.stdout)")
            #expect(r.stderr.contains("pupils.csv: 2 rows read (100%)"), "\(r.stderr)")
            #expect(r.stderr.contains("Checked: 4 of 4 rows, by pupil (100%)"), "\(r.stderr)")
            let imported = try area.digest("Oakfield")

            // The same files again: nothing changes.
            r = try cli.run(["import", "--author", "MIS import", "--json"] + files + school)
            #expect(r.status == 0, "\(r.stderr)")
            let summary = try #require(r.json as? [String: Any])
            #expect(summary["changes"] as? Int == 0 && summary["unchanged"] as? Int == 4)
            #expect(try area.digest("Oakfield") == imported)
            // Said as nothing changed, not as "0 change(s) recorded; they go to your peers".
            r = try cli.run(["import", "--author", "MIS import"] + files + school)
            #expect(r.stdout.contains("Nothing changed: the store already held all of it."), "\(r.stdout)")

            // A bad row: its line and column, no personal data, exit 2, nothing changed.
            try """
            ID,UPN,Forename,Surname,DOB
            103,\(upn(3)),Cara,Sample,2016-01-09
            104,\(upn(4)),Dev,Sample,20/11/2015
            """.write(toFile: cli.path("more.csv"), atomically: true, encoding: .utf8)
            r = try cli.run(["import", "--author", "MIS import", "--kind", "pupils", cli.path("more.csv")] + school)
            #expect(r.status == 2)
            #expect(r.stderr.contains("more.csv line 3, column DOB: The date of birth is not a valid date."))
            for personal in ["Cara", "Dev", upn(3), upn(4), "20/11/2015"] {
                #expect(!r.stderr.contains(personal) && !r.stdout.contains(personal))
            }
            #expect(r.stderr.contains("Nothing was imported: 1 problem(s) in 1 of the 2 row(s) read."), "\(r.stderr)")
            #expect(try area.digest("Oakfield") == imported)
            // A CSV file of no known kind is one problem, with no "Checked: 0 of 0 rows" before it.
            try "UPN,Forename\n".write(toFile: cli.path("export.csv"), atomically: true, encoding: .utf8)
            r = try cli.run(["import", "--author", "MIS import", cli.path("export.csv")] + school)
            #expect(r.status == 2)
            #expect(!r.stderr.contains("Checked:"), "\(r.stderr)")
            #expect(r.stderr.contains("Nothing was imported: 1 problem(s) in the files themselves."), "\(r.stderr)")
            // With --json each problem is in the error too, by file, line and column (only the
            // text on stderr said where).
            r = try cli.run(
                ["import", "--author", "MIS import", "--kind", "pupils", "--json", cli.path("more.csv")] + school)
            #expect(r.status == 2)
            let problems = ((r.json as? [String: Any])?["error"] as? [String: Any])?["problems"] as? [[String: Any]]
            #expect(
                problems?.first?["line"] as? Int == 3 && problems?.first?["column"] as? String == "DOB", "\(r.stdout)")

            // Imported records are ordinary changes: they reach the LA with the next bundle.
            #expect(try area.send("Oakfield", "la").status == 0)
            r = try cli.run(["pupil", "list", "--json"] + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect((r.json as? [String: Any]).flatMap { $0["pupils"] as? [Any] }?.count == 2)
        }
    }
}
