import Foundation
import SENSync

/// The seed corpus under `Tests/Fuzz/<target>/`, made from the golden fixtures so each target
/// starts from inputs its decoder accepts: `sensync-fuzz seeds Tests/SENSyncTests/Fixtures Tests/Fuzz`.
enum SeedCorpus {
    static func write(fixtures: URL, to output: URL) throws {
        let bundleURL = fixtures.appendingPathComponent("golden-v3.bundle")
        let bundle = Array(try Data(contentsOf: bundleURL))
        func save(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) throws {
            let folder = output.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(bytes).write(to: folder.appendingPathComponent(name))
        }

        try save(.bundle, "golden-v3.bundle", bundle)
        let headerLength = bundle[16..<20].reduce(0) { $0 << 8 | Int($1) }
        try save(.header, "golden-v3.header", Array(bundle[20..<(20 + headerLength)]))
        // Format 3.1's header (holdings bases in extension 2) as well.
        let current = Array(try Data(contentsOf: fixtures.appendingPathComponent("golden-v3.1.bundle")))
        try save(.bundle, "golden-v3.1.bundle", current)
        let currentLength = current[16..<20].reduce(0) { $0 << 8 | Int($1) }
        try save(.header, "golden-v3.1.header", Array(current[20..<(20 + currentLength)]))

        let payload = try FixtureArea.recipientStore.plainPayload(ofBundleAt: bundleURL)
        try save(.payload, "golden-v3-trust.payload", payload)
        try save(.zlib, "golden-v3-trust.payload.zlib", try Zlib.compress(payload))
        try save(.zlib, "empty.zlib", try Zlib.compress([]))

        var parser = PayloadParser(section: FixtureArea.payloadSection, originKeys: FixtureArea.originKeys)
        var changes = 0
        try parser.feed(payload) { entry in
            guard case .change(let change, _, _, _, _) = entry else { return }
            var w = BinaryWriter()
            change.write(into: &w)
            changes += 1
            try save(.change, "golden-v3-\(changes).change", w.bytes)
        }
        try parser.finish()

        let header = try Store.inspectBundle(at: bundleURL)
        var outer = BinaryReader(header.directory)
        try save(.directory, "golden-v3.directory", try outer.readBytesWithLength(limit: 16 << 20))

        for site in FixtureArea.sites {
            let name = site.name.lowercased().replacingOccurrences(of: " ", with: "-")
            try save(.identity, "\(name).identity", Array(try FixtureArea.publicIdentity(site).fileContents()))
        }
        let keyFile = Scratch.file("seed.keys")
        try? FileManager.default.removeItem(at: keyFile)
        try KeyFile.write(FixtureArea.laKeys, site: FixtureArea.la.id, to: keyFile.path)
        try save(.keyfile, "golden-la.keys", Array(try Data(contentsOf: keyFile)))

        try save(.jsonl, "records.jsonl", Array(sampleJSONLines.utf8))
        try save(.csv, "pupils.csv", Array(sampleCSV.utf8))
        try save(
            .ctf, "synthetic-ctf-25.xml",
            Array(try Data(contentsOf: fixtures.appendingPathComponent("ctf/synthetic-ctf-25.xml"))))
    }

    /// Synthetic records in the import format (`Schemas/import/`), one of each kind of value.
    static let sampleJSONLines = """
        {"format": "sensync-import", "version": 1}
        {"kind": "pupil", "id": "P1", "upn": "A801200001001", "forename": "Ada", "surname": "Pupil", "dateOfBirth": "2016-03-01", "yearGroup": 4, "entryDate": "2021-09-01"}
        {"kind": "sen_need", "id": "N1", "upn": "A801200001001", "need": "SLCN", "rank": 1.5, "startDate": "2024-09-10", "current": true}

        {"kind": "referral", "id": "R1", "upn": "A801200001001", "agency": "educational-psychology", "reason": null}
        {"kind": "unknown"}
        not json

        """

    /// Synthetic pupils as an MIS exports them: a byte-order mark, a quoted cell over two lines.
    static let sampleCSV = """
        \u{FEFF}ID,UPN,Forename,Surname,DOB,NCyearActual,EntryDate
        P1,A801200001001,Ada,Pupil,2016-03-01,4,2021-09-01
        P2,A801200001002,"Ben ""B""
        Second",Pupil,2015-11-20,,2020-09-01

        P3,short row
        """
}
