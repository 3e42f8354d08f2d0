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
/// sigLen     u16       bytes of signature (0: unsigned)
/// signature  sigLen bytes
/// payload    header.payloadLength bytes; the file ends here
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
    }

    /// Reads and checks everything before the payload, and the file length.
    static func readLayout(at url: URL) throws(BundleError) -> Layout {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw BundleError(.io, "The bundle file cannot be opened.", hint: "Check the path and permissions.")
        }
        defer { try? handle.close() }
        let fileLength: UInt64
        do { fileLength = try handle.seekToEnd(); try handle.seek(toOffset: 0) } catch {
            throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
        }
        func read(_ count: Int) throws(BundleError) -> [UInt8] {
            let data: Data?
            do { data = try handle.read(upToCount: count) } catch {
                throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
            }
            let bytes = data.map { Array($0) } ?? []
            guard bytes.count == count else { throw .damaged("it ends early") }
            return bytes
        }
        let start: [UInt8]
        do { start = Array(try handle.read(upToCount: 20) ?? Data()) } catch {
            throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
        }
        let known = min(start.count, magic.count)
        if start.isEmpty || (Array(start[0..<min(known, 8)]) != Array(magic[0..<min(known, 8)])) {
            throw BundleError(.notABundle, "This file is not a SENSync bundle.", hint: "Check you chose the right file.")
        }
        guard start.count == 20 else { throw .damaged("it ends early") }
        let preamble = start
        guard Array(preamble[0..<12]) == magic else {
            if Array(preamble[0..<8]) == Array(magic[0..<8]) {
                throw .damaged("its first bytes were altered, as happens when a file is copied as text")
            }
            throw BundleError(.notABundle, "This file is not a SENSync bundle.", hint: "Check you chose the right file.")
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
                    ? "Install a SENSync release that reads bundle format \(major)." : "Ask the sender to update SENSync.")
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
            throw .damaged(payloadOffset + header.payloadLength > fileLength ? "it ends early" : "it has extra bytes at the end")
        }
        guard header.payloadEncoding == .zlib else {
            throw BundleError(.unsupportedVersion, "This bundle's payload is sealed for its recipients.", hint: "Install a SENSync release that reads sealed bundles.")
        }
        return Layout(header: header, headerDigest: digest, signature: signature, payloadOffset: payloadOffset, fileLength: fileLength)
    }

    /// Streams the payload: checks its SHA-256, decompresses it, and hands each change to `visit`
    /// with its chain hash, in payload order. Checks every structural rule of the payload; throws
    /// ``BundleError`` on the first problem.
    static func streamPayload(
        at url: URL, layout: Layout,
        visit: (_ originIndex: Int, _ change: EncodedChange, _ hash: Digest32) throws -> Void
    ) throws {
        let header = layout.header
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
            try handle.seek(toOffset: layout.payloadOffset)
        } catch {
            throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
        }
        defer { try? handle.close() }
        // Check the payload's checksum before reading any change from it. zlib hands out
        // decompressed pieces before its own check at the end of the stream, so without this a
        // damaged file could reach the change decoder and the prerequisite checks and be refused
        // for the wrong reason (and, for missing prerequisites, have that refusal recorded).
        try checkPayloadChecksum(handle, layout: layout)
        do { try handle.seek(toOffset: layout.payloadOffset) } catch {
            throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
        }
        var hasher = StreamingSHA256()
        let inflater: ZlibInflater
        do { inflater = try ZlibInflater() } catch { throw BundleError(.io, "zlib could not start.", hint: "Reinstall zlib.") }
        var parser = PayloadParser(header: header)
        var remaining = header.payloadLength
        while remaining > 0 {
            let want = Int(min(remaining, 256 * 1024))
            let data: Data?
            do { data = try handle.read(upToCount: want) } catch {
                throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
            }
            guard let data, data.count == want else { throw BundleError.damaged("it ends early") }
            remaining -= UInt64(want)
            let bytes = Array(data)
            hasher.update(bytes)
            do {
                try inflater.decompress(bytes, limit: header.plainLength) { plain in
                    try parser.feed(plain, visit: visit)
                }
            } catch let error as BundleError {
                throw error
            } catch is ZlibFailure {
                throw BundleError.damaged("its payload does not decompress")
            } catch let failure as DecodingFailure {
                throw BundleError.damaged("its payload is malformed: \(failure.reason)")
            }
        }
        guard hasher.finalize() == header.payloadSHA256 else { throw BundleError.damaged("its payload checksum does not match") }
        guard inflater.isFinished, inflater.totalOut == header.plainLength else {
            throw BundleError.damaged("its payload is incomplete")
        }
        do { try parser.finish() } catch let failure as DecodingFailure {
            throw BundleError.damaged("its payload is malformed: \(failure.reason)")
        }
    }
}

extension BundleFile {
    /// Reads the payload as stored (without decompressing it) and compares its SHA-256 with the
    /// header's. `handle` is positioned at the payload.
    static func checkPayloadChecksum(_ handle: FileHandle, layout: Layout) throws(BundleError) {
        var hasher = StreamingSHA256()
        var remaining = layout.header.payloadLength
        while remaining > 0 {
            let want = Int(min(remaining, 256 * 1024))
            let data: Data?
            do { data = try handle.read(upToCount: want) } catch {
                throw BundleError(.io, "The bundle file cannot be read.", hint: "Check the path and permissions.")
            }
            guard let data, data.count == want else { throw BundleError.damaged("it ends early") }
            hasher.update(data)
            remaining -= UInt64(want)
        }
        guard hasher.finalize() == layout.header.payloadSHA256 else { throw BundleError.damaged("its payload checksum does not match") }
    }
}

/// Splits the decompressed payload into changes and checks it matches the header: every origin's
/// changes in order, the exact counts, and each origin's chain ending at the header's last hash.
struct PayloadParser {
    let header: BundleHeader
    private var buffer: [UInt8] = []
    private var sawVersion = false
    private var nextSeq: [UInt64]
    private var hashes: [Digest32]

    init(header: BundleHeader) {
        self.header = header
        nextSeq = header.origins.map(\.firstSeq)
        hashes = header.origins.map(\.previousHash)
    }

    mutating func feed(_ bytes: [UInt8], visit: (Int, EncodedChange, Digest32) throws -> Void) throws {
        buffer += bytes
        var reader = BinaryReader(buffer)
        if !sawVersion {
            guard let version = try? reader.readUInt8() else { return }
            guard version == BundleFile.payloadVersion else { throw DecodingFailure("unknown payload version \(version)") }
            sawVersion = true
        }
        var consumed = reader.offset
        while !reader.isAtEnd {
            do {
                let tag = try reader.readVarint()
                guard tag & 1 == 0 else { throw DecodingFailure("unknown entry kind") }
                let index = Int(tag >> 1)
                guard index < header.origins.count else { throw DecodingFailure("entry for an unlisted origin") }
                let body = try reader.readBytesWithLength(limit: 64 * 1024 * 1024)
                let origin = header.origins[index]
                let seq = nextSeq[index]
                guard seq <= origin.lastSeq else { throw DecodingFailure("more changes than listed for an origin") }
                let change = EncodedChange(site: origin.site, seq: seq, body: body)
                let hash = change.chainHash(previous: hashes[index])
                hashes[index] = hash
                nextSeq[index] = seq + 1
                consumed = reader.offset
                try visit(index, change, hash)
            } catch let failure as DecodingFailure where failure.reason == "unexpected end of data" {
                break
            }
        }
        buffer.removeFirst(consumed)
    }

    func finish() throws {
        guard sawVersion, buffer.isEmpty else { throw DecodingFailure("trailing bytes") }
        for (i, origin) in header.origins.enumerated() {
            guard nextSeq[i] == origin.lastSeq + 1 else { throw DecodingFailure("fewer changes than listed") }
            guard hashes[i] == origin.lastHash else { throw DecodingFailure("a site's hash chain does not match the header") }
        }
    }
}
