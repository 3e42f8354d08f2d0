import Foundation
import Testing

@testable import SENSync

/// A key file is used only when its keys are the store's own: the keys' public halves must be the
/// public keys the store was made with (and the directory lists). Checking only the site id the
/// file names let another site's keys relabelled with this site's id, or this site's two keys
/// swapped, sign this site's history for good: every peer then refused it as forged, and the
/// site's own `audit verify` found it altered.
struct KeyFileMatchTests {
    @Test(arguments: ["another site's keys", "its own keys swapped"])
    func aKeyFileWhoseKeysAreNotTheStoresIsRefused(_ how: String) throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("Oakfield Primary", .maintainedSchool, inMemory: false)
            try area.send("LA", "Oakfield Primary")
            try school.addPupil(
                NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            let path = try #require(school.path)
            let keyPath = KeyFile.path(forStore: path)
            let own = try school.keys()
            let wrong: SiteKeys =
                how == "another site's keys"
                ? SiteKeys.generate()
                : try SiteKeys(
                    signingRaw: Array(own.agreement.rawRepresentation),
                    agreementRaw: Array(own.signing.rawRepresentation))
            try FileManager.default.removeItem(atPath: keyPath)
            try KeyFile.write(wrong, site: school.identity.id, to: keyPath)
            let reopened = try Store.open(at: path)
            let error = #expect(throws: SecurityError.self) { _ = try reopened.keys() }
            #expect(error?.code == .keyFileInvalid)
            #expect(error?.message.contains("not this site's keys") == true, "\(error?.message ?? "")")
            // Nothing signed with them: no bundle is made.
            #expect(throws: SecurityError.self) {
                _ = try reopened.makeBundle(to: [area.la.identity.id], at: dir.appendingPathComponent("o.bundle"))
            }
            // With its own keys back, the site goes on as before.
            try FileManager.default.removeItem(atPath: keyPath)
            try KeyFile.write(own, site: school.identity.id, to: keyPath)
            _ = try Store.open(at: path).makeBundle(
                to: [area.la.identity.id], at: dir.appendingPathComponent("o.bundle"))
        }
    }
}
