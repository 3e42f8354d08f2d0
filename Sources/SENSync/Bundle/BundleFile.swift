import Crypto
import Foundation

/// The bundle file layout (see `Schemas/bundle-v1.md`):
///
/// ```
/// magic      12 bytes  89 53 45 4E 53 59 4E 43 0D 0A 1A 0A  ("\x89SENSYNC\r\n\x1A\n")
/// major      u16       format major version (1)
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
    static let maxHeaderLength = 16 * 1024 * 1024
    /// Payload (plain) version this build writes and reads.
    static let payloadVersion: UInt8 = 1

    /// Where the parts of a bundle file are.
    struct Layout {
        var header: BundleHeader
        var headerDigest: Digest32
        var signature: [UInt8]
        var payloadOffset: UInt64
        var fileLength: UInt64

        /// Where section `i`'s payload starts.
        func offset(ofSection i: Int) -> UInt64 {
            payloadOffset + header.sections[0..<i].reduce(0) { $0 + $1.payloadLength }
        }
    }

    static func ioError() -> BundleError {
        BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
    }

    /// Reads and checks everything before the payloads, and the file length.
    static func readLayout(at url: URL) throws(BundleError) -> Layout {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw BundleError(.io, "The bundle file cannot be opened.", hint: "Check the path and permissions.")
        }
        defer { try? handle.close() }
        let fileLength: UInt64
        do {
            fileLength = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
        } catch { throw ioError() }
        func read(_ count: Int) throws(BundleError) -> [UInt8] {
            let data: Data?
            do { data = try handle.read(upToCount: count) } catch { throw ioError() }
            let bytes = data.map { Array($0) } ?? []
            guard bytes.count == count else { throw .damaged("it ends early") }
            return bytes
        }
        let start: [UInt8]
        do { start = Array(try handle.read(upToCount: 20) ?? Data()) } catch { throw ioError() }
        let known = min(start.count, 8)
        if start.isEmpty || Array(start[0..<known]) != Array(magic[0..<known]) {
            throw BundleError(
                .notABundle, "This file is not a SENSync bundle.", hint: "Check you chose the right file.")
        }
        guard start.count == 20 else { throw .damaged("it ends early") }
        let preamble = start
        guard Array(preamble[0..<12]) == magic else {
            throw .damaged("its first bytes were altered, as happens when a file is copied as text")
        }
        var r = BinaryReader(preamble, offset: 12)
        let major = (try? r.readUInt16()) ?? 0
        let minor = (try? r.readUInt16()) ?? 0
        let headerLength = Int((try? r.readUInt32()) ?? 0)
        guard major == BundleHeader.formatMajor else {
            throw BundleError(
                .unsupportedVersion,
                "This bundle is in format version \(major); this SENSync reads format \(BundleHeader.formatMajor).",
                hint: major > BundleHeader.formatMajor
                    ? "Install a SENSync release that reads bundle format \(major)."
                    : "Ask the sender to update SENSync.")
        }
        guard headerLength <= maxHeaderLength, UInt64(20 + headerLength + 34) <= fileLength else {
            throw .damaged("its header is incomplete")
        }
        let headerBytes = try read(headerLength)
        let digestBytes = try read(32)
        var hasher = StreamingSHA256()
        hasher.update(preamble)
        hasher.update(headerBytes)
        let digest = hasher.finalize()
        guard digest.bytes == digestBytes else { throw .damaged("its header checksum does not match") }
        let header: BundleHeader
        do {
            header = try BundleHeader.decode(headerBytes, formatMajor: major, formatMinor: minor)
        } catch {
            throw BundleError(
                .unsupportedVersion, "This bundle's header cannot be read (\(error.reason)).",
                hint: "It was probably made by a newer SENSync; install the latest release.")
        }
        var sigReader = BinaryReader(try read(2))
        let sigLength = Int((try? sigReader.readUInt16()) ?? 0)
        let signature = try read(sigLength)
        let payloadOffset = UInt64(20 + headerLength + 32 + 2 + sigLength)
        guard payloadOffset + header.payloadLength == fileLength else {
            throw .damaged(
                payloadOffset + header.payloadLength > fileLength ? "it ends early" : "it has extra bytes at the end")
        }
        return Layout(
            header: header, headerDigest: digest, signature: signature, payloadOffset: payloadOffset,
            fileLength: fileLength)
    }

    /// Reads section `index`'s payload as stored and compares its SHA-256 with the header's,
    /// before anything in it is interpreted.
    static func checkPayloadChecksum(at url: URL, layout: Layout, section index: Int) throws(BundleError) {
        let section = layout.header.sections[index]
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
            try handle.seek(toOffset: layout.offset(ofSection: index))
        } catch { throw ioError() }
        defer { try? handle.close() }
        var hasher = StreamingSHA256()
        var remaining = section.payloadLength
        while remaining > 0 {
            let want = Int(min(remaining, 256 * 1024))
            let data: Data?
            do { data = try handle.read(upToCount: want) } catch { throw ioError() }
            guard let data, data.count == want else { throw BundleError.damaged("it ends early") }
            hasher.update(data)
            remaining -= UInt64(want)
        }
        guard hasher.finalize() == section.payloadSHA256 else {
            throw BundleError.damaged("its payload checksum does not match")
        }
    }

    /// Streams section `index`: checks its checksum, opens it with `key`, decompresses it, and
    /// hands each entry to `visit` in payload order. Checks every structural rule of the payload.
    static func streamSection(
        at url: URL, layout: Layout, section index: Int, key: SymmetricKey, visit: (PayloadEntry) throws -> Void
    ) throws {
        try checkPayloadChecksum(at: url, layout: layout, section: index)
        let section = layout.header.sections[index]
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
            try handle.seek(toOffset: layout.offset(ofSection: index))
        } catch { throw ioError() }
        defer { try? handle.close() }
        var hasher = StreamingSHA256()
        var opener = PayloadSealing.Opener(
            key: key, bundleID: layout.header.bundleID, sealedLength: section.payloadLength)
        let inflater: ZlibInflater
        do { inflater = try ZlibInflater() } catch {
            throw BundleError(.io, "zlib could not start.", hint: "Reinstall zlib.")
        }
        var parser = PayloadParser(section: section)
        var remaining = section.payloadLength
        while remaining > 0 {
            let want = Int(min(remaining, 256 * 1024))
            let data: Data?
            do { data = try handle.read(upToCount: want) } catch { throw ioError() }
            guard let data, data.count == want else { throw BundleError.damaged("it ends early") }
            remaining -= UInt64(want)
            let bytes = Array(data)
            hasher.update(bytes)
            do {
                try opener.open(bytes) { plain in
                    try inflater.decompress(plain, limit: section.plainLength) { inflated in
                        try parser.feed(inflated, visit: visit)
                    }
                }
            } catch let error as BundleError {
                throw error
            } catch is ZlibFailure {
                throw BundleError.damaged("its payload does not decompress")
            } catch let failure as DecodingFailure {
                throw BundleError.damaged("its payload is malformed: \(failure.reason)")
            }
        }
        guard hasher.finalize() == section.payloadSHA256 else {
            throw BundleError.damaged("its payload checksum does not match")
        }
        guard opener.isFinished, inflater.isFinished, inflater.totalOut == section.plainLength else {
            throw BundleError.damaged("its payload is incomplete")
        }
        do { try parser.finish() } catch let failure as DecodingFailure {
            throw BundleError.damaged("its payload is malformed: \(failure.reason)")
        }
    }
}

/// One entry of a payload.
enum PayloadEntry {
    /// A change in its site's chain order.
    case change(origin: Int, EncodedChange, hash: Digest32, previousHash: Digest32)
    /// `count` consecutive changes of a site, out of the recipient's scope: only the chain hash of
    /// the last is carried. `erased` when they are about erased pupils: nobody holds their content
    /// any more, so any site may pass such a run on, and the erasure written after them need not
    /// wait for them.
    case skip(origin: Int, firstSeq: UInt64, count: UInt64, lastHash: Digest32, erased: Bool)
    /// A change outside chain order: part of a pupil's history the recipient lacks.
    case history(EncodedChange, previousHash: Digest32, hash: Digest32)
    /// What the sender holds of one pupil's changes (per site, the highest sequence number).
    case holdings(pupil: RecordID, VersionVector)

    enum Kind: UInt64 {
        case change = 0
        case skip = 1
        case history = 2
        case holdings = 3
    }
}

/// Splits a decompressed payload into entries and checks it matches its section: every origin's
/// entries in order with the exact counts, and each origin's chain ending at the header's hash.
struct PayloadParser {
    let section: BundleSection
    private var buffer: [UInt8] = []
    private var sawVersion = false
    private var nextSeq: [UInt64]
    private var hashes: [Digest32]
    private var full: UInt64 = 0
    private var skipped: UInt64 = 0
    private var history: UInt64 = 0

    init(section: BundleSection) {
        self.section = section
        nextSeq = section.origins.map(\.firstSeq)
        hashes = section.origins.map(\.previousHash)
    }

    mutating func feed(_ bytes: [UInt8], visit: (PayloadEntry) throws -> Void) throws {
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
            do {
                let tag = try reader.readVarint()
                guard let kind = PayloadEntry.Kind(rawValue: tag & 3) else {
                    throw DecodingFailure("unknown entry kind")
                }
                let index = Int(tag >> 2)
                let entry: PayloadEntry
                switch kind {
                case .change, .skip:
                    guard index < section.origins.count else { throw DecodingFailure("entry for an unlisted origin") }
                    let origin = section.origins[index]
                    let seq = nextSeq[index]
                    if kind == .change {
                        let body = try reader.readBytesWithLength(limit: 64 * 1024 * 1024)
                        guard seq <= origin.lastSeq else {
                            throw DecodingFailure("more changes than listed for an origin")
                        }
                        let change = EncodedChange(site: origin.site, seq: seq, body: body)
                        guard !change.isRedacted else { throw DecodingFailure("a change without content") }
                        let previous = hashes[index]
                        let hash = change.chainHash(previous: previous)
                        hashes[index] = hash
                        nextSeq[index] = seq + 1
                        full += 1
                        entry = .change(origin: index, change, hash: hash, previousHash: previous)
                    } else {
                        let countAndFlag = try reader.readVarint()
                        let count = countAndFlag >> 1
                        let last = Digest32(unchecked: Array(try reader.readBytes(32)))
                        guard count >= 1, count <= origin.lastSeq - seq + 1 else {
                            throw DecodingFailure("a skip runs past its origin")
                        }
                        hashes[index] = last
                        nextSeq[index] = seq + count
                        skipped += count
                        entry = .skip(
                            origin: index, firstSeq: seq, count: count, lastHash: last,
                            erased: countAndFlag & 1 == 1)
                    }
                case .history:
                    let site = SiteID(unchecked: Array(try reader.readBytes(16)))
                    let seq = try reader.readVarint()
                    let previous = Digest32(unchecked: Array(try reader.readBytes(32)))
                    let body = try reader.readBytesWithLength(limit: 64 * 1024 * 1024)
                    guard seq >= 1 else { throw DecodingFailure("a history change numbered 0") }
                    let change = EncodedChange(site: site, seq: seq, body: body)
                    guard !change.isRedacted else { throw DecodingFailure("a change without content") }
                    history += 1
                    entry = .history(change, previousHash: previous, hash: change.chainHash(previous: previous))
                case .holdings:
                    let pupil = RecordID(unchecked: Array(try reader.readBytes(16)))
                    var vv = VersionVector()
                    for _ in 0..<(try reader.readCount(limit: 1 << 16)) {
                        let site = SiteID(unchecked: Array(try reader.readBytes(16)))
                        vv[site] = try reader.readVarint()
                    }
                    entry = .holdings(pupil: pupil, vv)
                }
                consumed = reader.offset
                try visit(entry)
            } catch let failure as DecodingFailure where failure.reason == "unexpected end of data" {
                break
            }
        }
        buffer.removeFirst(consumed)
    }

    func finish() throws {
        guard sawVersion, buffer.isEmpty else { throw DecodingFailure("trailing bytes") }
        guard full == section.changeCount, skipped == section.skippedCount, history == section.historyCount else {
            throw DecodingFailure("entry counts disagree with the header")
        }
        for (i, origin) in section.origins.enumerated() {
            guard nextSeq[i] == origin.lastSeq + 1 else { throw DecodingFailure("fewer changes than listed") }
            guard hashes[i] == origin.lastHash else {
                throw DecodingFailure("a site's hash chain does not match the header")
            }
        }
    }
}
