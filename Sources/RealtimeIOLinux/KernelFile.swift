import SystemPackage

/// KernelFile — reads small procfs/sysfs files with open(2)/read(2), without Foundation.
///
/// Every read opens the file, reads it to end of file and closes it: procfs and
/// sysfs generate the text on each read, so nothing is cached. `read(2)` is
/// retried on `EINTR` (swift-system's `FileDescriptor.read`).
package enum KernelFile {
    /// The whole file as UTF-8 text.
    package static func contents(of path: String) throws(KernelFileError) -> String {
        do {
            return try read(path)
        } catch {
            throw KernelFileError(path: path, errno: error)
        }
    }

    /// The whole file, or `nil` if it does not exist (`ENOENT`).
    package static func contentsIfPresent(_ path: String) throws(KernelFileError) -> String? {
        do {
            return try read(path)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch {
            throw KernelFileError(path: path, errno: error)
        }
    }

    /// The first line, whitespace-trimmed, or `nil` if the file is absent or unreadable.
    package static func firstLine(_ path: String) -> String? {
        guard let text = try? read(path) else { return nil }
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            .rtioTrimmed()
    }

    /// The file parsed as one decimal integer, or `nil` if absent, unreadable or not a number.
    package static func integer(_ path: String) -> Int? {
        firstLine(path).flatMap { Int($0) }
    }

    private static func read(_ path: String) throws(Errno) -> String {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch let error as Errno {
            throw error
        } catch {
            throw Errno.ioError
        }
        defer { _ = try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }
            } catch let error as Errno {
                throw error
            } catch {
                throw Errno.ioError
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A kernel file that could not be opened or read.
package struct KernelFileError: Error, Hashable, Sendable, CustomStringConvertible {
    package var path: String
    package var errno: Errno

    package init(path: String, errno: Errno) {
        self.path = path
        self.errno = errno
    }

    package var description: String {
        "cannot read \(path): \(errno) (is /sys or /proc mounted? is this Linux?)"
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace and newlines.
    package func rtioTrimmed() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
