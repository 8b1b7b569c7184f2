import FoundationEssentials

extension EngineConfiguration {
    /// Loads a configuration from JSON text and validates it: the one loader
    /// behind Swift hosts, `rtio_engine_create` and the drop-in's `RTIO_AIO_CONFIG`.
    ///
    /// - Throws: ``ConfigurationError`` naming the JSON path (`groups[0].workers`),
    ///   what is wrong and what to do — for malformed JSON, a wrong type, a
    ///   missing field or a value ``validate(onlineCPUs:)`` refuses.
    public init(json: String) throws(ConfigurationError) {
        try self.init(jsonBytes: Array(json.utf8))
    }

    /// Loads a configuration from UTF-8 JSON bytes (see ``init(json:)``).
    public init(jsonBytes: [UInt8]) throws(ConfigurationError) {
        let decoded: EngineConfiguration
        do {
            decoded = try JSONDecoder().decode(EngineConfiguration.self, from: Data(jsonBytes))
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw ConfigurationError(field: "<document>", problem: "\(error)", remedy: "pass a JSON object")
        }
        try decoded.validate()
        self = decoded
    }

    /// The configuration as JSON (sorted keys, every field, defaults included).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain values cannot fail.
        let data = (try? encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// A decoding error as a ``ConfigurationError`` with the field's JSON path.
    static func describe(_ error: DecodingError) -> ConfigurationError {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let i = key.intValue { text += "[\(i)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text.isEmpty ? "<document>" : text
        }
        let example = "see EngineConfiguration in README.md for every field and its type"
        switch error {
        case .keyNotFound(let key, let context):
            return ConfigurationError(field: path(context.codingPath + [key]), problem: "required field missing", remedy: "add it; \(example)")
        case .typeMismatch(let type, let context):
            return ConfigurationError(
                field: path(context.codingPath), problem: "expected \(Self.jsonType(type))",
                remedy: "give a value of that type; \(example)")
        case .valueNotFound(let type, let context):
            return ConfigurationError(
                field: path(context.codingPath), problem: "expected \(Self.jsonType(type)), found null",
                remedy: "give a value, or leave the field out for its default")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                var problem = "not valid JSON"
                if let underlying = context.underlyingError { problem += " (\(underlying))" }
                return ConfigurationError(field: "<document>", problem: problem, remedy: "fix the JSON syntax")
            }
            return ConfigurationError(field: path(context.codingPath), problem: context.debugDescription, remedy: example)
        @unknown default:
            return ConfigurationError(field: "<document>", problem: "\(error)", remedy: example)
        }
    }

    private static func jsonType(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Double.Type, is Float.Type: "a number"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type, is UInt32.Type: "an integer"
        case is Array<Any>.Type: "an array"
        default: "\(type)"
        }
    }
}
