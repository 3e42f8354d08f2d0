import Crypto
import Foundation

/// Encryption of a bundle payload to its recipients.
///
/// One random 256-bit content key per payload. For each recipient, the key is sealed with HPKE
/// (RFC 9180) in *auth* mode — DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 —
/// from the sender's X25519 key to the recipient's, so only the site named as sender could have
/// sealed it: a site that re-signs another site's bundle as its own cannot make it open. `info`
/// binds the bundle id, the sender and the recipient; the additional data binds the section it
/// opens (payload lengths and SHA-256). The payload is encrypted with ChaCha20-Poly1305 in
/// segments of 64 KiB of plaintext; segment `i` uses the nonce `00000000 ‖ u64(i)` and the
/// additional data `"SENSync payload v2\0" ‖ bundleID ‖ u64(i) ‖ last`, so reordering, dropping or
/// truncating segments is detected.
enum PayloadSealing {
    static let segmentSize = 64 * 1024
    static var suite: HPKE.Ciphersuite { .Curve25519_SHA256_ChachaPoly }

    /// What a sealed content key is bound to.
    struct Binding {
        var bundleID: UUID128
        var sender: SiteID
        var recipient: SiteID
        var payloadLength: UInt64
        var plainLength: UInt64
        var payloadSHA256: Digest32

        var info: Data {
            Data(Array("SENSync bundle key v2\u{0}".utf8) + bundleID.bytes + sender.bytes + recipient.bytes)
        }

        var additionalData: Data {
            var w = BinaryWriter(reservingCapacity: 96)
            w.write(contentsOf: bundleID.bytes)
            w.write(payloadLength)
            w.write(plainLength)
            w.write(contentsOf: payloadSHA256.bytes)
            return Data(w.bytes)
        }
    }

    /// A recipient's sealed copy of the content key.
    struct WrappedKey: Hashable, Sendable {
        /// HPKE encapsulated key (32 bytes).
        var encapsulated: [UInt8]
        /// The sealed content key (32 + 16 bytes).
        var sealedKey: [UInt8]
    }

    static func wrap(_ key: SymmetricKey, to recipientKeys: PublicKeys, from sender: SiteKeys, binding: Binding) throws
        -> WrappedKey
    {
        guard let publicKey = recipientKeys.agreementKey else {
            throw SecurityError(
                .unknownRecipient, "A recipient's encryption key is not valid.",
                hint: "Check the directory entry for that site.")
        }
        var hpke = try HPKE.Sender(
            recipientKey: publicKey, ciphersuite: suite, info: binding.info, authenticatedBy: sender.agreement)
        let sealed = try key.withUnsafeBytes { try hpke.seal(Data($0), authenticating: binding.additionalData) }
        return WrappedKey(encapsulated: Array(hpke.encapsulatedKey), sealedKey: Array(sealed))
    }

    static func unwrap(_ wrapped: WrappedKey, keys: SiteKeys, senderKeys: PublicKeys, binding: Binding) throws
        -> SymmetricKey
    {
        let failure = SecurityError(
            .cannotDecrypt,
            "This bundle's payload could not be opened with this site's key, as sealed by the site it names as sender.",
            hint:
                "Nothing was applied. The key file may not match this store, or the bundle was altered or re-signed by another site."
        )
        guard let senderKey = senderKeys.agreementKey else { throw failure }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: keys.agreement, ciphersuite: suite, info: binding.info,
                encapsulatedKey: Data(wrapped.encapsulated), authenticatedBy: senderKey)
            let key = try recipient.open(Data(wrapped.sealedKey), authenticating: binding.additionalData)
            guard key.count == 32 else { throw failure }
            return SymmetricKey(data: key)
        } catch {
            throw failure
        }
    }

    static func nonce(_ index: UInt64) throws -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[4 + i] = UInt8(truncatingIfNeeded: index >> UInt64(56 - 8 * i)) }
        return try ChaChaPoly.Nonce(data: bytes)
    }

    static func aad(bundleID: UUID128, index: UInt64, isLast: Bool) -> [UInt8] {
        var w = BinaryWriter()
        w.write(contentsOf: Array("SENSync payload v2\u{0}".utf8))
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
