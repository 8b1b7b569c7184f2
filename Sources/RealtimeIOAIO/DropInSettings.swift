// The drop-in's own settings: the "aio" object of RTIO_AIO_CONFIG.
import FoundationEssentials
import RealtimeIO

/// The drop-in's own part of `RTIO_AIO_CONFIG`: an optional top-level `"aio"`
/// object next to the engine's fields (the engine's loader ignores it).
///
/// ```json
/// {"groups":[{"name":"aio","workers":4}],
///  "aio":{"ordering":"spreadReads","notifierThreads":4}}
/// ```
struct DropInSettings: Sendable, Equatable {
    /// How requests are placed on workers.
    enum Ordering: String, Sendable, Codable, Equatable {
        /// Default, as glibc: every request of one descriptor goes to that
        /// descriptor's worker (`.worker(i)`, `i` from the descriptor number),
        /// so one descriptor's requests run in submission order — a read
        /// issued after a write of the same block sees the new data.
        case perDescriptor
        /// Reads of a descriptor known to be seekable go to the least-loaded
        /// worker (several run at once); writes, syncs and every request on a
        /// stream keep the descriptor's order. A read may then overtake an
        /// earlier write of the same descriptor (POSIX allows it).
        case spreadReads
    }

    var ordering: Ordering = .perDescriptor
    /// Threads running `SIGEV_THREAD` functions (1...64, default 4).
    var notifierThreads = 4

    static let notifierThreadLimit = 1...64

    /// Reads the `"aio"` object of `json` (absent: defaults); the error names the field.
    init(json bytes: [UInt8]) throws(ConfigurationError) {
        struct Document: Decodable { var aio: Section? }
        struct Section: Decodable {
            var ordering: Ordering?
            var notifierThreads: Int?
        }
        let section: Section?
        do {
            section = try JSONDecoder().decode(Document.self, from: Data(bytes)).aio
        } catch {
            throw ConfigurationError(
                field: "aio", problem: "\(error)",
                remedy: "give {\"ordering\": \"perDescriptor\" | \"spreadReads\", \"notifierThreads\": 1...64}")
        }
        if let o = section?.ordering { ordering = o }
        if let n = section?.notifierThreads {
            guard Self.notifierThreadLimit.contains(n) else {
                throw ConfigurationError(field: "aio.notifierThreads", problem: "\(n)", remedy: "use 1...64")
            }
            notifierThreads = n
        }
    }

    init() {}
}
