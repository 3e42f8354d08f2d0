import Foundation

/// A field value as it travels in changes: null, a 64-bit integer or text.
///
/// Dates travel as `YYYY-MM-DD` text and money as integer pence, so every value compares and
/// hashes exactly the same on every platform.
public enum Value: Hashable, Sendable, CustomStringConvertible {
    case null
    case integer(Int64)
    case text(String)

    public var description: String {
        switch self {
        case .null: "null"
        case .integer(let i): String(i)
        case .text(let s): s
        }
    }

    /// The text, or `nil` for other kinds.
    public var text: String? { if case .text(let s) = self { s } else { nil } }
    /// The integer, or `nil` for other kinds.
    public var integer: Int64? { if case .integer(let i) = self { i } else { nil } }
    public var isNull: Bool { self == .null }

    /// Tags written before each value. New tags are a format change (see `Schemas/bundle-v1.md`).
    enum Tag: UInt8 {
        case null = 0
        case integer = 1
        case text = 2
    }

    func encode(into writer: inout BinaryWriter) {
        switch self {
        case .null: writer.write(Tag.null.rawValue)
        case .integer(let i):
            writer.write(Tag.integer.rawValue)
            writer.writeSignedVarint(i)
        case .text(let s):
            writer.write(Tag.text.rawValue)
            writer.writeString(s)
        }
    }

    /// Reads past a value without making it (no text is validated or copied).
    static func skip(from reader: inout BinaryReader) throws(DecodingFailure) {
        let raw = try reader.readUInt8()
        guard let tag = Tag(rawValue: raw) else { throw DecodingFailure("unknown value tag \(raw)") }
        switch tag {
        case .null: break
        case .integer: _ = try reader.readVarint()
        case .text: _ = try reader.readBytes(try reader.readCount(limit: 1 << 20))
        }
    }

    static func decode(from reader: inout BinaryReader) throws(DecodingFailure) -> Value {
        let raw = try reader.readUInt8()
        guard let tag = Tag(rawValue: raw) else { throw DecodingFailure("unknown value tag \(raw)") }
        switch tag {
        case .null: return .null
        case .integer: return .integer(try reader.readSignedVarint())
        case .text: return .text(try reader.readString())
        }
    }
}
