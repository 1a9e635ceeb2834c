@testable import DataPrep
import Testing

@Suite struct NormalizerTests {
    let o = NormalizeOptions()

    @Test(arguments: [
        ("e\u{301}cole", "\u{E9}cole"),                                   // NFC composes
        ("a\r\nb\rc", "a\nb\nc"),                                          // line endings
        ("one  two\t\tthree   ", "one two three"),                         // runs of spaces, trailing
        ("    indented  code", "    indented code"),                     // indentation is kept
        ("a\n\n\n\n\nb", "a\n\nb"),                                        // at most one blank line
        ("\n\n  \nstart\n\n", "start"),                                    // no blank lines at the ends
        ("zero\u{200B}width\u{FEFF} and soft\u{AD}hyphen", "zerowidth and softhyphen"),
        ("ctrl\u{1}\u{7F}\u{85}chars\tok", "ctrlchars ok"),
        ("emoji 👩\u{200D}💻 keeps its joiner", "emoji 👩\u{200D}💻 keeps its joiner"),
        ("中文，全角标点。", "中文，全角标点。"),                                   // NFC keeps full-width punctuation
    ])
    func normalises(_ input: String, _ expected: String) {
        #expect(Normalizer.normalize(input, o) == expected)
    }

    @Test func nfkcFoldsCompatibilityCharacters() {
        var k = NormalizeOptions()
        k.unicode = .nfkc
        #expect(Normalizer.normalize("ｆｕｌｌ，ﬁ ½", k) == "full,fi 1⁄2")
        var none = NormalizeOptions()
        none.unicode = .none
        #expect(Normalizer.normalize("e\u{301}", none) == "e\u{301}")
    }

    @Test func disabledLeavesTheTextAlone() {
        var off = NormalizeOptions()
        off.enabled = false
        #expect(Normalizer.normalize("a  b\r\n", off) == "a  b\r\n")
    }
}
