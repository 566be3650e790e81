package moice.io.download;

import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpHeaders;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Receives one GET of a file into its {@code .incomplete} file: appends on 206 (after checking that
 * {@code Content-Range} starts where the file ends), starts over on 200, and ignores the body of any other status.
 * Bytes are written and digested as they arrive, so an interrupted transfer leaves a usable prefix. One instance
 * serves one request.
 */
final class PartialFileSink implements HttpResponse.BodyHandler<Long> {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");

    private final Path partial;
    private final long have;
    private final long total;
    private final Supplier<MessageDigest> freshDigest;
    private final HubClient.StallWatch watch;
    private final PrintStream log;
    private final String label;

    private volatile MessageDigest digest;
    private volatile FileChannel channel;
    private volatile Writer writer;
    private volatile long rejectedRangeStart = -1;
    private volatile boolean tooLong;
    private volatile IOException diskError;

    /**
     * @param have        bytes already in {@code partial} (a Range request was sent when positive)
     * @param primed      digest already fed with those bytes
     * @param freshDigest makes an empty digest, for when the server restarts at byte 0
     */
    PartialFileSink(Path partial, long have, long total, MessageDigest primed, Supplier<MessageDigest> freshDigest,
                    HubClient.StallWatch watch, PrintStream log, String label) {
        this.partial = partial;
        this.have = have;
        this.total = total;
        this.digest = primed;
        this.freshDigest = freshDigest;
        this.watch = watch;
        this.log = log;
        this.label = label;
    }

    @Override
    public HttpResponse.BodySubscriber<Long> apply(HttpResponse.ResponseInfo info) {
        long start;
        StandardOpenOption mode;
        if (info.statusCode() == 206) {
            start = contentRangeStart(info.headers());
            if (start != have) {
                rejectedRangeStart = start;
                return HttpResponse.BodySubscribers.replacing(null);
            }
            mode = StandardOpenOption.APPEND;
        } else if (info.statusCode() == 200) {
            start = 0;
            mode = StandardOpenOption.TRUNCATE_EXISTING;
            digest = freshDigest.get();
        } else {
            return HttpResponse.BodySubscribers.replacing(null);
        }
        try {
            channel = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode);
        } catch (IOException e) {
            diskError = e;
            return HttpResponse.BodySubscribers.replacing(null);
        }
        writer = new Writer(start, new Progress(log, label, total, start, Progress.isTerminal()));
        return writer;
    }

    /** The digest of the whole partial file once the body completed. */
    MessageDigest digest() {
        return digest;
    }

    /** The start of a 206 that did not begin where the partial file ends, or -1. */
    long rejectedRangeStart() {
        return rejectedRangeStart;
    }

    /** Whether the server sent more bytes than the announced size (the transfer was stopped). */
    boolean tooLong() {
        return tooLong;
    }

    /** A local write failure (disk full, permissions), or null. */
    IOException diskError() {
        return diskError;
    }

    /** Finishes the progress line of a completed transfer. */
    void finishProgress() {
        Writer w = writer;
        if (w != null) w.progress.finish();
    }

    /** Stops any further writes and closes the partial file; safe to call more than once. */
    void close() {
        Writer w = writer;
        if (w != null) w.abort();
        FileChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // the partial file is re-measured on the next attempt
            }
        }
    }

    private static long contentRangeStart(HttpHeaders headers) {
        Matcher m = CONTENT_RANGE.matcher(headers.firstValue("Content-Range").orElse("").strip());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private final class Writer implements HttpResponse.BodySubscriber<Long> {
        private final CompletableFuture<Long> result = new CompletableFuture<>();
        private final long start;
        final Progress progress;
        private Flow.Subscription subscription;
        private long written;
        private boolean aborted;

        Writer(long start, Progress progress) {
            this.start = start;
            this.progress = progress;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            synchronized (this) {
                subscription = s;
                if (aborted) {
                    s.cancel();
                    return;
                }
            }
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            synchronized (this) {
                if (aborted) return;
                try {
                    for (ByteBuffer b : items) {
                        int n = b.remaining();
                        if (start + written + n > total) {
                            tooLong = true;
                            throw new IOException("the server sent more than the announced " + total + " bytes");
                        }
                        digest.update(b.duplicate());
                        try {
                            while (b.hasRemaining()) channel.write(b);
                        } catch (IOException e) {
                            diskError = e;
                            throw e;
                        }
                        written += n;
                        progress.advance(n);
                    }
                    watch.touch();
                } catch (IOException e) {
                    aborted = true;
                    subscription.cancel();
                    result.completeExceptionally(e);
                    return;
                }
            }
            subscription.request(1);
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(written);
        }

        @Override
        public CompletionStage<Long> getBody() {
            return result;
        }

        synchronized void abort() {
            aborted = true;
            if (subscription != null) subscription.cancel();
        }
    }
}
