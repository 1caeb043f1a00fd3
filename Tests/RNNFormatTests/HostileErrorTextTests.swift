import Testing
@testable import RNNFormat

@Suite("Error text from hostile files stays on one line")
struct HostileErrorTextTests {
    @Test("control characters from the file are escaped", arguments: [
        ("a\nb", "a\\nb"), ("a\rb", "a\\rb"), ("tab\there", "tab\\there"), ("bell\u{07}", "bell\\u{7}"),
        ("esc\u{1B}[31m", "esc\\u{1b}[31m"), ("del\u{7F}", "del\\u{7f}"), ("plain é ✓", "plain é ✓"),
    ])
    func escaped(raw: String, shown: String) {
        let error = RNNFormatError(.malformed, file: "m.pt", object: "member " + raw, "found " + raw)
        #expect(error.description == "m.pt: member \(shown): found \(shown)")
        #expect(!error.description.contains("\n"))
    }

    @Test("a message without control characters is unchanged")
    func unchanged() {
        let error = RNNFormatError(.shapeMismatch, file: "/tmp/x.h5", object: "/rnn/weight_ih_l0", "expected shape [6, 3], found [3, 6]")
        #expect(error.description == "/tmp/x.h5: /rnn/weight_ih_l0: expected shape [6, 3], found [3, 6]")
    }
}
