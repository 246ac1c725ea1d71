package io.gemmaserving.runtime.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.gguf.GgufFile;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Gemma's tokenizer: SentencePiece BPE with byte fallback, encoding exactly as llama.cpp's {@code llm_tokenizer_spm}.
 *
 * <p>Encoding, in llama.cpp's order:
 * <ol>
 *   <li>Special tokens are cut out of the raw text first: every user-defined token (Gemma: runs of {@code \n}, of
 *       spaces, of tabs, HTML tags, ...) always, control tokens ({@code <start_of_turn>}, {@code <eos>},
 *       {@code <unusedN>}, ...) only when {@code parseSpecial}. Longer tokens are matched first over the whole text,
 *       each leftmost and non-overlapping within the pieces of text that remain.</li>
 *   <li>Each remaining piece of text: spaces become {@code ▁} (U+2581; Gemma adds no dummy prefix space), it is split
 *       into code points, and adjacent symbols are merged while their concatenation is a vocabulary entry, best score
 *       first (ties: leftmost), with a priority queue over adjacent pairs.</li>
 *   <li>Symbols that are not vocabulary entries become their UTF-8 bytes as {@code <0xNN>} tokens.</li>
 * </ol>
 *
 * <p>Built from GGUF metadata ({@link #fromVocabulary}) or from a Hugging Face {@code tokenizer.json}
 * ({@link #fromTokenizerJson}); immutable and thread-safe.
 */
public final class SentencePieceTokenizer implements GemmaTokenizer {

    /** {@code tokenizer.ggml.token_type} values (llama.cpp's llama_token_type). */
    public static final int TYPE_NORMAL = 1;
    public static final int TYPE_UNKNOWN = 2;
    public static final int TYPE_CONTROL = 3;
    public static final int TYPE_USER_DEFINED = 4;
    public static final int TYPE_UNUSED = 5;
    public static final int TYPE_BYTE = 6;

    private static final char SPACE_MARK = '\u2581';

    private final String[] tokens;
    /** Merge priority of a vocabulary entry as a BPE result; NaN = never produced by a merge. */
    private final float[] scores;
    private final int[] types;
    private final Map<String, Integer> ids;
    private final int[] byteTokens = new int[256];
    /** Special tokens (user-defined, control, unknown), longest first. */
    private final int[] specials;
    /** Special tokens indexed by their first char, to find the candidates present in a text quickly. */
    private final Map<Character, int[]> specialsByFirstChar;
    private final int bos;
    private final int eos;
    private final int endOfTurn;
    private final boolean addSpacePrefix;

    private SentencePieceTokenizer(String[] tokens, float[] scores, int[] types, int bos, int eos,
                                   boolean addSpacePrefix) {
        int n = tokens.length;
        if (scores.length != n || types.length != n) {
            throw new IllegalArgumentException("vocabulary arrays differ in length: " + n + " tokens, "
                    + scores.length + " scores, " + types.length + " types");
        }
        checkId("bos", bos, n);
        checkId("eos", eos, n);
        this.tokens = tokens;
        this.scores = scores;
        this.types = types;
        this.bos = bos;
        this.eos = eos;
        this.addSpacePrefix = addSpacePrefix;
        this.ids = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            if (tokens[i] == null) {
                throw new IllegalArgumentException("token " + i + " has no text");
            }
            ids.putIfAbsent(tokens[i], i);
        }
        Arrays.fill(byteTokens, -1);
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.format("<0x%02X>", b));
            if (id != null) {
                byteTokens[b] = id;
            }
        }
        List<Integer> special = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if ((types[i] == TYPE_CONTROL || types[i] == TYPE_USER_DEFINED || types[i] == TYPE_UNKNOWN)
                    && !tokens[i].isEmpty()) {
                special.add(i);
            }
        }
        special.sort(Comparator.comparingInt((Integer i) -> -tokens[i].length()).thenComparingInt(i -> i));
        this.specials = special.stream().mapToInt(Integer::intValue).toArray();
        Map<Character, List<Integer>> byFirst = new HashMap<>();
        for (int rank = 0; rank < specials.length; rank++) {
            byFirst.computeIfAbsent(tokens[specials[rank]].charAt(0), c -> new ArrayList<>()).add(rank);
        }
        this.specialsByFirstChar = new HashMap<>();
        byFirst.forEach((c, ranks) -> specialsByFirstChar.put(c, ranks.stream().mapToInt(Integer::intValue).toArray()));
        Integer eot = ids.get("<end_of_turn>");
        this.endOfTurn = eot == null ? eos : eot;
    }

    private static void checkId(String what, int id, int n) {
        if (id < 0 || id >= n) {
            throw new IllegalArgumentException(what + " token id " + id + " is outside the vocabulary of " + n);
        }
    }

    /**
     * From GGUF metadata: {@code tokenizer.ggml.tokens}, {@code .scores}, {@code .token_type},
     * {@code .bos_token_id}, {@code .eos_token_id} and {@code .add_space_prefix} (false for Gemma). Every
     * vocabulary entry may be a merge result, ranked by its score (llama.cpp's rule). Whether a text starts with
     * {@code <bos>} is the caller's choice at each {@link #encode}, so {@code .add_bos_token} is not read.
     */
    public static SentencePieceTokenizer fromVocabulary(String[] tokens, float[] scores, int[] tokenTypes, int bos, int eos,
                                                        boolean addSpacePrefix) {
        if (tokenTypes.length != tokens.length) {
            throw new IllegalArgumentException("vocabulary arrays differ in length: " + tokens.length + " tokens, "
                    + tokenTypes.length + " types");
        }
        if (scores == null) {
            throw new IllegalArgumentException("tokenizer.ggml.scores is missing: SentencePiece BPE needs scores");
        }
        return new SentencePieceTokenizer(tokens.clone(), scores.clone(), tokenTypes.clone(), bos, eos, addSpacePrefix);
    }

    /**
     * From an open GGUF file's {@code tokenizer.ggml.*} metadata. Only SentencePiece vocabularies
     * ({@code tokenizer.ggml.model = llama}, as Gemma's) are supported.
     */
    public static SentencePieceTokenizer fromGguf(GgufFile gguf) {
        String model = gguf.getString("tokenizer.ggml.model", "llama");
        if (!"llama".equals(model)) {
            throw new IllegalArgumentException(gguf.path().getFileName() + ": tokenizer.ggml.model '" + model
                    + "' is not supported (Gemma uses SentencePiece, 'llama')");
        }
        String[] tokens = gguf.getStringArray("tokenizer.ggml.tokens");
        int[] types;
        if (gguf.contains("tokenizer.ggml.token_type")) {
            types = gguf.getIntArray("tokenizer.ggml.token_type");
        } else {
            types = new int[tokens.length];
            Arrays.fill(types, TYPE_NORMAL);
        }
        return fromVocabulary(tokens, gguf.getFloatArray("tokenizer.ggml.scores"), types,
                gguf.getInt("tokenizer.ggml.bos_token_id", 2), gguf.getInt("tokenizer.ggml.eos_token_id", 1),
                gguf.getBoolean("tokenizer.ggml.add_space_prefix", false));
    }

    /**
     * From a Hugging Face {@code tokenizer.json} (model type BPE with byte fallback, as Gemma's). The merge list gives
     * each merged piece its priority (earlier merge = better); {@code added_tokens} become control tokens
     * ({@code special: true}) or user-defined ones; {@code <bos>}/{@code <eos>} are looked up by name.
     */
    public static SentencePieceTokenizer fromTokenizerJson(Path tokenizerJson) {
        JsonNode root;
        try (InputStream in = Files.newInputStream(tokenizerJson)) {
            root = new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new IllegalArgumentException(tokenizerJson + ": cannot read tokenizer.json: " + e.getMessage(), e);
        }
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText())) {
            throw new IllegalArgumentException(tokenizerJson + ": model type '" + model.path("type").asText()
                    + "' is not supported (expected BPE, as in Gemma's tokenizer.json)");
        }
        JsonNode vocab = model.path("vocab");
        int n = 0;
        for (var it = vocab.fields(); it.hasNext(); ) {
            n = Math.max(n, it.next().getValue().asInt() + 1);
        }
        for (JsonNode added : root.path("added_tokens")) {
            n = Math.max(n, added.path("id").asInt() + 1);
        }
        String[] tokens = new String[n];
        int[] types = new int[n];
        float[] scores = new float[n];
        Arrays.fill(scores, Float.NaN);
        Arrays.fill(types, TYPE_NORMAL);
        for (var it = vocab.fields(); it.hasNext(); ) {
            var e = it.next();
            int id = e.getValue().asInt();
            tokens[id] = e.getKey();
            if (e.getKey().length() == 6 && e.getKey().startsWith("<0x") && e.getKey().endsWith(">")) {
                types[id] = TYPE_BYTE;
            }
        }
        for (JsonNode added : root.path("added_tokens")) {
            int id = added.path("id").asInt();
            tokens[id] = added.path("content").asText();
            types[id] = added.path("special").asBoolean() ? TYPE_CONTROL : TYPE_USER_DEFINED;
        }
        for (int i = 0; i < n; i++) {
            if (tokens[i] == null) {
                throw new IllegalArgumentException(tokenizerJson + ": no token with id " + i);
            }
        }
        Map<String, Integer> idOf = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            idOf.putIfAbsent(tokens[i], i);
        }
        int rank = 0;
        for (JsonNode merge : model.path("merges")) {
            String left;
            String right;
            if (merge.isArray()) {
                left = merge.get(0).asText();
                right = merge.get(1).asText();
            } else {
                String m = merge.asText();
                int sp = m.indexOf(' ');
                left = m.substring(0, sp);
                right = m.substring(sp + 1);
            }
            Integer id = idOf.get(left + right);
            if (id != null && Float.isNaN(scores[id])) {
                scores[id] = -rank;
            }
            rank++;
        }
        Integer bos = idOf.get("<bos>");
        Integer eos = idOf.get("<eos>");
        if (bos == null || eos == null) {
            throw new IllegalArgumentException(tokenizerJson + ": no <bos> or <eos> token: not a Gemma tokenizer");
        }
        return new SentencePieceTokenizer(tokens, scores, types, bos, eos, false);
    }

    // ---------------------------------------------------------------- encoding

    @Override
    public int[] encode(String text, boolean addBos) {
        return encode(text, addBos, true);
    }

    /** Token ids of {@code text}; {@code parseSpecial} matches control tokens such as {@code <start_of_turn>} in it. */
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        IntList out = new IntList(text.length() / 3 + 4);
        if (addBos) {
            out.add(bos);
        }
        // 1. special tokens: a list of fragments, each a token id or a [start, end) range of raw text
        List<int[]> fragments = partition(text, parseSpecial);
        for (int[] f : fragments) {
            if (f[0] >= 0) {
                out.add(f[0]);
            } else {
                String raw = text.substring(f[1], f[2]);
                if (addSpacePrefix && f[1] == 0) {
                    raw = " " + raw;
                }
                bpe(raw.replace(' ', SPACE_MARK), out);
            }
        }
        return out.toArray();
    }

    /** Fragments {tokenId, -, -} or {-1, start, end}, as llama.cpp's tokenizer_st_partition cuts them. */
    private List<int[]> partition(String text, boolean parseSpecial) {
        List<int[]> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(new int[] {-1, 0, text.length()});
        // candidates: special tokens whose first char occurs in the text and that occur at all, in rank order
        boolean[] seen = new boolean[65536];
        List<Integer> ranks = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!seen[c]) {
                seen[c] = true;
                int[] r = specialsByFirstChar.get(c);
                if (r != null) {
                    for (int x : r) {
                        ranks.add(x);
                    }
                }
            }
        }
        ranks.sort(null);
        for (int rank : ranks) {
            int id = specials[rank];
            if (!parseSpecial && (types[id] == TYPE_CONTROL || types[id] == TYPE_UNKNOWN)) {
                continue;
            }
            String special = tokens[id];
            if (!text.contains(special)) {
                continue;
            }
            List<int[]> next = new ArrayList<>(fragments.size() + 4);
            for (int[] f : fragments) {
                if (f[0] >= 0) {
                    next.add(f);
                    continue;
                }
                int cur = f[1];
                int end = f[2];
                while (cur < end) {
                    int match = text.indexOf(special, cur);
                    if (match < 0 || match + special.length() > end) {
                        break;
                    }
                    if (match > cur) {
                        next.add(new int[] {-1, cur, match});
                    }
                    next.add(new int[] {id, 0, 0});
                    cur = match + special.length();
                }
                if (cur < end) {
                    next.add(new int[] {-1, cur, end});
                }
            }
            fragments = next;
        }
        return fragments;
    }

    /** A candidate merge of the adjacent symbols left and right; stale once either changed size. */
    private record Bigram(int left, int right, float score, int size) {
    }

    private static final Comparator<Bigram> BEST_FIRST =
            Comparator.comparingDouble((Bigram b) -> -b.score()).thenComparingInt(Bigram::left);

    /** SentencePiece BPE over one fragment (spaces already {@code ▁}), appending ids to {@code out}. */
    private void bpe(String s, IntList out) {
        if (s.isEmpty()) {
            return;
        }
        // symbols: one per code point, as a doubly linked list of [start, start+len) ranges of s
        int n = s.codePointCount(0, s.length());
        int[] start = new int[n];
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            int cp = s.codePointAt(pos);
            start[i] = pos;
            len[i] = Character.charCount(cp);
            pos += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, n), BEST_FIRST);
        for (int i = 1; i < n; i++) {
            tryAddBigram(s, start, len, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left();
            int r = b.right();
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size()) {
                continue; // one side was merged since this pair was queued
            }
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) {
                prev[next[r]] = l;
            }
            if (prev[l] >= 0) {
                tryAddBigram(s, start, len, prev[l], l, queue);
            }
            if (next[l] >= 0) {
                tryAddBigram(s, start, len, l, next[l], queue);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            String piece = s.substring(start[i], start[i] + len[i]);
            Integer id = ids.get(piece);
            if (id != null) {
                out.add(id);
            } else {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    int t = byteTokens[b & 0xff];
                    out.add(t >= 0 ? t : unknownId());
                }
            }
        }
    }

    private void tryAddBigram(String s, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        int size = len[left] + len[right];
        Integer id = ids.get(s.substring(start[left], start[left] + size));
        if (id == null || Float.isNaN(scores[id])) {
            return;
        }
        queue.add(new Bigram(left, right, scores[id], size));
    }

    private int unknownId() {
        Integer unk = ids.get("<unk>");
        return unk == null ? 0 : unk;
    }

    // ---------------------------------------------------------------- decoding

    /**
     * Bytes of one token as llama.cpp renders it with {@code special = true}: normal pieces with {@code ▁} as space,
     * byte tokens as their byte, user-defined and control tokens as their text.
     */
    @Override
    public byte[] tokenBytes(int token) {
        if (token < 0 || token >= tokens.length) {
            throw new IllegalArgumentException("token id " + token + " out of range [0, " + tokens.length + ")");
        }
        String text = tokens[token];
        return switch (types[token]) {
            case TYPE_BYTE -> new byte[] {(byte) Integer.parseInt(text.substring(3, 5), 16)};
            case TYPE_NORMAL -> text.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
            case TYPE_UNKNOWN, TYPE_UNUSED -> new byte[0];
            default -> text.getBytes(StandardCharsets.UTF_8); // user-defined, control
        };
    }

    @Override
    public String decode(int[] tokens) {
        return decode(tokens, false);
    }

    /** Text of a token sequence; {@code skipSpecial} leaves out control tokens ({@code <bos>}, {@code <end_of_turn>}, ...). */
    public String decode(int[] tokens, boolean skipSpecial) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(tokens.length * 4);
        for (int t : tokens) {
            if (skipSpecial && t >= 0 && t < types.length && types[t] == TYPE_CONTROL) {
                continue;
            }
            bytes.writeBytes(tokenBytes(t));
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- vocabulary facts

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public int bosId() {
        return bos;
    }

    @Override
    public int eosId() {
        return eos;
    }

    @Override
    public int endOfTurnId() {
        return endOfTurn;
    }

    @Override
    public boolean isEndOfGeneration(int token) {
        return token == eos || token == endOfTurn;
    }

    @Override
    public String applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return GemmaChatTemplate.render(messages, addGenerationPrompt, tokens[bos]);
    }

    /** A growable int array. */
    private static final class IntList {
        private int[] a;
        private int n;

        IntList(int capacity) {
            a = new int[Math.max(4, capacity)];
        }

        void add(int v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, n * 2);
            }
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
