import Foundation
import GRDB
import SENSync
import Testing

/// The mistakes a newcomer makes (found by following the README as one) cost nothing and get an
/// answer that says what to do: what a command writes never replaces a file or folder of theirs, a
/// folder given where a file is read gets an error, not a crash, and a step run twice or out of
/// turn changes nothing.
struct NewcomerMistakeTests {
    @Test func bundleCreateNeverReplacesAFolderOrAFileThatIsNotABundle() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let la = area.store("la")
            // A folder (it was deleted, with what it held, and the bundle put in its place).
            let inbox = cli.path("inbox")
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            try Data("minutes".utf8).write(to: URL(fileURLWithPath: inbox + "/report.docx"))
            var r = try cli.run(["bundle", "create", "--to", "oak", "--out", inbox] + la)
            #expect(r.status == 13, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("folder"))
            #expect(FileManager.default.contents(atPath: inbox + "/report.docx") == Data("minutes".utf8))
            r = try cli.run(["bundle", "create", "--to", "oak", "--out", inbox, "--force"] + la)
            #expect(r.status == 13, "a folder is not replaced even with --force")
            // A folder that is not there: a file that could not be written (13), not a bad value.
            r = try cli.run(
                ["bundle", "create", "--to", "oak", "--out", cli.path("no-such-folder/to-oak.bundle")] + la)
            #expect(r.status == 13 && r.stderr.contains("folder"), "\(r.stdout) \(r.stderr)")
            // Another file: kept unless --force.
            let notes = cli.path("notes.txt")
            try Data("notes".utf8).write(to: URL(fileURLWithPath: notes))
            r = try cli.run(["bundle", "create", "--to", "oak", "--out", notes] + la)
            #expect(r.status == 13, "\(r.stdout) \(r.stderr)")
            #expect(FileManager.default.contents(atPath: notes) == Data("notes".utf8))
            #expect(try cli.run(["bundle", "create", "--to", "oak", "--out", notes, "--force"] + la).status == 0)
            // An older bundle at the path is replaced, as scripts that bundle to one path expect.
            let bundle = cli.path("to-oak.bundle")
            #expect(try cli.run(["bundle", "create", "--to", "oak", "--out", bundle] + la).status == 0)
            r = try cli.run(["bundle", "create", "--to", "oak", "--out", bundle] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try cli.run(["bundle", "apply", bundle] + area.store("oak")).status == 0)
            // A bundle that is not there is not found (3, as a missing import file is), not a read
            // error (13).
            r = try cli.run(["bundle", "apply", cli.path("not-copied.bundle")] + area.store("oak"))
            #expect(r.status == 3 && r.stderr.contains("no bundle file"), "\(r.stderr)")
            // Other writers: a folder is refused whatever the flags.
            for command in [
                ["export", "postgres", "--out", inbox, "--force"], ["identity", "export", "--out", inbox],
                ["report", "area", "--out", inbox, "--force"],
            ] {
                r = try cli.run(command + la)
                #expect(r.status == 13, "\(command.prefix(2)): \(r.stdout) \(r.stderr)")
            }
            #expect(FileManager.default.contents(atPath: inbox + "/report.docx") == Data("minutes".utf8))
        }
    }

    /// A store, its WAL, a key file or another program's database is never replaced by what a
    /// command writes, even with --force: a bundle written over the site's own store lost every
    /// record (every later command found no store), over its key file the keys.
    @Test func noOutputFileReplacesAStoreOrAKeyFileEvenWithForce() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let la = area.store("la")
            let oakStore = cli.path("oak.sensync")
            let targets = [oakStore, oakStore + ".keys", cli.path("la.sensync"), cli.path("la.sensync.keys")]
            let before = try targets.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
            let digest = try area.digest("la")
            for target in targets {
                for command in [
                    ["bundle", "create", "--to", "oak", "--out", target, "--force"],
                    ["identity", "export", "--out", target, "--force"],
                    ["report", "area", "--out", target, "--force"],
                    ["export", "postgres", "--out", target, "--force"],
                ] {
                    let r = try cli.run(command + la)
                    #expect(r.status == 13, "\(command.prefix(2)) over \(target): \(r.stdout) \(r.stderr)")
                    #expect(r.stderr.contains("never replaced"), "\(r.stderr)")
                }
            }
            #expect(try targets.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
            #expect(try area.digest("la") == digest)
            #expect(try cli.run(["status"] + area.store("oak")).status == 0)
        }
    }

    /// A device or a pipe given as the bundle is refused at once as not a bundle: reading
    /// /dev/zero went on for ever (hashing it for the import log), and a pipe waited for a writer.
    @Test func aDeviceOrAPipeIsNotABundle() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let fifo = cli.path("pipe.bundle")
            #expect(mkfifo(fifo, 0o600) == 0)
            let digest = try area.digest("la")
            for path in ["/dev/zero", "/dev/urandom", fifo] {
                for command in [["bundle", "apply", path], ["bundle", "verify", path]] {
                    let r = try cli.run(command + area.store("la"))
                    #expect(r.status == 5, "\(command) \(r.status): \(r.stderr)")
                    #expect(r.stderr.contains("device, pipe or socket"), "\(r.stderr)")
                }
                let inspect = try cli.run(["bundle", "inspect", path])
                #expect(inspect.status == 5, "inspect \(path): \(inspect.stderr)")
            }
            // A folder is said to be one (it "cannot be read: check the path and permissions").
            try FileManager.default.createDirectory(atPath: cli.path("inbox"), withIntermediateDirectories: true)
            for command in [["bundle", "apply", cli.path("inbox")], ["bundle", "verify", cli.path("inbox")]] {
                let r = try cli.run(command + area.store("la"))
                #expect(
                    r.status == 13 && r.stderr.contains("is a folder, not a bundle file"), "\(command): \(r.stderr)")
            }
            #expect(try area.digest("la") == digest)
        }
    }

    /// What people read never carries a control character or a text-direction override raw:
    /// a name holding an escape sequence (from an older store, or another site's bundle) ran it
    /// on the reader's terminal (clear the screen, retitle the window). JSON keeps the value,
    /// written as an escape.
    @Test func controlCharactersNeverReachTheTerminalRaw() throws {
        try withCLI { cli in
            let oak = try oakWithAda(cli)
            // Refused on the way in (exit 2), whatever the command.
            let refused = try cli.run(
                ["pupil", "update", upn(1), "--forename", "A\u{1B}]0;pwned\u{7}"] + oak,
                environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(refused.status == 2 && refused.stderr.contains("cannot be recorded"), "\(refused.stderr)")
            // Put there behind SENSync's back, as another site's bundle could have.
            let queue = try DatabaseQueue(path: cli.path("oak.sensync"))
            try queue.write { db in
                try db.execute(sql: "UPDATE pupil SET forename = ?", arguments: ["A\u{1B}[2J\u{202E}B\u{85}"])
            }
            try queue.close()
            for command in [["pupil", "list"], ["pupil", "show", upn(1)], ["summary", upn(1)]] {
                let r = try cli.run(command + oak)
                #expect(r.status == 0, "\(command): \(r.stderr)")
                for bad in ["\u{1B}", "\u{202E}", "\u{85}"] {
                    #expect(!r.stdout.contains(bad), "\(command) printed \(bad.debugDescription)")
                }
                #expect(r.stdout.contains("A\u{FFFD}[2J\u{FFFD}B\u{FFFD}"), "\(command): \(r.stdout)")
            }
            // A CTF cannot carry it: refused with what to do (it wrote XML no reader took).
            let ctf = try cli.run(["ctf", "export", upn(1), "--out", cli.path("ada.xml")] + oak)
            #expect(ctf.status == 2 && ctf.stderr.contains("pupil update --forename"), "\(ctf.stderr)")
            #expect(!FileManager.default.fileExists(atPath: cli.path("ada.xml")))
            let json = try cli.run(["pupil", "list", "--json"] + oak)
            #expect(!json.stdout.contains("\u{1B}") && !json.stdout.contains("\u{202E}"))
            let pupils = try #require((json.json as? [String: Any])?["pupils"] as? [[String: Any]])
            #expect(pupils.first?["forename"] as? String == "A\u{1B}[2J\u{202E}B\u{85}")
        }
    }

    /// A CSV export saved as `.txt` was read as JSON Lines (any name but `.csv` was), and every
    /// line was listed as not JSON; a Common Transfer File given to `import` likewise. `--kind`
    /// with a JSON Lines file was ignored without a word. Each now says what to do instead.
    @Test func importingAFileWhoseNameGivesNoFormatSaysHowToGiveIt() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let oak = area.store("oak")
            let before = try area.digest("oak")
            let text = cli.path("export.txt")
            try Data("UPN,Forename,Surname,DOB\n\(upn(1)),Ada,Example,2016-04-01\n".utf8).write(
                to: URL(fileURLWithPath: text))
            let r = try cli.run(["import", text, "--author", "MIS"] + oak)
            #expect(r.status == 64, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("--format csv"), "\(r.stderr)")
            #expect(!r.stderr.contains("line 1"), "\(r.stderr)")
            let ctf = cli.path("transfer.xml")
            try Data("<CTfile></CTfile>\n".utf8).write(to: URL(fileURLWithPath: ctf))
            let x = try cli.run(["import", ctf, "--author", "MIS"] + oak)
            #expect(x.status == 64 && x.stderr.contains("sensync ctf import"), "\(x.stdout) \(x.stderr)")
            let lines = cli.path("export.jsonl")
            try Data("{}\n".utf8).write(to: URL(fileURLWithPath: lines))
            let k = try cli.run(["import", lines, "--kind", "pupils", "--author", "MIS"] + oak)
            #expect(k.status == 64 && k.stderr.contains("--kind"), "\(k.stdout) \(k.stderr)")
            #expect(try area.digest("oak") == before)
            // Told the format, the same file imports.
            let told = try cli.run(["import", text, "--format", "csv", "--kind", "pupils", "--author", "MIS"] + oak)
            #expect(told.status == 0, "\(told.stdout) \(told.stderr)")
            // A file of headings only holds nothing to import, and says so (not "already held").
            let headings = cli.path("pupils.csv")
            try Data("UPN,Forename,Surname,DOB\n".utf8).write(to: URL(fileURLWithPath: headings))
            let none = try cli.run(["import", headings, "--author", "MIS"] + oak)
            #expect(none.status == 0 && none.stdout.contains("hold no rows"), "\(none.stdout) \(none.stderr)")
        }
    }

    @Test func importingAFolderSaysToGiveItsFiles() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let folder = cli.path("mis-export")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for format in [[], ["--format", "csv"]] {
                let r = try cli.run(["import", folder, "--author", "MIS"] + format + area.store("oak"))
                #expect(r.status == 3, "\(r.stdout) \(r.stderr)")
                #expect(r.stderr.contains("is a folder"), "\(r.stderr)")
                #expect(!r.stderr.contains("Fatal error"))
            }
        }
    }

    /// A store altered outside SENSync so that a record id is no id is refused as damaged, never a
    /// crash (`digest` and `pupil list` stopped on a force unwrap, exit 132).
    @Test func aStoreWithADamagedRecordIdIsRefusedAsDamaged() throws {
        try withCLI { cli in
            let oak = try oakWithAda(cli)
            let queue = try DatabaseQueue(path: cli.path("oak.sensync"))
            try queue.write { db in try db.execute(sql: "UPDATE pupil SET id = 'zz'") }
            try queue.close()
            for command in [["digest"], ["pupil", "list"]] {
                let r = try cli.run(command + oak)
                #expect(r.status == 3, "\(command): \(r.status) \(r.stderr.prefix(300))")
                #expect(r.stderr.contains("The store is damaged"), "\(command): \(r.stderr.prefix(300))")
            }
        }
    }

    /// A transfer dated years ahead (a slip in the year) and a negative `log --limit` are refused
    /// (both were taken: the pupil would have stayed at the school until 2999).
    @Test func aTransferYearsAheadAndANegativeLimitAreRefused() throws {
        try withCLI { cli in
            let oak = try oakWithAda(cli)
            let later = CalendarDate.today().adding(days: 800).description
            let r = try cli.run(
                ["pupil", "transfer", upn(1), "--to", "oak", "--date", later, "--author", "SENCO"] + oak)
            #expect(r.status == 2 && r.stderr.contains("at most a year ahead"), "\(r.stderr)")
            let next = CalendarDate.today().adding(days: 40).description
            // A date weeks ahead passes this check (the move to the school the pupil is at is
            // refused for that reason).
            let soon = try cli.run(
                ["pupil", "transfer", upn(1), "--to", "oak", "--date", next, "--author", "SENCO"] + oak)
            #expect(!soon.stderr.contains("at most a year ahead"), "\(soon.stderr)")
            let log = try cli.run(["log", "--limit=-1"] + oak)
            #expect(log.status == 64 && log.stderr.contains("--limit cannot be negative"), "\(log.stderr)")
        }
    }

    /// A file the system will not let SENSync write says which and why (it said "A file could not
    /// be read or written (4).", Foundation's number).
    @Test func aFileThatCannotBeWrittenIsNamedWithTheReason() throws {
        try withCLI { cli in
            let r = try cli.run(["demo", "--dir", "/proc/sensync-demo"])
            #expect(r.status == 13, "\(r.stderr)")
            #expect(r.stderr.contains("(/proc/sensync-demo"), "\(r.stderr)")
            #expect(!r.stderr.contains("(4)"), "\(r.stderr)")
        }
    }

    /// A mistyped command is said to be one, with the nearest (ArgumentParser blamed the next
    /// option: `sensync pupil ad --store x` said "Unknown option '--store'").
    @Test func aMistypedCommandIsNamedWithTheNearest() throws {
        try withCLI { cli in
            for (arguments, mistyped, nearest) in [
                (["pupil", "ad", "--store", "x.sensync"], "ad", "sensync pupil add"),
                (["pupl", "add"], "pupl", "sensync pupil"),
                (["bundle", "aply", "x.bundle"], "aply", "sensync bundle apply"),
                (["concern", "ad", "--pupil", "x"], "ad", "sensync concern add"),
                (["refferal", "list"], "refferal", "sensync referral"),
            ] {
                let r = try cli.run(arguments)
                #expect(r.status == 64, "\(arguments): \(r.stderr)")
                #expect(r.stderr.contains("'\(mistyped)' is not a command"), "\(r.stderr)")
                #expect(
                    r.stderr.replacingOccurrences(of: "\n", with: " ").contains("Did you mean `\(nearest)`?"),
                    "\(r.stderr)")
            }
            let r = try cli.run(["xyzzy"])
            #expect(r.status == 64 && r.stderr.contains("Its commands: init, identity"), "\(r.stderr)")
            // ArgumentParser's own errors start as every other does (they said "Error:").
            let missing = try cli.run(["pupil", "add", "--upn"])
            #expect(missing.status == 64 && missing.stderr.hasPrefix("error: Missing value"), "\(missing.stderr)")
            // What is a command still runs.
            #expect(try cli.run(["help", "concern"]).status == 0)
            #expect(try cli.run(["concern", "--help"]).status == 0)
            #expect(try cli.run(["pupil", "--help"]).status == 0)
        }
    }

    @Test func retentionRefusesAPeriodThatWouldEraseEveryone() throws {
        try withCLI { cli in
            let oak = try oakWithAda(cli)
            // A period shorter than 25 years would erase pupils still at school (3 typed for 31
            // erased Ada, aged 9, here and everywhere the erasure reached): a young person may
            // have SEN support or an EHC plan until 25.
            for years in ["0", "-3", "121", "3", "24"] {
                for dryRun in [[], ["--dry-run"]] {
                    let r = try cli.run(
                        ["retention", "run", "--years=\(years)", "--author", "SENCO"] + dryRun + oak)
                    #expect(r.status == 2, "--years \(years) \(dryRun): \(r.stdout) \(r.stderr)")
                    #expect(r.stderr.contains("between 25 and 120 years"), "\(r.stderr)")
                }
            }
            #expect(try cli.run(["retention", "run", "--years=25", "--dry-run"] + oak).status == 0)
            #expect(try cli.run(["pupil", "show", upn(1)] + oak).status == 0, "the pupil is still here")
        }
    }

    /// An LA's store made without its LA code could never export (every PostgreSQL and SEN2 row
    /// carries the code, and it cannot be set later): `init` asks for it, and makes nothing.
    @Test func anLAsStoreNeedsItsLACode() throws {
        try withCLI { cli in
            let la = cli.path("la.sensync")
            var r = try cli.run(["init", "--store", la, "--name", "Northshire", "--kind", "la"])
            #expect(r.status == 64, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("--la-code"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: la))
            r = try cli.run(["init", "--store", la, "--name", "Northshire", "--kind", "la", "--la-code", "99"])
            #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: la))
            r = try cli.run(["init", "--store", la, "--name", "Northshire", "--kind", "la", "--la-code", "999"])
            #expect(r.status == 0, "\(r.stderr)")
        }
    }

    /// A school pinned to LA 999 that says it is in LA 888 was made and listed without a word; one
    /// that gives no code takes its LA's.
    @Test func aSiteTakesItsLAsCodeAndCannotClaimAnother() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let shown = try cli.run(["identity", "show", "--json"] + area.store("oak"))
            #expect(shown.stdout.contains("\"laCode\" : \"999\""), "\(shown.stdout)")
            let r = try cli.run(
                [
                    "init", "--name", "elm", "--kind", "maintained-school", "--la-code", "888", "--la-identity",
                    cli.path("la.identity"),
                ] + area.store("elm"))
            #expect(r.status == 2 && r.stderr.contains("999"), "\(r.stdout) \(r.stderr)")
        }
    }

    /// An academy put in a site that is not a trust is told so (it was told the trust was not in
    /// the directory).
    @Test func anAcademysTrustMustBeATrust() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            var r = try cli.run(
                ["init", "--name", "elm", "--kind", "academy", "--la-identity", cli.path("la.identity")]
                    + area.store("elm"))
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["identity", "export", "--out", cli.path("elm.identity")] + area.store("elm"))
            r = try cli.run(["directory", "add", cli.path("elm.identity"), "--trust", "oak"] + area.store("la"))
            #expect(r.status == 2)
            #expect(r.stderr.contains("not a trust"), "\(r.stderr)")
        }
    }

    /// Adding an academy's identity file again without --trust took it out of its trust (and the
    /// trust out of its pupils' records' way) without a word: it is refused unless --no-trust
    /// says so.
    @Test func addingAnAcademyAgainWithoutItsTrustIsRefused() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("trust", kind: "trust")
            try area.add("ac", kind: "academy", trust: "trust")
            let before = try cli.run(["directory", "list", "--json"] + area.store("la")).stdout
            var r = try cli.run(["directory", "add", cli.path("ac.identity")] + area.store("la"))
            #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("--trust") && r.stderr.contains("--no-trust"), "\(r.stderr)")
            #expect(try cli.run(["directory", "list", "--json"] + area.store("la")).stdout == before)
            r = try cli.run(["directory", "add", cli.path("ac.identity"), "--trust", "trust"] + area.store("la"))
            #expect(r.status == 0 && r.stdout.contains("nothing changed"), "\(r.stdout) \(r.stderr)")
            r = try cli.run(
                ["directory", "add", cli.path("ac.identity"), "--trust", "trust", "--no-trust"] + area.store("la"))
            #expect(r.status == 64, "\(r.stdout) \(r.stderr)")
            let listed = try cli.run(["directory", "list", "--json"] + area.store("la"))
            let academy = ((listed.json as? [String: Any])?["sites"] as? [[String: Any]])?.first {
                ($0["site"] as? [String: Any])?["name"] as? String == "ac"
            }
            #expect(academy?["trustId"] as? String == area.ids["trust"] && academy?["trustName"] as? String == "trust")
            r = try cli.run(["directory", "add", cli.path("ac.identity"), "--no-trust"] + area.store("la"))
            #expect(r.status == 0 && r.stdout.contains("Moved ac out of its trust"), "\(r.stdout) \(r.stderr)")
            // The LA cannot remove itself, and is told so (it was told no such site was found).
            r = try cli.run(["directory", "remove", "Northshire"] + area.store("la"))
            #expect(r.status == 2 && r.stderr.contains("itself"), "\(r.stdout) \(r.stderr)")
            #expect(try cli.run(["directory", "list", "--json"] + area.store("la")).stdout != before)
        }
    }

    /// Removing a school with pupils still on its roll says so, and what to do (it said nothing,
    /// and the pupils stayed listed at a school nobody hears from).
    @Test func removingASchoolWithPupilsOnRollWarns() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            try area.add("elm", kind: "maintained-school")
            #expect(
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05",
                        "--author", "S",
                    ] + area.store("oak")
                ).status == 0)
            #expect(try area.send("oak", "la").status == 0)
            var r = try cli.run(["directory", "remove", "elm"] + area.store("la"))
            #expect(r.status == 0 && !r.stderr.contains("warning"), "\(r.stderr)")
            r = try cli.run(["directory", "remove", "oak", "--json"] + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect((r.json as? [String: Any])?["pupilsStillOnRoll"] as? Int == 1, "\(r.stdout)")
            #expect(r.stderr.contains("1 pupil(s) are still on oak's roll") && r.stderr.contains("pupil transfer"))
        }
    }

    /// Adding the same identity file twice changes nothing (it signed and sent a new directory).
    @Test func addingASiteTwiceChangesNothing() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let before = try cli.run(["directory", "list", "--json"] + area.store("la")).stdout
            let r = try cli.run(["directory", "add", cli.path("oak.identity")] + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("already in the directory"), "\(r.stdout)")
            #expect(try cli.run(["directory", "list", "--json"] + area.store("la")).stdout == before)
        }
    }
}
