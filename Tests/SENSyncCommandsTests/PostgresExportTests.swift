import Foundation
import Testing

/// End to end against a real PostgreSQL server: two LAs' exports from the built binary, loaded
/// with `psql` into one database, one of them twice and once more after a change; then counts by
/// LA and a query across both.
///
/// The server is `SENSYNC_PG_TEST_URL`, a libpq connection string (`host=/tmp/pg port=5432
/// user=postgres dbname=postgres`); the test makes its own database there and drops it after.
/// Without it the test is skipped, unless `SENSYNC_REQUIRE_POSTGRES=1` (as in `.ci/run`).
@Suite(.serialized) struct PostgresExportTests {
    static let environment = ProcessInfo.processInfo.environment
    static let server = environment["SENSYNC_PG_TEST_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = environment["SENSYNC_REQUIRE_POSTGRES"] == "1"

    @Test func twoLAsLoadSideBySideAndReloadingChangesNothing() throws {
        guard let server = Self.server else {
            if Self.required {
                Issue.record("SENSYNC_REQUIRE_POSTGRES=1 but SENSYNC_PG_TEST_URL names no server.")
            }
            return
        }
        let database = "sensync_test_\(UUID().uuidString.prefix(8).lowercased())"
        let psql = PSQL(connection: server)
        try psql.check(["-c", "CREATE DATABASE \(database)"])
        defer { _ = try? psql.run(["-c", "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"]) }
        let db = PSQL(connection: "\(server) dbname=\(database)")

        try withCLI { cli in
            // Northshire (991): Ada (SEMH, with a note) and Ben (ASD) at Oakfield (URN 100001).
            // Southshire (992): Cara (SEMH) at Hillview (URN 200001).
            let north = try Self.la(cli, "north", name: "Northshire", code: "991", school: ("Oakfield", "100001"))
            try Self.pupil(cli, north, upn: upn(101), forename: "Ada", need: "SEMH", school: "Oakfield")
            try Self.pupil(cli, north, upn: upn(102), forename: "Ben", need: "ASD", school: "Oakfield")
            var r = try cli.run(
                [
                    "note", "add", "--pupil", upn(101), "--text", "Finds\tblending hard; see mum's\nemail", "--author",
                    "SENCO",
                ]
                    + north)
            #expect(r.status == 0, "\(r.stderr)")
            let south = try Self.la(cli, "south", name: "Southshire", code: "992", school: ("Hillview", "200001"))
            try Self.pupil(cli, south, upn: upn(201), forename: "Cara", need: "SEMH", school: "Hillview")

            func export(_ store: [String], _ file: String, _ extra: [String] = []) throws {
                let r = try cli.run(
                    ["export", "postgres", "--out", cli.path(file), "--as-of", "2026-01-15", "--force"] + extra + store)
                #expect(r.status == 0, "\(r.stderr)")
            }
            try export(north, "north.sql")
            try export(south, "south.sql")
            try db.check(["-f", cli.path("north.sql")])
            try db.check(["-f", cli.path("south.sql")])
            let once = try db.query(Self.countsByLA)
            #expect(once == "991|2|2|1|1\n992|1|1|0|1")
            // The same LA again: the same rows, the other LA untouched.
            try db.check(["-f", cli.path("north.sql")])
            #expect(try db.query(Self.countsByLA) == once)

            // Across LAs: pupils by primary need, and pupils by the URN of the school they are on roll at.
            #expect(
                try db.query(
                    "SELECT need, count(DISTINCT (la_code, pupil_id)) FROM sensync.sen_need WHERE rank = 1 "
                        + "GROUP BY need ORDER BY need") == "ASD|1\nSEMH|2")
            #expect(
                try db.query(
                    "SELECT s.urn, i.la_name, count(*) FROM sensync.enrolment e "
                        + "JOIN sensync.sites s ON s.la_code = e.la_code AND s.site_id = e.school_id "
                        + "JOIN sensync.export_info i ON i.la_code = e.la_code "
                        + "GROUP BY s.urn, i.la_name ORDER BY s.urn") == "100001|Northshire|2\n200001|Southshire|1")
            // Pseudonymised: no names, UPNs, dates of birth or note text reached the database.
            #expect(
                try db.query(
                    "SELECT count(*) FROM sensync.pupil WHERE upn IS NOT NULL OR forename IS NOT NULL "
                        + "OR surname IS NOT NULL OR date_of_birth IS NOT NULL") == "0")
            #expect(try db.query("SELECT count(*) FROM sensync.note WHERE text IS NULL") == "1")
            #expect(try db.query("SELECT bool_or(personal_data) FROM sensync.export_info") == "f")

            // A change at Northshire, exported with personal data: its rows are replaced, Southshire's kept.
            try Self.pupil(cli, north, upn: upn(103), forename: "Dev", need: "ASD", school: "Oakfield")
            try export(north, "north-full.sql", ["--include-personal-data"])
            try db.check(["-f", cli.path("north-full.sql")])
            #expect(try db.query(Self.countsByLA) == "991|3|3|1|1\n992|1|1|0|1")
            #expect(
                try db.query("SELECT forename FROM sensync.pupil WHERE la_code = '991' ORDER BY forename")
                    == "Ada\nBen\nDev")
            #expect(try db.query("SELECT text FROM sensync.note") == "Finds\tblending hard; see mum's\nemail")
            #expect(
                try db.query("SELECT la_code, personal_data FROM sensync.export_info ORDER BY la_code")
                    == "991|t\n992|f")

            // A school's store is refused, naming no one.
            r = try cli.run(
                ["export", "postgres", "--out", cli.path("school.sql"), "--store", cli.path("north-Oakfield.sensync")])
            #expect(r.status == 2 && r.stderr.contains("LA's store"))
            #expect(!FileManager.default.fileExists(atPath: cli.path("school.sql")))
        }
    }

    /// Per LA: pupils, enrolments, notes and sites other than the LA.
    static let countsByLA = """
        SELECT i.la_code,
          (SELECT count(*) FROM sensync.pupil p WHERE p.la_code = i.la_code),
          (SELECT count(*) FROM sensync.enrolment e WHERE e.la_code = i.la_code),
          (SELECT count(*) FROM sensync.note n WHERE n.la_code = i.la_code),
          (SELECT count(*) FROM sensync.sites s WHERE s.la_code = i.la_code AND s.kind <> 'la')
        FROM sensync.export_info i ORDER BY i.la_code
        """

    /// An LA store with one school in its directory; returns the LA's `--store` arguments.
    static func la(_ cli: CLI, _ prefix: String, name: String, code: String, school: (name: String, urn: String))
        throws -> [String]
    {
        let la = ["--store", cli.path("\(prefix).sensync")]
        var r = try cli.run(["init", "--name", name, "--kind", "la", "--la-code", code] + la)
        #expect(r.status == 0, "\(r.stderr)")
        r = try cli.run(["identity", "export", "--out", cli.path("\(prefix).identity")] + la)
        #expect(r.status == 0, "\(r.stderr)")
        let store = ["--store", cli.path("\(prefix)-\(school.name).sensync")]
        r = try cli.run(
            [
                "init", "--name", school.name, "--kind", "maintained-school", "--urn", school.urn, "--la-identity",
                cli.path("\(prefix).identity"),
            ] + store)
        #expect(r.status == 0, "\(r.stderr)")
        r = try cli.run(["identity", "export", "--out", cli.path("\(prefix)-\(school.name).identity")] + store)
        #expect(r.status == 0, "\(r.stderr)")
        r = try cli.run(["directory", "add", cli.path("\(prefix)-\(school.name).identity")] + la)
        #expect(r.status == 0, "\(r.stderr)")
        return la
    }

    /// A pupil (surname Example, born 2016-04-01) on roll at `school` since 2025-09-01, with a
    /// primary need from then.
    static func pupil(_ cli: CLI, _ la: [String], upn: String, forename: String, need: String, school: String) throws {
        let author = ["--author", "LA SEN team"]
        var r = try cli.run(
            [
                "pupil", "add", "--upn", upn, "--forename", forename, "--surname", "Example", "--dob", "2016-04-01",
                "--school", school, "--entry-date", "2025-09-01",
            ] + la + author)
        #expect(r.status == 0, "\(r.stderr)")
        r = try cli.run(
            ["sen-need", "add", "--pupil", upn, "--need", need, "--rank", "1", "--start-date", "2025-09-01"] + la
                + author)
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// Runs `psql` against one connection string, stopping at the first error.
struct PSQL {
    let connection: String

    func run(_ arguments: [String]) throws -> CLI.Result {
        try CLI.runProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", connection] + arguments)
    }

    /// Runs and expects success (and nothing on stderr: no notice or warning).
    func check(_ arguments: [String]) throws {
        let r = try run(arguments)
        #expect(r.status == 0 && r.stderr.isEmpty, "psql \(arguments.first ?? ""): \(r.stderr)")
    }

    /// One query's rows, unaligned, `|` between columns, without the final newline.
    func query(_ sql: String) throws -> String {
        let r = try run(["-At", "-c", sql])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.hasSuffix("\n") ? String(r.stdout.dropLast()) : r.stdout
    }
}
