import Crypto
import Foundation

/// A SHA-256 value: change hashes, payload checksums, the state digest.
public struct Digest32: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// All zeros: the "previous hash" of a site's first change.
    public static let zero = Digest32(unchecked: [UInt8](repeating: 0, count: 32))

    package init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// A swift-crypto digest's bytes, copied at once (`Array(digest)` iterates them one by one
    /// through the generic sequence path: 2% of applying a bundle).
    init(_ digest: SHA256.Digest) { self.bytes = digest.withUnsafeBytes { Array($0) } }

    /// Wraps 32 bytes; `nil` for any other length.
    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses 64 hexadecimal characters.
    public init?(hex: String) {
        guard let raw = SENSync.bytes(fromHex: hex), raw.count == 32 else { return nil }
        self.bytes = raw
    }

    /// The SHA-256 of `data`.
    public static func sha256<D: DataProtocol>(_ data: D) -> Digest32 {
        Digest32(SHA256.hash(data: data))
    }

    /// Lower-case hexadecimal.
    public var hex: String { bytes.hexString }
    public var description: String { hex }

    public static func < (lhs: Digest32, rhs: Digest32) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

/// Incremental SHA-256 for streams.
package struct StreamingSHA256 {
    private var hasher = SHA256()
    package init() {}
    package mutating func update<D: DataProtocol>(_ data: D) { hasher.update(data: data) }
    package mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    package func finalize() -> Digest32 { Digest32(hasher.finalize()) }
}
