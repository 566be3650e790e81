package moice.eval;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Peak memory of one stretch of work: the JVM heap pools' peak use (reset at {@link #start}) and the process's peak
 * resident set size (Linux VmHWM, reset through {@code /proc/self/clear_refs} when the kernel allows it).
 */
public final class MemoryProbe {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private MemoryProbe() {}

    /** Resets the peaks; returns whether the RSS peak could be reset (else it counts from process start). */
    public static boolean start() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans())
            if (pool.getType() == MemoryType.HEAP && pool.isValid()) pool.resetPeakUsage();
        try {
            Files.writeString(CLEAR_REFS, "5", StandardCharsets.US_ASCII); // 5: reset the peak RSS to the current RSS
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    /** Sum over the heap pools of their peak use since {@link #start}, in bytes (an upper bound of the heap's peak). */
    public static long peakHeapBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans())
            if (pool.getType() == MemoryType.HEAP && pool.isValid()) sum += pool.getPeakUsage().getUsed();
        return sum;
    }

    /** The process's peak resident set size in bytes, or -1 where /proc is unavailable. */
    public static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(STATUS))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
