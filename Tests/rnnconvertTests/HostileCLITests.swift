import Testing

@Suite("rnnconvert on hostile files")
struct HostileCLITests {}
