import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stores, their WAL and shared-memory files, and bundle files hold personal data: they are
/// created readable by their owner only (0600), whatever the process's umask.
enum PrivateFiles {
    /// Creates `path` (which must not exist) empty with mode 0600.
    static func createEmpty(atPath path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { return false }
        _ = fchmod(fd, 0o600)
        close(fd)
        return true
    }

    /// Creates or replaces `path` with `contents`, mode 0600.
    static func create(atPath path: String, contents: Data?) -> Bool {
        FileManager.default.createFile(atPath: path, contents: contents, attributes: [.posixPermissions: 0o600])
            && chmod(path, 0o600) == 0
    }

    /// Makes the store's files that exist owner-only (SQLite gives the WAL and shared-memory files
    /// the store's own mode).
    static func restrict(store path: String) {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            _ = chmod(path + suffix, 0o600)
        }
    }

    /// A warning when other accounts on this computer can read the store or its WAL/shared-memory
    /// files, naming what to run; `nil` when they are private.
    static func exposure(ofStore path: String) -> String? {
        let exposed = ["", "-wal", "-shm"].filter { suffix in
            var info = stat()
            return stat(path + suffix, &info) == 0 && info.st_mode & 0o077 != 0
        }
        guard !exposed.isEmpty else { return nil }
        return
            "Warning: other accounts on this computer can read this store's files (names and notes included). Make them private with `chmod 600 \(path)*`."
    }
}
