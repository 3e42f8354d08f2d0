import Foundation
import SENSync
import Testing

/// A school's computer whose clock reads days past the newest bundle it received: the built
/// `sensync` refuses to record changes (exit 11, saying why and what to do), `status` and
/// `clock check` say so, and `clock confirm` lets writes go on.
struct ClockCommandTests {
    @Test func aSchoolRefusesToWriteWhenItsClockReadsDaysPastTheLAsBundle() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            let schoolID = try area.add("oakfield", kind: "maintained-school")
            let author = ["--author", "SENCO"]
            let addPupil = { (n: Int) in
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(n), "--forename", "Clock", "--surname", "Sample", "--dob",
                        "2016-01-01",
                    ]
                        + author + area.store("oakfield"))
            }
            #expect(try addPupil(1).status == 0)
            // The LA makes a bundle by a clock three days behind this computer's (as if this
            // computer's clock were three days fast).
            let threeDays: UInt64 = 3 * 86_400_000
            let la = try Store.open(at: cli.path("la.sensync"), now: { Store.systemNow() - threeDays })
            let bundle = cli.path("la-to-oakfield.bundle")
            try la.makeBundle(to: [try #require(SiteID(schoolID))], at: URL(fileURLWithPath: bundle))
            let applied = try cli.run(["bundle", "apply", bundle] + area.store("oakfield"))
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(applied.stderr.contains("3 day(s)"), "\(applied.stderr)")
            #expect(applied.stderr.contains("sensync clock confirm"), "\(applied.stderr)")

            let digest = try area.digest("oakfield")
            let refused = try addPupil(2)
            #expect(refused.status == 11, "\(refused.stderr)")
            #expect(refused.stderr.contains("Northshire") && refused.stderr.contains("3 day(s)"), "\(refused.stderr)")
            #expect(refused.stderr.contains("sensync clock confirm"), "\(refused.stderr)")
            #expect(!refused.stderr.contains(upn(2)))
            #expect(try area.digest("oakfield") == digest)
            let note = try cli.run(
                ["note", "add", "--pupil", upn(1), "--area", "cognition-learning", "--text", "Waits."] + author
                    + area.store("oakfield"))
            #expect(note.status == 11, "\(note.stderr)")

            let status = try cli.run(["status"] + area.store("oakfield"))
            #expect(status.status == 0 && status.stderr.contains("local writes are refused"), "\(status.stderr)")
            let check = try cli.run(["clock", "check", "--json"] + area.store("oakfield"))
            let json = try #require(check.json as? [String: Any], "\(check.stdout)\(check.stderr)")
            #expect(json["writesRefused"] as? Bool == true)
            #expect((json["newestBundle"] as? [String: Any])?["sender"] as? String == "Northshire")
            #expect(try cli.run(["clock"] + area.store("oakfield")).stdout.contains("Local writes are refused"))

            let confirmed = try cli.run(["clock", "confirm"] + area.store("oakfield"))
            #expect(confirmed.status == 0 && confirmed.stdout.contains("Northshire"), "\(confirmed.stderr)")
            #expect(try addPupil(2).status == 0)
            let after = try cli.run(["clock", "check", "--json"] + area.store("oakfield"))
            #expect((after.json as? [String: Any])?["writesRefused"] as? Bool == false)
            #expect(try cli.run(["status"] + area.store("oakfield")).stderr.isEmpty)
        }
    }
}
