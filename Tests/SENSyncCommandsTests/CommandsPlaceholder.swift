import Testing
@Test func commandsPlaceholder() {}
