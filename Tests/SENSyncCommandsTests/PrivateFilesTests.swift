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
}
