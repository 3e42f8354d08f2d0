import Foundation
import SENSync

// Prints the SQL a new record kind's migration needs, from its declaration. Paste the output into
// a new migration in `StoreSchema` (migrations keep literal SQL, never a call into app code), then
// regenerate the pinned schema: `SENSYNC_REGENERATE_FIXTURES=1 swift test --filter StoreSchemaTests`.

let usage = """
    usage: sensync-schema list
           sensync-schema ddl KIND                     CREATE TABLE for a new kind
           sensync-schema add-columns KIND COLUMN,...  ALTER TABLE for fields appended to a kind
                                                       whose table has the given columns
    """

let arguments = Array(CommandLine.arguments.dropFirst())

func kind(_ name: String) -> KindSpec {
    guard let kind = RecordSchema.kind(name) else {
        FileHandle.standardError.write(
            Data("No kind named '\(name)'. Kinds: \(RecordSchema.kinds.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return kind
}

switch arguments.first {
case "list":
    for kind in RecordSchema.kinds {
        print("\(kind.number)\t\(kind.name)\t\(kind.fields.map(\.name).joined(separator: ", "))")
    }
case "ddl" where arguments.count == 2:
    print(kind(arguments[1]).createTableSQL)
case "add-columns" where arguments.count == 3:
    let existing = arguments[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    for line in kind(arguments[1]).addColumnsSQL(after: existing) { print(line) }
default:
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
