import CSV
import Foundation

/// Rows written as CSV (RFC 4180 quoting, by CSV.swift's writer), for reports and exports.
public enum CSVTable {
    /// `header` then `rows`, one line each, ending with a newline.
    public static func text(header: [String], rows: [[String]]) throws -> String {
        let writer = try CSVWriter(stream: .toMemory())
        try writer.write(row: header)
        for row in rows { try writer.write(row: row) }
        writer.stream.close()
        guard let data = writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else { return "" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
