import Crypto
import Foundation

/// The bundle file layout (see `Schemas/bundle-v2.md`):
///
/// ```
/// magic      12 bytes  89 53 45 4E 53 59 4E 43 0D 0A 1A 0A  ("\x89SENSYNC\r\n\x1A\n")
/// major      u16       format major version (2)
/// minor      u16       format minor version (0)
/// headerLen  u32       bytes of header
/// header     headerLen bytes (BundleHeader)
/// digest     32 bytes  SHA-256 of everything above
/// sigLen     u16       bytes of signature (64)
/// signature  sigLen bytes: the sender's Ed25519 signature of the digest
/// payloads   each section's sealed payload in turn; the file ends here
/// ```
public enum BundleFile {
    static let magic: [UInt8] = [0x89, 0x53, 0x45, 0x4E, 0x53, 0x59, 0x4E, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]
    static let maxHeaderLength: UInt64 = 16 * 1024 * 1024
    /// Payload (plain) version this build writes and reads.
    static let payloadVersion: UInt8 = 3

    /// Where the parts of a bundle file are.
    struct Layout {
        var header: BundleHeader
        var headerDigest: Digest32
        var signature: [UInt8]
        var payloadOffset: UInt64
        var fileLength: UInt64

        /// Where section `i`'s payload starts.
        func offset(ofSection i: Int) -> UInt64 { payloadOffset + header.offset(ofSection: i) }
    }

    /// Everything before the payloads: preamble, `header` (or `headerBytes`, as given), the digest,
    /// and the signature of the digest with `keys`.
    static func signedPrefix(header: BundleHeader, keys: SiteKeys, headerBytes: [UInt8]? = nil) throws -> [UInt8] {
        let bytes = headerBytes ?? header.encoded()
        var w = BinaryWriter(reservingCapacity: bytes.count + 128)
        w.write(contentsOf: magic)
        w.write(header.formatMajor)
        w.write(header.formatMinor)
        w.write(UInt32(bytes.count))
        w.write(contentsOf: bytes)
        let digest = Digest32.sha256(w.bytes)
        w.write(contentsOf: digest.bytes)
        let signature = try keys.sign(digest.bytes)
        w.write(UInt16(signature.count))
        w.write(contentsOf: signature)
        return w.bytes
    }

    static func ioError() -> BundleError {
        BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
    }

    /// Reads and checks everything before the payloads, and the file length. Every length read from
    /// the file is compared with the file before it is used, so a crafted header cannot make the
    /// reader overflow or allocate without bound.
    static func readLayout(at url: URL) throws(BundleError) -> Layout {
        let file = try OpenFile(url)
        defer { file.close() }
        let (header, digest, headerLength) = try readHeader(from: file)
        var sigReader = BinaryReader(try file.read(2))
        let sigLength = UInt64((try? sigReader.readUInt16()) ?? 0)
        guard sigLength == 64, 20 + headerLength + 34 + sigLength <= file.length else {
            throw .damaged("its signature is incomplete")
        }
        let signature = try file.read(64)
        let payloadOffset = 20 + headerLength + 34 + sigLength
        // Each section length is bounded when decoded, so the sum cannot overflow; compare
        // before subtracting.
        let (end, overflow) = payloadOffset.addingReportingOverflow(header.payloadLength)
        guard !overflow, end == file.length else {
            throw .damaged(overflow || end > file.length ? "it ends early" : "it has extra bytes at the end")
        }
        return Layout(
            header: header, headerDigest: digest, signature: signature, payloadOffset: payloadOffset,
            fileLength: file.length)
    }

    /// The header of a bundle file whose preamble and header checksum hold, whatever follows them:
    /// what a damaged bundle still says about itself. Not authenticated — the signature is not
    /// checked — so what it names is only claimed. `nil` if the header cannot be read.
    static func readClaimedHeader(at url: URL) -> BundleHeader? {
        guard let file = try? OpenFile(url) else { return nil }
        defer { file.close() }
        return try? readHeader(from: file).header
    }

    /// The SHA-256 of the whole file, read in pieces; `nil` if it cannot be read.
    static func fileSHA256(at url: URL) -> Digest32? {
        guard isRegularFile(url), let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        var hasher = StreamingSHA256()
        while true {
            let data: Data?
            do { data = try handle.read(upToCount: 256 * 1024) } catch { return nil }
            // `nil` or empty at the end of the file.
            guard let data, !data.isEmpty else { return hasher.finalize() }
            hasher.update(data)
        }
    }

    /// Whether the file at `path` begins as a SENSync bundle does (whole or not): a file a new
    /// bundle may replace, where any other file at that path is the user's to keep.
    public static func looksLikeBundle(atPath path: String) -> Bool {
        guard isRegularFile(URL(fileURLWithPath: path)), let handle = FileHandle(forReadingAtPath: path) else {
            return false
        }
        defer { try? handle.close() }
        let start = (try? handle.read(upToCount: 8)) ?? Data()
        return start.count == 8 && Array(start) == Array(magic[0..<8])
    }

    /// Reads and checks the preamble, the header and its checksum, from the start of `file`.
    private static func readHeader(
        from file: OpenFile
    ) throws(BundleError) -> (header: BundleHeader, digest: Digest32, length: UInt64) {
        let start = try file.readUpTo(20)
        let known = min(start.count, 8)
        if start.isEmpty || Array(start[0..<known]) != Array(magic[0..<known]) {
            throw BundleError(
                .notABundle, "This file is not a SENSync bundle.", hint: "Check you chose the right file.")
        }
        guard start.count == 20 else { throw .damaged("it ends early") }
        guard Array(start[0..<12]) == magic else {
            throw .damaged("its first bytes were altered, as happens when a file is copied as text")
        }
        var r = BinaryReader(start, offset: 12)
        let major = (try? r.readUInt16()) ?? 0
        let minor = (try? r.readUInt16()) ?? 0
        let headerLength = UInt64((try? r.readUInt32()) ?? 0)
        // A version no release has had nor will for years is a damaged field, not a newer
        // SENSync (one flipped bit of format 3 reads as 259): "install a newer release" misleads.
        guard major != 0, major <= BundleHeader.formatMajor + 16 else {
            throw .damaged("its format version field was altered")
        }
        guard major == BundleHeader.formatMajor else {
            throw BundleError(
                .unsupportedVersion,
                major < BundleHeader.formatMajor
                    ? "This bundle was made by an older SENSync (bundle format \(major)); this SENSync reads format \(BundleHeader.formatMajor)."
                    : "This bundle is in format version \(major); this SENSync reads format \(BundleHeader.formatMajor).",
                hint: major > BundleHeader.formatMajor
                    ? "Install a SENSync release that reads bundle format \(major)."
                    : "Nothing was applied. Ask the sender to update SENSync and make the bundle again.")
        }
        // Preamble, header, digest and signature length must fit in the file.
        guard headerLength <= maxHeaderLength, 20 + headerLength + 34 <= file.length else {
            throw .damaged("its header is incomplete")
        }
        let headerBytes = try file.read(Int(headerLength))
        let digestBytes = try file.read(32)
        var hasher = StreamingSHA256()
        hasher.update(start)
        hasher.update(headerBytes)
        let digest = hasher.finalize()
        guard digest.bytes == digestBytes else { throw .damaged("its header checksum does not match") }
        do {
            let header = try BundleHeader.decode(headerBytes, formatMajor: major, formatMinor: minor)
            return (header, digest, headerLength)
        } catch {
            throw BundleError(
                .unsupportedVersion, "This bundle's header cannot be read (\(error.reason)).",
                hint: "It was probably made by a newer SENSync; install the latest release.")
        }
    }

    /// Whether `url` names a regular file (a symbolic link to one included), found without opening it.
    public static func isRegularFile(_ url: URL) -> Bool {
        var info = stat()
        return stat(url.path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    /// Whether `url` names something that is neither a file nor a folder: a device, pipe or socket.
    static func isSpecialFile(_ url: URL) -> Bool {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type != S_IFREG && type != S_IFDIR
    }

    /// A bundle file open for reading from its start, with its length.
    private struct OpenFile {
        let handle: FileHandle
        let length: UInt64

        init(_ url: URL) throws(BundleError) {
            // A device, pipe or socket is never a bundle: reading /dev/zero never ends, and opening
            // a pipe waits for a writer. Checked without opening it.
            guard !BundleFile.isSpecialFile(url) else {
                throw BundleError(
                    .notABundle, "This is not a bundle file: it is a device, pipe or socket.",
                    hint: "Give the path of the bundle file itself.")
            }
            // A folder opens on Linux, then cannot be read ("cannot be read: check permissions").
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
                throw BundleError(
                    .io, "This is a folder, not a bundle file.",
                    hint: "Give the bundle files in it: `sensync bundle apply FOLDER/*.bundle`.")
            }
            do { handle = try FileHandle(forReadingFrom: url) } catch {
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw BundleError(
                        .notFound, "There is no bundle file at the path given.",
                        hint: "Check the path (and that the file was copied whole to this computer).")
                }
                throw BundleError(.io, "The bundle file cannot be opened.", hint: "Check the path and permissions.")
            }
            do {
                length = try handle.seekToEnd()
                try handle.seek(toOffset: 0)
            } catch {
                try? handle.close()
                throw BundleFile.ioError()
            }
        }

        func close() { try? handle.close() }

        /// Up to `count` bytes: fewer at the end of the file.
        func readUpTo(_ count: Int) throws(BundleError) -> [UInt8] {
            do { return Array(try handle.read(upToCount: count) ?? Data()) } catch { throw BundleFile.ioError() }
        }

        /// Exactly `count` bytes, else the file is damaged.
        func read(_ count: Int) throws(BundleError) -> [UInt8] {
            let bytes = try readUpTo(count)
            guard bytes.count == count else { throw .damaged("it ends early") }
            return bytes
        }
    }

    /// Reads section `index`'s payload as stored and compares its SHA-256 with the header's,
    /// before anything in it is interpreted.
    static func checkPayloadChecksum(at url: URL, layout: Layout, section index: Int) throws(BundleError) {
        let section = layout.header.sections[index]
        var hasher = StreamingSHA256()
        do {
            try readSealed(at: url, layout: layout, section: index) { bytes in hasher.update(bytes) }
        } catch let error as BundleError {
            throw error
        } catch {
            throw ioError()
        }
        guard hasher.finalize() == section.payloadSHA256 else {
            throw BundleError.damaged("its payload checksum does not match")
        }
    }

    private static func readSealed(
        at url: URL, layout: Layout, section index: Int, _ visit: ([UInt8]) throws -> Void
    ) throws {
        let section = layout.header.sections[index]
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
            try handle.seek(toOffset: layout.offset(ofSection: index))
        } catch { throw ioError() }
        defer { try? handle.close() }
        var remaining = section.payloadLength
        while remaining > 0 {
            let want = Int(min(remaining, 256 * 1024))
            let data: Data?
            do { data = try handle.read(upToCount: want) } catch { throw ioError() }
            guard let data, data.count == want else { throw BundleError.damaged("it ends early") }
            remaining -= UInt64(want)
            try visit(Array(data))
        }
    }

    /// Streams section `index`: opens it with `key`, decompresses it, checks every structural
    /// rule and every origin signature (``PayloadParser``), and hands each entry to `visit` in
    /// payload order. The sealed bytes are hashed as they are read and must match the header.
    static func streamSection(
        at url: URL, layout: Layout, section index: Int, key: SymmetricKey,
        originKeys: [SiteID: PublicKeys], siteNames: [SiteID: String] = [:], visit: (PayloadEntry) throws -> Void
    ) throws {
        let section = layout.header.sections[index]
        var hasher = StreamingSHA256()
        var opener = PayloadSealing.Opener(
            key: key, bundleID: layout.header.bundleID, sealedLength: section.payloadLength)
        let inflater: ZlibInflater
        do { inflater = try ZlibInflater() } catch {
            throw BundleError(.io, "zlib could not start.", hint: "Reinstall zlib.")
        }
        var parser = PayloadParser(section: section, originKeys: originKeys)
        do {
            try readSealed(at: url, layout: layout, section: index) { bytes in
                hasher.update(bytes)
                try opener.open(bytes) { plain in
                    try inflater.decompress(plain, limit: section.plainLength) { inflated in
                        try parser.feed(inflated, visit: visit)
                    }
                }
            }
        } catch {
            // A payload that fails to open or parse may simply be damaged: say so when it is.
            if !(error is PayloadParser.Failure) { try checkPayloadChecksum(at: url, layout: layout, section: index) }
            throw Self.bundleError(error, siteNames: siteNames)
        }
        guard hasher.finalize() == section.payloadSHA256 else {
            throw BundleError.damaged("its payload checksum does not match")
        }
        guard opener.isFinished, inflater.isFinished, inflater.totalOut == section.plainLength else {
            throw BundleError.damaged("its payload is incomplete")
        }
        do { try parser.finish() } catch { throw Self.bundleError(error, siteNames: siteNames) }
    }

    /// Section `index` opened with `key` and decompressed, but not parsed: the bytes
    /// ``PayloadParser`` reads (the fuzz seed corpus is made from it).
    static func plainPayload(at url: URL, layout: Layout, section index: Int, key: SymmetricKey) throws
        -> [UInt8]
    {
        let section = layout.header.sections[index]
        var opener = PayloadSealing.Opener(
            key: key, bundleID: layout.header.bundleID, sealedLength: section.payloadLength)
        let inflater = try ZlibInflater()
        var plain: [UInt8] = []
        try readSealed(at: url, layout: layout, section: index) { bytes in
            try opener.open(bytes) { try inflater.decompress($0, limit: section.plainLength) { plain += $0 } }
        }
        guard opener.isFinished, inflater.isFinished else { throw BundleError.damaged("its payload is incomplete") }
        return plain
    }

    /// Maps what a payload can fail with to the bundle error a user sees, naming sites as
    /// `siteNames` does.
    static func bundleError(_ error: any Error, siteNames: [SiteID: String] = [:]) -> any Error {
        switch error {
        case is ZlibFailure: return BundleError.damaged("its payload does not decompress")
        case let failure as DecodingFailure: return BundleError.damaged("its payload is malformed: \(failure.reason)")
        case let failure as PayloadParser.Failure:
            switch failure {
            case .unknownOrigin(let site):
                return BundleError(
                    .missingPrerequisites,
                    "Nothing was applied. The bundle carries changes made by site \(site), which this site's area directory does not list.",
                    hint:
                        "Apply a bundle from your LA (or trust) first: it brings the newer directory. Then apply this one again."
                )
            case .forged(let site, let detail):
                return BundleError(
                    .badSignature,
                    "Nothing was applied. The bundle carries changes said to be made by \(site.named { siteNames[$0] }) that its signature does not cover (\(detail)): they were forged or altered.",
                    hint: "Do not apply bundles from this sender until it is checked; tell your LA.")
            }
        default: return error
        }
    }
}

/// One entry of a payload.
package enum PayloadEntry {
    /// An origin's signed checkpoint (already verified), and whether every change it covers
    /// follows in this payload.
    case checkpoint(index: Int, Checkpoint, isComplete: Bool)
    /// A change, proved against checkpoint `checkpoint` (by its audit path, or — for a complete
    /// checkpoint — once every leaf has arrived, at the end of the payload), with its leaf and its
    /// header as read.
    case change(EncodedChange, checkpoint: Int, path: [Digest32]?, leaf: Digest32, header: ChangeHeader)
    /// What the sender holds of one pupil's changes (per site, the highest sequence number), or,
    /// `passedOn`, held when it passed the pupil on to its upstream (it no longer holds them).
    case holdings(pupil: RecordID, VersionVector, passedOn: Bool)

    package enum Kind: UInt64 {
        case checkpoint = 0
        case change = 1
        case holdings = 2
    }
}

/// Splits a decompressed payload into entries and checks it: entry kinds in order (checkpoints,
/// then changes, then holdings), every checkpoint signed by its origin, every change proved to a
/// checkpoint of its site, no change twice, and counts as the header states.
package struct PayloadParser {
    /// Why a payload was refused, beyond malformed bytes.
    package enum Failure: Error {
        /// A checkpoint's site is not in this store's directory.
        case unknownOrigin(SiteID)
        /// A checkpoint's signature, or a change's proof, does not verify.
        case forged(SiteID, String)
    }

    let section: BundleSection
    let originKeys: [SiteID: PublicKeys]
    private var buffer: [UInt8] = []
    private var sawVersion = false
    private var lastKind: UInt64 = 0
    private var checkpoints: [(checkpoint: Checkpoint, isComplete: Bool)] = []
    /// Leaves of complete checkpoints, by checkpoint index and offset.
    private var leaves: [Int: [Digest32?]] = [:]
    private var seen: Set<Dot> = []
    private var changes: UInt64 = 0
    private var redacted: UInt64 = 0
    private var holdings: UInt64 = 0
    /// The tables changes and holdings are coded against.
    private var coding = PayloadCodingState()

    package init(section: BundleSection, originKeys: [SiteID: PublicKeys]) {
        self.section = section
        self.originKeys = originKeys
    }

    package mutating func feed(_ bytes: [UInt8], visit: (PayloadEntry) throws -> Void) throws {
        buffer += bytes
        var reader = BinaryReader(buffer)
        if !sawVersion {
            guard let version = try? reader.readUInt8() else { return }
            guard version == BundleFile.payloadVersion else {
                throw DecodingFailure("unknown payload version \(version)")
            }
            sawVersion = true
        }
        var consumed = reader.offset
        while !reader.isAtEnd {
            let entry: PayloadEntry
            let mark = coding.mark()
            do {
                entry = try next(&reader)
            } catch let failure as DecodingFailure where failure.reason == "unexpected end of data" {
                // Cut short by the end of what arrived so far: read again, whole, with more.
                coding.rollBack(to: mark)
                break
            }
            consumed = reader.offset
            try visit(entry)
        }
        buffer.removeFirst(consumed)
    }

    /// Reads and checks one entry.
    private mutating func next(_ reader: inout BinaryReader) throws -> PayloadEntry {
        let tag = try reader.readVarint()
        guard let kind = PayloadEntry.Kind(rawValue: tag) else { throw DecodingFailure("unknown entry kind") }
        guard tag >= lastKind else { throw DecodingFailure("entries are out of order") }
        switch kind {
        case .checkpoint:
            let checkpoint = try Checkpoint.decode(from: &reader)
            let flag = try reader.readUInt8()
            guard flag <= 1 else { throw DecodingFailure("a checkpoint flag is invalid") }
            guard UInt64(checkpoints.count) < section.checkpointCount else {
                throw DecodingFailure("more checkpoints than the header lists")
            }
            guard let keys = originKeys[checkpoint.site] else { throw Failure.unknownOrigin(checkpoint.site) }
            guard checkpoint.isSigned(by: keys) else {
                throw Failure.forged(checkpoint.site, "a checkpoint's signature does not verify")
            }
            lastKind = tag
            let index = checkpoints.count
            checkpoints.append((checkpoint, flag == 1))
            if flag == 1 { leaves[index] = Array(repeating: nil, count: checkpoint.count) }
            return .checkpoint(index: index, checkpoint, isComplete: flag == 1)
        case .change:
            let index = try reader.readCount(limit: checkpoints.count)
            guard index < checkpoints.count else { throw DecodingFailure("a change names an unlisted checkpoint") }
            let (checkpoint, isComplete) = checkpoints[index]
            let seq = try coding.readSeq(of: checkpoint.site, from: &reader)
            guard checkpoint.covers(seq) else { throw DecodingFailure("a change lies outside its checkpoint") }
            var path: [Digest32]?
            if !isComplete {
                let count = try reader.readCount(limit: 64)
                var hashes: [Digest32] = []
                for _ in 0..<count { hashes.append(Digest32(unchecked: Array(try reader.readBytes(32)))) }
                path = hashes
            }
            let (change, header) = try coding.readChangeAndHeader(site: checkpoint.site, seq: seq, from: &reader)
            guard seen.insert(change.dot).inserted else { throw DecodingFailure("a change is listed twice") }
            let leaf = change.leaf
            if let path {
                guard checkpoint.proves(leaf, at: seq, path: path) else {
                    throw Failure.forged(checkpoint.site, "a change is not in the run its site signed")
                }
            } else {
                leaves[index]?[Int(seq - checkpoint.first)] = leaf
            }
            if change.isRedacted { redacted += 1 } else { changes += 1 }
            guard changes <= section.changeCount, redacted <= section.redactedCount else {
                throw DecodingFailure("more changes than the header lists")
            }
            lastKind = tag
            return .change(change, checkpoint: index, path: path, leaf: leaf, header: header)
        case .holdings:
            let pupil = try coding.readPupil(from: &reader)
            let held = try coding.readVector(from: &reader)
            let flag = try reader.readUInt8()
            guard flag <= 1 else { throw DecodingFailure("a holdings flag is invalid") }
            holdings += 1
            guard holdings <= section.holdingsCount else { throw DecodingFailure("more holdings than listed") }
            lastKind = tag
            return .holdings(pupil: pupil, held, passedOn: flag == 1)
        }
    }

    /// Checks the end of the payload: counts, and every complete checkpoint's root.
    package func finish() throws {
        guard sawVersion, buffer.isEmpty else { throw DecodingFailure("trailing bytes") }
        guard UInt64(checkpoints.count) == section.checkpointCount, changes == section.changeCount,
            redacted == section.redactedCount, holdings == section.holdingsCount
        else {
            throw DecodingFailure("entry counts disagree with the header")
        }
        for (index, run) in leaves {
            let checkpoint = checkpoints[index].checkpoint
            let present = run.compactMap { $0 }
            guard present.count == run.count else {
                throw DecodingFailure("a checkpoint said to be complete lacks some of its changes")
            }
            guard Merkle.root(present) == checkpoint.root else {
                throw Failure.forged(checkpoint.site, "changes do not match the run their site signed")
            }
        }
    }
}
