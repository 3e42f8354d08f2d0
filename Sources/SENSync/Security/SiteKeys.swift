import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A site's private keys: Ed25519 to sign bundles (and, at the LA, the directory) and X25519 to
/// open bundles sealed to it.
///
/// Kept in a key file beside the store (``KeyFile``), never inside the store or a bundle.
public struct SiteKeys: Sendable {
    // Raw bytes, so the type is Sendable; the Crypto key types are made on use.
    private let signingRaw: [UInt8]
    private let agreementRaw: [UInt8]

    public var signing: Curve25519.Signing.PrivateKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: signingRaw)  // validated in init
    }
    public var agreement: Curve25519.KeyAgreement.PrivateKey {
        try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: agreementRaw)  // validated in init
    }

    public init(signing: Curve25519.Signing.PrivateKey, agreement: Curve25519.KeyAgreement.PrivateKey) {
        signingRaw = Array(signing.rawRepresentation)
        agreementRaw = Array(agreement.rawRepresentation)
    }

    /// Keys from their 32-byte raw private forms (reproducible test fixtures).
    public init(signingRaw: [UInt8], agreementRaw: [UInt8]) throws {
        self.init(
            signing: try Curve25519.Signing.PrivateKey(rawRepresentation: signingRaw),
            agreement: try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: agreementRaw))
    }

    /// New random keys.
    public static func generate() -> SiteKeys {
        SiteKeys(signing: .init(), agreement: .init())
    }

    /// The public halves.
    public var publicKeys: PublicKeys {
        PublicKeys(
            signing: Array(signing.publicKey.rawRepresentation), agreement: Array(agreement.publicKey.rawRepresentation)
        )
    }

    /// Signs `bytes` (Ed25519).
    public func sign(_ bytes: [UInt8]) throws -> [UInt8] {
        Array(try signing.signature(for: bytes))
    }
}

/// A site's public keys: 32-byte Ed25519 and X25519 keys.
public struct PublicKeys: Hashable, Sendable, Codable {
    public var signing: [UInt8]
    public var agreement: [UInt8]

    public init(signing: [UInt8], agreement: [UInt8]) {
        self.signing = signing
        self.agreement = agreement
    }

    /// Whether `signature` is this site's Ed25519 signature of `bytes`.
    public func isValidSignature(_ signature: [UInt8], for bytes: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: signing) else { return false }
        return key.isValidSignature(signature, for: bytes)
    }

    var agreementKey: Curve25519.KeyAgreement.PublicKey? {
        try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: agreement)
    }

    /// Whether neither key is a point of small order, as no key pair made by SENSync (or any
    /// Ed25519 or X25519 library) is: with such an X25519 key every section sealed to the site
    /// shares a zero secret, and with such an Ed25519 key anyone can sign as the site.
    var isStrong: Bool {
        guard signing.count == 32, agreement.count == 32 else { return false }
        // The Ed25519 encodings of the points of order 1, 2, 4 and 8, y below p or not, whatever
        // the sign bit says (libsodium's list).
        let body = signing.prefix(31)
        let last = signing[31] & 0x7F
        if Self.smallOrderSigning.contains(where: { $0.prefix(31).elementsEqual(body) && $0[31] == last }) {
            return false
        }
        // X25519 clears the cofactor (its scalars are multiples of 8), so a point of small order
        // gives a zero secret with any key.
        guard let key = agreementKey,
            let secret = try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: key)
        else { return false }
        return secret.withUnsafeBytes { bytes in bytes.contains { $0 != 0 } }
    }

    private static let smallOrderSigning: [[UInt8]] = [
        [UInt8](repeating: 0, count: 32),
        [1] + [UInt8](repeating: 0, count: 31),
        [
            0x26, 0xE8, 0x95, 0x8F, 0xC2, 0xB2, 0x27, 0xB0, 0x45, 0xC3, 0xF4, 0x89, 0xF2, 0xEF, 0x98, 0xF0,
            0xD5, 0xDF, 0xAC, 0x05, 0xD3, 0xC6, 0x33, 0x39, 0xB1, 0x38, 0x02, 0x88, 0x6D, 0x53, 0xFC, 0x05,
        ],
        [
            0xC7, 0x17, 0x6A, 0x70, 0x3D, 0x4D, 0xD8, 0x4F, 0xBA, 0x3C, 0x0B, 0x76, 0x0D, 0x10, 0x67, 0x0F,
            0x2A, 0x20, 0x53, 0xFA, 0x2C, 0x39, 0xCC, 0xC6, 0x4E, 0xC7, 0xFD, 0x77, 0x92, 0xAC, 0x03, 0x7A,
        ],
        [0xEC] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
        [0xED] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
        [0xEE] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
    ]
}

/// The key file beside a store: `<store>.keys`, owner read/write only.
///
/// ```json
/// {"format": "sensync-keys/1", "site": "<site id>", "signing": "<base64>", "agreement": "<base64>"}
/// ```
public enum KeyFile {
    static let format = "sensync-keys/1"

    /// Where the key file for a store lives.
    public static func path(forStore storePath: String) -> String { storePath + ".keys" }

    private struct Contents: Codable {
        var format: String
        var site: String
        var signing: String
        var agreement: String
    }

    /// Writes new keys, creating the file with mode 0600. Refuses to overwrite.
    public static func write(_ keys: SiteKeys, site: SiteID, to path: String) throws {
        let contents = Contents(
            format: format, site: site.description, signing: keys.signing.rawRepresentation.base64EncodedString(),
            agreement: keys.agreement.rawRepresentation.base64EncodedString())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(contents)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw SecurityError(
                .keyFileInvalid, "The key file could not be created (it may already exist).",
                hint: "Remove a stale key file only if you are sure no store uses it.")
        }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            throw SecurityError(
                .keyFileInvalid, "The key file could not be written.", hint: "Check the disk has space.")
        }
    }

    /// Reads a site's keys, refusing a file that other users can read.
    public static func read(from path: String, expectedSite: SiteID) throws -> SiteKeys {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecurityError(
                .keyFileMissing, "This store's key file is missing.",
                hint:
                    "It should be beside the store as \((path as NSString).lastPathComponent). Restore it from your secure backup."
            )
        }
        guard info.st_mode & 0o077 == 0 else {
            throw SecurityError(
                .keyFileExposed, "The key file can be read by other users, so it was not used.",
                hint: "Make it private with `chmod 600 \(path)`, and consider whether the keys must be replaced.")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError(
                .keyFileInvalid, "The key file cannot be read.", hint: "Restore it from your secure backup.")
        }
        return try decode(data, expectedSite: expectedSite)
    }

    /// Reads a key file's contents (what ``read(from:expectedSite:)`` does once the file's
    /// permissions are checked; the fuzz target feeds it bytes directly).
    package static func decode(_ data: Data, expectedSite: SiteID) throws -> SiteKeys {
        guard let contents = try? JSONDecoder().decode(Contents.self, from: data), contents.format == format,
            let signingRaw = Data(base64Encoded: contents.signing),
            let agreementRaw = Data(base64Encoded: contents.agreement),
            let signing = try? Curve25519.Signing.PrivateKey(rawRepresentation: signingRaw),
            let agreement = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: agreementRaw)
        else {
            throw SecurityError(
                .keyFileInvalid, "The key file cannot be read.", hint: "Restore it from your secure backup.")
        }
        guard contents.site == expectedSite.description else {
            throw SecurityError(
                .keyFileInvalid, "The key file belongs to a different site.",
                hint: "Use the key file made with this store.")
        }
        return SiteKeys(signing: signing, agreement: agreement)
    }
}
