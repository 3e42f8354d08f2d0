import Foundation
import Testing

@testable import SENSync

/// An LA with its signed directory and sites that have pinned it: the set-up every bundle needs.
final class TestArea {
    let folder: URL
    let clock: TestClock
    let la: Store
    private(set) var sites: [String: Store] = [:]
    private var counter = 0

    init(folder: URL, clock: TestClock = TestClock(), inMemory: Bool = true) throws {
        self.folder = folder
        self.clock = clock
        let identity = SiteIdentity(id: .v7(), name: "LA", kind: .la, laCode: "999")
        la =
            inMemory
            ? try Store.inMemory(identity: identity, now: clock.now)
            : try Store.create(at: folder.appendingPathComponent("la.sensync").path, identity: identity, now: clock.now)
        sites["LA"] = la
    }

    /// Adds a site to the area: creates its store pinned to the LA and lists it in the directory.
    @discardableResult
    func add(_ name: String, _ kind: SiteKind, trust: String? = nil, urn: String? = nil, inMemory: Bool = true) throws
        -> Store
    {
        let identity = SiteIdentity(id: .v7(), name: name, kind: kind, urn: urn)
        let store =
            inMemory
            ? try Store.inMemory(identity: identity, la: la.publicIdentity, now: clock.now)
            : try Store.create(
                at: folder.appendingPathComponent("\(name).sensync").path, identity: identity, la: la.publicIdentity,
                now: clock.now)
        try la.addToDirectory(store.publicIdentity, trust: trust.map { sites[$0]!.identity.id })
        sites[name] = store
        return store
    }

    subscript(name: String) -> Store { sites[name]! }

    /// Backs up a file store as an administrator would: checkpointed, then the store file and its
    /// key file copied to `copy.sensync` in the area's folder. Returns the copy's path.
    func backUp(_ name: String, as copy: String) throws -> String {
        let store = self[name]
        try store.checkpoint()
        let path = try #require(store.path)
        let backup = folder.appendingPathComponent("\(copy).sensync").path
        try FileManager.default.copyItem(atPath: path, toPath: backup)
        try FileManager.default.copyItem(atPath: KeyFile.path(forStore: path), toPath: KeyFile.path(forStore: backup))
        return backup
    }

    /// A school (a store on disk) that has sent the LA a pupil, backed up after that (`backup`),
    /// for the restored-backup tests: each then writes on at the school and restores the copy.
    func schoolBackedUpAfterAPupil(_ pupil: NewPupil) throws -> (school: Store, pupil: RecordID, backup: String) {
        let school = try add("School", .maintainedSchool, inMemory: false)
        try send("LA", "School")
        let id = try school.addPupil(pupil, author: "SENCO")
        try send("School", "LA")
        return (school, id, try backUp("School", as: "backup"))
    }

    /// Names a store made outside ``add(_:_:trust:urn:inMemory:)`` (a site that rejoined).
    func register(_ name: String, _ store: Store) { sites[name] = store }

    /// Makes a bundle from `from` to `to`, applies it, and returns the report.
    @discardableResult
    func send(_ from: String, _ to: String) throws -> ImportReport {
        counter += 1
        let file = folder.appendingPathComponent("\(counter)-\(from)-to-\(to).bundle")
        try self[from].makeBundle(to: [self[to].identity.id], at: file)
        return try self[to].apply(bundleAt: file)
    }

    /// The path of the last bundle file made by ``send(_:_:)`` or ``make(_:_:)``.
    func make(_ from: String, _ to: String) throws -> URL {
        counter += 1
        let file = folder.appendingPathComponent("\(counter)-\(from)-to-\(to).bundle")
        try self[from].makeBundle(to: [self[to].identity.id], at: file)
        return file
    }

    /// Pupil ids held (with a pupil record) by a site.
    func pupils(at name: String) throws -> Set<RecordID> {
        Set(try self[name].pupils().map(\.id))
    }
}
