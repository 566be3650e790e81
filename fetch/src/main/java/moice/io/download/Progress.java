package moice.io.download;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Download progress on stderr: bytes, percent, MB/s. On a terminal one line is redrawn a few times a second;
 * otherwise (logs, pipes) a line is written every few seconds, so logs stay short.
 */
final class Progress {
    private static final long TERMINAL_INTERVAL_NS = 200_000_000L;
    private static final long LOG_INTERVAL_NS = 5_000_000_000L;

    private final PrintStream out;
    private final String label;
    private final long total;
    private final boolean terminal;
    private final long startNanos = System.nanoTime();
    private final long startBytes;
    private long done;
    private long lastPrintNanos;

    Progress(PrintStream out, String label, long total, long alreadyDone, boolean terminal) {
        this.out = out;
        this.label = label;
        this.total = total;
        this.terminal = terminal;
        this.startBytes = alreadyDone;
        this.done = alreadyDone;
        this.lastPrintNanos = startNanos;
    }

    /** True when stderr output can be redrawn in place. */
    static boolean isTerminal() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    synchronized void advance(long bytes) {
        done += bytes;
        long now = System.nanoTime();
        if (now - lastPrintNanos >= (terminal ? TERMINAL_INTERVAL_NS : LOG_INTERVAL_NS)) {
            lastPrintNanos = now;
            print(now, false);
        }
    }

    synchronized void finish() {
        print(System.nanoTime(), true);
    }

    private void print(long now, boolean last) {
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        double rate = (done - startBytes) / 1e6 / seconds;
        String line = String.format(Locale.ROOT, "  %s  %.1f/%.1f MB  %5.1f%%  %.1f MB/s", label, done / 1e6,
                total / 1e6, total > 0 ? 100.0 * done / total : 100.0, rate);
        if (terminal) {
            out.print("\r" + line + "\u001b[K" + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }
}
