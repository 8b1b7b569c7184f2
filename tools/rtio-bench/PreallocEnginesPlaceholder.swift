// PLACEHOLDER — the lead deletes this file when writing PreallocEngines.swift, which must define
// `func preallocBenchEngines() -> [any BenchEngine]` returning fresh prealloc-spin, prealloc-park,
// ondemand and prepatch engines (see the contract in BenchEngine.swift).
func preallocBenchEngines() -> [any BenchEngine] { [] }
