import Crypto
import Foundation

/// Encryption of a bundle payload to its recipients.
///
/// One random 256-bit content key per payload. For each recipient, the key is sealed with HPKE
/// (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305) to the
/// recipient's X25519 key, with `info` binding the bundle id. The payload is encrypted with
/// ChaCha20-Poly1305 in segments of 64 KiB of plaintext; segment `i` uses the nonce
/// `00000000 ‖ u64(i)` and the additional data `"SENSync payload v1\0" ‖ bundleID ‖ u64(i) ‖ last`,
/// so reordering, dropping or truncating segments is detected.
enum PayloadSealing {
    static let segmentSize = 64 * 1024
    static var suite: HPKE.Ciphersuite { .Curve25519_SHA256_ChachaPoly }

    static func info(bundleID: UUID128) -> Data {
        Data(Array("SENSync bundle key v1\u{0}".utf8) + bundleID.bytes)
    }

    /// A recipient's sealed copy of the content key.
    struct WrappedKey: Hashable, Sendable {
        var recipient: SiteID
        /// HPKE encapsulated key (32 bytes).
        var encapsulated: [UInt8]
        /// The sealed content key (32 + 16 bytes).
        var sealedKey: [UInt8]
    }

    static func wrap(_ key: SymmetricKey, for recipient: SiteID, keys: PublicKeys, bundleID: UUID128) throws
        -> WrappedKey
    {
        guard let publicKey = keys.agreementKey else {
            throw SecurityError(
                .unknownRecipient, "A recipient's encryption key is not valid.",
                hint: "Check the directory entry for that site.")
        }
        var sender = try HPKE.Sender(recipientKey: publicKey, ciphersuite: suite, info: info(bundleID: bundleID))
        let sealed = try key.withUnsafeBytes { try sender.seal(Data($0), authenticating: Data(bundleID.bytes)) }
        return WrappedKey(recipient: recipient, encapsulated: Array(sender.encapsulatedKey), sealedKey: Array(sealed))
    }

    static func unwrap(_ wrapped: WrappedKey, keys: SiteKeys, bundleID: UUID128) throws -> SymmetricKey {
        do {
            var recipient = try HPKE.Recipient(
                privateKey: keys.agreement, ciphersuite: suite, info: info(bundleID: bundleID),
                encapsulatedKey: Data(wrapped.encapsulated))
            let key = try recipient.open(Data(wrapped.sealedKey), authenticating: Data(bundleID.bytes))
            guard key.count == 32 else { throw SecurityError(.cannotDecrypt, "", hint: "") }
            return SymmetricKey(data: key)
        } catch {
            throw SecurityError(
                .cannotDecrypt, "This bundle's payload could not be opened with this site's key.",
                hint: "Nothing was applied. The key file may not match this store, or the bundle was altered.")
        }
    }

    static func nonce(_ index: UInt64) throws -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[4 + i] = UInt8(truncatingIfNeeded: index >> UInt64(56 - 8 * i)) }
        return try ChaChaPoly.Nonce(data: bytes)
    }

    static func aad(bundleID: UUID128, index: UInt64, isLast: Bool) -> [UInt8] {
        var w = BinaryWriter()
        w.write(contentsOf: Array("SENSync payload v1\u{0}".utf8))
        w.write(contentsOf: bundleID.bytes)
        w.write(index)
        w.write(UInt8(isLast ? 1 : 0))
        return w.bytes
    }

    /// Encrypts a stream of plaintext into sealed segments.
    struct Sealer {
        let key: SymmetricKey
        let bundleID: UUID128
        private var index: UInt64 = 0
        private var pending: [UInt8] = []

        init(key: SymmetricKey, bundleID: UUID128) {
            self.key = key
            self.bundleID = bundleID
        }

        mutating func seal(_ plain: [UInt8], sink: ([UInt8]) throws -> Void) throws {
            pending += plain
            while pending.count > segmentSize {
                try emit(Array(pending[0..<segmentSize]), isLast: false, sink: sink)
                pending.removeFirst(segmentSize)
            }
        }

        mutating func finish(sink: ([UInt8]) throws -> Void) throws {
            try emit(pending, isLast: true, sink: sink)
            pending = []
        }

        private mutating func emit(_ segment: [UInt8], isLast: Bool, sink: ([UInt8]) throws -> Void) throws {
            let box = try ChaChaPoly.seal(
                segment, using: key, nonce: try nonce(index),
                authenticating: aad(bundleID: bundleID, index: index, isLast: isLast))
            try sink(Array(box.ciphertext) + Array(box.tag))
            index += 1
        }
    }

    /// Decrypts sealed segments back into plaintext.
    struct Opener {
        let key: SymmetricKey
        let bundleID: UUID128
        let sealedLength: UInt64
        private var index: UInt64 = 0
        private var consumed: UInt64 = 0
        private var pending: [UInt8] = []
        private(set) var isFinished = false

        init(key: SymmetricKey, bundleID: UUID128, sealedLength: UInt64) {
            self.key = key
            self.bundleID = bundleID
            self.sealedLength = sealedLength
        }

        static let sealedSegment = segmentSize + 16

        mutating func open(_ sealed: [UInt8], sink: ([UInt8]) throws -> Void) throws {
            pending += sealed
            consumed += UInt64(sealed.count)
            while pending.count > Self.sealedSegment || (consumed == sealedLength && !pending.isEmpty && !isFinished) {
                let isLast = consumed == sealedLength && pending.count <= Self.sealedSegment
                let length = min(pending.count, Self.sealedSegment)
                try sink(try openSegment(Array(pending[0..<length]), isLast: isLast))
                pending.removeFirst(length)
                if isLast { isFinished = true }
            }
        }

        private mutating func openSegment(_ bytes: [UInt8], isLast: Bool) throws -> [UInt8] {
            guard bytes.count >= 16 else { throw BundleError.damaged("an encrypted segment is incomplete") }
            do {
                let box = try ChaChaPoly.SealedBox(
                    nonce: try nonce(index), ciphertext: bytes[0..<(bytes.count - 16)],
                    tag: bytes[(bytes.count - 16)...])
                let plain = try ChaChaPoly.open(
                    box, using: key, authenticating: aad(bundleID: bundleID, index: index, isLast: isLast))
                index += 1
                return Array(plain)
            } catch {
                throw BundleError.damaged("its encrypted payload does not authenticate")
            }
        }
    }
}
