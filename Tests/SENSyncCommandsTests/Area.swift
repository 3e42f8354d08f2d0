import Foundation
import Testing

/// A small area set up through the CLI: an LA and sites that pinned it, all in its directory.
struct CLIArea {
    let cli: CLI
    var ids: [String: String] = [:]

    func store(_ name: String) -> [String] { ["--store", cli.path("\(name).sensync")] }

    /// `sensync init` for the LA and exports its identity.
    static func make(_ cli: CLI) throws -> CLIArea {
        var area = CLIArea(cli: cli)
        let r = try cli.run([
            "init", "--store", cli.path("la.sensync"), "--name", "Northshire", "--kind", "la", "--la-code", "999",
            "--json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        area.ids["la"] = try #require(((r.json as? [String: Any])?["site"] as? [String: Any])?["id"] as? String)
        let e = try cli.run(["identity", "export", "--out", cli.path("la.identity")] + area.store("la"))
        #expect(e.status == 0, "\(e.stderr)")
        return area
    }

    /// Creates a site pinned to the LA and adds it to the LA's directory.
    @discardableResult
    mutating func add(_ name: String, kind: String, trust: String? = nil) throws -> String {
        var r = try cli.run(
            ["init", "--name", name, "--kind", kind, "--la-identity", cli.path("la.identity"), "--json"] + store(name))
        #expect(r.status == 0, "\(r.stderr)")
        let id = try #require(((r.json as? [String: Any])?["site"] as? [String: Any])?["id"] as? String)
        ids[name] = id
        r = try cli.run(["identity", "export", "--out", cli.path("\(name).identity")] + store(name))
        #expect(r.status == 0, "\(r.stderr)")
        r = try cli.run(
            ["directory", "add", cli.path("\(name).identity")] + (trust.map { ["--trust", $0] } ?? []) + store("la"))
        #expect(r.status == 0, "\(r.stderr)")
        return id
    }

    /// Makes a bundle from one site to another and applies it; returns the apply result.
    @discardableResult
    func send(_ from: String, _ to: String, file: String? = nil) throws -> CLI.Result {
        let out = cli.path(file ?? "\(from)-to-\(to)-\(UUID().uuidString.prefix(8)).bundle")
        let made = try cli.run(["bundle", "create", "--to", ids[to]!, "--out", out] + store(from))
        #expect(made.status == 0, "\(made.stderr)")
        return try cli.run(["bundle", "apply", out] + store(to))
    }

    func digest(_ name: String) throws -> String { try cli.run(["digest"] + store(name)).stdout }
}

/// An LA and school `oak` holding one pupil, Ada Example (`upn(1)`); returns oak's `--store`.
func oakWithAda(_ cli: CLI) throws -> [String] {
    var area = try CLIArea.make(cli)
    try area.add("oak", kind: "maintained-school")
    let oak = area.store("oak")
    #expect(
        try cli.run(
            ["pupil", "add", "--upn", upn(1), "--forename", "Ada", "--surname", "Example", "--dob", "2016-04-01"]
                + oak, environment: ["SENSYNC_AUTHOR": "SENCO"]
        ).status == 0)
    return oak
}
