package moice.tokenizer;

import moice.MoiceException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE engine, built from plain data so that {@code tokenizer.json} and GGUF vocabularies make the same thing.
 *
 * <p>{@link #tokenize} turns one pre-token ("word") into ids exactly as HF tokenizers' {@code BPE} model does: the
 * word starts as one symbol per character (with the continuing-subword prefix on all but the first and the
 * end-of-word suffix on the last, when configured); a character missing from the vocabulary becomes its UTF-8 bytes
 * as {@code <0xNN>} tokens when byte fallback is on and all of them exist, else the unknown token (consecutive unknowns
 * fused into one when {@code fuseUnk}), else it is dropped. Then the adjacent pair with the lowest merge rank is merged
 * (ties: leftmost first) until no pair has a merge. With {@code ignoreMerges} a word that is itself in the vocabulary
 * becomes that single token. The merge loop is a priority queue over a linked list of symbols, so a word of n
 * symbols costs O(n log n); results for words shorter than 256 chars are cached.
 *
 * <p>Instances are immutable apart from the cache and safe to share between threads.
 */
public final class BpeModel {
    /** One merge rule: the pair of tokens (as vocabulary strings) whose concatenation is also in the vocabulary. */
    public record Merge(String left, String right) {
    }

    /**
     * Model options (the fields of HF's BPE model besides vocab and merges).
     *
     * @param byteFallback            unknown characters become {@code <0xNN>} byte tokens when all exist
     * @param unkToken                the unknown token, or null to drop unknown characters
     * @param fuseUnk                 consecutive unknown characters give one unknown token
     * @param ignoreMerges            a word found whole in the vocabulary is one token, without merging
     * @param continuingSubwordPrefix prefix of every non-initial symbol of a word (e.g. "##"), or null
     * @param endOfWordSuffix         suffix of the last symbol of a word (e.g. "</w>"), or null
     */
    public record Options(boolean byteFallback, String unkToken, boolean fuseUnk, boolean ignoreMerges,
                          String continuingSubwordPrefix, String endOfWordSuffix) {
        /** No byte fallback, no unknown token, merges always applied, no prefix/suffix (GPT-2 style). */
        public static final Options BYTE_LEVEL = new Options(false, null, false, false, null, null);
    }

    private static final int CACHE_CAPACITY = 20_000;
    private static final int CACHE_MAX_WORD_CHARS = 256;

    private final StringIntTable vocab;
    private final String[] idToToken;
    private final Options options;
    private final PairMap merges;
    /** The token a merge of rank r produces. */
    private final int[] mergeResult;
    private final int[] byteTokenIds; // id of <0xNN> per byte (-1 if absent); null when byte fallback is off
    private final String source;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param source what to name in error messages (e.g. "tokenizer.json: model")
     * @param vocab  token string → id (ids need not be contiguous, but must be non-negative)
     * @param merges merge rules, best (rank 0) first; a later duplicate of a pair replaces the earlier rank, as in HF
     * @throws MoiceException if a merge names a token (or yields a concatenation) missing from the vocabulary
     */
    public BpeModel(String source, Map<String, Integer> vocab, List<Merge> merges, Options options) {
        this.source = source;
        this.options = options;
        int maxId = -1;
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() == null || e.getValue() < 0) {
                throw new MoiceException(source + ": vocab entry " + e.getKey() + " has a negative or missing id");
            }
            maxId = Math.max(maxId, e.getValue());
        }
        this.vocab = new StringIntTable(vocab);
        idToToken = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();

        int prefixLen = options.continuingSubwordPrefix() == null ? 0 : options.continuingSubwordPrefix().length();
        this.merges = new PairMap(Math.max(16, merges.size() * 2));
        this.mergeResult = new int[merges.size()];
        for (int rank = 0; rank < merges.size(); rank++) {
            Merge m = merges.get(rank);
            int a = this.vocab.get(m.left());
            int b = this.vocab.get(m.right());
            if (a < 0 || b < 0) {
                throw new MoiceException(source + ": merges[" + rank + "] \"" + m.left() + " " + m.right()
                        + "\" uses a token that is not in the vocab");
            }
            String right = prefixLen == 0 || m.right().length() < prefixLen ? m.right() : m.right().substring(prefixLen);
            int merged = this.vocab.get(m.left() + right);
            if (merged < 0) {
                throw new MoiceException(source + ": merges[" + rank + "] \"" + m.left() + " " + m.right()
                        + "\" yields \"" + m.left() + right + "\", which is not in the vocab");
            }
            this.merges.put(a, b, rank);
            mergeResult[rank] = merged;
        }
        byteTokenIds = options.byteFallback() ? byteTokens(this.vocab) : null;
    }

    private static int[] byteTokens(StringIntTable vocab) {
        int[] ids = new int[256];
        for (int b = 0; b < 256; b++) ids[b] = vocab.get(String.format("<0x%02X>", b));
        return ids;
    }

    /**
     * Merge rules for a SentencePiece-style vocabulary that has scores instead of merges (GGUF {@code llama}
     * tokenizers), derived as transformers does when it loads such a GGUF ({@code generate_merges}): going through the
     * tokens in id order, every split of a token into two vocabulary tokens is a merge (splits of one token ordered by
     * the ids of the parts); then all merges are stably sorted by the score of the whole token, then the length of
     * the left part, then of the right part, each descending.
     *
     * @param scores score of each id (index = id); ids beyond the array, and NaN scores, yield no merges
     */
    public static List<Merge> mergesFromScores(Map<String, Integer> vocab, float[] scores) {
        record Candidate(String left, String right, float score, int leftId, int rightId) {
        }
        List<Map.Entry<String, Integer>> pieces = new ArrayList<>(vocab.entrySet());
        pieces.sort(Map.Entry.comparingByValue());
        List<Candidate> all = new ArrayList<>();
        List<Candidate> local = new ArrayList<>();
        for (Map.Entry<String, Integer> e : pieces) {
            String piece = e.getKey();
            int id = e.getValue();
            if (piece.isEmpty() || id >= scores.length || Float.isNaN(scores[id])) continue;
            local.clear();
            for (int cut = piece.offsetByCodePoints(0, 1); cut < piece.length();
                 cut = piece.offsetByCodePoints(cut, 1)) {
                Integer l = vocab.get(piece.substring(0, cut));
                Integer r = vocab.get(piece.substring(cut));
                if (l != null && r != null) {
                    local.add(new Candidate(piece.substring(0, cut), piece.substring(cut), scores[id], l, r));
                }
            }
            local.sort(Comparator.comparingInt(Candidate::leftId).thenComparingInt(Candidate::rightId));
            all.addAll(local);
        }
        // "+ 0f" folds -0.0 into 0.0, which Python compares as equal.
        Comparator<Candidate> byScoreDescending = (x, y) -> Float.compare(y.score() + 0f, x.score() + 0f);
        all.sort(byScoreDescending
                .thenComparingInt(c -> -c.left().codePointCount(0, c.left().length()))
                .thenComparingInt(c -> -c.right().codePointCount(0, c.right().length())));
        List<Merge> merges = new ArrayList<>(all.size());
        for (Candidate c : all) merges.add(new Merge(c.left(), c.right()));
        return merges;
    }

    public Options options() {
        return options;
    }

    /** One past the largest id in the vocabulary. */
    public int idLimit() {
        return idToToken.length;
    }

    /** The number of entries in the vocabulary (HF's {@code get_vocab_size} of the model). */
    public int vocabEntries() {
        return vocab.size();
    }

    /** The vocabulary string of {@code id}, or null if no token has that id. */
    public String tokenText(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    public OptionalInt tokenId(String token) {
        int id = vocab.get(token);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** Appends the ids of {@code word} (one pre-token, already in vocabulary alphabet, e.g. byte-level) to out. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        if (options.ignoreMerges()) {
            int whole = vocab.get(word);
            if (whole >= 0) {
                out.add(whole);
                return;
            }
        }
        int[] cached = cache.get(word);
        if (cached == null) {
            cached = mergeWord(word);
            if (word.length() < CACHE_MAX_WORD_CHARS && cache.size() < CACHE_CAPACITY) cache.put(word, cached);
        }
        out.addAll(cached);
    }

    /** The ids of one word (for tests and other packages that bypass the pipeline). */
    public int[] tokenize(String word) {
        IntList out = new IntList(word.length());
        tokenize(word, out);
        return out.toArray();
    }

    private int[] mergeWord(String word) {
        IntList symbols = new IntList(word.length() + 4);
        int pendingUnk = -1; // an unknown token not yet emitted, so that fuse_unk can extend it
        String prefix = options.continuingSubwordPrefix();
        String suffix = options.endOfWordSuffix();
        for (int i = 0; i < word.length(); ) {
            int next = i + Character.charCount(word.codePointAt(i));
            String s = word.substring(i, next);
            if (prefix != null && i > 0) s = prefix + s;
            if (suffix != null && next == word.length()) s = s + suffix;
            i = next;
            int id = vocab.get(s);
            if (id >= 0) {
                if (pendingUnk >= 0) {
                    symbols.add(pendingUnk);
                    pendingUnk = -1;
                }
                symbols.add(id);
            } else if (!addByteTokens(s, symbols) && options.unkToken() != null) {
                // As in HF, byte tokens above do not flush a pending unknown: it follows them.
                if (pendingUnk >= 0 && !options.fuseUnk()) symbols.add(pendingUnk);
                pendingUnk = unkId();
            }
        }
        if (pendingUnk >= 0) symbols.add(pendingUnk);
        return mergeAll(symbols.toArray());
    }

    /** Adds the byte tokens of s if byte fallback is on and all of them exist; says whether it did. */
    private boolean addByteTokens(String s, IntList out) {
        if (byteTokenIds == null) return false;
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        for (byte b : utf8) if (byteTokenIds[b & 0xFF] < 0) return false;
        for (byte b : utf8) out.add(byteTokenIds[b & 0xFF]);
        return true;
    }

    private int unkId() {
        int unk = vocab.get(options.unkToken());
        if (unk < 0) {
            throw new MoiceException(source + ": unk_token \"" + options.unkToken() + "\" is not in the vocab");
        }
        return unk;
    }

    /** HF's Word::merge_all: lowest rank first, ties to the leftmost position, stale queue entries skipped. */
    private int[] mergeAll(int[] ids) {
        int count = ids.length;
        if (count < 2) return ids;
        int[] prev = new int[count];
        int[] next = new int[count];
        boolean[] dead = new boolean[count];
        for (int i = 0; i < count; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        LongHeap queue = new LongHeap(count);
        for (int i = 0; i + 1 < count; i++) {
            int rank = merges.get(ids[i], ids[i + 1]);
            if (rank >= 0) queue.push(key(rank, i));
        }
        int alive = count;
        while (!queue.isEmpty()) {
            long top = queue.pop();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            if (dead[pos] || next[pos] < 0) continue;
            int right = next[pos];
            int currentRank = merges.get(ids[pos], ids[right]);
            if (currentRank < 0 || mergeResult[currentRank] != mergeResult[rank]) continue; // stale entry
            ids[pos] = mergeResult[rank];
            dead[right] = true;
            alive--;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;
            if (prev[pos] >= 0) {
                int r = merges.get(ids[prev[pos]], ids[pos]);
                if (r >= 0) queue.push(key(r, prev[pos]));
            }
            if (next[pos] >= 0) {
                int r = merges.get(ids[pos], ids[next[pos]]);
                if (r >= 0) queue.push(key(r, pos));
            }
        }
        int[] result = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0 && k < alive; i = next[i]) result[k++] = ids[i];
        return result;
    }

    private static long key(int rank, int pos) {
        return ((long) rank << 32) | pos;
    }

    /** A min-heap of longs (rank in the high half, position in the low half: ties go to the leftmost). */
    private static final class LongHeap {
        private long[] heap;
        private int size;

        LongHeap(int capacity) {
            heap = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == heap.length) heap = Arrays.copyOf(heap, size * 2);
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= v) break;
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = v;
        }

        long pop() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) break;
                if (child + 1 < size && heap[child + 1] < heap[child]) child++;
                if (heap[child] >= last) break;
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }

    /** Open-addressing map from an id pair to its merge rank (-1 when absent). */
    private static final class PairMap {
        private final long[] keys;
        private final int[] values;
        private final int mask;

        PairMap(int expected) {
            int cap = Integer.highestOneBit(Math.max(4, expected) * 2 - 1) << 1;
            keys = new long[cap];
            values = new int[cap];
            Arrays.fill(keys, -1L);
            mask = cap - 1;
        }

        private static long pair(int a, int b) {
            return ((long) a << 32) | (b & 0xFFFFFFFFL);
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h >>> 40) & mask;
        }

        void put(int a, int b, int rank) {
            long key = pair(a, b);
            int i = slot(key);
            while (keys[i] != -1L && keys[i] != key) i = (i + 1) & mask;
            keys[i] = key;
            values[i] = rank;
        }

        int get(int a, int b) {
            long key = pair(a, b);
            int i = slot(key);
            while (true) {
                long k = keys[i];
                if (k == key) return values[i];
                if (k == -1L) return -1;
                i = (i + 1) & mask;
            }
        }
    }
}
