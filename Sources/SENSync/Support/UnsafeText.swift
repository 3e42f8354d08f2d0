/// Characters that must never be recorded as text, nor reach a terminal as they are: a control
/// character (ESC starts the sequences that clear a screen or retitle a window; CR overwrites a
/// line; NUL ends a C string), a bidirectional override or isolate (which reorders what follows),
/// a line or paragraph separator (a line break that splits a one-line value and a line of output),
/// or an invisible space (zero-width, word joiner, byte-order mark: two names that look the same
/// and are not). The joiners some scripts and emoji need (U+200C, U+200D) are kept.
/// One rule for what a write refuses (`Check.requirePrintable`) and what output hides.
extension Unicode.Scalar {
    public var isUnsafeInText: Bool {
        switch value {
        case 0x20...0x7E: false  // ASCII letters, digits, punctuation: most text, decided at once
        case 0x202A...0x202E, 0x2066...0x2069: true
        case 0x2028, 0x2029, 0x200B, 0x2060, 0xFEFF: true
        default: properties.generalCategory == .control
        }
    }

    /// A character that shows nothing on its own: white space, one that text rendering ignores
    /// (U+00AD soft hyphen, U+034F, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, U+180E,
    /// the joiners, variation selectors and tags), or the braille blank U+2800.
    var showsNothing: Bool {
        if value > 0x20 && value < 0x7F { return false }  // ASCII letters, digits, punctuation: at once
        return value == 0x2800 || properties.isWhitespace || properties.isDefaultIgnorableCodePoint
    }

    /// A line or paragraph separator: free text keeps it as the line break it is.
    var isLineSeparator: Bool { value == 0x2028 || value == 0x2029 }
}
