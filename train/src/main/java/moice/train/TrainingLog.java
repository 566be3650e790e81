package moice.train;

import moice.MoiceException;
import moice.io.AtomicFile;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;

/**
 * The per-step CSV log of a training run: header {@value #HEADER}, one row appended and flushed after each step.
 * On resume the file is rewritten from the rows saved in the training state, so that it never holds a row of a step
 * whose checkpoint was lost, nor misses one.
 */
public final class TrainingLog implements AutoCloseable {
    public static final String HEADER = "step,loss,ce,aux,grad_norm,lr,tokens,seconds,tokens_per_s";

    /** One optimizer step: batch means of the loss parts, gradient norm (after accumulation), timing. */
    public record Row(int step, double loss, double ce, double aux, double gradNorm, double lr, long tokens,
                      double seconds) {
        public double tokensPerSecond() {
            return seconds > 0 ? tokens / seconds : 0;
        }

        String csv() {
            return String.format(Locale.ROOT, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.3f,%.1f", step, loss, ce, aux,
                    gradNorm, lr, tokens, seconds, tokensPerSecond());
        }

        /** The row as numbers, for the training state. */
        List<Object> toJson() {
            return List.of((long) step, loss, ce, aux, gradNorm, lr, tokens, seconds);
        }

        static Row fromJson(List<Object> a, String what) {
            if (a.size() != 8) throw new MoiceException(what + ": expected 8 numbers, found " + a.size());
            return new Row((int) moice.io.Json.integer(a.get(0), what), num(a, 1, what), num(a, 2, what),
                    num(a, 3, what), num(a, 4, what), num(a, 5, what), moice.io.Json.integer(a.get(6), what),
                    num(a, 7, what));
        }

        private static double num(List<Object> a, int i, String what) {
            return moice.io.Json.number(a.get(i), what + " element " + i);
        }
    }

    private final Path file;
    private final BufferedWriter writer;

    private TrainingLog(Path file) throws IOException {
        this.file = file;
        this.writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** Replaces {@code file} (atomically) by the header and {@code rows}, then opens it for appending. */
    public static TrainingLog start(Path file, List<Row> rows) {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        for (Row r : rows) sb.append(r.csv()).append('\n');
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, ch -> {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) ch.write(buf);
        });
        try {
            return new TrainingLog(file);
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot open the training log: " + e.getMessage(), e);
        }
    }

    /** Appends one row and flushes it to the file. */
    public void append(Row row) {
        try {
            writer.write(row.csv());
            writer.write('\n');
            writer.flush();
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot append to the training log: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            writer.close();
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot close the training log: " + e.getMessage(), e);
        }
    }
}
