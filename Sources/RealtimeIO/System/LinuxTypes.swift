import RealtimeIOLinux

// The Linux-layer value types that are part of the engine's public API, so that
// `import RealtimeIO` is enough to configure an engine.

/// A sorted set of CPU numbers in the kernel's list syntax (`0-3,6`); see
/// ``RealtimeIOLinux/CPUList``.
public typealias CPUList = RealtimeIOLinux.CPUList
/// Why a CPU list was rejected; see ``RealtimeIOLinux/CPUListError``.
public typealias CPUListError = RealtimeIOLinux.CPUListError
/// How a thread is scheduled; see ``RealtimeIOLinux/SchedulingPolicy``.
public typealias SchedulingPolicy = RealtimeIOLinux.SchedulingPolicy
/// A scheduling policy that cannot be used; see ``RealtimeIOLinux/SchedulingPolicyError``.
public typealias SchedulingPolicyError = RealtimeIOLinux.SchedulingPolicyError
/// A thread's I/O priority class and level (`ionice`); see ``RealtimeIOLinux/IOPriority``.
public typealias IOPriority = RealtimeIOLinux.IOPriority
/// An I/O priority that cannot be used; see ``RealtimeIOLinux/IOPriorityError``.
public typealias IOPriorityError = RealtimeIOLinux.IOPriorityError
