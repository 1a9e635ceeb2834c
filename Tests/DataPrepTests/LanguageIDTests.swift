@testable import DataPrep
import Testing
import TestSupport

@Suite struct LanguageIDTests {
    /// The texts of a JSONL file compressed with zstd, one `Document` a line.
    static func documentTexts(_ name: String) throws -> [String] {
        let r = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/" + name])
        try #require(r.status == 0, "zstd -dc \(name): \(r.stderr)")
        return try r.stdout.split(separator: "\n").map { try Document.parse(Array($0.utf8)).text }
    }

    /// Every document of 200 characters or more of the corpora, against the corpus's language.
    /// The English corpus holds the Bibles, commentaries, Shakespeare, the Linux and Python
    /// documentation with their code, and the C4 and Wikipedia samples; the Chinese one holds
    /// reviews, fortunes and the translated Linux and Debian documentation with English code
    /// and commands in it. Its known misses: nine hotel and book reviews written in English
    /// (right to call "en") and one translated Linux page without a Chinese character.
    @Test func corporaAreAbove98Percent() throws {
        var web: [String] = []
        let c4 = String(decoding: Fixtures.read(Fixtures.corpora + "/web/c4_demo.jsonl"), as: UTF8.self)
        for line in c4.split(separator: "\n") {
            web.append(try #require(try JSONParser.parse(Array(line.utf8))["text"]?.stringValue))
        }
        let wiki = String(decoding: Fixtures.read(Fixtures.corpora + "/web/wiki_demo.txt"), as: UTF8.self)
        web += wiki.split(separator: "\n").map(String.init)

        let sets: [(name: String, language: String, texts: [String])] = [
            ("en-docs", "en", try Self.documentTexts("en-docs.jsonl.zst")),
            ("zh-docs", "zh", try Self.documentTexts("zh-docs.jsonl.zst")),
            ("web (c4, wiki)", "en", web),
        ]
        for set in sets {
            // 200 characters or more, counted as Unicode scalars (Python's len).
            let long = set.texts.filter { !$0.unicodeScalars.dropFirst(199).isEmpty }
            let right = long.filter { LanguageID.identify($0).language == set.language }.count
            let accuracy = Double(right) / Double(max(long.count, 1))
            print("LanguageID \(set.name): \(right)/\(long.count) = \(accuracy * 100)% \(set.language)")
            #expect(long.count > 250, "\(set.name): too few documents")
            #expect(accuracy >= 0.98, "\(set.name): \(right)/\(long.count)")
        }
    }

    /// Small hand-made checks: sentences written for this test, three a language.
    @Test(arguments: [
        "Le gouvernement a annoncé hier une nouvelle série de mesures pour soutenir les petites entreprises qui ont souffert de la crise économique.",
        "Nous sommes allés au marché ce matin, mais il n'y avait plus de fraises, alors nous avons acheté des pommes et du pain.",
        "Cette bibliothèque permet de lire les fichiers compressés sans les décompresser sur le disque, ce qui est très pratique pour les grands corpus.",
        "Die Stadtverwaltung hat beschlossen, dass die neue Brücke über den Fluss erst im nächsten Jahr für den Verkehr geöffnet wird.",
        "Ich habe das Buch gestern Abend zu Ende gelesen, und es hat mir besser gefallen, als ich erwartet hatte.",
        "Mit diesem Werkzeug kann man große Textsammlungen bereinigen, bevor sie für das Training eines Sprachmodells verwendet werden.",
        "El ayuntamiento ha decidido cerrar la calle principal durante el fin de semana para celebrar la fiesta del pueblo.",
        "Cuando llegamos a la estación, el tren ya había salido, así que tuvimos que esperar una hora más en la cafetería.",
        "Esta herramienta permite limpiar grandes colecciones de textos antes de usarlas para entrenar un modelo de lenguaje.",
        "昨日は雨が降っていたので、一日中家で本を読んでいました。",
        "このツールを使うと、大量のテキストを言語モデルの学習用に整えることができます。",
        "東京駅から新幹線に乗って、京都まで約二時間半かかりました。",
        "어제는 비가 와서 하루 종일 집에서 책을 읽었습니다.",
        "이 도구를 사용하면 대량의 텍스트를 언어 모델 학습에 맞게 정리할 수 있습니다.",
        "서울역에서 기차를 타고 부산까지 약 세 시간 정도 걸렸어요.",
        "Вчера весь день шёл дождь, поэтому я сидел дома и читал книгу.",
        "Этот инструмент позволяет очищать большие коллекции текстов перед обучением языковой модели.",
        "Мы приехали на вокзал слишком поздно, и поезд уже ушёл.",
        "كان الجو ممطرا طوال يوم أمس، لذلك بقيت في المنزل وقرأت كتابا.",
        "تتيح هذه الأداة تنظيف مجموعات كبيرة من النصوص قبل استخدامها لتدريب نموذج لغوي.",
        "وصلنا إلى المحطة متأخرين، وكان القطار قد غادر بالفعل.",
    ])
    func otherLanguagesAreOther(_ text: String) {
        let r = LanguageID.identify(text)
        #expect(r.language == "other", "\(text): \(r)")
        #expect(r.confidence > 0.4, "\(text): \(r)")
    }

    @Test(arguments: [
        ("今天天氣很好，我們去公園散步吧。", "zh"),
        ("请联系客服处理退款，谢谢。", "zh"),
        ("使用 `git commit -m` 命令提交修改，然后用 git push 推送到远程仓库。", "zh"),
        ("""
        安装完成后，运行下面的命令检查版本：

            $ python3 -m pip install --upgrade kiln
            $ kiln --version  # prints the version and exits

        如果看到版本号，说明安装成功。
        """, "zh"),
        ("The quick brown fox jumps over the lazy dog, and then it runs into the forest.", "en"),
        ("def area(r):\n    # the area of a circle of radius r\n    return 3.14159 * r * r\n", "en"),
    ])
    func chineseAndEnglish(_ text: String, _ language: String) {
        let r = LanguageID.identify(text)
        #expect(r.language == language, "\(text): \(r)")
    }

    @Test(arguments: ["", " \n\t ", "12345 67.89 !!! ---", "😀😀😀 👍", "{}[]()<>=+-*/"])
    func textWithoutLettersIsOtherWithNoConfidence(_ text: String) {
        #expect(LanguageID.identify(text) == LanguageID.Result(language: "other", confidence: 0))
    }

    /// Very short text gets its script's best guess with a low confidence.
    @Test func shortTextIsALowConfidenceGuess() {
        let hi = LanguageID.identify("你好")
        #expect(hi.language == "zh" && hi.confidence < 0.1)
        let hello = LanguageID.identify("Hello")
        #expect(hello.language == "en" && hello.confidence < 0.1)
        let privet = LanguageID.identify("Привет")
        #expect(privet.language == "other" && privet.confidence < 0.1)
        let long = LanguageID.identify(String(repeating: "This is the text of a long document. ", count: 20))
        #expect(long.language == "en" && long.confidence > 0.5)
    }

    /// Latin text that is not prose (a table of device names) is a weak "en"; with many letters
    /// outside ASCII, a weak "other".
    @Test func latinWithoutStopWords() {
        let table = "AVerMedia A309, DigitalNow TinyUSB DVB-t Receiver, Hanftek UMT-010 USB2.0, WideView WT-220U PenType"
        let r = LanguageID.identify(table)
        #expect(r.language == "en" && r.confidence <= 0.3, "\(r)")
        let polish = LanguageIDTests.polishNames
        #expect(LanguageID.identify(polish).language == "other")
    }

    static let polishNames = "Łódź, Gdańsk, Kraków, Wrocław, Poznań, Białystok, Rzeszów, Zielona Góra, Świętokrzyskie"

    @Test func codeNumbersAndMixedTextDoNotCrash() {
        let inputs = [
            String(repeating: "0123456789", count: 100_000),
            String(repeating: "if (x) { y = z[i] + 1; }\n", count: 10_000),
            String(repeating: "a中😀é\u{301}Ж", count: 10_000),
            String(decoding: [0xFF, 0xFE, 0xE4, 0xB8, 0x41, 0xC3], as: UTF8.self),
            String(repeating: "\u{0}", count: 100),
        ]
        for text in inputs {
            let r = LanguageID.identify(text)
            #expect(r.confidence >= 0 && r.confidence <= 1)
            #expect(["zh", "en", "other"].contains(r.language))
        }
    }

    /// Only the prefix is read, and a prefix cut inside a character is harmless.
    @Test func longTextUsesItsPrefix() {
        let chinese = "a" + String(repeating: "中文文本", count: 10_000)
        #expect(LanguageID.identify(chinese).language == "zh")
        let englishThenFrench = String(repeating: "the cat and the dog of the house ", count: 400)
            + String(repeating: "le chat et le chien de la maison ", count: 4_000)
        #expect(LanguageID.identify(englishThenFrench).language == "en")
        #expect(LanguageID.identify(String(englishThenFrench.reversed())).language != "zh")
    }

    @Test func identicalInputGivesIdenticalResults() {
        let text = "Chinese 中文 and English, mixed: 这是一个测试。"
        #expect(LanguageID.identify(text) == LanguageID.identify(String(text)))
    }

    /// Each stop word finds its language, and no two words share a table key.
    @Test func stopWordTableHoldsEveryWord() {
        var keys: [UInt64: String] = [:]
        let table = LanguageID.StopWords.table
        #expect(table.count == LanguageID.StopWords.slots)
        #expect(LanguageID.Lang.allCases.count == LanguageID.Lang.count)
        table.withUnsafeBufferPointer { t in
            for (lang, list) in LanguageID.StopWords.lists {
                let words = list.split(separator: " ")
                #expect(words.count >= 50, "\(lang)")
                for word in words {
                    let h = LanguageID.StopWords.hash(String(word))
                    let mask = LanguageID.StopWords.lookup(h, t)
                    #expect(mask & (1 << UInt8(lang.rawValue)) != 0, "\(word) (\(lang))")
                    #expect(word.count >= 2 && word.count <= 8, "\(word)")
                    let key = h & ~0xFF
                    if let other = keys[key] { #expect(other == String(word), "\(word) and \(other) collide") }
                    keys[key] = String(word)
                }
            }
        }
        #expect(LanguageID.identify("xyzzy plugh").language == "en")  // no stop word, ASCII
    }
}
