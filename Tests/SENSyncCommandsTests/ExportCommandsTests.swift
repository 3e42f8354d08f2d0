import Foundation
import Testing

/// End to end: `sensync export census` and `export sen2` from the built binary, on real stores.
@Suite(.serialized) struct ExportCommandsTests {
    @Test func theCensusOfADemoSchoolIsWrittenAsCSV() throws {
        try withCLI { cli in
            var r = try cli.run(["demo", "--dir", cli.path("demo")])
            #expect(r.status == 0, "\(r.stderr)")
            let school = ["--store", cli.path("demo/oakfield-primary.sensync")]
            r = try cli.run(["export", "census", "--format", "csv"] + school)
            #expect(r.status == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first == "UPN,SENprovision,SENtype1,SENtype2")
            // One row per pupil on roll, each with a census provision code; nothing else on stdout.
            let rows = lines.dropFirst().filter { !$0.isEmpty }
            #expect(!rows.isEmpty)
            #expect(
                rows.allSatisfy {
                    ["E", "K", "N"].contains($0.split(separator: ",", omittingEmptySubsequences: false)[1])
                })
            #expect(r.stderr.contains("School census of Oakfield Primary"))
            // A day that is not the census day is not called one (it said "census day" of today).
            r = try cli.run(["export", "census", "--as-of", "2026-11-12"] + school)
            #expect(
                r.stderr.contains("autumn 2026 as on 2026-11-12 (the autumn census day is 2026-10-01"), "\(r.stderr)")
            r = try cli.run(["export", "census", "--census", "autumn", "--year", "2026"] + school)
            #expect(r.stderr.contains("autumn 2026 (census day 2026-10-01)"), "\(r.stderr)")

            r = try cli.run(["export", "census", "--out", cli.path("census.csv")] + school)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try String(contentsOfFile: cli.path("census.csv"), encoding: .utf8).hasPrefix("UPN,SENprovision,"))
            // Never over an existing file without --force.
            #expect(try cli.run(["export", "census", "--out", cli.path("census.csv")] + school).status == 13)

            let la = ["--store", cli.path("demo/northshire-la.sensync")]
            r = try cli.run(["export", "sen2", "--year", "2026"] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("Module,PersonID,RequestsID,UPN,Surname,Forename,PersonBirthDate,"))
            // Each return at the site that makes it.
            r = try cli.run(["export", "census"] + la)
            #expect(r.status == 2 && r.stderr.contains("returned by a school"))
            r = try cli.run(["export", "sen2"] + school)
            #expect(r.status == 2 && r.stderr.contains("local authority's return"))
            #expect(try cli.run(["export", "census", "--year", "2026"] + school).status == 64)
        }
    }

    @Test func aRefusedRowWritesNothingAndNamesNoOne() throws {
        try withCLI { cli in
            let store = ["--store", cli.path("oak.sensync")]
            let author = ["--author", "J Smith (SENCO)"]
            var r = try cli.run(
                ["init", "--name", "Oakfield Primary", "--kind", "maintained-school", "--urn", "100001"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(
                [
                    "pupil", "add", "--upn", upn(41), "--forename", "Ada", "--surname", "Example", "--dob",
                    "2016-04-01", "--entry-date", "2025-09-01", "--json",
                ] + store + author)
            #expect(r.status == 0, "\(r.stderr)")
            let pupil = try #require(((r.json as? [String: Any])?["pupil"] as? [String: Any])?["id"] as? String)
            // SEN support from September with no need recorded: the spring census needs a primary need.
            r = try cli.run(
                [
                    "sen-episode", "add", "--pupil", upn(41), "--provision", "K", "--school-id", "here",
                    "--start-date", "2025-09-01",
                ] + store + author)
            #expect(r.status == 0, "\(r.stderr)")

            r = try cli.run(
                ["export", "census", "--census", "spring", "--year", "2026", "--out", cli.path("census.csv")] + store)
            #expect(r.status == 2)
            #expect(r.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: cli.path("census.csv")))
            #expect(r.stderr.contains("refused"))
            #expect(r.stderr.contains("pupil \(pupil): "))
            #expect(r.stderr.contains("primary (rank 1) need"))
            for personal in [upn(41), "Ada", "Example", "2016-04-01"] {
                #expect(!r.stderr.contains(personal), "stderr names \(personal)")
            }

            // The autumn census does not collect needs: the same records are returned.
            r = try cli.run(["export", "census", "--census", "autumn", "--year", "2025"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == "UPN,SENprovision,SENtype1,SENtype2\n\(upn(41)),K,,\n")
        }
    }
}
