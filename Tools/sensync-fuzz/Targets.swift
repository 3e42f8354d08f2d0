import Foundation
import SENSync

/// One fuzz target per decoder that reads bytes from outside SENSync. Each hands the bytes to the
/// library's real entry point and treats a thrown error as the normal answer to bad input: only a
/// crash, a trap, a hang or an allocation without bound is a finding.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// A whole bundle file, applied to a recipient's store in a transaction that is rolled back.
    case bundle
    /// A bundle header's bytes (after the preamble), as the header decoder reads them.
    case header
    /// A section's opened, decompressed payload, as the payload parser reads it.
    case payload
    /// A zlib stream, inflated with a cap on the output.
    case zlib
    /// A change in its storage form (header and content), decoded in full.
    case change
    /// An area directory's signed bytes.
    case directory
    /// An identity file (`sensync identity export`).
    case identity
    /// A key file (`<store>.keys`).
    case keyfile
    /// A JSON Lines import file, read row by row.
    case jsonl
    /// A CSV import file (pupils), read row by row.
    case csv
    /// A Common Transfer File's XML.
    case ctf

    /// What the target reads, for `sensync-fuzz list`.
    var summary: String {
        switch self {
        case .bundle: "bundle file: layout, header, signature, directory, sealing, payload (apply, rolled back)"
        case .header: "BundleHeader.decode"
        case .payload: "PayloadParser: checkpoints, changes and their proofs, holdings"
        case .zlib: "ZlibInflater, output capped at 1 MiB"
        case .change: "EncodedChange storage form, ChangeHeader and Change content"
        case .directory: "AreaDirectory.decode (the harness signs the bytes with the fixture LA's key)"
        case .identity: "PublicIdentity(fileContents:)"
        case .keyfile: "KeyFile.decode(_:expectedSite:), what read(from:expectedSite:) runs"
        case .jsonl: "JSON Lines import reader"
        case .csv: "CSV import reader"
        case .ctf: "CTFDocument(xml:)"
        }
    }

    /// Runs the target on one input. Errors are expected; whatever else happens is a finding.
    func run(_ bytes: [UInt8]) { _ = outcome(bytes) }

    /// Runs the target on one input and returns the error that refused it, `nil` if it was
    /// accepted (`sensync-fuzz replay --verbose` shows which).
    func outcome(_ bytes: [UInt8]) -> (any Error)? {
        do {
            switch self {
            case .bundle: try Self.bundle(bytes)
            case .header: _ = try BundleHeader.decode(bytes, formatMajor: 2, formatMinor: 0)
            case .payload: try Self.payload(bytes)
            case .zlib: try Self.zlib(bytes)
            case .change: try Self.change(bytes)
            case .directory: try Self.directory(bytes)
            case .identity: _ = try PublicIdentity(fileContents: Data(bytes))
            case .keyfile: try Self.keyFile(bytes)
            case .jsonl: try Self.importFile(bytes, format: .jsonLines, name: "records.jsonl")
            case .csv: try Self.importFile(bytes, format: .csv, name: "pupils.csv")
            case .ctf: _ = try CTFDocument(xml: Data(bytes))
            }
            return nil
        } catch {
            return error
        }
    }

    // MARK: Targets

    /// The harness repairs the header checksum and signs the digest again with the fixture LA's
    /// key, so that mutated headers reach the header decoder, the directory and the payload instead
    /// of stopping at the checksum. The payload stays sealed: its mutations stop at
    /// authentication (the `payload` target fuzzes what is inside).
    private static func bundle(_ bytes: [UInt8]) throws {
        let url = Scratch.file("bundle")
        try Data(FixtureArea.resealed(bytes)).write(to: url)
        _ = try Store.verifyBundle(at: url, against: FixtureArea.recipientStore)
    }

    /// Fed in two pieces, split where the first byte says, so entries that straddle a piece are read
    /// as they are when the payload streams from the file.
    private static func payload(_ bytes: [UInt8]) throws {
        var parser = PayloadParser(section: FixtureArea.payloadSection, originKeys: FixtureArea.originKeys)
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        try parser.feed(Array(bytes[..<split])) { _ in }
        try parser.feed(Array(bytes[split...])) { _ in }
        try parser.finish()
    }

    /// Inflated whole, then again streamed in pieces of 7 bytes, as a payload arrives in pieces.
    private static func zlib(_ bytes: [UInt8]) throws {
        let whole = Result { try Zlib.decompress(bytes, limit: 1 << 20) }
        let inflater = try ZlibInflater()
        var start = 0
        while start < bytes.count {
            let end = min(start + 7, bytes.count)
            try inflater.decompress(Array(bytes[start..<end]), limit: 1 << 20) { _ in }
            start = end
        }
        _ = try whole.get()
    }

    private static func change(_ bytes: [UInt8]) throws {
        var reader = BinaryReader(bytes)
        let encoded = try EncodedChange.read(site: FixtureArea.la.id, seq: 1, from: &reader)
        _ = encoded.leaf
        _ = try encoded.decodedHeader()
        if !encoded.isRedacted { _ = try encoded.decoded() }
    }

    /// The bytes are the directory's signed part; the harness signs them with the fixture LA's key
    /// (else every mutation stops at the signature). The raw bytes are tried as a whole encoding too.
    private static func directory(_ bytes: [UInt8]) throws {
        let keys = FixtureArea.laKeys.publicKeys
        _ = try? AreaDirectory.decode(bytes, verifiedBy: keys, la: FixtureArea.la.id)
        var w = BinaryWriter()
        w.writeBytesWithLength(bytes)
        w.writeBytesWithLength(try FixtureArea.laKeys.sign(bytes))
        _ = try AreaDirectory.decode(w.bytes, verifiedBy: keys, la: FixtureArea.la.id)
    }

    /// The key file's contents as read once its permissions are checked.
    private static func keyFile(_ bytes: [UInt8]) throws {
        _ = try KeyFile.decode(Data(bytes), expectedSite: FixtureArea.la.id)
    }

    /// The reader `sensync import` uses, given the bytes instead of a file (the same code past
    /// the first read).
    private static func importFile(_ bytes: [UInt8], format: ImportFile.Format, name: String) throws {
        _ = try ImportFile(path: name, format: format).countRows(contents: Data(bytes))
    }
}

/// Files the targets that read from a path write their input to: one folder per process.
enum Scratch {
    static let folder: URL = {
        // In memory where Linux offers it: a file per input on a disk is mostly kernel time.
        var isFolder: ObjCBool = false
        let base =
            FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isFolder) && isFolder.boolValue
            ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let url = base.appendingPathComponent("sensync-fuzz-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func file(_ name: String) -> URL { folder.appendingPathComponent(name) }

    static func remove() { try? FileManager.default.removeItem(at: folder) }
}
