import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stores, their WAL and shared-memory files, and bundle files hold personal data: they are
/// created readable by their owner only (0600), whatever the process's umask.
package enum PrivateFiles {
    /// Whether `path` names a folder: what a file is read from or written to never is (a file
    /// written there replaced the folder and all it held; one read from it stopped the program).
    package static func isFolder(atPath path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }

    /// Whether `path` holds a database (a store, or another program's SQLite file), a store's WAL
    /// or shared-memory file, or a site's key file: what no output file may replace, `--force` or
    /// not (a bundle written over a store lost every record it held; over a key file, the keys).
    package static func holdsDataOrKeys(atPath path: String) -> Bool {
        if path.hasSuffix("-wal") || path.hasSuffix("-shm") { return true }
        guard BundleFile.isRegularFile(URL(fileURLWithPath: path)), let handle = FileHandle(forReadingAtPath: path)
        else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        if head.starts(with: Array("SQLite format 3\u{0}".utf8)) { return true }
        // A key file is JSON naming its format (whose "/" JSON may write as "\/").
        let text = String(decoding: head, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
        return text.contains("\"\(KeyFile.format)\"")
    }

    /// What SQLite keeps of a store at `path`: `path` itself, its WAL and shared-memory files.
    static let storeSuffixes = ["", "-wal", "-shm"]

    /// Creates `path` (which must not exist) empty with mode 0600.
    static func createEmpty(atPath path: String) -> Bool { createNew(atPath: path, contents: nil) }

    /// Creates or replaces `path` with `contents`, mode 0600. What is there already is removed
    /// first, a symbolic link included (never written through). Not synced: a caller syncs the
    /// file once it is whole (Foundation's `createFile` synced it on creation too, and a bundle
    /// waited for the disk twice more than it needed).
    static func create(atPath path: String, contents: Data?) -> Bool {
        if unlink(path) != 0, errno != ENOENT { return false }
        return createNew(atPath: path, contents: contents)
    }

    /// Creates `path`, which must not exist (not even as a symbolic link), with mode 0600
    /// whatever the umask, holding `contents`.
    private static func createNew(atPath path: String, contents: Data?) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { return false }
        guard let contents else { return true }
        return contents.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    /// Flushes the folder holding `path` to disk, so a file just renamed into it stays there
    /// after a power cut (best effort: not every file system allows it).
    static func syncFolder(of path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Makes the store's files that exist owner-only (SQLite gives the WAL and shared-memory files
    /// the store's own mode).
    static func restrict(store path: String) {
        for suffix in storeSuffixes where FileManager.default.fileExists(atPath: path + suffix) {
            _ = chmod(path + suffix, 0o600)
        }
    }

    /// A warning when other accounts on this computer can read the store or its WAL/shared-memory
    /// files, naming what to run; `nil` when they are private.
    static func exposure(ofStore path: String) -> String? {
        let exposed = storeSuffixes.filter { suffix in
            var info = stat()
            return stat(path + suffix, &info) == 0 && info.st_mode & 0o077 != 0
        }
        guard !exposed.isEmpty else { return nil }
        return
            "Warning: other accounts on this computer can read this store's files (names and notes included). Make them private with `chmod 600 \(path)*`."
    }
}

/// The staging names a new store and its key file are made under before they are put in place
/// (``Store/create(at:identity:la:clockGuardSeconds:now:)``).
struct StagedCreate {
    static let suffix = ".sensync-init"
    let store: String
    let keyFile: String
    let finalKeyFile: String

    init(store path: String) {
        store = path + Self.suffix
        finalKeyFile = KeyFile.path(forStore: path)
        keyFile = finalKeyFile + Self.suffix
    }

    /// Removes the staged store and key file.
    func remove() {
        for file in PrivateFiles.storeSuffixes.map({ store + $0 }) + [keyFile] {
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    /// Puts the staged key file in place under its final name, whole or not at all: a second
    /// name for the same file (a create killed while writing a copy left a part of one, which no
    /// retry could tell from another store's key file). Where the file system has no hard links,
    /// the keys are written again.
    func placeKeyFile(_ keys: SiteKeys, site: SiteID) throws {
        if link(keyFile, finalKeyFile) == 0 { return }
        guard errno != EEXIST else {
            throw StoreError(
                .storeExists, "A store or key file already exists at that path.",
                hint: "Choose another --store path, or use the existing store.")
        }
        try KeyFile.write(keys, site: site, to: finalKeyFile)
    }

    /// Removes what a create at `path` killed part way left behind. A staged key file means the
    /// create did not finish; if the store is not in place, a key file in place with the same
    /// bytes, or with the first part of them (a create of an earlier version, killed while writing
    /// its copy), was put there by that create (keys are random), so no store uses it and it goes
    /// too. Anything else is left alone.
    static func removeLeftovers(ofStore path: String) {
        let staged = StagedCreate(store: path)
        let fm = FileManager.default
        guard fm.fileExists(atPath: staged.keyFile) || fm.fileExists(atPath: staged.store) else { return }
        if !fm.fileExists(atPath: path), let stagedKeys = fm.contents(atPath: staged.keyFile),
            let placed = fm.contents(atPath: staged.finalKeyFile), stagedKeys.starts(with: placed)
        {
            try? fm.removeItem(atPath: staged.finalKeyFile)
        }
        staged.remove()
    }
}
