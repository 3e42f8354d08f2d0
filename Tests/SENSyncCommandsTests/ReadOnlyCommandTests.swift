import Crypto
import Foundation
import GRDB
import Testing

@testable import SENSyncCommands

/// Commands that only read leave the store file byte for byte as it was, and a refused bundle
/// changes nothing but its row in the import log.
@Suite struct ReadOnlyCommandTests {
    /// The store file's bytes, hashed, and a dump of every table (read through a read-only
    /// connection, so taking it changes nothing).
    struct Snapshot: Equatable {
        var fileHash: String
        var tables: [String: [String]]

        init(_ path: String) throws {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            fileHash = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            tables = try Self.dump(path)
        }

        static func dump(_ path: String) throws -> [String: [String]] {
            var config = Configuration()
            config.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: config)
            return try queue.read { db in
                var tables: [String: [String]] = [:]
                let names = try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                for name in names {
                    tables[name] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(name)\"").map(\.description).sorted()
                }
                return tables
            }
        }
    }

    /// A school and the LA that have exchanged bundles, with a pupil who has SEN support, a
    /// note, a plan and a referral; returns the area and the pupil's UPN.
    func makeArea(_ cli: CLI) throws -> (CLIArea, String) {
        var area = try CLIArea.make(cli)
        try area.add("oak", kind: "maintained-school")
        let pupil = upn(7)
        let school = area.store("oak")
        for command in [
            [
                "pupil", "add", "--upn", pupil, "--forename", "Ada", "--surname", "Example", "--dob", "2016-04-01",
                "--year-group", "4",
            ],
            ["pupil", "update", pupil, "--sen-status", "K", "--needs", "SPLD,SLCN"],
            ["note", "add", "--pupil", pupil, "--area", "cognition-learning", "--text", "Blends CVC words."],
            [
                "plan", "create", "--pupil", pupil, "--title", "Literacy", "--start-date", "2026-01-05",
                "--review-date", "2026-02-13",
            ],
            [
                "referral", "add", "--pupil", pupil, "--agency", "speech-language-therapy", "--referred-on",
                "2026-01-05", "--reason", "Speech sounds", "--referred-by", "SENCO",
            ],
        ] {
            let r = try cli.run(command + school, environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(r.status == 0, "\(command.prefix(2)): \(r.stderr)")
        }
        #expect(try area.send("oak", "la").status == 0)
        #expect(try area.send("la", "oak").status == 0)
        return (area, pupil)
    }

    @Test func readOnlyCommandsLeaveTheStoreByteForByte() throws {
        try withCLI { cli in
            let (area, pupil) = try makeArea(cli)
            let pending = cli.path("pending.bundle")
            let r = try cli.run(
                ["pupil", "update", pupil, "--needs", "SLCN"] + area.store("oak"),
                environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(
                try cli.run(["bundle", "create", "--to", "Northshire", "--out", pending] + area.store("oak")).status
                    == 0)

            let newPupil = cli.path("new-pupil.jsonl")
            try Data(
                #"{"kind":"pupil","upn":"H801200001001","forename":"Bo","surname":"Example","dateOfBirth":"2016-01-01"}"#
                    .utf8
            ).write(to: URL(fileURLWithPath: newPupil))
            let schoolCommands: [[String]] = [
                ["status"], ["status", "--json"], ["digest"], ["log"], ["pupil", "list"], ["pupil", "show", pupil],
                ["pupil", "show", pupil, "--json"], ["pupil", "duplicates"], ["history", pupil], ["audit", "verify"],
                ["note", "list", "--pupil", pupil], ["plan", "list", "--pupil", pupil],
                [
                    "record", "list", "referral",
                    "--pupil", pupil,
                ], ["conflicts", "list"], ["due"], ["summary", pupil], ["identity", "show"],
                ["identity", "export", "--out", cli.path("oak-again.identity")], ["directory", "list"],
                ["peer", "list"],
                ["report", "school"], ["report", "sync"], ["export", "census", "--as-of", "2026-05-21"],
                ["ctf", "export", pupil, "--out", cli.path("ada.xml")], ["ehc", "show", pupil],
                // Dry runs and listings (each changed the file's bytes, though no row).
                ["report", "roll"], ["retention", "run", "--dry-run", "--author", "SENCO"],
                ["import", newPupil, "--dry-run", "--author", "SENCO"],
            ]
            let laCommands: [[String]] = [
                ["status"], ["digest"], ["report", "area"],
                [
                    "report", "area", "--format", "html", "--out",
                    cli.path("area.html"),
                ], ["report", "sync", "--json"], ["export", "sen2", "--year", "2026"],
                ["ehc", "timeliness", "--from", "2026-01-01", "--to", "2026-12-31"], ["directory", "list"],
                ["pupil", "show", pupil], ["bundle", "verify", pending],
                ["export", "postgres", "--out", cli.path("area.sql")], ["report", "roll"],
                ["bundle", "inspect", pending],
            ]
            for (site, commands) in [("oak", schoolCommands), ("la", laCommands)] {
                let path = cli.path("\(site).sensync")
                for command in commands {
                    let before = try Snapshot(path)
                    let result = try cli.run(command + area.store(site))
                    #expect(result.status == 0, "\(site) \(command.prefix(3)): \(result.stderr)")
                    let after = try Snapshot(path)
                    #expect(after.fileHash == before.fileHash, "\(site) \(command.prefix(3)) changed the store file")
                    #expect(after.tables == before.tables, "\(site) \(command.prefix(3)) changed a table")
                }
            }
            // The bundle verified above still applies: verifying it wrote nothing.
            #expect(try cli.run(["bundle", "apply", pending] + area.store("la")).status == 0)
        }
    }

    /// Oakfield's bundle to the LA (`good.bundle`), and a copy with a byte of its payload changed
    /// (`damaged.bundle`).
    func bundleAndDamagedCopy(_ cli: CLI, _ area: CLIArea) throws -> (good: String, damaged: String) {
        let good = cli.path("good.bundle")
        #expect(try cli.run(["bundle", "create", "--to", "Northshire", "--out", good] + area.store("oak")).status == 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        bytes[bytes.count - 40] ^= 0x5A
        let damaged = cli.path("damaged.bundle")
        try bytes.write(to: URL(fileURLWithPath: damaged))
        return (good, damaged)
    }

    @Test func aRefusedBundleChangesNothingButItsImportLogRow() throws {
        try withCLI { cli in
            var (area, pupil) = try makeArea(cli)
            try area.add("elm", kind: "academy")
            let r = try cli.run(
                ["pupil", "update", pupil, "--needs", "SLCN"] + area.store("oak"),
                environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(r.status == 0, "\(r.stderr)")
            // Addressed to another site, damaged, and from a site the receiver does not know.
            let misaddressed = cli.path("misaddressed.bundle")
            #expect(
                try cli.run(["bundle", "create", "--to", area.ids["elm"]!, "--out", misaddressed] + area.store("la"))
                    .status == 0)
            let (_, damaged) = try bundleAndDamagedCopy(cli, area)
            try cli.run(
                ["init", "--name", "Stranger", "--kind", "academy", "--la-identity", cli.path("la.identity")]
                    + area.store("stranger"))
            let pupilThere = try cli.run(
                [
                    "pupil", "add", "--upn", upn(9), "--forename", "Bo", "--surname", "Example", "--dob", "2015-02-02",
                    "--year-group", "5",
                ] + area.store("stranger"), environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(pupilThere.status == 0, "\(pupilThere.stderr)")
            let stranger = cli.path("stranger.bundle")
            #expect(
                try cli.run(["bundle", "create", "--to", area.ids["la"]!, "--out", stranger] + area.store("stranger"))
                    .status == 0)

            for (receiver, file) in [("oak", misaddressed), ("la", damaged), ("la", stranger)] {
                let path = cli.path("\(receiver).sensync")
                let before = try Snapshot.dump(path)
                let result = try cli.run(["bundle", "apply", file] + area.store(receiver))
                #expect(result.status != 0, "\(file) was not refused")
                var after = try Snapshot.dump(path)
                let log = after["import_log"] ?? []
                #expect(log.count == (before["import_log"] ?? []).count + 1, "\(file): no refusal row")
                after["import_log"] = before["import_log"]
                for (table, rows) in after where rows != before[table] {
                    Issue.record("\(URL(fileURLWithPath: file).lastPathComponent) changed \(table) at \(receiver)")
                }
            }
        }
    }

    /// A command refused before it could do anything leaves the store file byte for byte as it
    /// was: a write without an author, and bundle files that are not files (missing, a folder).
    /// Each opened the store to write first, which moves the file's change counter. Of several
    /// bundle files, those that are bundles are applied and the exit code says one was refused.
    @Test func aCommandRefusedBeforeItStartsLeavesTheStoreFileAsItWas() throws {
        try withCLI { cli in
            let (area, pupil) = try makeArea(cli)
            let path = cli.path("la.sensync")
            _ = try cli.run(["digest"] + area.store("la"))
            let folder = cli.path("a-folder")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (command, status) in [
                (["note", "add", "--pupil", pupil, "--text", "No author here"], 64),
                (["pupil", "update", pupil, "--year-group", "6"], 64),
                (["bundle", "apply", cli.path("not-copied.bundle")], 3),
                (["bundle", "apply", folder], 13),
                (["bundle", "apply", cli.path("not-copied.bundle"), folder], 3),
            ] {
                let before = try Snapshot(path)
                let r = try cli.run(command + area.store("la"), environment: ["SENSYNC_AUTHOR": ""])
                #expect(Int(r.status) == status, "\(command.prefix(2)): \(r.status) \(r.stderr)")
                #expect(try Snapshot(path) == before, "\(command.prefix(3)) changed the store file")
            }
            // A damaged bundle beside a good one: the good one is applied, and the exit code (the
            // damaged one's) comes with a line saying the others were applied.
            #expect(
                try cli.run(
                    ["note", "add", "--pupil", pupil, "--text", "Arrives", "--author", "SENCO"] + area.store("oak")
                ).status == 0)
            let (good, damaged) = try bundleAndDamagedCopy(cli, area)
            let r = try cli.run(["bundle", "apply", damaged, good] + area.store("la"))
            #expect(r.status == 5, "\(r.stderr)")
            #expect(r.stdout.contains("good.bundle: applied 1 new change(s)"), "\(r.stdout)")
            #expect(r.stderr.contains("1 of 2 bundle file(s) refused"), "\(r.stderr)")
        }
    }

    /// A write that finds the store held by another command for longer than it waits is "busy,
    /// run it again" (exit 13), not "a bug, please report it" (exit 1) with SQLite's message.
    @Test func aBusyStoreSaysSoAndIsNoBug() throws {
        let busy = ErrorReport(DatabaseError(resultCode: .SQLITE_BUSY, message: "database is locked"))
        #expect(busy.exit == .io && busy.message.contains("busy") && !busy.message.contains("SQLite"))
        let other = ErrorReport(DatabaseError(resultCode: .SQLITE_CORRUPT, message: "malformed"))
        #expect(other.exit == .unexpected)
    }

    /// `audit verify` on a store whose change log was altered (one byte of a school's note, changed
    /// in the LA's file) lists the problem and exits 12, not 1 (which says SENSync itself failed).
    @Test func auditVerifyReportsAnAlteredStoreWithItsOwnExitCode() throws {
        try withCLI { cli in
            let (area, upn) = try makeArea(cli)
            let r = try cli.run(
                ["note", "add", "--pupil", upn, "--text", "Tamperable observation", "--author", "SENCO"]
                    + area.store("oak"))
            #expect(r.status == 0, "\(r.stderr)")
            // At the LA, where the note arrives signed by the school.
            #expect(try area.send("oak", "la").status == 0)
            #expect(try cli.run(["audit", "verify"] + area.store("la")).status == 0)
            let queue = try DatabaseQueue(path: cli.path("la.sensync"))
            let altered = try queue.write { db -> Bool in
                let needle = Data("Tamperable".utf8)
                for row in try Row.fetchAll(db, sql: "SELECT site_ord, first_seq, changes FROM change_log") {
                    var bytes = [UInt8](row[2] as Data)
                    guard let at = Data(bytes).range(of: needle)?.lowerBound else { continue }
                    bytes[at] ^= 0x20
                    try db.execute(
                        sql: "UPDATE change_log SET changes = ? WHERE site_ord = ? AND first_seq = ?",
                        arguments: [Data(bytes), row[0] as Int64, row[1] as Int64])
                    return true
                }
                return false
            }
            try queue.close()
            #expect(altered, "the note's text is not in the change log")
            let audit = try cli.run(["audit", "verify"] + area.store("la"))
            #expect(audit.status == 12, "\(audit.stderr)")
            #expect(audit.stderr.contains("problem: altered"), "\(audit.stderr)")
            #expect(!audit.stderr.contains("Tamperable"))
        }
    }
}
