/// An optional field that JSON output writes as `null` when absent, so that every record of a kind has every field
/// (the synthesized `Encodable` leaves an absent optional out). `@NullWhenAbsent var site: String?`
@propertyWrapper
struct NullWhenAbsent<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
