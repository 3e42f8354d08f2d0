import Foundation

/// One figure: shown in the human table and in the JSON output under the same key.
enum Figure {
    case int(Int)
    case number(Double, digits: Int)
    case text(String)
    case missing

    var human: String {
        switch self {
        case .int(let n): Figure.grouped(n)
        case .number(let x, let digits):
            x.isFinite
                ? (abs(x) >= 10_000 && digits <= 1
                    ? Figure.grouped(Int(x.rounded())) : String(format: "%.\(digits)f", x)) : "n/a"
        case .text(let s): s
        case .missing: "n/a"
        }
    }

    var json: Any {
        switch self {
        case .int(let n): n
        case .number(let x, let digits):
            x.isFinite ? (Double(String(format: "%.\(max(digits, 3))f", x)) ?? x) as Any : NSNull()
        case .text(let s): s
        case .missing: NSNull()
        }
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}

/// Every figure of a run, grouped in sections, plus the quality-bar verdicts.
final class Report {
    struct Line {
        var key: String
        var label: String
        var figure: Figure
        var unit: String
    }

    struct Section {
        var key: String
        var title: String
        var lines: [Line] = []
        var note: String?
    }

    struct Table {
        var key: String
        var title: String
        var columns: [(key: String, title: String)]
        var rows: [[Figure]]
    }

    struct Bar {
        var key: String
        var label: String
        var measured: String
        var target: String
        var pass: Bool?
    }

    private(set) var sections: [Section] = []
    private(set) var tables: [Table] = []
    private(set) var bars: [Bar] = []
    var header: [(key: String, label: String, value: String)] = []

    func section(_ key: String, _ title: String, note: String? = nil) {
        sections.append(Section(key: key, title: title, note: note))
    }

    func add(_ key: String, _ label: String, _ figure: Figure, _ unit: String = "") {
        sections[sections.count - 1].lines.append(Line(key: key, label: label, figure: figure, unit: unit))
    }

    func table(_ table: Table) { tables.append(table) }

    func bar(_ key: String, _ label: String, measured: String, target: String, pass: Bool?) {
        bars.append(Bar(key: key, label: label, measured: measured, target: target, pass: pass))
    }

    // MARK: Output

    func human() -> String {
        var out = "SENSync benchmark\n=================\n"
        let width = header.map(\.label.count).max() ?? 0
        for h in header { out += "\(h.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(h.value)\n" }
        for section in sections {
            out += "\n\(section.title)\n\(String(repeating: "-", count: section.title.count))\n"
            let labelWidth = section.lines.map(\.label.count).max() ?? 0
            let valueWidth = section.lines.map(\.figure.human.count).max() ?? 0
            for line in section.lines {
                let value = String(repeating: " ", count: valueWidth - line.figure.human.count) + line.figure.human
                out +=
                    "  \(line.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0))  \(value) \(line.unit)"
                    .trimmingTrailingSpaces() + "\n"
            }
            if let note = section.note { out += "  (\(note))\n" }
            if let table = tables.first(where: { $0.key == section.key }) { out += render(table) }
        }
        for table in tables where !sections.contains(where: { $0.key == table.key }) {
            out += "\n\(table.title)\n\(String(repeating: "-", count: table.title.count))\n" + render(table)
        }
        out += "\nQuality bars (BRIEF.md, Performance)\n------------------------------------\n"
        let labelWidth = bars.map(\.label.count).max() ?? 0
        let measuredWidth = bars.map(\.measured.count).max() ?? 0
        for bar in bars {
            let verdict = bar.pass.map { $0 ? "PASS" : "FAIL" } ?? "----"
            out +=
                "  \(verdict)  \(bar.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0))  "
                + "\(bar.measured.padding(toLength: measuredWidth, withPad: " ", startingAt: 0))  bar: \(bar.target)\n"
        }
        return out
    }

    private func render(_ table: Table) -> String {
        let cells = table.rows.map { $0.map(\.human) }
        let widths = table.columns.indices.map { i in
            max(table.columns[i].title.count, cells.map { $0[i].count }.max() ?? 0)
        }
        var out =
            "\n  "
            + table.columns.indices.map { i in
                let t = table.columns[i].title
                return i == 0
                    ? t.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[i] - t.count) + t
            }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        for row in cells {
            out +=
                "  "
                + row.indices.map { i in
                    i == 0
                        ? row[i].padding(toLength: widths[i], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[i] - row[i].count) + row[i]
                }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        return out
    }

    func json() throws -> String {
        var root: [String: Any] = [:]
        for h in header { root[h.key] = h.value }
        for section in sections {
            var object: [String: Any] = [:]
            for line in section.lines { object[line.key] = line.figure.json }
            if let note = section.note { object["note"] = note }
            root[section.key] = object
        }
        for table in tables {
            let rows = table.rows.map { row in
                Dictionary(uniqueKeysWithValues: zip(table.columns.map(\.key), row.map(\.json)))
            }
            if var object = root[table.key] as? [String: Any] {
                object["rows"] = rows
                root[table.key] = object
            } else {
                root[table.key] = rows
            }
        }
        root["bars"] = bars.map { bar -> [String: Any] in
            [
                "key": bar.key, "label": bar.label, "measured": bar.measured, "target": bar.target,
                "pass": bar.pass.map { $0 as Any } ?? NSNull(),
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
