package io.gemmaserving.runtime.engine.batch;

import io.gemmaserving.runtime.engine.Engine.KvCache;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * KV caches of token sequences the scheduler has already run, kept so that a later prompt that starts with the same
 * tokens (the next turn of a conversation, a shared system prompt) copies their KV instead of prefilling it again.
 * Scheduler thread only.
 *
 * <p>An entry is a cache of {@code tokens.length} positions holding exactly those tokens. A prompt sharing its first
 * {@code m} tokens with an entry reuses {@code r = min(m, prompt.length - 1)} positions (at least one prompt token is
 * always run, for the logits of the first generated token), through {@link KvCache#copy}: possible only when
 * {@code r >= cache.rewindLimit()}, which a sliding-window ring past its spare slots may forbid. So the scheduler
 * stores, besides the cache a sequence leaves when it ends, snapshots taken while its prompt was prefilled (at block
 * boundaries and at the prompt's end), and lookup takes the entry that gives the longest reuse.
 *
 * <p>Size: each entry costs {@code ceil(bytes / kvBytesPerToken)} positions of the scheduler's KV budget (the same
 * unit running sequences reserve in) and its bytes count against {@code maxBytes}. The least recently used entries
 * go first when a new entry or a new sequence needs room.
 */
final class PrefixCache {

    /** One cached token sequence and the cache holding it. */
    static final class Entry {
        final int[] tokens;
        final KvCache cache;
        final long bytes;
        final long cost;
        long lastUse;

        Entry(int[] tokens, KvCache cache, long bytes, long cost) {
            this.tokens = tokens;
            this.cache = cache;
            this.bytes = bytes;
            this.cost = cost;
        }
    }

    /** The entry to copy and how many of its positions to reuse. */
    record Match(Entry entry, int reuse) {
    }

    private final long kvBytesPerToken;
    private final long maxBytes;
    private final List<Entry> entries = new ArrayList<>();
    private long clock;
    private long bytes;
    private long cost;

    /**
     * @param kvBytesPerToken the engine's KV bytes per position (converts an entry's bytes to budget positions)
     * @param maxBytes        most bytes all entries may hold
     */
    PrefixCache(long kvBytesPerToken, long maxBytes) {
        this.kvBytesPerToken = Math.max(1, kvBytesPerToken);
        this.maxBytes = maxBytes;
    }

    /** Budget positions the entries hold. */
    long cost() {
        return cost;
    }

    long bytes() {
        return bytes;
    }

    int size() {
        return entries.size();
    }

    /** The entry giving {@code prompt} the longest reuse, or null when none gives any. Marks it used. */
    Match lookup(int[] prompt) {
        Entry best = null;
        int bestReuse = 0;
        for (Entry e : entries) {
            int reuse = Math.min(commonPrefix(e.tokens, prompt), prompt.length - 1);
            if (reuse > bestReuse && reuse >= e.cache.rewindLimit()) {
                best = e;
                bestReuse = reuse;
            }
        }
        if (best == null) {
            return null;
        }
        best.lastUse = ++clock;
        return new Match(best, bestReuse);
    }

    /**
     * Stores {@code cache}, which holds exactly {@code tokens}, unless an entry already serves every prefix it would
     * serve; drops the entries it serves in their place. Evicts the least recently used others while the entries
     * would exceed {@code maxBytes} or {@code freeBudget} positions; returns false (and keeps nothing) when even an
     * empty cache could not hold it.
     *
     * @param freeBudget positions of the KV budget not reserved by running sequences
     */
    boolean insert(int[] tokens, KvCache cache, long freeBudget) {
        if (tokens.length == 0) {
            return false;
        }
        int limit = cache.rewindLimit();
        for (Entry e : entries) {
            if (e.tokens.length >= tokens.length && commonPrefix(e.tokens, tokens) == tokens.length
                    && e.cache.rewindLimit() <= limit) {
                e.lastUse = ++clock;
                return false; // e serves every reuse this one would
            }
        }
        long b = cache.bytes();
        long c = (b + kvBytesPerToken - 1) / kvBytesPerToken;
        if (b > maxBytes || c > freeBudget) {
            return false;
        }
        for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.tokens.length <= tokens.length && commonPrefix(e.tokens, tokens) == e.tokens.length
                    && limit <= e.cache.rewindLimit()) {
                it.remove(); // the new entry serves every reuse e would
                bytes -= e.bytes;
                cost -= e.cost;
            }
        }
        while (!entries.isEmpty() && (bytes + b > maxBytes || cost + c > freeBudget)) {
            evictOldest();
        }
        Entry added = new Entry(tokens, cache, b, c);
        added.lastUse = ++clock;
        entries.add(added);
        bytes += b;
        cost += c;
        return true;
    }

    /**
     * Takes {@code match}'s entry out of the cache and returns its cache cut to the match's reuse: for a sequence that
     * continues it when the budget has no room for a copy beside it (the sequence's end stores it again, longer).
     */
    KvCache take(Match match) {
        Entry e = match.entry();
        if (!entries.remove(e)) {
            throw new IllegalStateException("prefix cache entry taken twice");
        }
        bytes -= e.bytes;
        cost -= e.cost;
        e.cache.truncate(match.reuse());
        return e.cache;
    }

    boolean contains(Entry e) {
        return entries.contains(e);
    }

    /** Evicts least recently used entries until they hold at most {@code maxCost} budget positions. */
    void shrinkTo(long maxCost) {
        while (!entries.isEmpty() && cost > maxCost) {
            evictOldest();
        }
    }

    void clear() {
        entries.clear();
        bytes = 0;
        cost = 0;
    }

    private void evictOldest() {
        Entry oldest = entries.get(0);
        for (Entry e : entries) {
            if (e.lastUse < oldest.lastUse) {
                oldest = e;
            }
        }
        entries.remove(oldest);
        bytes -= oldest.bytes;
        cost -= oldest.cost;
    }

    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }
}
