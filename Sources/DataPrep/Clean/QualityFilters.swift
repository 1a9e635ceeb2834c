// Document quality filters of `prep clean`, after datatrove's GopherQualityFilter,
// GopherRepetitionFilter and C4QualityFilter (huggingface/datatrove, src/datatrove/pipeline/
// filters), with their published thresholds, made to work on Chinese as well as English.
//
// Each filter is a pure function of a text and its options: it returns why the document is
// dropped (datatrove's reason names, prefixed with the filter's name), or nil when it passes.
// Lengths are in Unicode scalars, as Python's `len` counts them; nothing here breaks text into
// Characters (grapheme clusters), which would cost more than all the checks together.
//
// Reasons:
//   c4:lorem_ipsum, c4:curly_bracket, c4:too_few_sentences (documents);
//   c4:word_too_long, c4:no_terminal_punctuation, c4:too_few_words, c4:javascript, c4:policy
//   (removed lines), c4:citation (lines whose citation marks were removed);
//   gopher_repetition:dup_para_frac, :dup_para_char_frac, :dup_line_frac, :dup_line_char_frac,
//   :top_{n}_gram, :duplicated_{n}_n_grams;
//   gopher_quality:gopher_short_doc, :gopher_long_doc, :gopher_below_avg_threshold,
//   :gopher_above_avg_threshold, :gopher_too_many_hashes, :gopher_too_many_ellipsis,
//   :gopher_too_many_bullets, :gopher_too_many_end_ellipsis, :gopher_below_alpha_threshold,
//   :gopher_enough_stop_words.

/// The document quality filters: C4's line filter, Gopher's repetition and quality heuristics.
public enum QualityFilters {}
