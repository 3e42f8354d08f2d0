import Foundation

/// A self-contained HTML page built from blocks: inline CSS, inline SVG charts, no scripts and no
/// external fetch, printable on A4. The one place SENSync writes HTML.
public struct HTMLDocument: Sendable {
    /// A horizontal bar chart with its text alternative.
    public struct BarChart: Sendable, Hashable {
        public var title: String
        /// What the chart shows, in words (read by screen readers; also printed under the chart).
        public var summary: String
        public var bars: [(label: String, value: Double, text: String)]

        public init(title: String, summary: String, bars: [(label: String, value: Double, text: String)]) {
            self.title = title
            self.summary = summary
            self.bars = bars
        }

        public static func == (a: BarChart, b: BarChart) -> Bool {
            a.title == b.title && a.summary == b.summary
                && a.bars.map { "\($0.label)\u{1}\($0.value)\u{1}\($0.text)" }
                    == b.bars.map { "\($0.label)\u{1}\($0.value)\u{1}\($0.text)" }
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(title) }
    }

    public enum Block: Sendable, Hashable {
        case heading(String)
        case subheading(String)
        case paragraph(String)
        case list([String])
        /// Headline figures: (label, value).
        case panel([[String]])
        case table(caption: String, header: [String], rows: [[String]])
        case chart(BarChart)
    }

    public var title: String
    public var blocks: [Block]

    public init(title: String, blocks: [Block]) {
        self.title = title
        self.blocks = blocks
    }

    static func escape(_ s: String) -> String {
        // Most text has nothing to escape: it is returned as it is, without four passes.
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for character in s.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// The page.
    public var html: String {
        let e = Self.escape
        var chartNumber = 0
        let body = blocks.map { block -> String in
            switch block {
            case .heading(let t): return "<h2>\(e(t))</h2>"
            case .subheading(let t): return "<h3>\(e(t))</h3>"
            case .paragraph(let t): return "<p>\(e(t))</p>"
            case .list(let items):
                return "<ul>\n" + items.map { "  <li>\(e($0))</li>" }.joined(separator: "\n") + "\n</ul>"
            case .panel(let figures):
                return "<dl class=\"panel\">\n"
                    + figures.map {
                        "  <div><dt>\(e($0.first ?? ""))</dt><dd>\(e($0.dropFirst().first ?? ""))</dd></div>"
                    }
                    .joined(separator: "\n") + "\n</dl>"
            case .table(let caption, let header, let rows):
                let head = header.map { "<th scope=\"col\">\(e($0))</th>" }.joined()
                let lines = rows.map { row in
                    "<tr>"
                        + row.enumerated().map { i, cell in
                            i == 0 ? "<th scope=\"row\">\(e(cell))</th>" : "<td>\(e(cell))</td>"
                        }
                        .joined() + "</tr>"
                }
                return "<table>\n<caption>\(e(caption))</caption>\n<thead><tr>\(head)</tr></thead>\n<tbody>\n"
                    + lines.joined(separator: "\n") + "\n</tbody>\n</table>"
            case .chart(let chart):
                chartNumber += 1
                return Self.svg(chart, id: "chart\(chartNumber)")
            }
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="en-GB">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title))</title>
            <style>
            body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#111}
            table{border-collapse:collapse;margin:0.5rem 0 1.5rem;width:100%}
            caption{text-align:left;font-weight:600;padding:0.25rem 0}
            th,td{border:1px solid #999;padding:0.2rem 0.5rem;text-align:left;vertical-align:top}
            thead th{background:#eee}
            .panel{display:flex;flex-wrap:wrap;gap:0.75rem;margin:1rem 0}
            .panel div{border:2px solid #333;padding:0.5rem 0.75rem;min-width:8rem}
            .panel dt{font-size:0.85rem}
            .panel dd{margin:0;font-size:1.6rem;font-weight:700}
            figure{margin:1rem 0}
            figcaption{font-size:0.9rem}
            @page{size:A4;margin:15mm}
            @media print{body{max-width:none;margin:0}h2{break-after:avoid}table,figure{break-inside:avoid}}
            </style>
            </head>
            <body>
            <h1>\(e(title))</h1>
            \(body)
            </body>
            </html>

            """
    }

    /// Bars drawn as rectangles with their value written beside them (colour is never the only
    /// signal), a title and a description for assistive technology.
    static func svg(_ chart: BarChart, id: String) -> String {
        let e = escape
        // Room for the longest label (up to 60 characters) before the bars and the longest value
        // after them (about 7 units a character at this font size), so nothing is cut off ("Social,
        // emotional and mental health" was, at 34).
        func fitted(_ label: String) -> String { label.count > 60 ? label.prefix(59) + "…" : label }
        let labelWidth = max(240, 7 * Double(chart.bars.map { fitted($0.label).count }.max() ?? 0) + 12)
        let barArea = 300.0
        let valueWidth = max(90, 7 * Double(chart.bars.map(\.text.count).max() ?? 0) + 12)
        let row = 24.0
        let height = Double(max(chart.bars.count, 1)) * row + 8
        let top = chart.bars.map(\.value).max() ?? 0
        var shapes: [String] = []
        for (i, bar) in chart.bars.enumerated() {
            let y = 4 + Double(i) * row
            let width = top > 0 ? max(1, barArea * bar.value / top) : 1
            shapes.append(
                "<text x=\"\(Int(labelWidth - 6))\" y=\"\(Int(y + 15))\" text-anchor=\"end\">\(e(fitted(bar.label)))</text>"
            )
            shapes.append(
                "<rect x=\"\(Int(labelWidth))\" y=\"\(Int(y + 3))\" width=\"\(String(format: "%.1f", width))\" height=\"16\" fill=\"#2b5d8a\" stroke=\"#000\"/>"
            )
            shapes.append(
                "<text x=\"\(String(format: "%.1f", labelWidth + width + 6))\" y=\"\(Int(y + 15))\">\(e(bar.text))</text>"
            )
        }
        return """
            <figure aria-labelledby="\(id)-title">
            <svg role="img" aria-labelledby="\(id)-title \(id)-desc" viewBox="0 0 \(Int(labelWidth + barArea + valueWidth)) \(Int(height))" width="100%" font-size="12" font-family="system-ui,sans-serif">
            <title id="\(id)-title">\(e(chart.title))</title>
            <desc id="\(id)-desc">\(e(chart.summary))</desc>
            \(shapes.joined(separator: "\n"))
            </svg>
            <figcaption><strong>\(e(chart.title)).</strong> \(e(chart.summary))</figcaption>
            </figure>
            """
    }
}
