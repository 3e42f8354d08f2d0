import ArgumentParser
import Foundation
import SENSync

/// `--store PATH`, shared by every command that opens a store.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The site's store file (default: $SENSYNC_STORE).", valueName: "path"))
    var store: String?

    var path: String {
        get throws {
            guard let path = givenPath else {
                throw CommandFailure(
                    code: .usage, message: "No store given.", hint: "Pass --store PATH or set SENSYNC_STORE.")
            }
            return path
        }
    }

    /// The store given by --store or $SENSYNC_STORE, for a command that also works without one.
    var givenPath: String? {
        if let store { return store }
        if let env = ProcessInfo.processInfo.environment["SENSYNC_STORE"], !env.isEmpty { return env }
        return nil
    }

    /// Opens the store for a local write, warning on stderr when other accounts can read its
    /// files or when its key file is missing, exposed or damaged (the write goes ahead).
    func open() throws -> Store {
        let store = try open(.readWrite)
        if let warning = store.keyFileWarning { Terminal.note(warning) }
        return store
    }

    /// Opens the store for a command that uses its keys (bundles, the directory, rejoining): a
    /// key file that cannot be used stops the command itself, with its own message.
    func openUsingKeys() throws -> Store { try open(.readWrite) }

    /// Opens the store read-only, for commands that only read: the file is left byte for byte as
    /// it was.
    func openForReading() throws -> Store { try open(.readOnly) }

    /// Opens the store for a dry run (`import --dry-run`, `bundle verify`): writes happen only in
    /// transactions that are rolled back, so the file too is left byte for byte as it was.
    func openForTrying() throws -> Store { try open(.rollbackOnly) }

    private func open(_ access: Store.Access) throws -> Store {
        let store = try Store.open(at: try path, access: access)
        if let warning = store.exposureWarning { Terminal.note(warning) }
        return store
    }
}

/// `--author NAME`, for commands that make a change.
struct AuthorOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Who is making the change, by role or name (default: $SENSYNC_AUTHOR).", valueName: "name"))
    var author: String?

    var name: String {
        get throws {
            if let author, !author.isEmpty { return author }
            if let env = ProcessInfo.processInfo.environment["SENSYNC_AUTHOR"], !env.isEmpty { return env }
            throw CommandFailure(
                code: .usage, message: "No author given for this change.",
                hint: "Pass --author NAME or set SENSYNC_AUTHOR.")
        }
    }

    /// Checks that `command`, if it makes a change, has an author, before it runs: a command
    /// refused for want of one then has not opened (and so touched) the store.
    static func requireAuthor(of command: any ParsableCommand) throws {
        if let optional = command as? AuthorOnlySometimes, !optional.needsAuthor { return }
        for child in Mirror(reflecting: command).children {
            if let options = child.value as? OptionGroup<AuthorOptions> { _ = try options.wrappedValue.name }
        }
    }
}

/// A command that makes a change only in some of its forms (`directory add --replaces`).
protocol AuthorOnlySometimes {
    /// Whether this invocation makes a change, and so needs an author.
    var needsAuthor: Bool { get }
}

/// `--json`, for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false
}
