import Foundation

/// A problem with keys, identities, the directory or a bundle's signature or encryption.
/// Messages never contain key material or personal data.
public struct SecurityError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case keyFileMissing = "key-file-missing"
        case keyFileExposed = "key-file-exposed"
        case keyFileInvalid = "key-file-invalid"
        case identityInvalid = "identity-invalid"
        case directoryInvalid = "directory-invalid"
        case notTheLA = "not-the-la"
        case unknownSender = "unknown-sender"
        case badSignature = "bad-signature"
        case cannotDecrypt = "cannot-decrypt"
        case unknownRecipient = "unknown-recipient"
    }

    public var code: Code
    public var message: String
    public var hint: String

    public init(_ code: Code, _ message: String, hint: String) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(message) \(hint)" }
}
