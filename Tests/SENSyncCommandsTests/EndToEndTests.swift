import Foundation
import SENSync
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
            var r = try cli.run(
                [
                    "pupil", "add", "--upn", upn(1), "--forename", "Ada", "--surname", "Example", "--dob", "2016-04-01",
                    "--year-group", "4", "--json",
                ] + store)
            #expect(r.status == 0, "\(r.stderr)")
            let pupil = try #require(((r.json as? [String: Any])?["pupil"] as? [String: Any])?["id"] as? String)
            r = try cli.run(["pupil", "update", upn(1), "--sen-status", "K", "--needs", "SPLD,SLCN"] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(
                [
                    "note", "add", "--pupil", upn(1), "--area", "cognition-learning", "--text", "Finds blending hard.",
                    "--json",
                ] + store)
            let note = try #require(((r.json as? [String: Any])?["note"] as? [String: Any])?["id"] as? String)
            r = try cli.run(
                ["note", "add", "--pupil", pupil, "--amends", note, "--text", "Correction: blending CVC words."] + store
            )
            #expect(r.status == 0, "\(r.stderr)")
            // One note by its id, as `note list` gives it (`note show` was no command).
            r = try cli.run(["note", "show", note, "--store", cli.path("oak.sensync")])
            #expect(r.status == 0 && r.stdout.contains("Finds blending hard."), "\(r.stdout)\(r.stderr)")
            r = try cli.run(
                [
                    "plan", "create", "--pupil", upn(1), "--title", "Literacy", "--start-date", "2026-09-01",
                    "--review-date", "2027-02-13", "--responsible-person", "J Smith", "--responsible-org",
                    "Oakfield Primary", "--json",
                ] + store)
            let plan = try #require(((r.json as? [String: Any])?["plan"] as? [String: Any])?["id"] as? String)
            r = try cli.run(
                [
                    "plan", "add-outcome", "--plan", plan, "--description", "Reads 40 words", "--target-date",
                    "2027-02-13",
                ] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(
                [
                    "plan", "add-provision", "--plan", String(plan.prefix(13)), "--description", "Phonics group",
                    "--provider", "TA", "--frequency", "3 x 20 min weekly", "--responsible-org", "Oakfield",
                    "--responsible-person", "SENCO", "--cost", "450.50",
                ] + store)
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(
                [
                    "plan", "record-review", "--plan", plan, "--held-on", "2026-11-20", "--decision", "continue",
                    "--next-review", "2027-03-01", "--summary", "Good progress.",
                ] + store)
            #expect(r.status == 0, "\(r.stderr)")
            let read = ["--store", cli.path("oak.sensync")]
            r = try cli.run(["pupil", "show", upn(1)] + read)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("Example, Ada"))
            #expect(
                r.stdout.contains(
                    "needs by rank: Specific learning difficulty, Speech, language and communication needs"))
            // The note it amends, by its words (not its id).
            #expect(r.stdout.contains("Amends note: note \u{201C}Finds blending hard.\u{201D}"), "\(r.stdout)")
            #expect(!r.stdout.contains("note \(note)"))
            #expect(r.stdout.contains("£450.50"))
            #expect(r.stdout.contains("Review date: 2027-03-01"))
            r = try cli.run(["pupil", "show", upn(1), "--json"] + read)
            let full = try #require(r.json as? [String: Any])
            #expect((full["notes"] as? [Any])?.count == 2)
            let plans = try #require(full["plans"] as? [[String: Any]])
            #expect((plans.first?["outcomes"] as? [Any])?.count == 1)
            #expect((plans.first?["reviews"] as? [Any])?.count == 1)
            r = try cli.run(["pupil", "list", "--sen-status", "K", "--json"] + read)
            let listed = (r.json as? [String: Any])?["pupils"] as? [[String: Any]]
            #expect(listed?.count == 1)
            // Schools by id and by name.
            #expect(listed?.first?["schoolNames"] as? [String] == ["Oakfield Primary"], "\(r.stdout)")
        }
    }

    @Test func badInputGetsAClearErrorWithoutPersonalData() throws {
        try withCLI { cli in
            _ = try initStore(cli, "oak.sensync", name: "Oakfield", kind: "maintained-school")
            let store = ["--store", cli.path("oak.sensync")]
            let wrong = "Z801200001001"
            var r = try cli.run(
                [
                    "pupil", "add", "--upn", wrong, "--forename", "Zed", "--surname", "Secretname", "--dob",
                    "2016-04-01", "--author", "SENCO",
                ] + store)
            #expect(r.status == 2)
            #expect(r.stderr.contains("wrong check letter"))
            #expect(!r.stderr.contains(wrong) && !r.stderr.contains("Secretname"))
            r = try cli.run(
                [
                    "pupil", "add", "--upn", upn(2), "--forename", "A", "--surname", "B", "--dob", "2016-02-30",
                    "--author", "SENCO",
                ] + store)
            #expect(r.status == 2)
            #expect(r.stderr.contains("YYYY-MM-DD"))
            r = try cli.run(
                ["pupil", "add", "--upn", upn(2), "--forename", "A", "--surname", "B", "--dob", "2016-02-03"] + store)
            #expect(r.status == 64)
            #expect(r.stderr.contains("SENSYNC_AUTHOR"))
            r = try cli.run(
                ["pupil", "add", "--upn", upn(2), "--forename", "A", "--surname", "B", "--dob", "2016-02-03"] + store,
                environment: ["SENSYNC_AUTHOR": "SENCO"])
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(
                ["pupil", "update", upn(2), "--sen-status", "E", "--needs", "NSA", "--author", "SENCO"] + store)
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

    /// Every command a hint names exists (its `--help` succeeds).
    func expectHintNamesRealCommands(_ cli: CLI, _ stderr: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let commands = stderr.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            .filter { $0.hasPrefix("sensync ") }
        #expect(!commands.isEmpty, "no command named in: \(stderr)", sourceLocation: sourceLocation)
        for command in commands {
            let words = command.split(separator: " ").dropFirst().prefix { $0.allSatisfy(\.isLowercase) }
            let help = try cli.run(words.map(String.init) + ["--help"])
            // An unknown subcommand prints its parent's help, so compare the usage line.
            #expect(
                help.status == 0 && help.stdout.contains("USAGE: sensync \(words.joined(separator: " "))"),
                "`\(command)` is not a command", sourceLocation: sourceLocation)
        }
    }

    @Test func anUnknownSiteSaysHowSitesBecomeKnown() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            try area.add("elm", kind: "maintained-school")
            // Before the LA's directory arrives, a school knows only the LA it pinned.
            var r = try cli.run(["bundle", "create", "--to", "elm", "--out", cli.path("x.bundle")] + area.store("oak"))
            #expect(r.status == 3)
            #expect(r.stderr.contains("no directory yet"), "\(r.stderr)")
            r = try cli.run(["bundle", "create", "--to", "oak", "--out", cli.path("x.bundle")] + area.store("oak"))
            #expect(r.status == 3)
            #expect(r.stderr.contains("this site itself"), "\(r.stderr)")
            try expectHintNamesRealCommands(cli, r.stderr)
            r = try cli.run(
                ["bundle", "create", "--to", "Nowhere School", "--out", cli.path("x.bundle")] + area.store("la"))
            #expect(r.status == 3)
            #expect(r.stderr.contains("directory add"), "\(r.stderr)")
            try expectHintNamesRealCommands(cli, r.stderr)
            #expect(try area.send("la", "oak").status == 0)
            r = try cli.run(
                ["bundle", "create", "--to", "0123456789abcdef0123456789abcdef", "--out", cli.path("x.bundle")]
                    + area.store("oak"))
            #expect(r.status == 3)
            try expectHintNamesRealCommands(cli, r.stderr)
            // A transfer may name this school itself: here, its own pupil is already there.
            r = try cli.run(
                [
                    "pupil", "add", "--upn", upn(1), "--forename", "Ada", "--surname", "Example", "--dob", "2016-04-01",
                    "--author", "SENCO",
                ] + area.store("oak"))
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(
                ["pupil", "transfer", upn(1), "--to", "oak", "--date", "2026-01-05", "--author", "SENCO"]
                    + area.store("oak"))
            #expect(r.status == 2)
            #expect(r.stderr.contains("already enrolled at that school"), "\(r.stderr)")
        }
    }

    @Test func bundlesTravelBetweenStoresAsFiles() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            let oakID = try area.add("oak", kind: "maintained-school")
            let oak = area.store("oak")
            let la = area.store("la")
            for i in 1...3 {
                let r = try cli.run(
                    [
                        "pupil", "add", "--upn", upn(i), "--forename", "Persephone\(i)", "--surname", "S", "--dob",
                        "2015-05-05",
                        "--author", "SENCO",
                    ] + oak)
                #expect(r.status == 0, "\(r.stderr)")
            }
            var r = try cli.run(["bundle", "create", "--to", "Northshire", "--out", cli.path("oak-1.bundle")] + oak)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("3 change(s)"))
            r = try cli.run(["bundle", "inspect", cli.path("oak-1.bundle"), "--json"])
            let header = try #require(r.json as? [String: Any])
            #expect(header["changes"] as? Int == 3)
            #expect((header["sender"] as? [String: Any])?["id"] as? String == oakID)
            #expect(!r.stdout.contains("Persephone1"))
            // Inspect reads the header's claims and says so: it called any file "signed by its
            // sender", a tampered one included.
            #expect(header["signatureChecked"] as? Bool == false && header["signed"] == nil)
            // With a store, the recipient and the version vector's sites are named from its directory.
            r = try cli.run(["bundle", "inspect", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("sealed to Northshire ("), "\(r.stdout)")
            #expect(r.stdout.contains("signature not checked") && !r.stdout.contains("signed by its sender"))
            let raw = try Data(contentsOf: URL(fileURLWithPath: cli.path("oak-1.bundle")))
            #expect(
                // A name long enough not to turn up in the ciphertext by chance ("P1" did, in about
                // one bundle in twelve).
                raw.range(of: Data("Persephone1".utf8)) == nil && raw.range(of: Data(upn(1).utf8)) == nil,
                "personal data in the clear")
            r = try cli.run(["bundle", "verify", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("3 new change(s)"))
            r = try cli.run(["bundle", "apply", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("applied 3 new change(s)"))
            // The store named by $SENSYNC_STORE is checked against as --store is (it was ignored:
            // "3 new change(s)" of a bundle already applied).
            r = try cli.run(
                ["bundle", "verify", cli.path("oak-1.bundle"), "--json"], environment: ["SENSYNC_STORE": la[1]])
            #expect(
                (r.json as? [String: Any])?["checkedAgainstStore"] as? Bool == true
                    && (r.json as? [String: Any])?["newChanges"] as? Int == 0, "\(r.stdout) \(r.stderr)")
            r = try cli.run(["bundle", "apply", cli.path("oak-1.bundle")] + la)
            #expect(r.status == 0)
            #expect(r.stdout.contains("already applied"))
            let d1 = try area.digest("oak")
            #expect(d1 == (try area.digest("la")) && d1.count == 65)
            r = try cli.run(["status", "--json"] + oak)
            let status = try #require(r.json as? [String: Any])
            let site = try #require(status["site"] as? [String: Any])
            #expect(
                site["id"] as? String == oakID && site["name"] as? String == "oak"
                    && site["kind"] as? String == "maintained-school")
            // The LA answers; its bundle brings the directory and acknowledges the three changes.
            r = try area.send("la", "oak")
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["status", "--json"] + oak)
            let peers = try #require((r.json as? [String: Any])?["peers"] as? [[String: Any]])
            #expect(
                peers.first { ($0["site"] as? [String: Any])?["name"] as? String == "Northshire" }?["lacks"] as? Int
                    == 0)
            #expect(try cli.run(["directory", "list"] + oak).stdout.contains("Northshire"))
        }
    }

    @Test func refusedBundlesLeaveTheStoreUnchangedWithTheirOwnExitCodes() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            try area.add("elm", kind: "academy")
            let oak = area.store("oak")
            let la = area.store("la")
            #expect(try area.send("la", "elm").status == 0)  // elm gets the directory: it knows oak
            #expect(
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05",
                        "--author", "S",
                    ] + oak
                ).status == 0)
            #expect(
                try cli.run(["bundle", "create", "--to", "Northshire", "--out", cli.path("b1.bundle")] + oak).status
                    == 0)
            let before = try area.digest("la")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: cli.path("b1.bundle")))
            func attempt(_ data: Data, _ name: String, at store: [String]? = nil) throws -> CLI.Result {
                try data.write(to: URL(fileURLWithPath: cli.path(name)))
                return try cli.run(["bundle", "apply", cli.path(name)] + (store ?? la))
            }
            var r = try attempt(bytes.prefix(bytes.count - 7), "cut.bundle")
            #expect(r.status == 5)
            #expect(r.stderr.contains("damaged or incomplete"))
            for position in [30, bytes.count / 2, bytes.count - 3] {
                var flipped = bytes
                flipped[position] ^= 0x10
                r = try attempt(flipped, "flip.bundle")
                #expect([5, 8].contains(r.status), "flip at \(position): \(r.status) \(r.stderr)")
            }
            // The signature is the 64 bytes just before the (single) payload.
            let inspected = try #require(
                try cli.run(["bundle", "inspect", cli.path("b1.bundle"), "--json"]).json as? [String: Any])
            let sections = try #require(inspected["sections"] as? [[String: Any]])
            let payloadBytes = try #require(sections.first?["payloadBytes"] as? Int)
            var unsigned = bytes
            unsigned[bytes.count - payloadBytes - 64 + 5] ^= 0xFF
            r = try attempt(unsigned, "badsig.bundle")
            #expect(r.status == 8)
            #expect(r.stderr.contains("signature"))
            r = try cli.run(["bundle", "apply", cli.path("b1.bundle")] + area.store("elm"))
            #expect(r.status == 6)
            #expect(r.stderr.contains("addressed to other sites"))
            r = try attempt(Data("hello".utf8), "text.bundle")
            #expect(r.status == 5)
            #expect(r.stderr.contains("not a SENSync bundle"))
            var future = bytes
            future[13] = 4
            r = try attempt(future, "future.bundle")
            #expect(r.status == 9)
            #expect(r.stderr.contains("format version 4"))
            // A bundle from an older SENSync is refused, saying to update the sender.
            var older = bytes
            older[13] = 2
            r = try attempt(older, "older.bundle")
            #expect(r.status == 9)
            #expect(r.stderr.contains("older SENSync") && r.stderr.contains("update"))
            // A site outside the directory: its own LA, not ours.
            #expect(
                try cli.run(
                    ["init", "--name", "Elsewhere LA", "--kind", "la", "--la-code", "998"] + area.store("other-la")
                ).status == 0)
            #expect(
                try cli.run(["identity", "export", "--out", cli.path("other-la.identity")] + area.store("other-la"))
                    .status == 0)
            #expect(
                try cli.run(
                    ["init", "--name", "Stranger", "--kind", "academy", "--la-identity", cli.path("other-la.identity")]
                        + area.store("stranger")
                ).status == 0)
            #expect(
                try cli.run(["identity", "export", "--out", cli.path("stranger.identity")] + area.store("stranger"))
                    .status == 0)
            #expect(
                try cli.run(["directory", "add", cli.path("stranger.identity")] + area.store("other-la")).status == 0)
            #expect(
                try cli.run(
                    ["bundle", "create", "--to", "Elsewhere LA", "--out", cli.path("stranger.bundle")]
                        + area.store("stranger")
                ).status == 0)
            r = try cli.run(["bundle", "apply", cli.path("stranger.bundle")] + la)
            #expect([6, 7].contains(r.status), "\(r.status) \(r.stderr)")
            #expect(try area.digest("la") == before)
            // Every refusal is in the import log, with its reason; none names the pupil.
            let log = try cli.run(["log", "--json"] + la)
            #expect(log.status == 0, "\(log.stderr)")
            let imports = try #require((log.json as? [String: Any])?["imports"] as? [[String: Any]])
            #expect(imports.count == 9, "\(log.stdout)")
            #expect(imports.allSatisfy { ($0["result"] as? String)?.hasPrefix("refused: ") == true })
            #expect(imports.allSatisfy { ($0["detail"] as? String)?.isEmpty == false })
            #expect(imports.first?["senderId"] as? String != nil, "the stranger's claimed id")
            #expect(imports.first?["sender"] == nil, "the stranger's claimed name is not taken")
            // Each with the refused file's SHA-256, as the README says; the stranger's bundle's own.
            let strangerHash = Digest32.sha256(try Data(contentsOf: URL(fileURLWithPath: cli.path("stranger.bundle"))))
            #expect(imports.first?["fileSHA256"] as? String == strangerHash.hex, "\(log.stdout)")
            #expect(imports.allSatisfy { ($0["fileSHA256"] as? String)?.count == 64 })
            let text = try cli.run(["log"] + la)
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("refused: not-a-bundle: This file is not a SENSync bundle."), "\(text.stdout)")
            #expect(text.stdout.contains("oak"))
            #expect(text.stdout.contains("(file SHA-256 \(strangerHash.hex))"), "\(text.stdout)")
            #expect(!text.stdout.contains(upn(1)) && !text.stdout.contains("Stranger"))
            #expect(try cli.run(["status"] + la).status == 0)
            // The intact bundle still applies afterwards: the refusals lost nothing.
            r = try cli.run(["bundle", "apply", cli.path("b1.bundle")] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try area.digest("la") == (try area.digest("oak")))
        }
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let keyFile = cli.path("oak.sensync.keys")
            let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile)
            let r = try cli.run(
                ["bundle", "create", "--to", "Northshire", "--out", cli.path("x.bundle")] + area.store("oak"))
            #expect(r.status == 15)
            #expect(r.stderr.contains("chmod 600"))
        }
    }

    @Test func missingPrerequisitesNameTheSiteAndRange() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            let oakID = try area.add("oak", kind: "maintained-school")
            let oak = area.store("oak")
            let la = area.store("la")
            #expect(
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05",
                        "--author", "S",
                    ] + oak
                ).status == 0)
            #expect(
                try cli.run(["bundle", "create", "--to", "Northshire", "--out", cli.path("b1.bundle")] + oak).status
                    == 0)
            // Keep a copy of the LA store (and its keys) before it applies b1.
            try FileManager.default.copyItem(atPath: cli.path("la.sensync"), toPath: cli.path("la-before.sensync"))
            try FileManager.default.copyItem(
                atPath: cli.path("la.sensync.keys"), toPath: cli.path("la-before.sensync.keys"))
            #expect(try cli.run(["bundle", "apply", cli.path("b1.bundle")] + la).status == 0)
            #expect(try area.send("la", "oak").status == 0)
            #expect(try cli.run(["note", "add", "--pupil", upn(1), "--text", "x", "--author", "S"] + oak).status == 0)
            #expect(
                try cli.run(["bundle", "create", "--to", "Northshire", "--out", cli.path("b2.bundle")] + oak).status
                    == 0)
            let old = ["--store", cli.path("la-before.sensync")]
            let before = try cli.run(["digest"] + old).stdout
            let r = try cli.run(["bundle", "apply", cli.path("b2.bundle")] + old)
            #expect(r.status == 10)
            // The site is named as the LA's directory names it, not by its id.
            #expect(r.stderr.contains("depends on change 1 of oak"), "\(r.stderr)")
            #expect(!r.stderr.contains(oakID), "\(r.stderr)")
            #expect(try cli.run(["digest"] + old).stdout == before)
            // Given both files in any order, apply retries and succeeds.
            let both = try cli.run(["bundle", "apply", cli.path("b2.bundle"), cli.path("b1.bundle")] + old)
            #expect(both.status == 0, "\(both.stderr)")
            #expect(try cli.run(["digest"] + old).stdout == (try area.digest("oak")))
        }
    }

    /// An LA and one school, Oakfield ("oak"), with one pupil (UPN 1, in year 5) that the LA holds.
    static func oakWithAPupilTheLAHolds(_ cli: CLI) throws -> (area: CLIArea, oak: [String], la: [String]) {
        var area = try CLIArea.make(cli)
        try area.add("oak", kind: "maintained-school")
        let oak = area.store("oak")
        #expect(
            try cli.run(
                [
                    "pupil", "add", "--upn", upn(1), "--forename", "A", "--surname", "B", "--dob", "2015-05-05",
                    "--year-group", "5", "--author", "S",
                ] + oak
            ).status == 0)
        #expect(try area.send("oak", "la").status == 0)
        return (area, oak, area.store("la"))
    }

    /// A conflict on an amount is shown in pounds under the name its option has (`cost`), and
    /// resolved by that name: it showed `field cost_pence` with "50000" for £500, and
    /// `--field cost` was "no open conflict on that field".
    @Test func aConflictOnAnAmountIsShownAndResolvedAsPeopleNameIt() throws {
        try withCLI { cli in
            let (area, oak, la) = try Self.oakWithAPupilTheLAHolds(cli)
            var r = try cli.run(
                [
                    "plan", "create", "--pupil", upn(1), "--title", "Literacy", "--review-date",
                    CalendarDate.today().adding(days: 60).description, "--json",
                ]
                    + oak, environment: ["SENSYNC_AUTHOR": "SENCO"])
            let plan = try #require(
                ((r.json as? [String: Any])?["plan"] as? [String: Any])?["id"] as? String, "\(r.stdout) \(r.stderr)")
            r = try cli.run(
                [
                    "plan", "add-provision", "--plan", plan, "--description", "Phonics group", "--cost", "450.00",
                    "--responsible-org", "School", "--responsible-person", "SENCO", "--json",
                ] + oak, environment: ["SENSYNC_AUTHOR": "SENCO"])
            let item = try #require(
                ((r.json as? [String: Any])?["provision"] as? [String: Any])?["id"] as? String,
                "\(r.stdout) \(r.stderr)")
            #expect(try area.send("oak", "la").status == 0)
            #expect(
                try cli.run(["provision-item", "update", item, "--cost", "500", "--author", "LA"] + la).status == 0)
            #expect(
                try cli.run(["provision-item", "update", item, "--cost", "475", "--author", "SENCO"] + oak).status == 0)
            #expect(try area.send("oak", "la").status == 0)
            r = try cli.run(["conflicts", "list"] + la)
            #expect(r.stdout.contains("field cost: edited concurrently"), "\(r.stdout)")
            #expect(r.stdout.contains("£500.00") && r.stdout.contains("£475.00"), "\(r.stdout)")
            #expect(!r.stdout.contains("50000"), "\(r.stdout)")
            r = try cli.run(["conflicts", "resolve", item, "--field", "cost", "--keep", "2", "--author", "LA"] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try cli.run(["conflicts", "list", "--fail-if-any"] + la).status == 0)
        }
    }

    @Test func conflictsAreListedAndResolved() throws {
        try withCLI { cli in
            let (area, oak, la) = try Self.oakWithAPupilTheLAHolds(cli)
            #expect(
                try cli.run(["pupil", "update", upn(1), "--year-group", "6", "--author", "SENCO"] + oak).status == 0)
            #expect(
                try cli.run(["pupil", "update", upn(1), "--year-group", "4", "--author", "LA officer"] + la).status == 0
            )
            #expect(
                try cli.run(["bundle", "create", "--to", "Northshire", "--out", cli.path("2.bundle")] + oak).status == 0
            )
            #expect(try cli.run(["bundle", "create", "--to", "oak", "--out", cli.path("3.bundle")] + la).status == 0)
            #expect(
                try cli.run(["bundle", "apply", cli.path("2.bundle")] + la).stdout.contains("1 conflict(s) opened"))
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
            // For people: under the pupil's name and UPN, the record by its kind (not its table).
            #expect(r.stdout.contains("A B (UPN \(upn(1))): pupil "), "\(r.stdout)")
            #expect(r.stdout.contains("field year_group: edited concurrently"), "\(r.stdout)")
            #expect(try area.digest("oak") == (try area.digest("la")))
            let record = try #require(conflict["recordId"] as? String)
            // A typed value is checked as an update of the field is (it was written as given:
            // a year group of 99, a review date of 2026-13-01, a status of "banana").
            for bad in ["99", "six"] {
                r = try cli.run(
                    ["conflicts", "resolve", record, "--field", "year_group", "--value", bad, "--author", "LA officer"]
                        + la)
                #expect(r.status == 2, "--value \(bad): \(r.stdout) \(r.stderr)")
                #expect(r.stderr.contains("year group"), "\(r.stderr)")
            }
            #expect(try cli.run(["conflicts", "list", "--fail-if-any"] + la).status == 14)
            // A field not in conflict: the hint names those that are.
            r = try cli.run(
                ["conflicts", "resolve", record, "--field", "surname", "--keep", "1", "--author", "LA"] + la)
            #expect(r.status == 3 && r.stderr.contains("year_group"), "\(r.stderr)")
            // The field as its option is spelled (`--year-group`) is the same field, and the
            // pupil is named by their UPN as `pupil show` names them.
            let six = candidates.firstIndex { $0["value"] as? String == "6" }! + 1
            r = try cli.run(
                ["conflicts", "resolve", upn(1), "--field", "year-group", "--keep", "\(six)", "--author", "LA officer"]
                    + la)
            #expect(r.status == 0, "\(r.stderr)")
            // The pupil by name and UPN, not a record id.
            #expect(r.stdout.hasPrefix("Resolved: year_group of "), "\(r.stdout)")
            #expect(r.stdout.contains("(UPN \(upn(1)))") && r.stdout.contains(", now 6."), "\(r.stdout)")
            #expect(try cli.run(["conflicts", "list", "--fail-if-any"] + la).status == 0)
            r = try area.send("la", "oak")
            #expect(r.stdout.contains("1 conflict(s) closed"))
            #expect(try cli.run(["conflicts", "list", "--fail-if-any"] + oak).status == 0)
        }
    }

    /// A record edited at one site while another deleted it: `conflicts list --json` gives the
    /// deletion as a deletion (it gave the candidate `"value": "1"`, read as the field's value).
    @Test func anEditWhileDeletedConflictGivesTheDeletionAsSuch() throws {
        try withCLI { cli in
            let (area, oak, la) = try Self.oakWithAPupilTheLAHolds(cli)
            var r = try cli.run(
                [
                    "concern", "add", "--pupil", upn(1), "--raised-on", "2026-01-12", "--raised-by-role", "senco",
                    "--areas", "semh", "--observations", "Withdrawn at playtimes", "--author", "S", "--json",
                ] + oak)
            #expect(r.status == 0, "\(r.stderr)")
            let concern = try #require(
                ((r.json as? [String: Any])?["concern"] as? [String: Any])?["id"] as? String, "\(r.stdout)")
            #expect(try area.send("oak", "la").status == 0)
            // A bundle that brings a newer directory says so (it said only "applied 0 new change(s)").
            r = try area.send("la", "oak")
            #expect(r.stdout.contains("; the area directory is now version"), "\(r.stdout)")
            #expect(try cli.run(["record", "delete", concern, "--author", "S"] + oak).status == 0)
            r = try cli.run(["concern", "update", concern, "--closed-on", "2026-02-01", "--author", "LA"] + la)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try area.send("oak", "la").status == 0)
            r = try cli.run(["conflicts", "list", "--json"] + la)
            let conflicts = try #require((r.json as? [String: Any])?["conflicts"] as? [[String: Any]], "\(r.stdout)")
            let conflict = try #require(conflicts.first, "\(r.stdout)")
            #expect(conflict["kind"] as? String == "edited-while-deleted")
            let candidates = try #require(conflict["candidates"] as? [[String: Any]])
            #expect(candidates.count == 2)
            let deletion = try #require(candidates.first { $0["deleted"] as? Bool == true }, "\(candidates)")
            #expect(deletion["value"] == nil, "\(deletion)")
            #expect(candidates.contains { $0["value"] as? String == "2026-02-01" && $0["deleted"] as? Bool == false })
        }
    }

    /// `pupil leave`: a pupil who moves away (or whose whereabouts are unknown) comes off the
    /// school's roll; the LA's area report counts them on no school's roll; the school forgets
    /// them once the LA holds everything; a second `leave` says they left already.
    @Test func aLeaverWithNoNewSchoolIsOnNoRollAtTheLA() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let oak = area.store("oak")
            #expect(try area.send("la", "oak").status == 0)
            for n in [1, 2] {
                let r = try cli.run(
                    [
                        "pupil", "add", "--upn", upn(n), "--forename", "Ada\(n)", "--surname", "Leaver", "--dob",
                        "2015-05-05", "--entry-date", "2025-09-01", "--author", "S",
                    ] + oak)
                #expect(r.status == 0, "\(r.stderr)")
            }
            let today = CalendarDate.today().description
            var r = try cli.run(["pupil", "leave", upn(1), "--date", today, "--author", "SENCO"] + oak)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("left from \(today)"), "\(r.stdout)")
            r = try cli.run(["pupil", "leave", upn(1), "--date", today, "--author", "SENCO"] + oak)
            #expect(r.status == 2, "\(r.stdout)")
            #expect(r.stderr.contains("The pupil left this school on \(today)"), "\(r.stderr)")
            #expect(!r.stderr.contains("Ada1"))
            r = try cli.run(["pupil", "list"] + oak)
            #expect(r.stdout.contains("none"), "\(r.stdout)")
            #expect(try area.send("oak", "la").status == 0)
            r = try cli.run(["report", "area", "--format", "json"] + area.store("la"))
            let schools = try #require((r.json as? [String: Any])?["schools"] as? [[String: Any]])
            let counts = Dictionary(
                uniqueKeysWithValues: schools.map { ($0["name"] as? String ?? "", $0["pupils"] as? Int) })
            #expect(counts["Not on roll at a school"] == 1, "\(counts)")
            #expect(counts["oak"] == 1, "\(counts)")
            r = try area.send("la", "oak")
            #expect(r.stdout.contains("1 pupil(s) who left this site are no longer kept here"), "\(r.stdout)")
            r = try cli.run(["pupil", "list", "--json"] + oak)
            #expect(((r.json as? [String: Any])?["pupils"] as? [Any])?.count == 1)
            // At the LA, the next step is its bundles to the school (it said "tells the LA").
            r = try cli.run(["pupil", "leave", upn(2), "--date", today, "--author", "LA officer"] + area.store("la"))
            #expect(r.status == 0 && r.stdout.contains("Your next bundles tell their school."), "\(r.stdout)")
            #expect(try cli.run(["audit", "verify"] + oak).status == 0)
        }
    }

    @Test func aTransferredPupilsHistoryFollowsThemAndTheOldSchoolForgetsThem() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            try area.add("elm", kind: "maintained-school")
            let oak = area.store("oak")
            #expect(try area.send("la", "oak").status == 0)
            #expect(try area.send("la", "elm").status == 0)
            #expect(
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(1), "--forename", "Ada", "--surname", "Mover", "--dob",
                        "2015-05-05", "--entry-date", "2025-09-01", "--author", "S",
                    ] + oak
                ).status == 0)
            #expect(
                try cli.run(["note", "add", "--pupil", upn(1), "--text", "Needs a quiet space", "--author", "S"] + oak)
                    .status == 0)
            #expect(try area.send("oak", "la").status == 0)
            var r = try cli.run(
                ["pupil", "transfer", upn(1), "--to", "elm", "--date", "2026-01-05", "--author", "LA officer"]
                    + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            r = try area.send("la", "elm")
            #expect(r.status == 0, "\(r.stderr)")
            r = try cli.run(["note", "list", "--pupil", upn(1)] + area.store("elm"))
            #expect(r.stdout.contains("Needs a quiet space"))
            r = try cli.run(["history", upn(1), "--json"] + area.store("elm"))
            #expect(((r.json as? [String: Any])?["history"] as? [Any])?.count == 3)
            // An id the store knows nothing of is not found (exit 3), not an empty history (exit 0).
            r = try cli.run(["history", "01a22e64-0000-7000-8000-000000000000"] + area.store("elm"))
            #expect(r.status == 3, "\(r.status) \(r.stdout)")
            #expect(r.stderr.contains("holds no history of a pupil with that id"), "\(r.stderr)")
            // The old school learns of the move, and forgets the pupil now that the LA holds everything,
            // and says so (the pupil vanished from its lists without a word).
            r = try area.send("la", "oak")
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("1 pupil(s) who left this site are no longer kept here"), "\(r.stdout)")
            r = try cli.run(["pupil", "list", "--json"] + oak)
            #expect(((r.json as? [String: Any])?["pupils"] as? [Any])?.isEmpty == true)
            #expect(try cli.run(["audit", "verify"] + oak).status == 0)
            // Erasure by the LA reaches the new school; the pupil's data is gone there too.
            let shown = try cli.run(["pupil", "list", "--json"] + area.store("la"))
            let erasedID = try #require(
                ((shown.json as? [String: Any])?["pupils"] as? [[String: Any]])?.first?["id"] as? String)
            r = try cli.run(
                ["pupil", "erase", upn(1), "--reason", "duplicate record", "--author", "LA DPO"] + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            // The erasure record is kept, and listed by the pupil's id (there is no pupil record to
            // find them by any more).
            r = try cli.run(["erasure", "list", "--pupil", erasedID, "--json"] + area.store("la"))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("duplicate record"), "\(r.stdout)")
            r = try cli.run(["erasure", "list", "--pupil", "01a22e64-0000-7000-8000-000000000000"] + area.store("la"))
            #expect(r.status == 3, "\(r.stdout)")
            #expect(try area.send("la", "elm").status == 0)
            r = try cli.run(["pupil", "list", "--json"] + area.store("elm"))
            #expect(((r.json as? [String: Any])?["pupils"] as? [Any])?.isEmpty == true)
            #expect(try cli.run(["audit", "verify"] + area.store("elm")).status == 0)
            // Each site's import log accounts for every change of every bundle it applied.
            for site in ["la", "oak", "elm"] {
                r = try cli.run(["log", "--json"] + area.store(site))
                let imports = try #require((r.json as? [String: Any])?["imports"] as? [[String: Any]])
                #expect(!imports.isEmpty)
                for entry in imports {
                    let counts = ["applied", "duplicates", "rejected", "keptWithoutContent", "relayed", "notTaken"]
                    let counted = counts.compactMap { entry[$0] as? Int }.reduce(0, +)
                    #expect(counted == entry["changeCount"] as? Int, "\(site): \(entry)")
                }
                r = try cli.run(["log"] + area.store(site))
                #expect(r.stdout.contains("NOT TAKEN"), "\(r.stdout)")
            }
        }
    }

    @Test func demoRunsAndConverges() throws {
        try withCLI { cli in
            let r = try cli.run(["demo", "--dir", cli.path("demo")])
            #expect(r.status == 0, "\(r.stderr)")
            for step in [
                "1. Sites", "2. Each SENCO", "3. Signed, encrypted bundle files travel", "4. A refused bundle",
                "5. A pupil moves school", "6. A concurrent edit", "7. Area view", "8. Digests",
                "9. The LA's area report",
            ] {
                #expect(r.stdout.contains(step))
            }
            #expect(r.stdout.contains("(relay)"))
            #expect(r.stdout.contains("edited concurrently"))
            #expect(r.stdout.contains("addressed to other sites"))
            #expect(r.stdout.contains("no longer holds their records"))
            #expect(r.stdout.contains("has the same digest"))
            #expect(FileManager.default.fileExists(atPath: cli.path("demo/area-report.html")))
            // The second copy it compares digests with is gone, WAL files and all.
            let left = try FileManager.default.contentsOfDirectory(atPath: cli.path("demo"))
            #expect(!left.contains { $0.contains("replica") }, "\(left)")
            #expect(!r.stdout.contains("replaced"))
            let again = try cli.run(["demo", "--dir", cli.path("demo")])
            #expect(again.status == 0)
            // A second run says it replaced the first run's folder rather than doing so silently.
            #expect(again.stdout.contains("(the previous demo there replaced)"))
            try FileManager.default.createDirectory(atPath: cli.path("notademo"), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: cli.path("notademo/keep.txt")))
            #expect(try cli.run(["demo", "--dir", cli.path("notademo")]).status == 2)
            #expect(FileManager.default.fileExists(atPath: cli.path("notademo/keep.txt")))
        }
    }

    @Test(arguments: [
        ["init"], ["pupil", "add"], ["pupil", "update"], ["pupil", "show"], ["pupil", "list"], ["note", "add"],
        ["note", "list"],
        ["plan", "create"], ["plan", "add-outcome"], ["plan", "add-provision"], ["plan", "record-review"],
        ["plan", "list"],
        ["record", "delete"], ["record", "restore"], ["peer", "list"], ["bundle", "create"], ["bundle", "apply"],
        ["bundle", "inspect"], ["bundle", "verify"], ["conflicts", "list"], ["conflicts", "resolve"], ["status"],
        ["digest"],
        ["log"], ["demo"], ["identity", "export"], ["identity", "show"], ["directory", "add"], ["directory", "remove"],
        ["directory", "list"], ["directory", "pin"], ["pupil", "transfer"], ["pupil", "erase"], ["retention", "run"],
        ["audit", "verify"], ["history"], ["export"], ["export", "census"], ["export", "sen2"], ["export", "postgres"],
        ["clock", "check"], ["clock", "confirm"], ["rejoin", "start"], ["rejoin", "carry-over"],
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
