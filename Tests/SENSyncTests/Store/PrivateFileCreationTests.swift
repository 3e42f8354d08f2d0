import Foundation
import Testing

@testable import SENSync

/// How bundle files are created: owner-only, replacing what is there, never writing through a
/// symbolic link (a link planted where a bundle's temporary file goes must not redirect it).
struct PrivateFileCreationTests {
    private func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) & 0o777
    }

    @Test func aNewFileIsOwnerOnlyWithItsContents() throws {
        let old = umask(0)
        defer { umask(old) }
        try withTemporaryDirectory { (dir: URL) throws in
            let path = dir.appendingPathComponent("new.bundle").path
            #expect(PrivateFiles.create(atPath: path, contents: Data([1, 2, 3])))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([1, 2, 3]))
            #expect(try mode(path) == 0o600)
            #expect(PrivateFiles.create(atPath: dir.appendingPathComponent("empty").path, contents: nil))
            #expect(try Data(contentsOf: dir.appendingPathComponent("empty")).isEmpty)
        }
    }

    @Test func anExistingFileIsReplacedAndALinkIsNotFollowed() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("out.bundle").path
            try Data("readable".utf8).write(to: URL(fileURLWithPath: path))
            #expect(chmod(path, 0o644) == 0)
            #expect(PrivateFiles.create(atPath: path, contents: Data([7])))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([7]))
            #expect(try mode(path) == 0o600)

            let victim = dir.appendingPathComponent("victim.txt")
            try Data("keep".utf8).write(to: victim)
            let link = dir.appendingPathComponent("link.bundle").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim.path)
            #expect(PrivateFiles.create(atPath: link, contents: Data([9])))
            #expect(try Data(contentsOf: victim) == Data("keep".utf8))
            let type = try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType
            #expect(type == .typeRegular)
            #expect(try Data(contentsOf: URL(fileURLWithPath: link)) == Data([9]))
        }
    }

    @Test func aFolderIsNotReplaced() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("folder")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            try Data("inside".utf8).write(to: folder.appendingPathComponent("kept"))
            #expect(!PrivateFiles.create(atPath: folder.path, contents: Data([1])))
            #expect(try Data(contentsOf: folder.appendingPathComponent("kept")) == Data("inside".utf8))
        }
    }
}
