/// Characters that must never be recorded as text, nor reach a terminal as they are: a control
/// character (ESC starts the sequences that clear a screen or retitle a window; CR overwrites a
/// line; NUL ends a C string) or a bidirectional override or isolate (which reorders what follows).
/// One rule for what a write refuses (`Check.requirePrintable`) and what output hides.
extension Unicode.Scalar {
    public var isUnsafeInText: Bool {
        properties.generalCategory == .control || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
    }
}
