import Foundation
import Testing

/// Stores, their WAL and shared-memory files, key files and bundle files are created owner-only
/// (0600) whatever the umask, and opening a store other accounts can read warns.
struct PrivateFilesTests {
    /// Runs `sensync` with umask 000, the most permissive a shared laptop could have.
    func runOpenUmask(_ cli: CLI, _ arguments: [String]) throws -> CLI.Result {
        try CLI.runProcess(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "umask 000; exec \"$0\" \"$@\"", CLI.executable.path] + arguments,
            in: cli.folder)
    }

    func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int) & 0o777
    }

    @Test func filesAreOwnerOnlyWhateverTheUmask() throws {
        try withCLI { cli in
            let la = cli.path("own.sensync")
            let r = try runOpenUmask(
                cli, ["init", "--store", la, "--name", "Northshire", "--kind", "la", "--la-code", "801"])
            #expect(r.status == 0, "\(r.stderr)")
            for path in [la, la + "-wal", la + "-shm", la + ".keys"] where FileManager.default.fileExists(atPath: path)
            {
                let found = try mode(path)
                #expect(found == 0o600, "\(path) is \(String(found, radix: 8))")
            }
            // A bundle file, made with the same umask.
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let bundle = cli.path("to-oak.bundle")
            let made = try runOpenUmask(
                cli, ["bundle", "create", "--to", area.ids["oak"]!, "--out", bundle] + area.store("la"))
            #expect(made.status == 0, "\(made.stderr)")
            #expect(try mode(bundle) == 0o600)
            // A store made readable by others (copied with a loose umask) warns, and still works.
            #expect(try cli.run(["status", "--store", la]).stderr.isEmpty)
            #expect(chmod(la, 0o644) == 0)
            let status = try cli.run(["status", "--store", la])
            #expect(status.status == 0)
            #expect(status.stderr.contains("other accounts on this computer can read this store"))
        }
    }

    /// A local write with a key file that is readable by others, damaged or missing warns, and is
    /// still made (it does not need the keys; the site's next bundle does).
    @Test func aLocalWriteWarnsAboutAKeyFileThatCannotBeUsed() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let store = cli.path("oak.sensync")
            let keys = store + ".keys"
            func addPupil(_ n: Int) throws -> CLI.Result {
                try cli.run(
                    [
                        "pupil", "add", "--upn", upn(n), "--forename", "Ada", "--surname", "Example", "--dob",
                        "2016-02-11",
                    ]
                        + area.store("oak"), environment: ["SENSYNC_AUTHOR": "SENCO"])
            }
            let clean = try addPupil(1)
            #expect(clean.status == 0 && clean.stderr.isEmpty, "\(clean.stderr)")

            #expect(chmod(keys, 0o644) == 0)
            let exposed = try addPupil(2)
            #expect(exposed.status == 0, "\(exposed.stderr)")
            #expect(exposed.stderr.contains("other accounts on this computer can read this site's key file"))
            #expect(exposed.stderr.contains("chmod 600"))
            #expect(chmod(keys, 0o600) == 0)

            let original = try Data(contentsOf: URL(fileURLWithPath: keys))
            try Data("not a key file".utf8).write(to: URL(fileURLWithPath: keys))
            #expect(chmod(keys, 0o600) == 0)
            let damaged = try addPupil(3)
            #expect(damaged.status == 0, "\(damaged.stderr)")
            #expect(damaged.stderr.contains("key file is damaged"), "\(damaged.stderr)")

            try FileManager.default.removeItem(atPath: keys)
            let missing = try addPupil(4)
            #expect(missing.status == 0, "\(missing.stderr)")
            #expect(missing.stderr.contains("key file is missing"), "\(missing.stderr)")
            // Its bundles stop with their own error (exit 15), not the warning as well.
            let bundle = try cli.run(
                ["bundle", "create", "--to", area.ids["la"] ?? "Northshire", "--out", cli.path("x.bundle")]
                    + area.store("oak"))
            #expect(bundle.status == 15, "\(bundle.stderr)")
            #expect(!bundle.stderr.contains("Warning"), "\(bundle.stderr)")

            try original.write(to: URL(fileURLWithPath: keys))
            #expect(chmod(keys, 0o600) == 0)
            let restored = try addPupil(5)
            #expect(restored.status == 0 && restored.stderr.isEmpty, "\(restored.stderr)")
        }
    }
}
