import Testing
@testable import DataPrep

/// The text `extract` gives for `html`, as a String.
private func text(_ html: String) -> String {
    String(decoding: HTMLText.extract(Array(html.utf8)), as: UTF8.self)
}

@Suite("HTMLText.extract: layout")
struct HTMLTextLayoutTests {
    @Test(arguments: [
        ("<p>Hello <b>world</b></p><p>Second</p>", "Hello world\n\nSecond"),
        ("<p>a</p>\n\n\n<p>b</p>\n", "a\n\nb"),
        ("<div><div><p>a</p></div></div><div>b</div>", "a\n\nb"),
        ("<h1>Title</h1>Intro text.<h2>Part</h2><p>Body</p>", "Title\n\nIntro text.\n\nPart\n\nBody"),
        ("one<br>two<br/>three<BR >four", "one\ntwo\nthree\nfour"),
        ("a<br><br>b", "a\n\nb"),
        ("a<br><br><br><br>b", "a\n\nb"),
        ("<ul><li>one</li><li>two</li></ul>after", "one\ntwo\n\nafter"),
        ("<ol>\n  <li>one\n  <li>two\n</ol>", "one\ntwo"),
        ("<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "a\nb\nc"),
        ("<dl><dt>term</dt><dd>meaning</dd></dl>", "term\nmeaning"),
        ("<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>", "k\tv\na\t1"),
        ("text<hr>more", "text\n\nmore"),
        ("<blockquote>quoted</blockquote><figure>x<figcaption>cap</figcaption></figure>", "quoted\n\nx\n\ncap"),
        ("<p>  lots   of \t\n spaces  </p>", "lots of spaces"),
        ("  leading and trailing  ", "leading and trailing"),
        ("<span>in</span><span>line</span> <i>x</i>", "inline x"),
        ("<P>Upper</P><DIV>Case</DIV><Br>x", "Upper\n\nCase\n\nx"),   // <br> after a block: an empty line, as in browsers
    ])
    func layout(html: String, expected: String) {
        #expect(text(html) == expected)
    }

    @Test func preKeepsWhitespace() {
        #expect(text("<p>x</p><pre>\n  indented\n\tline  \n\n\n\nend</pre><p>y</p>")
            == "x\n\n  indented\n\tline\n\nend\n\ny")
        #expect(text("<pre>a  b</pre>") == "a  b")
        #expect(text("<PRE>\r\nx\r\ny</PRE>") == "x\ny")
    }

    @Test func resultHasNoOuterBlankLines() {
        let out = text("<br><br><p></p><div>\n\n<p>only</p>\n</div><br><br>")
        #expect(out == "only")
    }

    @Test func chineseText() {
        #expect(text("<p>中文文本，测试。</p><p>第二段&#x4E2D;&#25991;</p>") == "中文文本，测试。\n\n第二段中文")
    }

    @Test func emptyAndTrivialInput() {
        #expect(HTMLText.extract([]).isEmpty)
        #expect(text(" \n\t ") == "")
        #expect(text("<p></p>") == "")
        #expect(text("x") == "x")
    }

    @Test func invalidUTF8PassesThrough() {
        let bytes: [UInt8] = Array("<p>a".utf8) + [0xFF, 0xC3] + Array("b</p>".utf8)
        #expect(HTMLText.extract(bytes) == [0x61, 0xFF, 0xC3, 0x62])
    }
}

@Suite("HTMLText.extract: what is dropped")
struct HTMLTextDroppedTests {
    @Test(arguments: [
        ("<script>var a = 1;</script>kept", "kept"),
        ("<SCRIPT type=\"text/javascript\">x()</SCRIPT >kept", "kept"),
        ("<script>if (a < b) { s = '<p>no</p>'; }</script>kept", "kept"),
        ("<script>var s = '</script>';</script>kept", "';kept"),   // ends at the first </script>, as browsers do
        ("<style>p { color: red } </style>kept", "kept"),
        ("<noscript>Enable JavaScript</noscript>kept", "kept"),
        ("<template><p>hidden</p></template>kept", "kept"),
        ("<svg><text>icon</text><svg><title>t</title></svg></svg>kept", "kept"),
        ("<iframe src=\"x\">fallback</iframe>kept", "kept"),
        ("<object data=\"x\"><p>fallback</p></object>kept", "kept"),
        ("<select><option>One</option><option>Two</option></select>kept", "kept"),
        ("<html><head><title>Page</title><meta charset=utf-8><style>x{}</style></head><body>kept</body></html>", "kept"),
        ("<head><meta charset=utf-8>kept without a body tag", "kept without a body tag"),
        ("<!DOCTYPE html><?xml version=\"1.0\"?>kept", "kept"),
        ("a<![CDATA[ x > y ]]>b", "ab"),
        ("<img src=\"a.png\" alt=\"Alt text\">kept", "kept"),
        ("<a href=\"/x\" title=\"x>y\">link</a>", "link"),
        ("<a title='it\"s'>quotes</a>", "quotes"),
    ])
    func dropped(html: String, expected: String) {
        #expect(text(html) == expected)
    }

    @Test(arguments: [
        ("a<!-- comment -->b", "ab"),
        ("a<!-- <p>not a tag</p> -- still -->b", "ab"),
        ("a<!---->b<!-->c<!--->d", "abcd"),
        ("a<!-- x --!>b", "ab"),
        ("kept<!-- never closed <p>lost</p>", "kept"),
        ("kept<p class=\"never closed", "kept"),
        ("kept<p", "kept"),
    ])
    func commentsAndUnclosedMarkup(html: String, expected: String) {
        #expect(text(html) == expected)
    }

    @Test(arguments: [
        ("a < b", "a < b"),
        ("1<2 and 3 <= 4", "1<2 and 3 <= 4"),
        ("x <", "x <"),
        ("</ not a tag", "</ not a tag"),
        ("<3 love", "<3 love"),
    ])
    func literalLessThan(html: String, expected: String) {
        #expect(text(html) == expected)
    }
}

@Suite("HTMLText.extract: character references")
struct HTMLTextEntityTests {
    @Test(arguments: [
        ("&amp; &lt; &gt; &quot; &apos;", "& < > \" '"),
        ("&copy; &reg; &eacute;t&eacute; &Eacute;", "© ® été É"),
        ("&mdash;&ndash;&hellip;&lsquo;&rsquo;&ldquo;&rdquo;", "—–…‘’“”"),
        ("&bull; &middot; &euro; &trade; &times; &divide;", "• · € ™ × ÷"),
        ("&alpha;&Omega;&sigmaf; &forall;&infin;&ne; &larr;&hArr;", "αΩς ∀∞≠ ←⇔"),
        ("&yuml;&thetasym;&lang;&rang;", "ÿϑ⟨⟩"),
        ("&#65;&#x42;&#X43;&#x4e2d;", "ABC中"),
        ("&#128512; &#x1F600;", "😀 😀"),
        ("&#65 &#x42 x", "A B x"),                        // no ';' for numeric references
        ("&#150;&#x93;", "–“"),                           // 0x80-0x9F read as Windows-1252
        ("&#0; &#xD800; &#x110000; &#99999999999;", "\u{FFFD} \u{FFFD} \u{FFFD} \u{FFFD}"),
        ("&foo; &ampx; &#; &#x; & alone", "&foo; &ampx; &#; &#x; & alone"),  // left as written
        ("AT&T; R&D", "AT&T; R&D"),
        ("&copy 2024 &amp more &lt", "© 2024 & more <"),   // legacy names without ';'
        ("&copy2024 &mdash x", "&copy2024 &mdash x"),       // not a legacy name, or a letter follows
        ("&AMP; &LT;", "& <"),
    ])
    func entities(html: String, expected: String) {
        #expect(text(html) == expected)
    }

    @Test func nbspIsAPlainSpace() {
        #expect(text("a&nbsp;b") == "a b")
        #expect(text("a&nbsp;&nbsp; &nbsp;b") == "a b")
        #expect(text("<p>&nbsp;</p><p>x&nbsp;</p>") == "x")
        #expect(text("a\u{00A0}\u{00A0}b") == "a b")
        #expect(text("<pre>a&nbsp;&nbsp;b</pre>") == "a  b")
    }

    @Test func whitespaceReferencesCollapse() {
        #expect(text("a&#10;&#32;&#9;b") == "a b")
    }
}

@Suite("HTMLText.extract: pathological input")
struct HTMLTextPathologicalTests {
    @Test(arguments: ["<", "<!--", "<a", "&#", "<a b=\"", "<svg>", "<p>", "</", "<script>", "<head>"])
    func megabyteOfRepeatedMarkup(unit: String) {
        let input = Array(String(repeating: unit, count: (1 << 20) / unit.utf8.count).utf8)
        let out = HTMLText.extract(input)
        #expect(out.count <= input.count + 3)
    }

    @Test func megabyteOfLessThanIsText() {
        let input = [UInt8](repeating: UInt8(ascii: "<"), count: 1 << 20)
        #expect(HTMLText.extract(input) == input)
    }

    @Test func megabyteOfOpenCommentsIsEmpty() {
        let input = Array(String(repeating: "<!--", count: 1 << 18).utf8)
        #expect(HTMLText.extract(input).isEmpty)
    }
}

@Suite("HTMLText: charset, title, sniffing")
struct HTMLTextHeadTests {
    @Test(arguments: [
        ("<html><head><meta charset=\"UTF-8\"></head>", "utf-8"),
        ("<meta charset=iso-8859-1>", "iso-8859-1"),
        ("<META CHARSET='Shift_JIS' />", "shift_jis"),
        ("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=GB2312\">", "gb2312"),
        ("<meta content='text/html; charset=\"windows-1251\"' http-equiv='content-type'>", "windows-1251"),
        ("<!-- <meta charset=koi8-r> --><meta charset=big5>", "big5"),
    ])
    func declaredCharset(html: String, expected: String) {
        #expect(HTMLText.declaredCharset(Array(html.utf8)) == expected)
    }

    @Test func noDeclaredCharset() {
        #expect(HTMLText.declaredCharset(Array("<html><body>charset=utf-8</body></html>".utf8)) == nil)
        #expect(HTMLText.declaredCharset(Array("<meta name=\"description\" content=\"charset=utf-8\">".utf8)) == nil)
        #expect(HTMLText.declaredCharset([]) == nil)
        // Past the first 2 KB it is not looked for.
        let late = String(repeating: " ", count: 3000) + "<meta charset=utf-8>"
        #expect(HTMLText.declaredCharset(Array(late.utf8)) == nil)
    }

    @Test func title() {
        let page = "<html><head><title>\n  Caf&eacute; &amp;   Bar  </title></head><body><p>x</p></body></html>"
        #expect(HTMLText.title(Array(page.utf8)) == "Café & Bar")
        #expect(HTMLText.title(Array("<TITLE>a <b> c</TITLE>".utf8)) == "a <b> c")
        #expect(HTMLText.title(Array("<svg><title>icon</title></svg><title>Real</title>".utf8)) == "Real")
        #expect(HTMLText.title(Array("<!-- <title>no</title> --><title>yes</title>".utf8)) == "yes")
        #expect(HTMLText.title(Array("<p>no title</p>".utf8)) == nil)
        #expect(HTMLText.title(Array("<title>   </title>".utf8)) == nil)
        #expect(HTMLText.title(Array("<title>never closed".utf8)) == nil)
    }

    @Test(arguments: [
        "<!DOCTYPE html><html><body>x</body></html>",
        "\u{FEFF}  <!doctype HTML>",
        "<html lang=\"en\">",
        "<HEAD><title>x</title>",
        "<body>",
        "<!-- generated --> \n<html>",
        "Some preface text, then <div class=\"x\">a</div>",
        "Text <P>with a paragraph",
    ])
    func looksLikeHTML(sample: String) {
        #expect(HTMLText.looksLikeHTML(Array(sample.utf8)))
    }

    @Test(arguments: [
        "",
        "Just plain text.\nWith two lines; a < b and c > d.",
        "# Markdown title\n\nSome *emphasis* and a [link](http://example.com).\n\n- item\n",
        "{\"text\": \"hello\", \"id\": 3}",
        "<?xml version=\"1.0\"?><rss><channel></channel></rss>",
        "<divider> is not a div",
    ])
    func doesNotLookLikeHTML(sample: String) {
        #expect(!HTMLText.looksLikeHTML(Array(sample.utf8)))
    }
}
